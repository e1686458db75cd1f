//! The framing steps both directions share: encode only what validates (and leave the
//! output untouched otherwise); decode header, payload, exact length, then the value rules.

use crate::error::{DecodeError, EncodeError, MalformedReason};
use crate::header::{self, Direction, Header};
use crate::wire::Reader;

/// What a message type of one direction provides to the shared framing.
pub(crate) trait Codec: Sized {
    /// The direction this type travels in.
    const DIRECTION: Direction;
    /// The value rules (limits, ranges, consistency).
    fn check(&self) -> Result<(), MalformedReason>;
    /// Appends header and payload.
    fn write_to(&self, out: &mut Vec<u8>) -> Result<(), MalformedReason>;
    /// Reads the payload of a message whose header passed.
    fn read_from(header: &Header, r: &mut Reader<'_>) -> Result<Self, MalformedReason>;
}

/// Appends `message` to `out` if it validates; on refusal `out` is unchanged.
pub(crate) fn encode<M: Codec>(message: &M, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    message.check()?;
    let start = out.len();
    let result = message.write_to(out);
    if result.is_err() {
        out.truncate(start);
    }
    result.map_err(EncodeError::from)
}

/// Decodes one message from the front of `buf`, returning it and the bytes after it.
pub(crate) fn decode<M: Codec>(buf: &[u8]) -> Result<(M, &[u8]), DecodeError> {
    let (header, payload, rest) = header::split_message(buf, M::DIRECTION)?;
    let mut r = Reader::new(payload);
    let message = M::read_from(&header, &mut r)?;
    r.finish()?;
    message.check()?;
    Ok((message, rest))
}
