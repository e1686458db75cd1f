//! One side of a channel: the ring it reads, the ring it writes, the arena, doorbells.

use std::os::fd::{AsFd, BorrowedFd};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::arena::Arena;
use crate::doorbell::{Doorbell, IncomingDoorbell, wait_readable};
use crate::error::{RecvError, RingError, SendError, SetupError};
use crate::layout::{Config, Layout};
use crate::ring::{RingReader, RingView, RingWriter, SendFailure, SendStatus};
use crate::shared::SharedMemory;
use crate::stream_copy::store_fence;

/// Which side of the channel an endpoint is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The trusted side: reads agent→dom0, writes dom0→agent, validates arena regions.
    Dom0,
    /// The guest agent: reads dom0→agent, writes agent→dom0, writes pixels.
    Agent,
}

/// One side of a shared-memory channel.
///
/// Not `Sync`: one thread drives it (a compositor's per-qube handler, the agent's loop).
/// A [`RingError`] from the peer poisons it: every later call returns the same error.
#[derive(Debug)]
pub struct Endpoint {
    role: Role,
    layout: Layout,
    reader: RingReader,
    writer: RingWriter,
    arena: Arena,
    peer_bell: Box<dyn Doorbell>,
    incoming: Box<dyn IncomingDoorbell>,
    max_message_len: usize,
    failed: Option<RingError>,
}

impl Endpoint {
    /// Assembles an endpoint over a mapping whose `layout` is already validated (dom0:
    /// its own; agent: from the header).
    pub(crate) fn assemble(
        role: Role,
        mem: SharedMemory,
        layout: Layout,
        config: &Config,
        peer_bell: Box<dyn Doorbell>,
        incoming: Box<dyn IncomingDoorbell>,
    ) -> Result<Self, SetupError> {
        config.validate_limits()?;
        if mem.len() < layout.region_size {
            return Err(SetupError::BadHeader("mapping is smaller than the region"));
        }
        let mem = Arc::new(mem);
        let (read_ring, write_ring) = match role {
            Role::Dom0 => (layout.to_dom0, layout.to_agent),
            Role::Agent => (layout.to_agent, layout.to_dom0),
        };
        Ok(Self {
            role,
            layout,
            reader: RingReader::new(
                RingView::new(Arc::clone(&mem), read_ring),
                config.max_message_len,
            ),
            writer: RingWriter::new(
                RingView::new(Arc::clone(&mem), write_ring),
                config.send_queue_limit,
            ),
            arena: Arena::new(mem, layout.arena_offset, layout.arena_size),
            peer_bell,
            incoming,
            max_message_len: config.max_message_len,
            failed: None,
        })
    }

    /// The agent's pixels go through `mem` from now on: the same region mapped again (in a
    /// VM, the BAR through sysfs `resource0_wc`: write-combining, where `resource0` is
    /// uncached and pixel writes would crawl). The rings keep the first mapping. Call it
    /// before any frame is written.
    pub fn use_arena_mapping(&mut self, mem: SharedMemory) -> Result<(), SetupError> {
        if mem.len() < self.layout.region_size {
            return Err(SetupError::BadHeader(
                "the arena's mapping is smaller than the region",
            ));
        }
        self.arena = Arena::new(
            Arc::new(mem),
            self.layout.arena_offset,
            self.layout.arena_size,
        );
        Ok(())
    }

    /// Which side this is.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The private copy of the region's geometry.
    pub fn layout(&self) -> &Layout {
        &self.layout
    }

    /// The pixel arena (clone it to keep it beyond this borrow).
    pub fn arena(&self) -> &Arena {
        &self.arena
    }

    /// The first protocol violation seen, if any (the endpoint is then unusable).
    pub fn failure(&self) -> Option<&RingError> {
        self.failed.as_ref()
    }

    /// Bytes accepted by [`send`](Self::send) but not yet in the ring.
    pub fn pending_send_bytes(&self) -> usize {
        self.writer.pending()
    }

    /// Queued messages the writer has looked at so far (the complexity test's counter).
    #[cfg(test)]
    pub(crate) fn queue_examined(&self) -> u64 {
        self.writer.examined
    }

    /// Bytes of an incoming message received so far but not yet complete.
    pub fn partial_recv_bytes(&self) -> usize {
        self.reader.partial_len()
    }

    fn check(&self) -> Result<(), RingError> {
        match &self.failed {
            Some(e) => Err(e.clone()),
            None => Ok(()),
        }
    }

    fn poison(&mut self, e: RingError) -> RingError {
        self.failed.get_or_insert(e).clone()
    }

    fn ring_peer(&self, notify: bool) -> Result<(), std::io::Error> {
        if notify {
            self.peer_bell.ring()?;
        }
        Ok(())
    }

    /// Sends one message without blocking. What does not fit in the ring is queued (up
    /// to `send_queue_limit` bytes) and [`SendStatus::Queued`] says so; past the limit the
    /// message is refused with [`SendError::Backpressure`]. Rings the peer only if it is
    /// waiting for data.
    pub fn send(&mut self, msg: &[u8]) -> Result<SendStatus, SendError> {
        self.check()?;
        // Pixels the message may announce went out with streaming or write-combining
        // stores: they must be visible before the message is.
        store_fence();
        if msg.len() > self.max_message_len {
            return Err(SendError::TooLong {
                len: msg.len(),
                max: self.max_message_len,
            });
        }
        match self.writer.send(msg) {
            Ok((status, notify)) => {
                self.ring_peer(notify).map_err(SendError::Doorbell)?;
                Ok(status)
            }
            Err(SendFailure::Ring(e)) => Err(self.poison(e).into()),
            Err(SendFailure::Backpressure {
                pending,
                limit,
                notify,
            }) => {
                self.ring_peer(notify).map_err(SendError::Doorbell)?;
                Err(SendError::Backpressure { pending, limit })
            }
        }
    }

    /// Writes queued bytes into the space the peer has freed since.
    pub fn flush(&mut self) -> Result<SendStatus, SendError> {
        self.check()?;
        store_fence();
        match self.writer.flush() {
            Ok((status, notify)) => {
                self.ring_peer(notify).map_err(SendError::Doorbell)?;
                Ok(status)
            }
            Err(e) => Err(self.poison(e).into()),
        }
    }

    /// Returns the next complete message, or `None` if none is complete yet (a peer that
    /// stops mid-message leaves us here, never blocked). Each frame is copied out of
    /// shared memory once; the returned bytes are private.
    pub fn recv(&mut self) -> Result<Option<Vec<u8>>, RecvError> {
        self.check()?;
        let out = match self.reader.read() {
            Ok(out) => out,
            Err(e) => return Err(self.poison(e).into()),
        };
        self.ring_peer(out.notify_peer)
            .map_err(RecvError::Doorbell)?;
        Ok(out.message)
    }

    /// The fd to poll for readability (our incoming doorbell). After it polls readable,
    /// call [`acknowledge_doorbell`](Self::acknowledge_doorbell), then
    /// [`flush`](Self::flush) and [`recv`](Self::recv) until `None`, then
    /// [`prepare_wait`](Self::prepare_wait) before polling again.
    pub fn doorbell_fd(&self) -> BorrowedFd<'_> {
        self.incoming.as_fd()
    }

    /// Clears pending doorbell rings.
    pub fn acknowledge_doorbell(&self) -> std::io::Result<()> {
        self.incoming.acknowledge()
    }

    /// Tells the peer we are about to sleep (sets "consumer waiting for data"; the
    /// "producer waiting for space" flag is kept by [`flush`](Self::flush)), then, after a
    /// full fence, re-checks the rings. Returns `true` if it is safe to sleep on
    /// [`doorbell_fd`](Self::doorbell_fd), `false` if there is work already (data to
    /// receive or space to flush into) — so no wake-up is ever lost.
    pub fn prepare_wait(&mut self) -> Result<bool, RingError> {
        self.check()?;
        let data = match self.reader.prepare_wait() {
            Ok(data) => data,
            Err(e) => return Err(self.poison(e)),
        };
        Ok(!data && !self.writer.space_changed())
    }

    /// Sleeps until the peer rings or `timeout` passes (`None`: forever), unless
    /// [`prepare_wait`](Self::prepare_wait) finds work. Returns `false` on timeout.
    pub fn wait(&mut self, timeout: Option<Duration>) -> Result<bool, RecvError> {
        if !self.prepare_wait()? {
            return Ok(true);
        }
        let rung = wait_readable(self.doorbell_fd(), timeout).map_err(RecvError::Doorbell)?;
        if rung {
            self.acknowledge_doorbell().map_err(RecvError::Doorbell)?;
        }
        Ok(rung)
    }

    /// Convenience for simple callers and tests: sends `msg` and waits until all of it is
    /// in the ring. Does not receive meanwhile, so two peers that both block on full rings
    /// would deadlock; event loops use [`send`](Self::send) and [`flush`](Self::flush).
    pub fn send_blocking(&mut self, msg: &[u8], timeout: Duration) -> Result<(), SendError> {
        let deadline = Instant::now() + timeout;
        loop {
            match self.send(msg) {
                Ok(_) => break,
                Err(SendError::Backpressure { .. }) => self.wait_until(deadline)?,
                Err(e) => return Err(e),
            }
        }
        while self.flush()? != SendStatus::Sent {
            self.wait_until(deadline)?;
        }
        Ok(())
    }

    fn wait_until(&mut self, deadline: Instant) -> Result<(), SendError> {
        let left = deadline.saturating_duration_since(Instant::now());
        match self.wait(Some(left)) {
            Ok(true) => Ok(()),
            Ok(false) => Err(SendError::TimedOut),
            Err(RecvError::Ring(e)) => Err(SendError::Ring(e)),
            Err(RecvError::Doorbell(e)) => Err(SendError::Doorbell(e)),
        }
    }

    /// Convenience: waits up to `timeout` for a complete message.
    pub fn recv_blocking(&mut self, timeout: Duration) -> Result<Option<Vec<u8>>, RecvError> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(msg) = self.recv()? {
                return Ok(Some(msg));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() || !self.wait(Some(left))? {
                return self.recv();
            }
        }
    }
}
