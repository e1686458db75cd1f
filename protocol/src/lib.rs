//! The Bulkhead wire protocol (being written; see issue 2).
#![forbid(unsafe_code)]

/// Largest clipboard payload a qube may send or receive, in bytes (4 MiB).
pub const MAX_CLIPBOARD_BYTES: usize = 4 * 1024 * 1024;
/// Bytes in every message header.
pub const HEADER_LEN: usize = 12;
/// Largest payload of any message: a full clipboard transfer plus its fields.
pub const MAX_PAYLOAD_LEN: usize = MAX_CLIPBOARD_BYTES + 4096;
/// Largest encoded message (header plus payload). Transports size their buffers by this.
pub const MAX_MESSAGE_LEN: usize = HEADER_LEN + MAX_PAYLOAD_LEN;
