//! The agent's side of its connection to dom0.
//!
//! The agent speaks `bulkhead-protocol` messages directly: it sends [`AgentMessage`]s
//! through a [`DomLink`], writes pixels into the shared arena through it, and receives
//! [`Dom0Message`]s from an event source the link registers in the event loop. Two links
//! exist: [`memory`] keeps everything in process (tests, `--standalone`), [`transport`]
//! runs over `bulkhead-shm-transport`, set up from a Unix socket (host mode) or from the
//! GUI channel PCI device ([`pci`], VM mode).
//!
//! The qube's name and label appear nowhere here: they are dom0's knowledge.

pub mod memory;
pub mod pci;
pub mod transport;

use std::fmt;

use bulkhead_shm_transport::Arena;

pub use bulkhead_protocol::{
    AgentMessage, BufferDesc, Dom0Message, OutputInfo, PixelFormat, Rect, Size, WindowId,
    WindowKind, WindowStates,
};

/// The output as the agent uses it: dom0's size and an integer Wayland scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputMode {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Integer scale (wl_output.scale): dom0's scale rounded to the nearest whole number.
    pub scale: u32,
}

impl Default for OutputMode {
    /// What clients see until dom0's handshake tells the real output.
    fn default() -> Self {
        OutputMode {
            width: 1920,
            height: 1080,
            scale: 1,
        }
    }
}

impl From<OutputInfo> for OutputMode {
    fn from(info: OutputInfo) -> Self {
        OutputMode {
            width: info.width.max(1),
            height: info.height.max(1),
            scale: ((info.scale_120 + 60) / 120).clamp(1, 8),
        }
    }
}

/// Why the link refused a request.
#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    /// The connection to dom0 is gone.
    #[error("the connection to dom0 is closed")]
    Closed,
    /// The message breaks the wire contract (a bug in the agent).
    #[error("message refused by the encoder")]
    Encode(#[from] bulkhead_protocol::EncodeError),
    /// The transport failed (ring error, backpressure, I/O).
    #[error("transport: {0}")]
    Transport(String),
}

/// The agent's sending half of the dom0 connection plus its view of the pixel arena.
pub trait DomLink: fmt::Debug {
    /// Queues one message for dom0.
    fn send(&mut self, message: AgentMessage) -> Result<(), LinkError>;

    /// What dom0 agreed to in the handshake.
    fn capabilities(&self) -> bulkhead_protocol::Capabilities;

    /// The shared pixel arena. The agent only writes buffers dom0 has released (the frame
    /// pacer's invariant).
    fn arena(&self) -> &Arena;

    /// Everything dom0 sent since the last call, after its doorbell rang (links that
    /// deliver through their own event source return nothing).
    fn poll(&mut self) -> Result<Vec<Dom0Message>, LinkError> {
        Ok(Vec::new())
    }
}
