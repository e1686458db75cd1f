//! An in-process dom0 link for tests: messages go to a channel, the arena is a `Vec<u8>`.
//!
//! [`pair`] returns the agent's half ([`MemoryLink`] and the event channel the event loop
//! polls) and the test's half ([`MemoryDom0`]), which plays dom0: it reads the agent's
//! messages and pixels and sends events back.

use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use smithay::reexports::calloop::channel::{self, Channel};

use super::{AgentMessage, BufferDesc, Dom0Message, DomLink, LinkError};

/// The agent's half.
#[derive(Debug)]
pub struct MemoryLink {
    sent: mpsc::Sender<AgentMessage>,
    arena: Arc<Mutex<Vec<u8>>>,
}

/// The test's half: plays dom0.
#[derive(Debug)]
pub struct MemoryDom0 {
    received: mpsc::Receiver<AgentMessage>,
    events: channel::Sender<Dom0Message>,
    arena: Arc<Mutex<Vec<u8>>>,
}

/// A connected pair over an arena of `arena_len` bytes.
pub fn pair(arena_len: usize) -> (MemoryLink, Channel<Dom0Message>, MemoryDom0) {
    let (sent, received) = mpsc::channel();
    let (events, channel) = channel::channel();
    let arena = Arc::new(Mutex::new(vec![0; arena_len]));
    (
        MemoryLink {
            sent,
            arena: Arc::clone(&arena),
        },
        channel,
        MemoryDom0 {
            received,
            events,
            arena,
        },
    )
}

fn lock(arena: &Mutex<Vec<u8>>) -> MutexGuard<'_, Vec<u8>> {
    arena.lock().unwrap_or_else(PoisonError::into_inner)
}

impl DomLink for MemoryLink {
    fn send(&mut self, message: AgentMessage) -> Result<(), LinkError> {
        // Encode anyway: whatever the agent sends must pass the wire contract.
        let mut wire = Vec::new();
        message.encode(&mut wire)?;
        self.sent.send(message).map_err(|_| LinkError::Closed)
    }

    fn arena_len(&self) -> u64 {
        lock(&self.arena).len() as u64
    }

    fn write_arena(&mut self, offset: u64, data: &[u8]) -> Result<(), LinkError> {
        let mut arena = lock(&self.arena);
        let outside = || LinkError::OutsideArena {
            offset,
            len: data.len(),
        };
        let start = usize::try_from(offset).map_err(|_| outside())?;
        let end = start.checked_add(data.len()).ok_or_else(outside)?;
        arena
            .get_mut(start..end)
            .ok_or_else(outside)?
            .copy_from_slice(data);
        Ok(())
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
        let arena = lock(&self.arena);
        let mut out = Vec::with_capacity(buffer.width as usize * buffer.height as usize);
        for row in 0..u64::from(buffer.height) {
            let start = usize::try_from(buffer.offset + row * u64::from(buffer.stride))
                .expect("offset fits usize");
            let bytes = &arena[start..start + buffer.width as usize * 4];
            out.extend(
                bytes
                    .chunks_exact(4)
                    .map(|p| u32::from_le_bytes([p[0], p[1], p[2], p[3]])),
            );
        }
        out
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
