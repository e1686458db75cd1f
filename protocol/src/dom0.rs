//! Messages from dom0 to a qube's guest agent.

use crate::codec::{self, Codec};
use crate::error::{DecodeError, EncodeError, MalformedReason};
use crate::header::{self, Direction, Header, Spec, WindowRule, limit_u32};
use crate::limits::{
    MAX_AXIS_DISCRETE_120, MAX_AXIS_VALUE, MAX_BUTTON, MAX_CLIPBOARD_BYTES, MAX_KEYCODE,
    MAX_KEYMAP_BYTES, MAX_LAUNCH_ARG_BYTES, MAX_LAUNCH_ARGS, MAX_MIME_BYTES, MAX_POINTER_X,
    MAX_POINTER_Y, MAX_WINDOW_HEIGHT, MAX_WINDOW_WIDTH, MIN_BUTTON, check_argv, check_clipboard,
    check_keymap, check_mime, check_range, check_symmetric,
};
use crate::msg_type::*;
use crate::text;
use crate::types::{Axis, OutputInfo, WindowId, WindowStates};
use crate::version::{Capabilities, Version};
use crate::wire::{Reader, Writer};

// Largest payloads of the variable-size types (`limit_u32` fails the build if one exceeds
// MAX_PAYLOAD_LEN).
const KEYMAP_MAX_LEN: u32 = limit_u32(4 + MAX_KEYMAP_BYTES);
/// MIME type, data.
const CLIPBOARD_PASTE_MAX_LEN: u32 = limit_u32(2 + MAX_MIME_BYTES + 4 + MAX_CLIPBOARD_BYTES);
/// Launch id, count, then each argument as a string.
const LAUNCH_MAX_LEN: u32 = limit_u32(4 + 4 + MAX_LAUNCH_ARGS * (2 + MAX_LAUNCH_ARG_BYTES));

/// Framing rules per dom0 → agent type; `None` for types this direction may not send.
pub(crate) fn spec(ty: u16) -> Option<Spec> {
    use WindowRule::{Absent, Required};
    Some(match ty {
        HELLO_ACK => Spec::fixed(Absent, 28),
        OUTPUT_CHANGE => Spec::fixed(Absent, 16),
        KEYMAP => Spec::variable(Absent, KEYMAP_MAX_LEN),
        CONFIGURE => Spec::fixed(Required, 16),
        CLOSE | FOCUS_IN | FOCUS_OUT | POINTER_LEAVE => Spec::fixed(Required, 0),
        FRAME_DONE => Spec::fixed(Required, 4),
        KEY => Spec::fixed(Absent, 9),
        MODIFIERS => Spec::fixed(Absent, 16),
        POINTER_ENTER => Spec::fixed(Required, 8),
        POINTER_MOTION => Spec::fixed(Required, 12),
        POINTER_BUTTON => Spec::fixed(Required, 9),
        POINTER_AXIS => Spec::fixed(Required, 16),
        CLIPBOARD_REQUEST => Spec::fixed(Absent, 4),
        CLIPBOARD_PASTE => Spec::variable(Absent, CLIPBOARD_PASTE_MAX_LEN),
        LAUNCH => Spec::variable(Absent, LAUNCH_MAX_LEN),
        _ => return None,
    })
}

/// A message from dom0 to the guest agent. See the crate documentation for each message's
/// wire layout and rules; every value here passed [`Dom0Message::validate`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dom0Message {
    /// Answer to `Hello`: what the connection uses from now on.
    HelloAck {
        /// The negotiated version ([`negotiate`](crate::negotiate)).
        version: Version,
        /// The negotiated capabilities ([`negotiate_capabilities`](crate::negotiate_capabilities)).
        capabilities: Capabilities,
        /// The qube's virtual output.
        output: OutputInfo,
    },
    /// The qube's virtual output changed.
    OutputChange {
        /// The new output.
        output: OutputInfo,
    },
    /// The keyboard layout, sent after `HelloAck` and whenever it changes.
    Keymap {
        /// xkb keymap text (format v1), at most [`MAX_KEYMAP_BYTES`], no NUL.
        xkb_text: String,
    },
    /// The size and states the window should take (`xdg_toplevel.configure`).
    Configure {
        /// The window.
        window: WindowId,
        /// Serial the agent acknowledges by damaging with the new size.
        serial: u32,
        /// Width in pixels; 0 lets the client decide.
        width: u32,
        /// Height in pixels; 0 lets the client decide.
        height: u32,
        /// The window's states.
        states: WindowStates,
    },
    /// The user asked to close the window (`xdg_toplevel.close`).
    Close {
        /// The window.
        window: WindowId,
    },
    /// dom0 has consumed the frame with this serial: its arena buffer may be reused, and the
    /// agent may send the client's frame callbacks.
    FrameDone {
        /// The window.
        window: WindowId,
        /// The `Damage` serial consumed.
        serial: u32,
    },
    /// A key press or release, for the window that last got `FocusIn`.
    Key {
        /// Event time in milliseconds (arbitrary epoch).
        time_ms: u32,
        /// evdev key code, at most [`MAX_KEYCODE`].
        keycode: u32,
        /// Pressed (`true`) or released.
        pressed: bool,
    },
    /// Keyboard modifier state, as `wl_keyboard.modifiers`.
    Modifiers {
        /// Depressed modifiers mask.
        depressed: u32,
        /// Latched modifiers mask.
        latched: u32,
        /// Locked modifiers mask.
        locked: u32,
        /// Effective layout group.
        group: u32,
    },
    /// The window got keyboard focus. dom0 sends no list of held keys.
    FocusIn {
        /// The window.
        window: WindowId,
    },
    /// The window lost keyboard focus.
    FocusOut {
        /// The window.
        window: WindowId,
    },
    /// The pointer entered the window at (`x`, `y`), in 1/256 px relative to its top-left.
    PointerEnter {
        /// The window.
        window: WindowId,
        /// Within ±[`MAX_POINTER_X`].
        x: i32,
        /// Within ±[`MAX_POINTER_Y`].
        y: i32,
    },
    /// The pointer left the window.
    PointerLeave {
        /// The window.
        window: WindowId,
    },
    /// The pointer moved to (`x`, `y`), in 1/256 px relative to the window's top-left.
    PointerMotion {
        /// The window.
        window: WindowId,
        /// Event time in milliseconds.
        time_ms: u32,
        /// Within ±[`MAX_POINTER_X`].
        x: i32,
        /// Within ±[`MAX_POINTER_Y`].
        y: i32,
    },
    /// A pointer button press or release.
    PointerButton {
        /// The window.
        window: WindowId,
        /// Event time in milliseconds.
        time_ms: u32,
        /// evdev `BTN_*` code, `MIN_BUTTON..=MAX_BUTTON`.
        button: u32,
        /// Pressed (`true`) or released.
        pressed: bool,
    },
    /// A scroll.
    PointerAxis {
        /// The window.
        window: WindowId,
        /// Event time in milliseconds.
        time_ms: u32,
        /// Which axis.
        axis: Axis,
        /// Distance in 1/256 px, within ±[`MAX_AXIS_VALUE`].
        value: i32,
        /// Wheel distance in 1/120 detents (0 for continuous sources), within
        /// ±[`MAX_AXIS_DISCRETE_120`].
        discrete_120: i32,
    },
    /// The user pressed the copy gesture on one of this qube's windows: send the qube's
    /// selection back in `ClipboardData` or `ClipboardEmpty` with this serial.
    ClipboardRequest {
        /// Echoed in the answer.
        serial: u32,
    },
    /// The user pressed the paste gesture on one of this qube's windows: make this the
    /// qube's selection.
    ClipboardPaste {
        /// The MIME type of the data.
        mime: String,
        /// At most [`MAX_CLIPBOARD_BYTES`].
        data: Vec<u8>,
    },
    /// The user asked dom0 to start a program in this qube (`bulkhead run`): the agent runs
    /// it as its own child with `WAYLAND_DISPLAY` set to its socket. Sent only to an agent
    /// that offered [`Capabilities::LAUNCH`]. The agent answers each with exactly one
    /// [`AgentMessage::LaunchResult`](crate::AgentMessage::LaunchResult) carrying `launch`.
    Launch {
        /// dom0's id for this request, echoed by the answer (any value; dom0 keeps the ids
        /// of the launches it waits for distinct).
        launch: u32,
        /// The program and its arguments: 1 to [`MAX_LAUNCH_ARGS`], each at most
        /// [`MAX_LAUNCH_ARG_BYTES`] of UTF-8 without NUL; the program is not empty.
        argv: Vec<String>,
    },
}

impl Dom0Message {
    /// The message type number (see [`msg_type`](crate::msg_type)).
    pub fn message_type(&self) -> u16 {
        match self {
            Dom0Message::HelloAck { .. } => HELLO_ACK,
            Dom0Message::OutputChange { .. } => OUTPUT_CHANGE,
            Dom0Message::Keymap { .. } => KEYMAP,
            Dom0Message::Configure { .. } => CONFIGURE,
            Dom0Message::Close { .. } => CLOSE,
            Dom0Message::FrameDone { .. } => FRAME_DONE,
            Dom0Message::Key { .. } => KEY,
            Dom0Message::Modifiers { .. } => MODIFIERS,
            Dom0Message::FocusIn { .. } => FOCUS_IN,
            Dom0Message::FocusOut { .. } => FOCUS_OUT,
            Dom0Message::PointerEnter { .. } => POINTER_ENTER,
            Dom0Message::PointerLeave { .. } => POINTER_LEAVE,
            Dom0Message::PointerMotion { .. } => POINTER_MOTION,
            Dom0Message::PointerButton { .. } => POINTER_BUTTON,
            Dom0Message::PointerAxis { .. } => POINTER_AXIS,
            Dom0Message::ClipboardRequest { .. } => CLIPBOARD_REQUEST,
            Dom0Message::ClipboardPaste { .. } => CLIPBOARD_PASTE,
            Dom0Message::Launch { .. } => LAUNCH,
        }
    }

    /// The window the message is about (the header's window id), if any.
    pub fn window(&self) -> Option<WindowId> {
        match self {
            Dom0Message::HelloAck { .. }
            | Dom0Message::OutputChange { .. }
            | Dom0Message::Keymap { .. }
            | Dom0Message::Key { .. }
            | Dom0Message::Modifiers { .. }
            | Dom0Message::ClipboardRequest { .. }
            | Dom0Message::ClipboardPaste { .. }
            | Dom0Message::Launch { .. } => None,
            Dom0Message::Configure { window, .. }
            | Dom0Message::Close { window }
            | Dom0Message::FrameDone { window, .. }
            | Dom0Message::FocusIn { window }
            | Dom0Message::FocusOut { window }
            | Dom0Message::PointerEnter { window, .. }
            | Dom0Message::PointerLeave { window }
            | Dom0Message::PointerMotion { window, .. }
            | Dom0Message::PointerButton { window, .. }
            | Dom0Message::PointerAxis { window, .. } => Some(*window),
        }
    }

    /// Checks every rule a decoder checks beyond the raw layout; `Ok` means
    /// [`Dom0Message::encode`] will succeed and the peer will decode the same value.
    pub fn validate(&self) -> Result<(), MalformedReason> {
        match self {
            Dom0Message::Close { .. }
            | Dom0Message::FrameDone { .. }
            | Dom0Message::Modifiers { .. }
            | Dom0Message::FocusIn { .. }
            | Dom0Message::FocusOut { .. }
            | Dom0Message::PointerLeave { .. }
            | Dom0Message::ClipboardRequest { .. } => Ok(()),
            Dom0Message::HelloAck { output, .. } | Dom0Message::OutputChange { output } => {
                output.check()
            }
            Dom0Message::Keymap { xkb_text } => check_keymap(xkb_text),
            Dom0Message::Configure { width, height, .. } => {
                if *width > MAX_WINDOW_WIDTH || *height > MAX_WINDOW_HEIGHT {
                    return Err(MalformedReason::SizeTooLarge {
                        field: "configure size",
                        width: *width,
                        height: *height,
                        max_width: MAX_WINDOW_WIDTH,
                        max_height: MAX_WINDOW_HEIGHT,
                    });
                }
                Ok(())
            }
            Dom0Message::Key { keycode, .. } => {
                check_range("keycode", i64::from(*keycode), 0, i64::from(MAX_KEYCODE))
            }
            Dom0Message::PointerEnter { x, y, .. } | Dom0Message::PointerMotion { x, y, .. } => {
                check_symmetric("pointer x", *x, MAX_POINTER_X)?;
                check_symmetric("pointer y", *y, MAX_POINTER_Y)
            }
            Dom0Message::PointerButton { button, .. } => check_range(
                "button",
                i64::from(*button),
                i64::from(MIN_BUTTON),
                i64::from(MAX_BUTTON),
            ),
            Dom0Message::PointerAxis {
                value,
                discrete_120,
                ..
            } => {
                check_symmetric("axis value", *value, MAX_AXIS_VALUE)?;
                check_symmetric("axis discrete_120", *discrete_120, MAX_AXIS_DISCRETE_120)
            }
            Dom0Message::ClipboardPaste { mime, data } => {
                check_mime(mime)?;
                check_clipboard(data)
            }
            Dom0Message::Launch { argv, .. } => check_argv(argv),
        }
    }

    /// Appends the encoded message to `out`. Refuses (appending nothing) a message that
    /// [`Dom0Message::validate`] rejects.
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
            Dom0Message::HelloAck {
                version,
                capabilities,
                output,
            } => {
                w.u16(version.major);
                w.u16(version.minor);
                w.u64(capabilities.bits());
                output.write(&mut w);
            }
            Dom0Message::OutputChange { output } => output.write(&mut w),
            Dom0Message::Keymap { xkb_text } => text::write_keymap(&mut w, xkb_text),
            Dom0Message::Configure {
                serial,
                width,
                height,
                states,
                ..
            } => {
                w.u32(*serial);
                w.u32(*width);
                w.u32(*height);
                w.u32(states.bits());
            }
            Dom0Message::Close { .. }
            | Dom0Message::FocusIn { .. }
            | Dom0Message::FocusOut { .. }
            | Dom0Message::PointerLeave { .. } => {}
            Dom0Message::FrameDone { serial, .. } => w.u32(*serial),
            Dom0Message::Key {
                time_ms,
                keycode,
                pressed,
            } => {
                w.u32(*time_ms);
                w.u32(*keycode);
                w.bool(*pressed);
            }
            Dom0Message::Modifiers {
                depressed,
                latched,
                locked,
                group,
            } => {
                w.u32(*depressed);
                w.u32(*latched);
                w.u32(*locked);
                w.u32(*group);
            }
            Dom0Message::PointerEnter { x, y, .. } => {
                w.i32(*x);
                w.i32(*y);
            }
            Dom0Message::PointerMotion { time_ms, x, y, .. } => {
                w.u32(*time_ms);
                w.i32(*x);
                w.i32(*y);
            }
            Dom0Message::PointerButton {
                time_ms,
                button,
                pressed,
                ..
            } => {
                w.u32(*time_ms);
                w.u32(*button);
                w.bool(*pressed);
            }
            Dom0Message::PointerAxis {
                time_ms,
                axis,
                value,
                discrete_120,
                ..
            } => {
                w.u32(*time_ms);
                w.u32(axis.code());
                w.i32(*value);
                w.i32(*discrete_120);
            }
            Dom0Message::ClipboardRequest { serial } => w.u32(*serial),
            Dom0Message::ClipboardPaste { mime, data } => {
                text::write_mime(&mut w, mime);
                text::write_clipboard(&mut w, data);
            }
            Dom0Message::Launch { launch, argv } => {
                w.u32(*launch);
                text::write_argv(&mut w, argv);
            }
        }
        header::patch_len(w.out(), start, Direction::Dom0ToAgent, ty)?;
        w.finish()
    }

    /// Decodes the message at the start of `buf`; returns it and the bytes after it.
    ///
    /// Never panics, and allocates at most the message's own (limited) size.
    /// [`DecodeError::Incomplete`] means "call again with more bytes";
    /// [`DecodeError::Malformed`] means the peer broke the contract.
    pub fn decode(buf: &[u8]) -> Result<(Dom0Message, &[u8]), DecodeError> {
        codec::decode(buf)
    }

    fn read(h: &Header, r: &mut Reader<'_>) -> Result<Dom0Message, MalformedReason> {
        let ty = h.message_type;
        // peek_header has enforced the window rule; this only avoids an unwrap.
        let window = || h.window_id().ok_or(MalformedReason::WindowIdMissing { ty });
        Ok(match ty {
            HELLO_ACK => Dom0Message::HelloAck {
                version: Version::new(r.u16()?, r.u16()?),
                capabilities: Capabilities::from_bits(r.u64()?),
                output: OutputInfo::read(r)?,
            },
            OUTPUT_CHANGE => Dom0Message::OutputChange {
                output: OutputInfo::read(r)?,
            },
            KEYMAP => Dom0Message::Keymap {
                xkb_text: text::read_keymap(r)?,
            },
            CONFIGURE => Dom0Message::Configure {
                window: window()?,
                serial: r.u32()?,
                width: r.u32()?,
                height: r.u32()?,
                states: WindowStates::read(r)?,
            },
            CLOSE => Dom0Message::Close { window: window()? },
            FRAME_DONE => Dom0Message::FrameDone {
                window: window()?,
                serial: r.u32()?,
            },
            KEY => Dom0Message::Key {
                time_ms: r.u32()?,
                keycode: r.u32()?,
                pressed: r.bool("key pressed")?,
            },
            MODIFIERS => Dom0Message::Modifiers {
                depressed: r.u32()?,
                latched: r.u32()?,
                locked: r.u32()?,
                group: r.u32()?,
            },
            FOCUS_IN => Dom0Message::FocusIn { window: window()? },
            FOCUS_OUT => Dom0Message::FocusOut { window: window()? },
            POINTER_ENTER => Dom0Message::PointerEnter {
                window: window()?,
                x: r.i32()?,
                y: r.i32()?,
            },
            POINTER_LEAVE => Dom0Message::PointerLeave { window: window()? },
            POINTER_MOTION => Dom0Message::PointerMotion {
                window: window()?,
                time_ms: r.u32()?,
                x: r.i32()?,
                y: r.i32()?,
            },
            POINTER_BUTTON => Dom0Message::PointerButton {
                window: window()?,
                time_ms: r.u32()?,
                button: r.u32()?,
                pressed: r.bool("button pressed")?,
            },
            POINTER_AXIS => {
                let window = window()?;
                let time_ms = r.u32()?;
                let code = r.u32()?;
                let axis = Axis::from_code(code).ok_or(MalformedReason::BadEnum {
                    field: "axis",
                    value: code,
                })?;
                Dom0Message::PointerAxis {
                    window,
                    time_ms,
                    axis,
                    value: r.i32()?,
                    discrete_120: r.i32()?,
                }
            }
            CLIPBOARD_REQUEST => Dom0Message::ClipboardRequest { serial: r.u32()? },
            CLIPBOARD_PASTE => Dom0Message::ClipboardPaste {
                mime: text::read_mime(r)?,
                data: text::read_clipboard(r)?,
            },
            LAUNCH => Dom0Message::Launch {
                launch: r.u32()?,
                argv: text::read_argv(r)?,
            },
            _ => return Err(MalformedReason::UnknownType(ty)),
        })
    }
}

impl Codec for Dom0Message {
    const DIRECTION: Direction = Direction::Dom0ToAgent;

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
