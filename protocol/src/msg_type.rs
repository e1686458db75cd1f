//! Message type numbers (header bytes 0..2).
//!
//! Agent → dom0 types are in `0x0001..=0x7fff`, dom0 → agent types in `0x8001..=0xffff`.
//! `0x0000` and `0x8000` are never valid. Numbers are grouped by topic with gaps for
//! additions in later minor versions.

// Agent → dom0.
/// [`AgentMessage::Hello`](crate::AgentMessage::Hello).
pub const HELLO: u16 = 0x0001;
/// [`AgentMessage::CreateWindow`](crate::AgentMessage::CreateWindow).
pub const CREATE_WINDOW: u16 = 0x0010;
/// [`AgentMessage::SetTitle`](crate::AgentMessage::SetTitle).
pub const SET_TITLE: u16 = 0x0011;
/// [`AgentMessage::SetAppId`](crate::AgentMessage::SetAppId).
pub const SET_APP_ID: u16 = 0x0012;
/// [`AgentMessage::Map`](crate::AgentMessage::Map).
pub const MAP: u16 = 0x0013;
/// [`AgentMessage::Unmap`](crate::AgentMessage::Unmap).
pub const UNMAP: u16 = 0x0014;
/// [`AgentMessage::Destroy`](crate::AgentMessage::Destroy).
pub const DESTROY: u16 = 0x0015;
/// [`AgentMessage::SizeHints`](crate::AgentMessage::SizeHints).
pub const SIZE_HINTS: u16 = 0x0016;
/// [`AgentMessage::SetFullscreen`](crate::AgentMessage::SetFullscreen).
pub const SET_FULLSCREEN: u16 = 0x0017;
/// [`AgentMessage::SetMaximized`](crate::AgentMessage::SetMaximized).
pub const SET_MAXIMIZED: u16 = 0x0018;
/// [`AgentMessage::Minimize`](crate::AgentMessage::Minimize).
pub const MINIMIZE: u16 = 0x0019;
/// [`AgentMessage::Attention`](crate::AgentMessage::Attention).
pub const ATTENTION: u16 = 0x001a;
/// [`AgentMessage::SetCursor`](crate::AgentMessage::SetCursor).
pub const SET_CURSOR: u16 = 0x001b;
/// [`AgentMessage::Damage`](crate::AgentMessage::Damage).
pub const DAMAGE: u16 = 0x0020;
/// [`AgentMessage::ClipboardData`](crate::AgentMessage::ClipboardData).
pub const CLIPBOARD_DATA: u16 = 0x0030;
/// [`AgentMessage::ClipboardEmpty`](crate::AgentMessage::ClipboardEmpty).
pub const CLIPBOARD_EMPTY: u16 = 0x0031;
/// [`AgentMessage::LaunchResult`](crate::AgentMessage::LaunchResult).
pub const LAUNCH_RESULT: u16 = 0x0040;

// Dom0 → agent.
/// [`Dom0Message::HelloAck`](crate::Dom0Message::HelloAck).
pub const HELLO_ACK: u16 = 0x8001;
/// [`Dom0Message::OutputChange`](crate::Dom0Message::OutputChange).
pub const OUTPUT_CHANGE: u16 = 0x8002;
/// [`Dom0Message::Keymap`](crate::Dom0Message::Keymap).
pub const KEYMAP: u16 = 0x8003;
/// [`Dom0Message::Configure`](crate::Dom0Message::Configure).
pub const CONFIGURE: u16 = 0x8010;
/// [`Dom0Message::Close`](crate::Dom0Message::Close).
pub const CLOSE: u16 = 0x8011;
/// [`Dom0Message::FrameDone`](crate::Dom0Message::FrameDone).
pub const FRAME_DONE: u16 = 0x8012;
/// [`Dom0Message::Key`](crate::Dom0Message::Key).
pub const KEY: u16 = 0x8020;
/// [`Dom0Message::Modifiers`](crate::Dom0Message::Modifiers).
pub const MODIFIERS: u16 = 0x8021;
/// [`Dom0Message::FocusIn`](crate::Dom0Message::FocusIn).
pub const FOCUS_IN: u16 = 0x8022;
/// [`Dom0Message::FocusOut`](crate::Dom0Message::FocusOut).
pub const FOCUS_OUT: u16 = 0x8023;
/// [`Dom0Message::PointerEnter`](crate::Dom0Message::PointerEnter).
pub const POINTER_ENTER: u16 = 0x8030;
/// [`Dom0Message::PointerLeave`](crate::Dom0Message::PointerLeave).
pub const POINTER_LEAVE: u16 = 0x8031;
/// [`Dom0Message::PointerMotion`](crate::Dom0Message::PointerMotion).
pub const POINTER_MOTION: u16 = 0x8032;
/// [`Dom0Message::PointerButton`](crate::Dom0Message::PointerButton).
pub const POINTER_BUTTON: u16 = 0x8033;
/// [`Dom0Message::PointerAxis`](crate::Dom0Message::PointerAxis).
pub const POINTER_AXIS: u16 = 0x8034;
/// [`Dom0Message::ClipboardRequest`](crate::Dom0Message::ClipboardRequest).
pub const CLIPBOARD_REQUEST: u16 = 0x8040;
/// [`Dom0Message::ClipboardPaste`](crate::Dom0Message::ClipboardPaste).
pub const CLIPBOARD_PASTE: u16 = 0x8041;
/// [`Dom0Message::Launch`](crate::Dom0Message::Launch).
pub const LAUNCH: u16 = 0x8050;
