//! The 12-byte message header, per-type framing rules, and message splitting.

use crate::error::{DecodeError, MalformedReason};
use crate::limits::{HEADER_LEN, MAX_PAYLOAD_LEN};
use crate::types::WindowId;
use crate::wire::Writer;
use crate::{agent, dom0};

/// Which way a message travels. Each direction has its own message types; a decoder for
/// one direction rejects the other's types as unknown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Guest agent to dom0 compositor: types `0x0001..=0x7fff`.
    AgentToDom0,
    /// Dom0 compositor to guest agent: types `0x8001..=0xffff`.
    Dom0ToAgent,
}

/// A validated message header.
///
/// Wire (12 bytes, little-endian): `u16 type`, `u16 reserved` (0), `u32 window`,
/// `u32 payload length`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Header {
    /// The message type, known for the direction it was checked against.
    pub message_type: u16,
    /// The window id: non-zero for messages about a window, 0 otherwise.
    pub window: u32,
    /// Payload bytes after the header, within the type's limit.
    pub payload_len: u32,
}

impl Header {
    /// The whole message's length: `HEADER_LEN + payload_len`.
    pub fn message_len(&self) -> usize {
        // payload_len <= MAX_PAYLOAD_LEN, so this neither truncates nor overflows.
        HEADER_LEN.saturating_add(usize::try_from(self.payload_len).unwrap_or(usize::MAX))
    }

    /// The window id, if the header has one.
    pub fn window_id(&self) -> Option<WindowId> {
        WindowId::new(self.window)
    }
}

/// Whether a message type carries a window id in its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum WindowRule {
    /// The header's window id must be non-zero.
    Required,
    /// The header's window id must be 0.
    Absent,
}

/// Framing rules of one message type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Spec {
    pub(crate) window: WindowRule,
    /// Largest payload length.
    pub(crate) max_len: u32,
    /// Whether the payload length must equal `max_len`.
    pub(crate) fixed: bool,
}

impl Spec {
    pub(crate) const fn fixed(window: WindowRule, len: u32) -> Self {
        Spec {
            window,
            max_len: len,
            fixed: true,
        }
    }

    pub(crate) const fn variable(window: WindowRule, max_len: u32) -> Self {
        Spec {
            window,
            max_len,
            fixed: false,
        }
    }
}

/// Converts a `usize` limit expression to `u32` in a const context.
pub(crate) const fn limit_u32(len: usize) -> u32 {
    assert!(
        len <= MAX_PAYLOAD_LEN,
        "payload limit above MAX_PAYLOAD_LEN"
    );
    #[allow(clippy::cast_possible_truncation)] // checked just above
    let len = len as u32;
    len
}

fn spec(direction: Direction, ty: u16) -> Option<Spec> {
    match direction {
        Direction::AgentToDom0 => agent::spec(ty),
        Direction::Dom0ToAgent => dom0::spec(ty),
    }
}

/// Reads and validates the header at the start of `buf` for messages travelling in
/// `direction`.
///
/// Fails with [`DecodeError::Incomplete`] (`needed` = [`HEADER_LEN`]) if fewer than 12
/// bytes are present. Otherwise checks, in this order: the type is known for the
/// direction, the reserved field is 0, the window id follows the type's rule, and the
/// declared payload length is within the type's limit (exactly its size for fixed-size
/// types). It does not need or look at the payload, so a transport can size its read by
/// [`Header::message_len`] and refuse an over-long message from its header alone.
pub fn peek_header(buf: &[u8], direction: Direction) -> Result<Header, DecodeError> {
    let Some(bytes) = buf.first_chunk::<HEADER_LEN>() else {
        return Err(DecodeError::Incomplete { needed: HEADER_LEN });
    };
    let [t0, t1, r0, r1, w0, w1, w2, w3, l0, l1, l2, l3] = *bytes;
    let ty = u16::from_le_bytes([t0, t1]);
    let reserved = u16::from_le_bytes([r0, r1]);
    let window = u32::from_le_bytes([w0, w1, w2, w3]);
    let len = u32::from_le_bytes([l0, l1, l2, l3]);

    let spec = spec(direction, ty).ok_or(MalformedReason::UnknownType(ty))?;
    if reserved != 0 {
        return Err(MalformedReason::ReservedNotZero(reserved).into());
    }
    match (spec.window, window) {
        (WindowRule::Required, 0) => return Err(MalformedReason::WindowIdMissing { ty }.into()),
        (WindowRule::Absent, window @ 1..) => {
            return Err(MalformedReason::UnexpectedWindowId { ty, window }.into());
        }
        _ => {}
    }
    if len > spec.max_len {
        return Err(MalformedReason::PayloadTooLong {
            ty,
            len,
            max: spec.max_len,
        }
        .into());
    }
    if spec.fixed && len != spec.max_len {
        return Err(MalformedReason::PayloadLengthMismatch {
            ty,
            len,
            expected: spec.max_len,
        }
        .into());
    }
    Ok(Header {
        message_type: ty,
        window,
        payload_len: len,
    })
}

/// Splits `buf` into a validated header, exactly its payload, and the bytes after it.
pub(crate) fn split_message(
    buf: &[u8],
    direction: Direction,
) -> Result<(Header, &[u8], &[u8]), DecodeError> {
    let header = peek_header(buf, direction)?;
    let needed = header.message_len();
    let Some((message, rest)) = buf.split_at_checked(needed) else {
        return Err(DecodeError::Incomplete { needed });
    };
    let payload = message.get(HEADER_LEN..).unwrap_or_default();
    Ok((header, payload, rest))
}

/// Appends a header with a zero length to `w`; returns where the message starts, for
/// [`patch_len`].
pub(crate) fn write_header(w: &mut Writer<'_>, ty: u16, window: u32) -> usize {
    let start = w.out().len();
    w.u16(ty);
    w.u16(0);
    w.u32(window);
    w.u32(0);
    start
}

/// Writes the payload length of the message starting at `start`, checking it against the
/// type's limit.
pub(crate) fn patch_len(
    out: &mut [u8],
    start: usize,
    direction: Direction,
    ty: u16,
) -> Result<(), MalformedReason> {
    let payload = out.len().saturating_sub(start).saturating_sub(HEADER_LEN);
    let len = u32::try_from(payload).unwrap_or(u32::MAX);
    let spec = spec(direction, ty).ok_or(MalformedReason::UnknownType(ty))?;
    if len > spec.max_len {
        return Err(MalformedReason::PayloadTooLong {
            ty,
            len,
            max: spec.max_len,
        });
    }
    if let Some(slot) = out.get_mut(start + 8..start + HEADER_LEN) {
        slot.copy_from_slice(&len.to_le_bytes());
    }
    Ok(())
}
