//! Messages from a qube's guest agent to dom0 (the hostile direction).

use crate::codec::{self, Codec};
use crate::error::{DecodeError, EncodeError, MalformedReason};
use crate::header::{self, Direction, Header, Spec, WindowRule, limit_u32};
use crate::limits::{
    MAX_APP_ID_BYTES, MAX_CLIPBOARD_BYTES, MAX_DAMAGE_RECTS, MAX_LAUNCH_ERRNO, MAX_MIME_BYTES,
    MAX_POPUP_OFFSET_X, MAX_POPUP_OFFSET_Y, MAX_TITLE_BYTES, check_app_id, check_clipboard,
    check_mime, check_symmetric, check_title,
};
use crate::msg_type::*;
use crate::text;
use crate::types::{BufferDesc, CursorShape, Rect, Size, WindowId, WindowKind};
use crate::version::{Capabilities, Version};
use crate::wire::{Reader, Writer};

// Largest payloads of the variable-size types (`limit_u32` fails the build if one exceeds
// MAX_PAYLOAD_LEN).
const SET_TITLE_MAX_LEN: u32 = limit_u32(2 + MAX_TITLE_BYTES);
const SET_APP_ID_MAX_LEN: u32 = limit_u32(2 + MAX_APP_ID_BYTES);
/// Serial, buffer, count, rectangles.
const DAMAGE_MAX_LEN: u32 = limit_u32(4 + 24 + 4 + MAX_DAMAGE_RECTS * Rect::WIRE_LEN);
/// Serial, MIME type, data.
const CLIPBOARD_DATA_MAX_LEN: u32 = limit_u32(4 + 2 + MAX_MIME_BYTES + 4 + MAX_CLIPBOARD_BYTES);

/// Framing rules per agent → dom0 type; `None` for types this direction may not send.
pub(crate) fn spec(ty: u16) -> Option<Spec> {
    use WindowRule::{Absent, Required};
    Some(match ty {
        HELLO => Spec::fixed(Absent, 12),
        CREATE_WINDOW => Spec::fixed(Required, 24),
        SET_TITLE => Spec::variable(Required, SET_TITLE_MAX_LEN),
        SET_APP_ID => Spec::variable(Required, SET_APP_ID_MAX_LEN),
        MAP | UNMAP | DESTROY | MINIMIZE | ATTENTION => Spec::fixed(Required, 0),
        SIZE_HINTS => Spec::fixed(Required, 16),
        SET_FULLSCREEN | SET_MAXIMIZED => Spec::fixed(Required, 1),
        SET_CURSOR => Spec::fixed(Required, 4),
        DAMAGE => Spec::variable(Required, DAMAGE_MAX_LEN),
        CLIPBOARD_DATA => Spec::variable(Absent, CLIPBOARD_DATA_MAX_LEN),
        CLIPBOARD_EMPTY => Spec::fixed(Absent, 4),
        LAUNCH_RESULT => Spec::fixed(Absent, 8),
        _ => return None,
    })
}

/// A message from the guest agent to dom0. See the crate documentation for each message's
/// wire layout and rules; every value here passed [`AgentMessage::validate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentMessage {
    /// First message of a connection: the agent's version and capabilities.
    Hello {
        /// The agent's protocol version.
        version: Version,
        /// The agent's capabilities (unknown bits allowed).
        capabilities: Capabilities,
    },
    /// A new window with an id the qube has not used yet (dom0 checks uniqueness and
    /// [`MAX_WINDOWS_PER_QUBE`](crate::MAX_WINDOWS_PER_QUBE)). Not shown until `Map`.
    CreateWindow {
        /// The new window's id.
        window: WindowId,
        /// Toplevel or popup.
        kind: WindowKind,
        /// Initial size, within window limits.
        size: Size,
    },
    /// The window's title (dom0 adds the qube's name itself).
    SetTitle {
        /// The window.
        window: WindowId,
        /// At most [`MAX_TITLE_BYTES`] of UTF-8 without control characters.
        title: String,
    },
    /// The window's application id (`xdg_toplevel.set_app_id`).
    SetAppId {
        /// The window.
        window: WindowId,
        /// At most [`MAX_APP_ID_BYTES`] of printable ASCII.
        app_id: String,
    },
    /// Show the window (after its first `Damage`).
    Map {
        /// The window.
        window: WindowId,
    },
    /// Hide the window; it keeps its id.
    Unmap {
        /// The window.
        window: WindowId,
    },
    /// Forget the window; its id may be reused afterwards.
    Destroy {
        /// The window.
        window: WindowId,
    },
    /// The window's size constraints; `None` means unconstrained.
    SizeHints {
        /// The window.
        window: WindowId,
        /// Smallest size, within window limits.
        min: Option<Size>,
        /// Largest size, within window limits; at least `min` in both dimensions.
        max: Option<Size>,
    },
    /// New pixels: `rects` of `buffer` in the arena changed since the last frame.
    Damage {
        /// The window.
        window: WindowId,
        /// Frame serial, echoed by [`Dom0Message::FrameDone`](crate::Dom0Message::FrameDone).
        serial: u32,
        /// Where the frame's pixels are.
        buffer: BufferDesc,
        /// `1..=MAX_DAMAGE_RECTS` non-empty rectangles inside the buffer.
        rects: Vec<Rect>,
    },
    /// The client asks to enter (`true`) or leave fullscreen; dom0 decides. A wish, never an
    /// order: dom0 maximizes instead unless its window policy lets this qube go fullscreen,
    /// keeps its label visible either way, rate-limits wishes, and answers with
    /// [`Configure`](crate::Dom0Message::Configure) carrying the state it chose.
    SetFullscreen {
        /// The window.
        window: WindowId,
        /// Requested state.
        on: bool,
    },
    /// The client asks to be maximized (`true`) or not; dom0 decides, as for
    /// [`SetFullscreen`](Self::SetFullscreen): maximized means the output's area below dom0's
    /// reserved strip, with the window's border and title bar kept.
    SetMaximized {
        /// The window.
        window: WindowId,
        /// Requested state.
        on: bool,
    },
    /// The client asks to be minimized; dom0 decides.
    Minimize {
        /// The window.
        window: WindowId,
    },
    /// The window wants the user's attention (`xdg_activation` without a valid token):
    /// dom0 may mark it, never focuses it.
    Attention {
        /// The window.
        window: WindowId,
    },
    /// The pointer shape to show while over the window.
    SetCursor {
        /// The window.
        window: WindowId,
        /// The shape.
        shape: CursorShape,
    },
    /// The qube's current selection, answering [`Dom0Message::ClipboardRequest`](crate::Dom0Message::ClipboardRequest).
    ClipboardData {
        /// The serial of the request this answers.
        serial: u32,
        /// The MIME type the data has.
        mime: String,
        /// At most [`MAX_CLIPBOARD_BYTES`].
        data: Vec<u8>,
    },
    /// The qube has no selection, answering
    /// [`Dom0Message::ClipboardRequest`](crate::Dom0Message::ClipboardRequest).
    ClipboardEmpty {
        /// The serial of the request this answers.
        serial: u32,
    },
    /// Whether the program of a [`Dom0Message::Launch`](crate::Dom0Message::Launch)
    /// started: exactly one answer per `Launch`, sent once the agent's `execve` succeeded or
    /// failed. Only a number crosses: dom0 words the message itself, from its own copy of
    /// the command line, and never shows text from the qube.
    LaunchResult {
        /// The `launch` id of the `Launch` this answers.
        launch: u32,
        /// 0: the program started; else a Linux error number (`1..=`[`MAX_LAUNCH_ERRNO`]),
        /// for example 2 (`ENOENT`) for a program that does not exist in the qube.
        errno: u32,
    },
}

impl AgentMessage {
    /// The message type number (see [`msg_type`](crate::msg_type)).
    pub fn message_type(&self) -> u16 {
        match self {
            AgentMessage::Hello { .. } => HELLO,
            AgentMessage::CreateWindow { .. } => CREATE_WINDOW,
            AgentMessage::SetTitle { .. } => SET_TITLE,
            AgentMessage::SetAppId { .. } => SET_APP_ID,
            AgentMessage::Map { .. } => MAP,
            AgentMessage::Unmap { .. } => UNMAP,
            AgentMessage::Destroy { .. } => DESTROY,
            AgentMessage::SizeHints { .. } => SIZE_HINTS,
            AgentMessage::Damage { .. } => DAMAGE,
            AgentMessage::SetFullscreen { .. } => SET_FULLSCREEN,
            AgentMessage::SetMaximized { .. } => SET_MAXIMIZED,
            AgentMessage::Minimize { .. } => MINIMIZE,
            AgentMessage::Attention { .. } => ATTENTION,
            AgentMessage::SetCursor { .. } => SET_CURSOR,
            AgentMessage::ClipboardData { .. } => CLIPBOARD_DATA,
            AgentMessage::ClipboardEmpty { .. } => CLIPBOARD_EMPTY,
            AgentMessage::LaunchResult { .. } => LAUNCH_RESULT,
        }
    }

    /// The window the message is about (the header's window id), if any.
    pub fn window(&self) -> Option<WindowId> {
        match self {
            AgentMessage::Hello { .. }
            | AgentMessage::ClipboardData { .. }
            | AgentMessage::ClipboardEmpty { .. }
            | AgentMessage::LaunchResult { .. } => None,
            AgentMessage::CreateWindow { window, .. }
            | AgentMessage::SetTitle { window, .. }
            | AgentMessage::SetAppId { window, .. }
            | AgentMessage::Map { window }
            | AgentMessage::Unmap { window }
            | AgentMessage::Destroy { window }
            | AgentMessage::SizeHints { window, .. }
            | AgentMessage::Damage { window, .. }
            | AgentMessage::SetFullscreen { window, .. }
            | AgentMessage::SetMaximized { window, .. }
            | AgentMessage::Minimize { window }
            | AgentMessage::Attention { window }
            | AgentMessage::SetCursor { window, .. } => Some(*window),
        }
    }

    /// Checks every rule a decoder checks beyond the raw layout; `Ok` means
    /// [`AgentMessage::encode`] will succeed and the peer will decode the same value.
    pub fn validate(&self) -> Result<(), MalformedReason> {
        match self {
            AgentMessage::Hello { .. }
            | AgentMessage::Map { .. }
            | AgentMessage::Unmap { .. }
            | AgentMessage::Destroy { .. }
            | AgentMessage::SetFullscreen { .. }
            | AgentMessage::SetMaximized { .. }
            | AgentMessage::Minimize { .. }
            | AgentMessage::Attention { .. }
            | AgentMessage::SetCursor { .. }
            | AgentMessage::ClipboardEmpty { .. } => Ok(()),
            AgentMessage::CreateWindow { window, kind, size } => {
                size.check_window("window size")?;
                if let WindowKind::Popup { parent, x, y } = kind {
                    if parent == window {
                        return Err(MalformedReason::PopupParentIsSelf);
                    }
                    check_symmetric("popup x", *x, MAX_POPUP_OFFSET_X)?;
                    check_symmetric("popup y", *y, MAX_POPUP_OFFSET_Y)?;
                }
                Ok(())
            }
            AgentMessage::SetTitle { title, .. } => check_title(title),
            AgentMessage::SetAppId { app_id, .. } => check_app_id(app_id),
            AgentMessage::SizeHints { min, max, .. } => {
                if let Some(min) = min {
                    min.check_window("minimum size")?;
                }
                if let Some(max) = max {
                    max.check_window("maximum size")?;
                }
                match (min, max) {
                    (Some(min), Some(max)) if min.width > max.width || min.height > max.height => {
                        Err(MalformedReason::MinAboveMax)
                    }
                    _ => Ok(()),
                }
            }
            AgentMessage::Damage { buffer, rects, .. } => {
                buffer.check()?;
                if rects.is_empty() {
                    return Err(MalformedReason::NoRects);
                }
                if rects.len() > MAX_DAMAGE_RECTS {
                    return Err(MalformedReason::TooManyRects {
                        count: u32::try_from(rects.len()).unwrap_or(u32::MAX),
                    });
                }
                rects.iter().try_for_each(|rect| buffer.check_rect(rect))
            }
            AgentMessage::ClipboardData { mime, data, .. } => {
                check_mime(mime)?;
                check_clipboard(data)
            }
            AgentMessage::LaunchResult { errno, .. } => {
                if *errno > MAX_LAUNCH_ERRNO {
                    return Err(MalformedReason::OutOfRange {
                        field: "launch errno",
                        value: i64::from(*errno),
                        min: 0,
                        max: i64::from(MAX_LAUNCH_ERRNO),
                    });
                }
                Ok(())
            }
        }
    }

    /// Appends the encoded message to `out`. Refuses (appending nothing) a message that
    /// [`AgentMessage::validate`] rejects.
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), EncodeError> {
        codec::encode(self, out)
    }

    /// The encoded message in a new buffer.
    pub fn encode_to_vec(&self) -> Result<Vec<u8>, EncodeError> {
        let mut out = Vec::new();
        self.encode(&mut out)?;
        Ok(out)
    }

    fn write(&self, out: &mut Vec<u8>) -> Result<(), MalformedReason> {
        let ty = self.message_type();
        let mut w = Writer::new(out);
        let start = header::write_header(&mut w, ty, self.window().map_or(0, WindowId::get));
        match self {
            AgentMessage::Hello {
                version,
                capabilities,
            } => {
                w.u16(version.major);
                w.u16(version.minor);
                w.u64(capabilities.bits());
            }
            AgentMessage::CreateWindow { kind, size, .. } => {
                kind.write(&mut w);
                size.write(&mut w);
            }
            AgentMessage::SetTitle { title, .. } => text::write_title(&mut w, title),
            AgentMessage::SetAppId { app_id, .. } => text::write_app_id(&mut w, app_id),
            AgentMessage::Map { .. }
            | AgentMessage::Unmap { .. }
            | AgentMessage::Destroy { .. }
            | AgentMessage::Minimize { .. }
            | AgentMessage::Attention { .. } => {}
            AgentMessage::SizeHints { min, max, .. } => {
                min.unwrap_or(Size::new(0, 0)).write(&mut w);
                max.unwrap_or(Size::new(0, 0)).write(&mut w);
            }
            AgentMessage::Damage {
                serial,
                buffer,
                rects,
                ..
            } => {
                w.u32(*serial);
                buffer.write(&mut w);
                w.count(rects.len(), MAX_DAMAGE_RECTS, |count| {
                    MalformedReason::TooManyRects { count }
                });
                for rect in rects {
                    rect.write(&mut w);
                }
            }
            AgentMessage::SetFullscreen { on, .. } | AgentMessage::SetMaximized { on, .. } => {
                w.bool(*on);
            }
            AgentMessage::SetCursor { shape, .. } => w.u32(shape.code()),
            AgentMessage::ClipboardData { serial, mime, data } => {
                w.u32(*serial);
                text::write_mime(&mut w, mime);
                text::write_clipboard(&mut w, data);
            }
            AgentMessage::ClipboardEmpty { serial } => w.u32(*serial),
            AgentMessage::LaunchResult { launch, errno } => {
                w.u32(*launch);
                w.u32(*errno);
            }
        }
        header::patch_len(w.out(), start, Direction::AgentToDom0, ty)?;
        w.finish()
    }

    /// Decodes the message at the start of `buf`; returns it and the bytes after it.
    ///
    /// Never panics, and allocates at most the message's own (limited) size.
    /// [`DecodeError::Incomplete`] means "call again with more bytes";
    /// [`DecodeError::Malformed`] means the peer broke the contract.
    pub fn decode(buf: &[u8]) -> Result<(AgentMessage, &[u8]), DecodeError> {
        codec::decode(buf)
    }

    fn read(h: &Header, r: &mut Reader<'_>) -> Result<AgentMessage, MalformedReason> {
        let ty = h.message_type;
        // peek_header has enforced the window rule; this only avoids an unwrap.
        let window = || h.window_id().ok_or(MalformedReason::WindowIdMissing { ty });
        Ok(match ty {
            HELLO => AgentMessage::Hello {
                version: Version::new(r.u16()?, r.u16()?),
                capabilities: Capabilities::from_bits(r.u64()?),
            },
            CREATE_WINDOW => AgentMessage::CreateWindow {
                window: window()?,
                kind: WindowKind::read(r)?,
                size: Size::read(r)?,
            },
            SET_TITLE => AgentMessage::SetTitle {
                window: window()?,
                title: text::read_title(r)?,
            },
            SET_APP_ID => AgentMessage::SetAppId {
                window: window()?,
                app_id: text::read_app_id(r)?,
            },
            MAP => AgentMessage::Map { window: window()? },
            UNMAP => AgentMessage::Unmap { window: window()? },
            DESTROY => AgentMessage::Destroy { window: window()? },
            SIZE_HINTS => {
                let present = |s: Size| (s != Size::new(0, 0)).then_some(s);
                AgentMessage::SizeHints {
                    window: window()?,
                    min: present(Size::read(r)?),
                    max: present(Size::read(r)?),
                }
            }
            DAMAGE => {
                let window = window()?;
                let serial = r.u32()?;
                let buffer = BufferDesc::read(r)?;
                let count = r.u32()?;
                let len = usize::try_from(count).unwrap_or(usize::MAX);
                if len > MAX_DAMAGE_RECTS {
                    return Err(MalformedReason::TooManyRects { count });
                }
                let mut rects = Vec::with_capacity(len);
                for _ in 0..len {
                    rects.push(Rect::read(r)?);
                }
                AgentMessage::Damage {
                    window,
                    serial,
                    buffer,
                    rects,
                }
            }
            SET_FULLSCREEN => AgentMessage::SetFullscreen {
                window: window()?,
                on: r.bool("fullscreen")?,
            },
            SET_MAXIMIZED => AgentMessage::SetMaximized {
                window: window()?,
                on: r.bool("maximized")?,
            },
            MINIMIZE => AgentMessage::Minimize { window: window()? },
            ATTENTION => AgentMessage::Attention { window: window()? },
            SET_CURSOR => {
                let window = window()?;
                let code = r.u32()?;
                let shape = CursorShape::from_code(code).ok_or(MalformedReason::BadEnum {
                    field: "cursor shape",
                    value: code,
                })?;
                AgentMessage::SetCursor { window, shape }
            }
            CLIPBOARD_DATA => AgentMessage::ClipboardData {
                serial: r.u32()?,
                mime: text::read_mime(r)?,
                data: text::read_clipboard(r)?,
            },
            CLIPBOARD_EMPTY => AgentMessage::ClipboardEmpty { serial: r.u32()? },
            LAUNCH_RESULT => AgentMessage::LaunchResult {
                launch: r.u32()?,
                errno: r.u32()?,
            },
            _ => return Err(MalformedReason::UnknownType(ty)),
        })
    }
}

impl Codec for AgentMessage {
    const DIRECTION: Direction = Direction::AgentToDom0;

    fn check(&self) -> Result<(), MalformedReason> {
        self.validate()
    }

    fn write_to(&self, out: &mut Vec<u8>) -> Result<(), MalformedReason> {
        self.write(out)
    }

    fn read_from(header: &Header, r: &mut Reader<'_>) -> Result<Self, MalformedReason> {
        Self::read(header, r)
    }
}
