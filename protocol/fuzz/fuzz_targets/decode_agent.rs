//! Decodes arbitrary bytes as agent → dom0 messages (the hostile direction).
#![no_main]

use bulkhead_protocol::AgentMessage;
use bulkhead_protocol_fuzz::check_stream;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    check_stream(data, AgentMessage::decode, AgentMessage::encode_to_vec);
});
