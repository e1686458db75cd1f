//! Errors of decoding, encoding and version negotiation.

use crate::version::Version;

/// Why [`AgentMessage::decode`](crate::AgentMessage::decode) or
/// [`Dom0Message::decode`](crate::Dom0Message::decode) returned no message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The buffer holds a prefix of a message that may still turn out valid: read more bytes
    /// and try again with the same buffer start.
    ///
    /// `needed` is the total number of bytes (from the start of the buffer) the message
    /// occupies. While the header itself is incomplete the length is not yet known and
    /// `needed` is [`HEADER_LEN`](crate::HEADER_LEN), a lower bound; once the header is
    /// complete (and valid) it is exact: `HEADER_LEN + payload length`.
    #[error("incomplete message: {needed} bytes needed")]
    Incomplete {
        /// Bytes needed from the start of the buffer (see above).
        needed: usize,
    },
    /// The bytes can never become a valid message. The peer is broken or hostile: refuse the
    /// message, log the reason, and do not try to resynchronise the stream.
    #[error("malformed message: {0}")]
    Malformed(MalformedReason),
}

impl From<MalformedReason> for DecodeError {
    fn from(reason: MalformedReason) -> Self {
        DecodeError::Malformed(reason)
    }
}

/// The specific rule of the wire contract that a malformed message breaks.
///
/// Every variant names one rule of the crate documentation; `field` strings name the
/// message field concerned (for example `"title"` or `"popup x"`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MalformedReason {
    /// The message type is not one this direction may send (includes the other direction's
    /// types, `0x0000` and `0x8000`).
    #[error("unknown message type {0:#06x} for this direction")]
    UnknownType(u16),
    /// Header bytes 2..4 must be zero.
    #[error("reserved header field is {0:#06x}, must be 0")]
    ReservedNotZero(u16),
    /// A message about a window carried window id 0.
    #[error("message type {ty:#06x} needs a window id, header has 0")]
    WindowIdMissing {
        /// The message type.
        ty: u16,
    },
    /// A message not about a window carried a non-zero window id.
    #[error("message type {ty:#06x} takes no window id, header has {window}")]
    UnexpectedWindowId {
        /// The message type.
        ty: u16,
        /// The window id found in the header.
        window: u32,
    },
    /// The declared payload length exceeds the maximum of this message type.
    #[error("payload of type {ty:#06x} declared {len} bytes, maximum is {max}")]
    PayloadTooLong {
        /// The message type.
        ty: u16,
        /// The declared payload length.
        len: u32,
        /// The maximum for this type.
        max: u32,
    },
    /// A fixed-size message declared a payload length other than its size.
    #[error("payload of type {ty:#06x} declared {len} bytes, must be exactly {expected}")]
    PayloadLengthMismatch {
        /// The message type.
        ty: u16,
        /// The declared payload length.
        len: u32,
        /// The fixed payload size of this type.
        expected: u32,
    },
    /// A field (or a string's or list's declared length) extends past the end of the payload.
    #[error("a field extends past the end of the payload")]
    Truncated,
    /// The fields ended before the declared payload length.
    #[error("{count} unread bytes at the end of the payload")]
    TrailingBytes {
        /// How many bytes were left over.
        count: usize,
    },
    /// A title longer than [`MAX_TITLE_BYTES`](crate::MAX_TITLE_BYTES).
    #[error("title is {len} bytes, maximum is {}", crate::MAX_TITLE_BYTES)]
    TitleTooLong {
        /// The declared length.
        len: usize,
    },
    /// An app id longer than [`MAX_APP_ID_BYTES`](crate::MAX_APP_ID_BYTES).
    #[error("app id is {len} bytes, maximum is {}", crate::MAX_APP_ID_BYTES)]
    AppIdTooLong {
        /// The declared length.
        len: usize,
    },
    /// A MIME type longer than [`MAX_MIME_BYTES`](crate::MAX_MIME_BYTES).
    #[error("MIME type is {len} bytes, maximum is {}", crate::MAX_MIME_BYTES)]
    MimeTooLong {
        /// The declared length.
        len: usize,
    },
    /// A keymap longer than [`MAX_KEYMAP_BYTES`](crate::MAX_KEYMAP_BYTES).
    #[error("keymap is {len} bytes, maximum is {}", crate::MAX_KEYMAP_BYTES)]
    KeymapTooLong {
        /// The declared length.
        len: usize,
    },
    /// Clipboard contents longer than [`MAX_CLIPBOARD_BYTES`](crate::MAX_CLIPBOARD_BYTES).
    #[error(
        "clipboard data is {len} bytes, maximum is {}",
        crate::MAX_CLIPBOARD_BYTES
    )]
    ClipboardTooLong {
        /// The declared length.
        len: usize,
    },
    /// A text field is not valid UTF-8.
    #[error("{field} is not valid UTF-8")]
    InvalidUtf8 {
        /// The field.
        field: &'static str,
    },
    /// A text field contains a control character (C0, DEL or C1: `char::is_control`).
    #[error("{field} contains control character U+{code:04X}")]
    ControlCharacter {
        /// The field.
        field: &'static str,
        /// The offending code point.
        code: u32,
    },
    /// An ASCII-only field contains a byte outside its allowed printable range.
    #[error("{field} contains byte {byte:#04x}, outside its printable ASCII range")]
    NotPrintableAscii {
        /// The field.
        field: &'static str,
        /// The offending byte.
        byte: u8,
    },
    /// A MIME type is not of the form `type/subtype` (both parts non-empty).
    #[error("MIME type is not of the form type/subtype")]
    BadMimeType,
    /// The keymap text contains a NUL byte.
    #[error("keymap contains a NUL byte")]
    NulInKeymap,
    /// A damage message lists more than [`MAX_DAMAGE_RECTS`](crate::MAX_DAMAGE_RECTS).
    #[error("{count} damage rectangles, maximum is {}", crate::MAX_DAMAGE_RECTS)]
    TooManyRects {
        /// The declared count.
        count: u32,
    },
    /// A damage message lists no rectangle.
    #[error("damage message lists no rectangle")]
    NoRects,
    /// A damage rectangle has zero width or height.
    #[error("damage rectangle is empty")]
    EmptyRect,
    /// A damage rectangle is not inside its buffer (including `x + w` overflowing `u32`).
    #[error("damage rectangle is not inside the buffer")]
    RectOutsideBuffer,
    /// A window or buffer size has a zero width or height.
    #[error("{field} has zero width or height")]
    ZeroSize {
        /// The field.
        field: &'static str,
    },
    /// A size exceeds its maximum.
    #[error("{field} {width}x{height} exceeds the maximum {max_width}x{max_height}")]
    SizeTooLarge {
        /// The field.
        field: &'static str,
        /// The width found.
        width: u32,
        /// The height found.
        height: u32,
        /// The maximum width.
        max_width: u32,
        /// The maximum height.
        max_height: u32,
    },
    /// An enumerated field holds a value outside its enumeration.
    #[error("{field} has unknown value {value}")]
    BadEnum {
        /// The field.
        field: &'static str,
        /// The value found.
        value: u32,
    },
    /// A boolean byte is neither 0 nor 1.
    #[error("{field} is {value}, a boolean must be 0 or 1")]
    BadBool {
        /// The field.
        field: &'static str,
        /// The value found.
        value: u8,
    },
    /// Window states with bits this version does not define.
    #[error("window states have unknown bits {bits:#x}")]
    UnknownStateBits {
        /// The unknown bits.
        bits: u32,
    },
    /// A numeric field is outside its documented range.
    #[error("{field} is {value}, must be in {min}..={max}")]
    OutOfRange {
        /// The field.
        field: &'static str,
        /// The value found.
        value: i64,
        /// The smallest allowed value.
        min: i64,
        /// The largest allowed value.
        max: i64,
    },
    /// A buffer offset is not a multiple of [`ARENA_ALIGN`](crate::ARENA_ALIGN).
    #[error(
        "buffer offset {offset:#x} is not a multiple of {}",
        crate::ARENA_ALIGN
    )]
    UnalignedOffset {
        /// The offset found.
        offset: u64,
    },
    /// A buffer offset exceeds [`MAX_ARENA_OFFSET`](crate::MAX_ARENA_OFFSET).
    #[error(
        "buffer offset {offset:#x} exceeds the maximum {:#x}",
        crate::MAX_ARENA_OFFSET
    )]
    OffsetTooLarge {
        /// The offset found.
        offset: u64,
    },
    /// A stride below `width × 4`, above [`MAX_STRIDE`](crate::MAX_STRIDE) or not a
    /// multiple of 4.
    #[error("stride {stride} is invalid for width {width}")]
    BadStride {
        /// The stride found.
        stride: u32,
        /// The buffer width.
        width: u32,
    },
    /// Size hints whose minimum exceeds their maximum in some dimension.
    #[error("minimum size exceeds maximum size")]
    MinAboveMax,
    /// A popup names itself as its parent.
    #[error("popup is its own parent")]
    PopupParentIsSelf,
    /// A command line without a program (no argument, or an empty first one).
    #[error("command line has no program")]
    NoProgram,
    /// A command line with more than [`MAX_LAUNCH_ARGS`](crate::MAX_LAUNCH_ARGS) arguments.
    #[error("{count} arguments, maximum is {}", crate::MAX_LAUNCH_ARGS)]
    TooManyArgs {
        /// The declared count.
        count: u32,
    },
    /// An argument longer than [`MAX_LAUNCH_ARG_BYTES`](crate::MAX_LAUNCH_ARG_BYTES).
    #[error("argument is {len} bytes, maximum is {}", crate::MAX_LAUNCH_ARG_BYTES)]
    ArgTooLong {
        /// The declared length.
        len: usize,
    },
    /// An argument contains a NUL byte (it could not be passed to `execve`).
    #[error("argument contains a NUL byte")]
    NulInArg,
}

/// Why [`AgentMessage::encode`](crate::AgentMessage::encode) or
/// [`Dom0Message::encode`](crate::Dom0Message::encode) refused a message. On error nothing
/// is appended to the output buffer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EncodeError {
    /// The message breaks a rule of the contract: the peer's decoder would reject it with
    /// this reason.
    #[error("message would not decode: {0}")]
    Invalid(MalformedReason),
}

impl From<MalformedReason> for EncodeError {
    fn from(reason: MalformedReason) -> Self {
        EncodeError::Invalid(reason)
    }
}

/// Why [`negotiate`](crate::negotiate) found no common protocol version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VersionError {
    /// The major versions differ; there is no compatible version.
    #[error(
        "incompatible protocol versions: ours is {ours}, theirs is {theirs} (major versions differ)"
    )]
    MajorMismatch {
        /// Our version.
        ours: Version,
        /// The peer's version.
        theirs: Version,
    },
}
