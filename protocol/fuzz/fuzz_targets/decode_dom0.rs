//! Decodes arbitrary bytes as dom0 → agent messages.
#![no_main]

use bulkhead_protocol::Dom0Message;
use bulkhead_protocol_fuzz::check_stream;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    check_stream(data, Dom0Message::decode, Dom0Message::encode_to_vec);
});
