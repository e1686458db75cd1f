//! The Bulkhead wire protocol between a qube's guest agent and the dom0 compositor.
//!
//! This documentation **is** the wire contract. The crate is pure: no I/O, and `#![forbid(unsafe_code)]`.
//! Transports (`shm-transport`) move the bytes; this crate turns them into checked values
//! ([`AgentMessage`], [`Dom0Message`]) and back.
//!
//! Everything dom0 decodes comes from a hostile VM. The decoders never panic, never index
//! out of bounds, check every declared length against its limit before copying anything,
//! and tell "need more bytes" ([`DecodeError::Incomplete`]) from "malformed, and why"
//! ([`DecodeError::Malformed`] with a [`MalformedReason`]). Encoders refuse values that would
//! not decode ([`EncodeError`]), so `decode(encode(m)) == m` for every message that encodes.
//! The agent decodes dom0's messages just as strictly.
//!
//! ```
//! use bulkhead_protocol::{AgentMessage, PROTOCOL_VERSION, Capabilities, DecodeError};
//!
//! let hello = AgentMessage::Hello {
//!     version: PROTOCOL_VERSION,
//!     capabilities: Capabilities::CLIPBOARD,
//! };
//! let mut wire = Vec::new();
//! hello.encode(&mut wire)?;
//! wire.extend_from_slice(&[1, 0]); // the start of the next message
//!
//! let (decoded, rest) = AgentMessage::decode(&wire)?;
//! assert_eq!(decoded, hello);
//! assert_eq!(AgentMessage::decode(rest), Err(DecodeError::Incomplete { needed: 12 }));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Framing
//!
//! All integers are little-endian. A message is a 12-byte header ([`HEADER_LEN`]) followed
//! by a payload:
//!
//! | offset | type  | field | rule |
//! |-------:|-------|-------|------|
//! | 0      | `u16` | message type | known for the direction, else [`MalformedReason::UnknownType`] |
//! | 2      | `u16` | reserved | must be 0, else [`MalformedReason::ReservedNotZero`] |
//! | 4      | `u32` | window id | non-zero for messages about a window ([`MalformedReason::WindowIdMissing`]), 0 for the others ([`MalformedReason::UnexpectedWindowId`]) |
//! | 8      | `u32` | payload length | at most the type's maximum ([`MalformedReason::PayloadTooLong`]); exactly the size of a fixed-size type ([`MalformedReason::PayloadLengthMismatch`]) |
//!
//! Agent → dom0 types are `0x0001..=0x7fff`, dom0 → agent types `0x8001..=0xffff`
//! ([`msg_type`]); a decoder for one direction treats the other's types (and `0x0000`,
//! `0x8000`) as unknown. No payload exceeds [`MAX_PAYLOAD_LEN`], no message
//! [`MAX_MESSAGE_LEN`].
//!
//! Decoding ([`AgentMessage::decode`], [`Dom0Message::decode`]) proceeds in this order:
//!
//! 1. Fewer than 12 bytes: `Incomplete { needed: 12 }` (a lower bound).
//! 2. The header is checked as in the table, from the header alone ([`peek_header`]). A
//!    declared length over the limit is malformed at once, even with only the 12 header
//!    bytes present.
//! 3. Fewer than `12 + length` bytes: `Incomplete { needed: 12 + length }` (exact).
//! 4. The payload is parsed field by field; a field reaching past the payload's end is
//!    [`MalformedReason::Truncated`] (never `Incomplete`: the length was declared), and the
//!    fields must use up the payload exactly ([`MalformedReason::TrailingBytes`]).
//! 5. The values are checked against the rules below ([`AgentMessage::validate`]).
//!
//! A decoder returns the message and the bytes after it, so a buffer holding several
//! messages is decoded in a loop. After `Malformed` the stream cannot be trusted to be in
//! sync: the receiver drops the message and, for repeated abuse, the connection.
//!
//! # Field encodings
//!
//! | kind | wire form |
//! |------|-----------|
//! | `u16`, `u32`, `i32`, `u64` | little-endian, no padding or alignment anywhere |
//! | bool | `u8`, 0 or 1; anything else is [`MalformedReason::BadBool`] |
//! | enum | `u32` code listed with the type; unknown codes are [`MalformedReason::BadEnum`] |
//! | string | `u16` byte length, then the bytes; no terminator |
//! | long text, blob | `u32` byte length, then the bytes (keymap text, clipboard data) |
//! | list | `u32` count, then the elements |
//! | window id | `u32`, 0 = none ([`WindowId`] is never 0) |
//!
//! A declared string, blob or list length is checked against its own limit before the
//! contents are looked at (so `TitleTooLong`, not `Truncated`, for a title declaring 300
//! bytes).
//!
//! # Versioning and capabilities
//!
//! The agent's first message is [`AgentMessage::Hello`] with its [`Version`] and
//! [`Capabilities`]; dom0 answers [`Dom0Message::HelloAck`] with [`negotiate`]`(ours,
//! theirs)` and [`negotiate_capabilities`]`(ours, theirs)`, or drops the connection if the
//! majors differ ([`VersionError::MajorMismatch`]). Both sides then speak the negotiated
//! version: a minor version only adds message types and capability bits. This crate
//! implements [`PROTOCOL_VERSION`] 1.0. Capability bits a peer does not know are allowed on
//! the wire and dropped by negotiation. The decoder does not enforce message order (`Hello`
//! first, no window messages before `HelloAck`): the connection handler does.
//!
//! # Limits
//!
//! | constant | value | applies to | decoder error |
//! |----------|-------|------------|---------------|
//! | [`MAX_WINDOW_WIDTH`] × [`MAX_WINDOW_HEIGHT`] | 16384 × 6144 | window sizes, buffer sizes, size hints (each at least 1 × 1); `Configure` sizes (0 allowed) | `ZeroSize`, `SizeTooLarge` |
//! | [`MAX_OUTPUT_DIMENSION`] | 16384 | output width and height (at least 1) | `ZeroSize`, `SizeTooLarge` |
//! | [`MIN_SCALE_120`]..=[`MAX_SCALE_120`] | 60..=960 | output scale × 120 (0.5× to 8×) | `OutOfRange` |
//! | [`MAX_REFRESH_MHZ`] | 1 000 000 | output refresh, 0 = unknown | `OutOfRange` |
//! | [`MAX_TITLE_BYTES`] | 255 | title: UTF-8, no `char::is_control` (C0, DEL, C1) | `TitleTooLong`, `InvalidUtf8`, `ControlCharacter` |
//! | [`MAX_APP_ID_BYTES`] | 127 | app id: bytes `0x20..=0x7e` | `AppIdTooLong`, `NotPrintableAscii` |
//! | [`MAX_MIME_BYTES`] | 127 | MIME type: bytes `0x21..=0x7e` (no spaces), a non-empty type, `/`, a non-empty rest (parameters such as `;charset=utf-8` allowed) | `MimeTooLong`, `NotPrintableAscii`, `BadMimeType` |
//! | [`MAX_KEYMAP_BYTES`] | 1 MiB | xkb keymap text: UTF-8, no NUL | `KeymapTooLong`, `InvalidUtf8`, `NulInKeymap` |
//! | [`MAX_CLIPBOARD_BYTES`] | 4 MiB | clipboard data (any bytes) | `ClipboardTooLong` |
//! | [`MAX_DAMAGE_RECTS`] | 256 | rectangles per `Damage`, at least 1 | `TooManyRects`, `NoRects` |
//! | [`ARENA_ALIGN`] | 4096 | buffer offsets are multiples of it | `UnalignedOffset` |
//! | [`MAX_ARENA_OFFSET`] | 2⁴⁰ | buffer offsets | `OffsetTooLarge` |
//! | [`MAX_STRIDE`] | 65536 | buffer stride: `width × 4 ..= MAX_STRIDE`, multiple of 4 | `BadStride` |
//! | [`MAX_POPUP_OFFSET_X`], [`MAX_POPUP_OFFSET_Y`] | ±32768, ±12288 px | popup offset from its parent (inclusive) | `OutOfRange` |
//! | [`MAX_POINTER_X`], [`MAX_POINTER_Y`] | ±8388608, ±3145728 (1/256 px) | pointer coordinates: ±2 × max window dimension in px, inclusive | `OutOfRange` |
//! | [`MAX_AXIS_VALUE`] | ±8388608 (1/256 px) | scroll distance per event | `OutOfRange` |
//! | [`MAX_AXIS_DISCRETE_120`] | ±30720 | wheel detents × 120 per event | `OutOfRange` |
//! | [`MAX_KEYCODE`] | 0x2ff | evdev key codes | `OutOfRange` |
//! | [`MIN_BUTTON`]..=[`MAX_BUTTON`] | 0x100..=0x2ff | evdev button codes | `OutOfRange` |
//! | [`MAX_LAUNCH_ARGS`] | 64 | arguments of a `Launch` (at least 1, the first not empty) | `TooManyArgs`, `NoProgram` |
//! | [`MAX_LAUNCH_ARG_BYTES`] | 1024 | each `Launch` argument: UTF-8, no NUL | `ArgTooLong`, `InvalidUtf8`, `NulInArg` |
//! | [`MAX_LAUNCH_ERRNO`] | 4095 | a `LaunchResult`'s error number (0 = started) | `OutOfRange` |
//! | [`MAX_WINDOWS_PER_QUBE`] | 4096 | live windows per qube | *not checkable by the decoder*: the compositor counts |
//!
//! Cursor shapes come from the fixed [`CursorShape`] set; window states from the bits of
//! [`WindowStates`] (unknown bits: `UnknownStateBits`).
//!
//! ## What the decoder cannot check
//!
//! The decoder sees one message, not the connection. The receiver must still check:
//! that the buffer lies inside the arena (`BufferDesc::end() <= arena size`; the transport
//! does this); that window ids exist (or, for `CreateWindow`, are new) and belong to this
//! qube, that a popup's parent exists, and [`MAX_WINDOWS_PER_QUBE`]; that clipboard answers
//! match an outstanding request serial; that a `LaunchResult` answers a `Launch` dom0 sent
//! on this connection and has not had its answer yet; message order and rate. Titles may contain
//! bidirectional overrides (U+202E and friends) and other format characters, which are not
//! control characters: dom0 sanitises titles before it draws them next to the qube name.
//!
//! # Messages from the agent to dom0 ([`AgentMessage`])
//!
//! "Window" says whether the header carries a window id (otherwise it must be 0).
//! Payload sizes are exact for fixed-size messages and a maximum for the others.
//!
//! | type | message | window | payload bytes |
//! |-----:|---------|:------:|--------------:|
//! | `0x0001` | [`Hello`](AgentMessage::Hello) | no | 12 |
//! | `0x0010` | [`CreateWindow`](AgentMessage::CreateWindow) | yes | 24 |
//! | `0x0011` | [`SetTitle`](AgentMessage::SetTitle) | yes | ≤ 257 |
//! | `0x0012` | [`SetAppId`](AgentMessage::SetAppId) | yes | ≤ 129 |
//! | `0x0013` | [`Map`](AgentMessage::Map) | yes | 0 |
//! | `0x0014` | [`Unmap`](AgentMessage::Unmap) | yes | 0 |
//! | `0x0015` | [`Destroy`](AgentMessage::Destroy) | yes | 0 |
//! | `0x0016` | [`SizeHints`](AgentMessage::SizeHints) | yes | 16 |
//! | `0x0017` | [`SetFullscreen`](AgentMessage::SetFullscreen) | yes | 1 |
//! | `0x0018` | [`SetMaximized`](AgentMessage::SetMaximized) | yes | 1 |
//! | `0x0019` | [`Minimize`](AgentMessage::Minimize) | yes | 0 |
//! | `0x001a` | [`Attention`](AgentMessage::Attention) | yes | 0 |
//! | `0x001b` | [`SetCursor`](AgentMessage::SetCursor) | yes | 4 |
//! | `0x0020` | [`Damage`](AgentMessage::Damage) | yes | ≤ 4128 |
//! | `0x0030` | [`ClipboardData`](AgentMessage::ClipboardData) | no | ≤ 4194441 |
//! | `0x0031` | [`ClipboardEmpty`](AgentMessage::ClipboardEmpty) | no | 4 |
//! | `0x0040` | [`LaunchResult`](AgentMessage::LaunchResult) | no | 8 |
//!
//! Payload layouts (offsets within the payload):
//!
//! - **Hello**: 0 `u16` major, 2 `u16` minor, 4 `u64` capabilities. Any values decode;
//!   negotiation judges them.
//! - **CreateWindow**: 0 `u32` kind (0 toplevel, 1 popup), 4 `u32` parent, 8 `i32` x,
//!   12 `i32` y, 16 `u32` width, 20 `u32` height. A toplevel has parent, x and y all 0. A
//!   popup's parent is non-zero and not the window itself (`PopupParentIsSelf`); x and y
//!   are its offset from the parent's top-left in pixels, within ±`MAX_POPUP_OFFSET_X` /
//!   ±`MAX_POPUP_OFFSET_Y`. The size is the initial size, within window limits.
//! - **SetTitle**: string title. **SetAppId**: string app id.
//! - **Map**, **Unmap**, **Destroy**, **Minimize**, **Attention**: empty.
//! - **SizeHints**: 0 `u32` min width, 4 `u32` min height, 8 `u32` max width, 12 `u32`
//!   max height. 0 × 0 means "no constraint" (`None`); any other pair must be a valid
//!   window size (so a single 0 is `ZeroSize`: the agent maps Wayland's per-dimension 0 to
//!   1 or the maximum). With both present, min ≤ max in each dimension (`MinAboveMax`).
//! - **SetFullscreen**, **SetMaximized**: 0 bool on.
//! - **SetCursor**: 0 `u32` [`CursorShape`] code.
//! - **Damage**: 0 `u32` serial, 4 [`BufferDesc`] (`u64` offset, `u32` width, `u32`
//!   height, `u32` stride, `u32` [`PixelFormat`] code: 24 bytes), 28 `u32` rectangle count
//!   (1..=256), 32 the rectangles, 16 bytes each ([`Rect`]: `u32` x, y, w, h). Every
//!   rectangle is non-empty (`EmptyRect`) and inside the buffer, computed without overflow
//!   (`RectOutsideBuffer`). The buffer holds the window's whole current image; the
//!   rectangles say what changed since the previous `Damage`. The buffer must not be
//!   reused until dom0 answers `FrameDone` with this serial.
//! - **ClipboardData**: 0 `u32` serial (of the `ClipboardRequest` answered), 4 string MIME
//!   type, then blob data.
//! - **ClipboardEmpty**: 0 `u32` serial.
//! - **LaunchResult**: 0 `u32` launch id (of the `Launch` answered), 4 `u32` error number:
//!   0 when the program started, else the Linux `errno` its start failed with
//!   (`1..=`[`MAX_LAUNCH_ERRNO`]; the agent reports "too many programs running" as
//!   `EAGAIN`, 11). A number, never text: dom0 words the message from its own copy of the
//!   command line. Sent only by an agent that offered [`Capabilities::LAUNCH`], exactly once
//!   per `Launch`.
//!
//! # Messages from dom0 to the agent ([`Dom0Message`])
//!
//! | type | message | window | payload bytes |
//! |-----:|---------|:------:|--------------:|
//! | `0x8001` | [`HelloAck`](Dom0Message::HelloAck) | no | 28 |
//! | `0x8002` | [`OutputChange`](Dom0Message::OutputChange) | no | 16 |
//! | `0x8003` | [`Keymap`](Dom0Message::Keymap) | no | ≤ 1048580 |
//! | `0x8010` | [`Configure`](Dom0Message::Configure) | yes | 16 |
//! | `0x8011` | [`Close`](Dom0Message::Close) | yes | 0 |
//! | `0x8012` | [`FrameDone`](Dom0Message::FrameDone) | yes | 4 |
//! | `0x8020` | [`Key`](Dom0Message::Key) | no | 9 |
//! | `0x8021` | [`Modifiers`](Dom0Message::Modifiers) | no | 16 |
//! | `0x8022` | [`FocusIn`](Dom0Message::FocusIn) | yes | 0 |
//! | `0x8023` | [`FocusOut`](Dom0Message::FocusOut) | yes | 0 |
//! | `0x8030` | [`PointerEnter`](Dom0Message::PointerEnter) | yes | 8 |
//! | `0x8031` | [`PointerLeave`](Dom0Message::PointerLeave) | yes | 0 |
//! | `0x8032` | [`PointerMotion`](Dom0Message::PointerMotion) | yes | 12 |
//! | `0x8033` | [`PointerButton`](Dom0Message::PointerButton) | yes | 9 |
//! | `0x8034` | [`PointerAxis`](Dom0Message::PointerAxis) | yes | 16 |
//! | `0x8040` | [`ClipboardRequest`](Dom0Message::ClipboardRequest) | no | 4 |
//! | `0x8041` | [`ClipboardPaste`](Dom0Message::ClipboardPaste) | no | ≤ 4194437 |
//! | `0x8050` | [`Launch`](Dom0Message::Launch) | no | ≤ 65672 |
//!
//! Payload layouts:
//!
//! - **HelloAck**: 0 `u16` major, 2 `u16` minor (negotiated), 4 `u64` capabilities
//!   (negotiated), 12 [`OutputInfo`] (`u32` width, `u32` height, `u32` scale × 120, `u32`
//!   refresh in mHz: 16 bytes).
//! - **OutputChange**: 0 [`OutputInfo`].
//! - **Keymap**: long text, xkb keymap format v1. Sent after `HelloAck` and on change;
//!   keyboard events always refer to the last keymap sent.
//! - **Configure**: 0 `u32` serial, 4 `u32` width, 8 `u32` height (each 0 = client
//!   decides, else within window limits), 12 `u32` [`WindowStates`] bits.
//! - **Close**, **FocusIn**, **FocusOut**, **PointerLeave**: empty.
//! - **FrameDone**: 0 `u32` serial of the consumed `Damage`.
//! - **Key**: 0 `u32` time in ms, 4 `u32` evdev key code, 8 bool pressed. Key events carry
//!   no window: they go to the window of the last `FocusIn` (as `wl_keyboard`).
//! - **Modifiers**: 0 `u32` depressed, 4 `u32` latched, 8 `u32` locked, 12 `u32` group
//!   (any values; xkb interprets them).
//! - **PointerEnter**: 0 `i32` x, 4 `i32` y. **PointerMotion**: 0 `u32` time, 4 `i32` x,
//!   8 `i32` y. Coordinates are relative to the window's top-left in 1/256 px
//!   (`wl_fixed`), within ±`MAX_POINTER_X` / ±`MAX_POINTER_Y`.
//! - **PointerButton**: 0 `u32` time, 4 `u32` evdev button code, 8 bool pressed.
//! - **PointerAxis**: 0 `u32` time, 4 `u32` [`Axis`] code, 8 `i32` value in 1/256 px,
//!   12 `i32` discrete × 120 (0 for continuous sources).
//! - **ClipboardRequest**: 0 `u32` serial. Window id 0: the clipboard belongs to the qube,
//!   not a window. Sent only on the user's copy gesture in one of the qube's windows.
//! - **ClipboardPaste**: 0 string MIME type, then blob data. Window id 0; the agent makes
//!   it the qube's selection. Sent only on the user's paste gesture.
//! - **Launch**: 0 `u32` launch id (dom0's choice, echoed by the answer), 4 list of
//!   strings: `u32` count (1..=[`MAX_LAUNCH_ARGS`]), then each argument as a string (at most
//!   [`MAX_LAUNCH_ARG_BYTES`], UTF-8, no NUL); the first, the program, is not empty. Window
//!   id 0. Sent only when the user runs a program in the qube from dom0 (`bulkhead run`) and
//!   only to an agent that offered [`Capabilities::LAUNCH`]; the agent starts it with
//!   `WAYLAND_DISPLAY` set to its own socket and answers with one `LaunchResult`. The
//!   direction is the trusted one: no agent message makes dom0 run anything.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod agent;
mod codec;
mod dom0;
mod error;
mod header;
mod limits;
pub mod msg_type;
mod text;
mod types;
mod version;
mod wire;

pub use agent::AgentMessage;
pub use dom0::Dom0Message;
pub use error::{DecodeError, EncodeError, MalformedReason, VersionError};
pub use header::{Direction, Header, peek_header};
pub use limits::*;
pub use types::{
    Axis, BufferDesc, CursorShape, OutputInfo, PixelFormat, Rect, Size, WindowId, WindowKind,
    WindowStates,
};
pub use version::{Capabilities, PROTOCOL_VERSION, Version, negotiate, negotiate_capabilities};
