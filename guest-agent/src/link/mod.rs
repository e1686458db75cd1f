//! The agent's side of its connection to dom0, as the rest of the agent sees it.
//!
//! The agent talks to dom0 through [`DomLink`]: it sends [`AgentMessage`]s, writes pixels
//! into the shared arena, and receives [`Dom0Event`]s through the event loop. The
//! [`memory`] implementation keeps everything in process for tests; the transport one maps
//! these types onto `bulkhead-protocol` messages over `bulkhead-shm-transport`.
//!
//! These types are the agent's vocabulary, deliberately close to the wire messages: the
//! qube's name and label appear nowhere, because they are dom0's knowledge.

pub mod memory;

use std::fmt;

/// A window as dom0 knows it: non-zero, chosen by the agent, unique among live windows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WindowId(pub u32);

impl fmt::Display for WindowId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "w{}", self.0)
    }
}

/// A rectangle in a window's pixel coordinates (origin at the window content's top left).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PixelRect {
    /// Left edge.
    pub x: u32,
    /// Top edge.
    pub y: u32,
    /// Width, non-zero in every rectangle the agent sends.
    pub width: u32,
    /// Height, non-zero in every rectangle the agent sends.
    pub height: u32,
}

/// Where one frame's pixels live in the arena: `height` rows of `stride` bytes from
/// `offset`, each pixel ARGB8888 little-endian (premultiplied alpha, as pixman and Wayland).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BufferDesc {
    /// Byte offset of the first row in the arena.
    pub offset: u64,
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Bytes from one row to the next.
    pub stride: u32,
}

/// What kind of surface a dom0 window shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowRole {
    /// An xdg_toplevel: dom0 frames it and gives it a title bar.
    Toplevel,
    /// An xdg_popup, placed relative to its parent window's content.
    Popup {
        /// The window the popup belongs to (a toplevel or another popup).
        parent: WindowId,
        /// Offset of the popup's content from the parent's content, in pixels.
        x: i32,
        /// See `x`.
        y: i32,
    },
}

/// A message from the agent to dom0.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AgentMessage {
    /// A new window exists (not yet shown).
    CreateWindow {
        /// The new window.
        id: WindowId,
        /// Toplevel or popup.
        role: WindowRole,
    },
    /// The popup moved relative to its parent (xdg_popup.reposition).
    MovePopup {
        /// The popup window.
        id: WindowId,
        /// New offset from the parent's content.
        x: i32,
        /// See `x`.
        y: i32,
    },
    /// The toplevel's title (already sanitised: no control characters, bounded length).
    SetTitle {
        /// The window.
        id: WindowId,
        /// The title.
        title: String,
    },
    /// The toplevel's app id (sanitised like titles).
    SetAppId {
        /// The window.
        id: WindowId,
        /// The app id.
        app_id: String,
    },
    /// The toplevel's minimum and maximum content size in pixels (0 = unbounded).
    SizeHints {
        /// The window.
        id: WindowId,
        /// Minimum width and height.
        min: (u32, u32),
        /// Maximum width and height.
        max: (u32, u32),
    },
    /// Show the window (after at least one `Damage`).
    Map {
        /// The window.
        id: WindowId,
    },
    /// Hide the window; it may be mapped again.
    Unmap {
        /// The window.
        id: WindowId,
    },
    /// The window is gone; its id may be reused later.
    Destroy {
        /// The window.
        id: WindowId,
    },
    /// Frame `serial` of the window is complete in `buffer`; `rects` changed since the
    /// previous frame. dom0 answers with [`Dom0Event::FrameDone`].
    Damage {
        /// The window.
        id: WindowId,
        /// Increases by one per frame of this window, starting at 1.
        serial: u32,
        /// Where the frame is.
        buffer: BufferDesc,
        /// What changed since the previous frame (all inside the buffer).
        rects: Vec<PixelRect>,
    },
    /// The client asks to be (or stop being) fullscreen.
    SetFullscreen {
        /// The window.
        id: WindowId,
        /// Requested state.
        on: bool,
    },
    /// The client asks to be (or stop being) maximized.
    SetMaximized {
        /// The window.
        id: WindowId,
        /// Requested state.
        on: bool,
    },
    /// The client asks to be minimized.
    Minimize {
        /// The window.
        id: WindowId,
    },
}

impl AgentMessage {
    /// The window this message is about.
    pub fn window(&self) -> WindowId {
        match self {
            AgentMessage::CreateWindow { id, .. }
            | AgentMessage::MovePopup { id, .. }
            | AgentMessage::SetTitle { id, .. }
            | AgentMessage::SetAppId { id, .. }
            | AgentMessage::SizeHints { id, .. }
            | AgentMessage::Map { id }
            | AgentMessage::Unmap { id }
            | AgentMessage::Destroy { id }
            | AgentMessage::Damage { id, .. }
            | AgentMessage::SetFullscreen { id, .. }
            | AgentMessage::SetMaximized { id, .. }
            | AgentMessage::Minimize { id } => *id,
        }
    }
}

/// The screen dom0 shows the qube's windows on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputInfo {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Integer scale factor (1 or more).
    pub scale: u32,
}

impl Default for OutputInfo {
    fn default() -> Self {
        OutputInfo {
            width: 1920,
            height: 1080,
            scale: 1,
        }
    }
}

/// Window states dom0 grants in a configure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WindowStates {
    /// The window has keyboard focus (drawn as active).
    pub activated: bool,
    /// Maximized.
    pub maximized: bool,
    /// Fullscreen.
    pub fullscreen: bool,
    /// Being resized interactively.
    pub resizing: bool,
}

/// A pointer button or key: pressed or released.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Press {
    /// Went down.
    Pressed,
    /// Went up.
    Released,
}

/// An event from dom0, already decoded and validated by the link.
#[derive(Debug, Clone, PartialEq)]
pub enum Dom0Event {
    /// The screen changed (also sent once right after the handshake).
    OutputChange(OutputInfo),
    /// dom0 asks the toplevel to take this size (0 = client's choice) and states.
    Configure {
        /// The window.
        id: WindowId,
        /// Content width in pixels, 0 to let the client choose.
        width: u32,
        /// Content height in pixels, 0 to let the client choose.
        height: u32,
        /// States granted.
        states: WindowStates,
    },
    /// The user closed the window in dom0.
    Close {
        /// The window.
        id: WindowId,
    },
    /// dom0 shows frame `serial` and released the window's other buffer.
    FrameDone {
        /// The window.
        id: WindowId,
        /// The frame's serial from `Damage`.
        serial: u32,
    },
    /// The keyboard layout, as an xkb keymap in text form.
    Keymap(String),
    /// Keyboard focus entered a window.
    FocusIn {
        /// The window.
        id: WindowId,
    },
    /// Keyboard focus left the qube.
    FocusOut,
    /// A key (evdev code) to the focused window.
    Key {
        /// evdev key code.
        key: u32,
        /// Down or up.
        state: Press,
        /// Milliseconds, dom0's clock.
        time: u32,
    },
    /// Modifier masks (wl_keyboard.modifiers semantics) for the focused window.
    Modifiers {
        /// Depressed modifiers.
        depressed: u32,
        /// Latched modifiers.
        latched: u32,
        /// Locked modifiers.
        locked: u32,
        /// Effective layout group.
        group: u32,
    },
    /// The pointer entered a window at `(x, y)` pixels from its content's top left.
    PointerEnter {
        /// The window.
        id: WindowId,
        /// Position in the window content.
        x: f64,
        /// See `x`.
        y: f64,
    },
    /// The pointer left the window.
    PointerLeave {
        /// The window.
        id: WindowId,
    },
    /// The pointer moved within a window.
    PointerMotion {
        /// The window.
        id: WindowId,
        /// Position in the window content.
        x: f64,
        /// See `x`.
        y: f64,
        /// Milliseconds, dom0's clock.
        time: u32,
    },
    /// A pointer button (evdev code, e.g. `BTN_LEFT` = 0x110) over the pointer's window.
    PointerButton {
        /// evdev button code.
        button: u32,
        /// Down or up.
        state: Press,
        /// Milliseconds, dom0's clock.
        time: u32,
    },
    /// Scrolling over the pointer's window, in wl_pointer.axis units.
    PointerAxis {
        /// Horizontal amount.
        horizontal: f64,
        /// Vertical amount.
        vertical: f64,
        /// Milliseconds, dom0's clock.
        time: u32,
    },
}

/// Why the link refused a request.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// The connection to dom0 is gone.
    #[error("the connection to dom0 is closed")]
    Closed,
    /// An arena write fell outside the arena.
    #[error("arena write of {len} bytes at {offset:#x} is outside the arena of {arena_len} bytes")]
    OutsideArena {
        /// Offset of the write.
        offset: u64,
        /// Length of the write.
        len: usize,
        /// Arena size.
        arena_len: u64,
    },
    /// The transport refused the message (full ring, encoding error, ...).
    #[error("transport: {0}")]
    Transport(String),
}

/// The agent's sending half of the dom0 connection plus its view of the pixel arena.
///
/// Incoming [`Dom0Event`]s are delivered by an event source the link's constructor hands to
/// the event loop, not through this trait.
pub trait DomLink: fmt::Debug {
    /// Queues one message for dom0 and rings its doorbell.
    fn send(&mut self, message: AgentMessage) -> Result<(), LinkError>;

    /// Size of the shared pixel arena in bytes.
    fn arena_len(&self) -> u64;

    /// Copies `data` into the arena at `offset`. The agent only writes buffers dom0 has
    /// released (the window module's invariant).
    fn write_arena(&mut self, offset: u64, data: &[u8]) -> Result<(), LinkError>;
}
