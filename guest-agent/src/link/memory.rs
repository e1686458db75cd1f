//! An in-process dom0 link for tests and `--standalone`: messages go through channels,
//! pixels through a real shared-memory arena (shm-transport's `channel_pair`), so the
//! agent renders exactly as it does over the transport.
//!
//! [`pair`] returns the agent's half ([`MemoryLink`] and the event channel the event loop
//! polls) and the test's half ([`MemoryDom0`]), which plays dom0: it reads the agent's
//! messages and pixels and sends events back.

use std::sync::mpsc;
use std::time::Duration;

use bulkhead_shm_transport::{Arena, Config, ImageLayout, Rect as ArenaRect, channel_pair};
use smithay::reexports::calloop::channel::{self, Channel};

use super::{AgentMessage, BufferDesc, Dom0Message, DomLink, LinkError};

/// The agent's half.
#[derive(Debug)]
pub struct MemoryLink {
    sent: mpsc::Sender<AgentMessage>,
    arena: Arena,
}

/// The test's half: plays dom0.
#[derive(Debug)]
pub struct MemoryDom0 {
    received: mpsc::Receiver<AgentMessage>,
    events: channel::Sender<Dom0Message>,
    arena: Arena,
}

/// Why the in-memory link could not be made.
#[derive(Debug, thiserror::Error)]
#[error("creating the shared arena")]
pub struct PairError(#[from] bulkhead_shm_transport::SetupError);

/// A connected pair over an arena of `arena_size` bytes (a multiple of 4096).
pub fn pair(arena_size: u64) -> Result<(MemoryLink, Channel<Dom0Message>, MemoryDom0), PairError> {
    let config = Config {
        arena_size,
        ..Config::default()
    };
    // Only the arena is used; both endpoints' mappings stay alive through it.
    let (dom0, agent) = channel_pair(&config)?;
    let (sent, received) = mpsc::channel();
    let (events, channel) = channel::channel();
    Ok((
        MemoryLink {
            sent,
            arena: agent.arena().clone(),
        },
        channel,
        MemoryDom0 {
            received,
            events,
            arena: dom0.arena().clone(),
        },
    ))
}

impl DomLink for MemoryLink {
    fn send(&mut self, message: AgentMessage) -> Result<(), LinkError> {
        // Encode anyway: whatever the agent sends must pass the wire contract.
        let mut wire = Vec::new();
        message.encode(&mut wire)?;
        self.sent.send(message).map_err(|_| LinkError::Closed)
    }

    fn capabilities(&self) -> bulkhead_protocol::Capabilities {
        // The test dom0 takes everything this protocol version knows.
        bulkhead_protocol::Capabilities::KNOWN
    }

    fn arena(&self) -> &Arena {
        &self.arena
    }
}

impl MemoryDom0 {
    /// The next message from the agent, waiting at most `timeout`.
    pub fn recv(&self, timeout: Duration) -> Option<AgentMessage> {
        self.received.recv_timeout(timeout).ok()
    }

    /// Sends an event to the agent; false if the agent is gone.
    pub fn send(&self, event: Dom0Message) -> bool {
        self.events.send(event).is_ok()
    }

    /// The pixels of a frame as `u32` ARGB values, row by row (`width × height`).
    ///
    /// # Panics
    /// If the buffer is outside the arena (a test failure).
    pub fn pixels(&self, buffer: &BufferDesc) -> Vec<u32> {
        let layout = ImageLayout {
            width: buffer.width,
            height: buffer.height,
            stride: buffer.width * 4,
            bytes_per_pixel: 4,
        };
        let whole = ArenaRect {
            x: 0,
            y: 0,
            width: buffer.width,
            height: buffer.height,
        };
        let mut bytes = vec![0u8; buffer.width as usize * buffer.height as usize * 4];
        let source = ImageLayout {
            stride: buffer.stride,
            ..layout
        };
        self.arena
            .region(buffer.offset, buffer.byte_len())
            .and_then(|region| region.read_rect(&source, whole, &mut bytes, layout.stride as usize))
            .expect("the frame's buffer lies inside the arena");
        bytes
            .chunks_exact(4)
            .map(|p| u32::from_le_bytes([p[0], p[1], p[2], p[3]]))
            .collect()
    }
}

/// Plays a dom0 that shows nothing: acknowledges every frame at once, until the agent is
/// gone. For `--standalone` development runs.
pub fn acknowledge_frames(dom0: &MemoryDom0) {
    while let Ok(message) = dom0.received.recv() {
        if let AgentMessage::Damage { window, serial, .. } = message {
            if !dom0.send(Dom0Message::FrameDone { window, serial }) {
                break;
            }
        }
    }
}
