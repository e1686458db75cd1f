//! One single-producer/single-consumer byte ring carrying framed messages.
//!
//! Frames are 8-byte aligned: `[u32 len | MORE][u32 zero][len bytes][pad to 8]`. A message
//! longer than the free space is split into MORE frames; the reader reassembles it in a
//! private buffer. The producer and consumer indices are free-running u32 byte counts;
//! each side keeps its own index privately and only ever *reads* the peer's.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering, fence};

use crate::error::RingError;
use crate::layout::{RingLayout, control};
use crate::shared::SharedMemory;

/// Bit 31 of a frame's length word: more frames of this message follow.
pub const MORE: u32 = 1 << 31;
/// Bytes of a frame header.
pub const FRAME_HEADER: u32 = 8;

/// Frame bytes taken by a payload of `len`, header and padding included (in u64, so a
/// hostile length cannot overflow).
fn frame_size(len: u32) -> u64 {
    u64::from(FRAME_HEADER) + u64::from(len).next_multiple_of(8)
}

/// [`frame_size`] for our own frames, whose payload is smaller than the ring (< 2^30).
fn own_frame_size(len: u32) -> u32 {
    FRAME_HEADER + len.next_multiple_of(8)
}

/// [`frame_size`] clamped to u32 (for "how much space would this message like").
fn own_frame_size_saturating(len: u32) -> u32 {
    u32::try_from(frame_size(len)).unwrap_or(u32::MAX)
}

/// A position inside one ring's data area (always `< size`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct RingOffset(u32);

/// One ring in a mapping: control block plus data area, by offsets.
#[derive(Debug, Clone)]
pub(crate) struct RingView {
    mem: Arc<SharedMemory>,
    layout: RingLayout,
}

impl RingView {
    pub(crate) fn new(mem: Arc<SharedMemory>, layout: RingLayout) -> Self {
        Self { mem, layout }
    }

    fn size(&self) -> u32 {
        self.layout.size
    }

    fn control(&self, field: usize) -> &AtomicU32 {
        self.mem.atomic_u32(self.layout.control_offset + field)
    }

    fn producer(&self) -> &AtomicU32 {
        self.control(control::PRODUCER)
    }

    fn consumer(&self) -> &AtomicU32 {
        self.control(control::CONSUMER)
    }

    fn consumer_waiting(&self) -> &AtomicU32 {
        self.control(control::CONSUMER_WAITING)
    }

    fn producer_waiting(&self) -> &AtomicU32 {
        self.control(control::PRODUCER_WAITING)
    }

    fn offset(&self, index: u32) -> RingOffset {
        RingOffset(index & (self.size() - 1))
    }

    /// Copies `dst.len()` bytes starting at `at`, wrapping at the end of the data area.
    fn read(&self, at: RingOffset, dst: &mut [u8]) {
        let first = dst.len().min((self.size() - at.0) as usize);
        let (a, b) = dst.split_at_mut(first);
        self.mem
            .read_racy(self.layout.data_offset + at.0 as usize, a);
        self.mem.read_racy(self.layout.data_offset, b);
    }

    fn write(&self, at: RingOffset, src: &[u8]) {
        let first = src.len().min((self.size() - at.0) as usize);
        let (a, b) = src.split_at(first);
        self.mem
            .write_racy(self.layout.data_offset + at.0 as usize, a);
        self.mem.write_racy(self.layout.data_offset, b);
    }

    /// If the flag is set, clears it and returns true (the caller then rings the peer).
    fn take_flag(flag: &AtomicU32) -> bool {
        flag.load(Ordering::Relaxed) != 0 && flag.swap(0, Ordering::AcqRel) != 0
    }
}

/// The consuming end of a ring.
#[derive(Debug)]
pub(crate) struct RingReader {
    ring: RingView,
    /// Our consumer index; the shared copy is only ever written from this.
    cons: u32,
    /// The consumer index last stored to shared memory.
    published_cons: u32,
    /// The producer index last loaded (and validated); reloaded only once we caught up,
    /// so a stream of small messages costs one shared load per batch, not per message.
    known_prod: u32,
    /// The message being reassembled (private memory).
    partial: Vec<u8>,
    max_message_len: usize,
}

/// What one read did.
#[derive(Debug, Default)]
pub(crate) struct ReadOutcome {
    /// A complete message, if one was finished.
    pub(crate) message: Option<Vec<u8>>,
    /// The producer asked to be woken when space frees up: ring its doorbell.
    pub(crate) notify_peer: bool,
}

impl RingReader {
    pub(crate) fn new(ring: RingView, max_message_len: usize) -> Self {
        // Regions are fresh (all zero) when an endpoint is made; never trust a stale index.
        Self {
            ring,
            cons: 0,
            published_cons: 0,
            known_prod: 0,
            partial: Vec::new(),
            max_message_len,
        }
    }

    /// Loads the producer index once and bounds-checks it.
    fn load_producer(&mut self) -> Result<(), RingError> {
        let prod = self.ring.producer().load(Ordering::Acquire);
        if prod.wrapping_sub(self.cons) > self.ring.size() {
            return Err(RingError::ProducerIndexOutOfRange {
                producer: prod,
                consumer: self.cons,
                ring_size: self.ring.size(),
            });
        }
        self.known_prod = prod;
        Ok(())
    }

    /// Published, unread bytes. The producer index is loaded only when everything known
    /// has been consumed.
    fn available(&mut self) -> Result<u32, RingError> {
        if self.known_prod == self.cons {
            self.load_producer()?;
        }
        Ok(self.known_prod.wrapping_sub(self.cons))
    }

    /// Whether unread bytes are published (always a fresh load).
    pub(crate) fn has_data(&mut self) -> Result<bool, RingError> {
        self.load_producer()?;
        Ok(self.known_prod != self.cons)
    }

    /// Bytes of the message currently being reassembled.
    pub(crate) fn partial_len(&self) -> usize {
        self.partial.len()
    }

    /// Consumes published frames until one message completes or the published bytes run
    /// out. Never blocks; a peer that stops mid-message leaves its bytes in `partial`.
    pub(crate) fn read(&mut self) -> Result<ReadOutcome, RingError> {
        let avail = self.available()?;
        let mut consumed: u32 = 0;
        let mut message = None;
        while consumed < avail {
            let left = avail - consumed;
            if left < FRAME_HEADER {
                return Err(RingError::TruncatedFrameHeader { published: left });
            }
            let at = self.ring.offset(self.cons.wrapping_add(consumed));
            let mut header = [0u8; FRAME_HEADER as usize];
            self.ring.read(at, &mut header);
            let word = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
            let len = word & !MORE;
            let more = word & MORE != 0;
            let size = match u32::try_from(frame_size(len)) {
                Ok(size) if size <= left => size,
                _ => {
                    return Err(RingError::FrameBeyondPublished {
                        len,
                        published: left,
                    });
                }
            };
            if more && len == 0 {
                return Err(RingError::EmptyFragment);
            }
            let total = self.partial.len() + len as usize;
            if total > self.max_message_len {
                return Err(RingError::MessageTooLong {
                    len: total,
                    max: self.max_message_len,
                });
            }
            self.grow_partial(len as usize);
            let start = self.partial.len();
            self.partial.resize(total, 0);
            let payload = self
                .ring
                .offset(self.cons.wrapping_add(consumed + FRAME_HEADER));
            self.ring.read(payload, &mut self.partial[start..]);
            consumed += size;
            if !more {
                message = Some(std::mem::take(&mut self.partial));
                break;
            }
        }
        self.cons = self.cons.wrapping_add(consumed);
        let mut notify_peer = false;
        // Publish once caught up with what we know (always so before anyone sleeps: a
        // `None` result or `prepare_wait` implies it) or once a quarter ring is freed.
        let unpublished = self.cons.wrapping_sub(self.published_cons);
        if unpublished > 0 && (self.cons == self.known_prod || unpublished >= self.ring.size() / 4)
        {
            self.published_cons = self.cons;
            self.ring.consumer().store(self.cons, Ordering::Release);
            // Pairs with the producer's fence between setting its flag and re-reading
            // our index: one of us sees the other's write.
            fence(Ordering::SeqCst);
            notify_peer = RingView::take_flag(self.ring.producer_waiting());
        }
        Ok(ReadOutcome {
            message,
            notify_peer,
        })
    }

    /// Reserves room for `extra` more bytes without ever exceeding the maximum message
    /// size in capacity. The bytes move to a new allocation and the old one is zeroed
    /// before it is freed: a message may be a secret (clipboard data), and its receiver can
    /// wipe only the copy it is handed.
    fn grow_partial(&mut self, extra: usize) {
        let len = self.partial.len();
        let needed = len + extra;
        if needed <= self.partial.capacity() {
            return;
        }
        let target = needed
            .max(self.partial.capacity().saturating_mul(2))
            .min(self.max_message_len);
        let mut grown = Vec::with_capacity(target);
        grown.extend_from_slice(&self.partial);
        let mut old = std::mem::replace(&mut self.partial, grown);
        old.fill(0);
        std::hint::black_box(&old);
    }

    /// Announces that we are about to sleep until data arrives. Returns true if data is
    /// already there (then do not sleep).
    pub(crate) fn prepare_wait(&mut self) -> Result<bool, RingError> {
        self.ring.consumer_waiting().store(1, Ordering::Relaxed);
        fence(Ordering::SeqCst);
        self.has_data()
    }
}

/// The producing end of a ring with its bounded queue of unsent bytes.
#[derive(Debug)]
pub(crate) struct RingWriter {
    ring: RingView,
    /// Our producer index; the shared copy is only ever written from this.
    prod: u32,
    /// Consumer index seen by the last write attempt.
    last_cons: u32,
    /// Messages (or their unsent tails) waiting for space, oldest first.
    queue: VecDeque<Vec<u8>>,
    /// Bytes of `queue[0]` already written.
    front_written: usize,
    /// Unsent payload bytes in `queue` plus one frame header per queued message (so
    /// zero-length messages count against the limit too).
    queued: usize,
    queue_limit: usize,
    /// Smallest payload worth a non-final frame.
    min_fragment: u32,
    /// Queued messages looked at by `drain_queue` so far (the complexity test's counter).
    #[cfg(test)]
    pub(crate) examined: u64,
}

/// Result of a successful send or flush.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendStatus {
    /// Everything is in the ring.
    Sent,
    /// The ring is full; this many bytes wait in the outgoing queue. Call
    /// [`Endpoint::flush`](crate::Endpoint::flush) when the doorbell rings.
    Queued {
        /// Unsent bytes.
        pending: usize,
    },
}

impl RingWriter {
    pub(crate) fn new(ring: RingView, queue_limit: usize) -> Self {
        let min_fragment = (ring.size() / 16).min(4096);
        Self {
            ring,
            prod: 0,
            last_cons: 0,
            queue: VecDeque::new(),
            front_written: 0,
            queued: 0,
            queue_limit,
            min_fragment,
            #[cfg(test)]
            examined: 0,
        }
    }

    pub(crate) fn pending(&self) -> usize {
        self.queued
    }

    fn status(&self) -> SendStatus {
        if self.queue.is_empty() {
            SendStatus::Sent
        } else {
            SendStatus::Queued {
                pending: self.queued,
            }
        }
    }

    /// Free bytes (rounded down to frames). Uses the consumer index seen last if that
    /// leaves at least `want` bytes; otherwise loads it once and bounds-checks it.
    fn free(&mut self, want: u32) -> Result<u32, RingError> {
        let cached = (self.ring.size() - self.prod.wrapping_sub(self.last_cons)) & !7;
        if cached >= want {
            return Ok(cached);
        }
        let cons = self.ring.consumer().load(Ordering::Acquire);
        let used = self.prod.wrapping_sub(cons);
        if used > self.ring.size() {
            return Err(RingError::ConsumerIndexOutOfRange {
                producer: self.prod,
                consumer: cons,
                ring_size: self.ring.size(),
            });
        }
        self.last_cons = cons;
        Ok((self.ring.size() - used) & !7)
    }

    /// Writes one frame; `len == payload.len()`, smaller than the ring.
    fn write_frame(&mut self, payload: &[u8], len: u32, more: bool) {
        let word = if more { len | MORE } else { len };
        let mut header = [0u8; FRAME_HEADER as usize];
        header[..4].copy_from_slice(&word.to_le_bytes());
        let at = self.ring.offset(self.prod);
        self.ring.write(at, &header);
        let at = self.ring.offset(self.prod.wrapping_add(FRAME_HEADER));
        self.ring.write(at, payload);
        self.prod = self.prod.wrapping_add(own_frame_size(len));
    }

    /// Writes frames of `msg[*written..]` while space allows. Returns true when the whole
    /// message is in the ring.
    fn write_message(&mut self, msg: &[u8], written: &mut usize, free: &mut u32) -> bool {
        loop {
            let rest = &msg[*written..];
            if *free < FRAME_HEADER {
                return false;
            }
            let room = *free - FRAME_HEADER;
            if let Ok(len) = u32::try_from(rest.len())
                && len <= room
            {
                self.write_frame(rest, len, false);
                *free -= own_frame_size(len);
                *written = msg.len();
                return true;
            }
            if room < self.min_fragment {
                return false;
            }
            // `room` is a multiple of 8, so the frame needs no padding.
            let chunk = &rest[..room as usize];
            self.write_frame(chunk, room, true);
            *free -= FRAME_HEADER + room;
            *written += room as usize;
        }
    }

    /// Writes queued bytes while space allows (does not publish).
    fn drain_queue(&mut self, free: &mut u32) {
        while let Some(front) = self.queue.pop_front() {
            #[cfg(test)]
            {
                self.examined += 1;
            }
            let mut written = self.front_written;
            let before = written;
            let done = self.write_message(&front, &mut written, free);
            self.queued -= written - before;
            if done {
                self.queued -= FRAME_HEADER as usize;
                self.front_written = 0;
            } else {
                self.front_written = written;
                self.queue.push_front(front);
                return;
            }
        }
    }

    /// Publishes our producer index and reports whether the consumer asked to be woken.
    fn publish(&mut self, before: u32) -> bool {
        if self.prod == before {
            return false;
        }
        self.ring.producer().store(self.prod, Ordering::Release);
        // Pairs with the consumer's fence between setting its flag and re-reading our
        // index (no lost wake-up).
        fence(Ordering::SeqCst);
        RingView::take_flag(self.ring.consumer_waiting())
    }

    /// Writes what fits, queues the rest. Returns the status and whether to ring the peer.
    pub(crate) fn send(&mut self, msg: &[u8]) -> Result<(SendStatus, bool), SendFailure> {
        if !self.queue.is_empty() {
            let (_, notify) = self.flush()?;
            if !self.queue.is_empty() {
                let cost = msg.len() + FRAME_HEADER as usize;
                if self.queued + cost > self.queue_limit {
                    return Err(SendFailure::Backpressure {
                        pending: self.queued,
                        limit: self.queue_limit,
                        notify,
                    });
                }
                self.queued += cost;
                self.queue.push_back(msg.to_vec());
                return Ok((self.status(), notify));
            }
        }
        let before = self.prod;
        let want = u32::try_from(msg.len())
            .map_or(u32::MAX, own_frame_size_saturating)
            .min(self.ring.size());
        let mut free = self.free(want)?;
        let mut written = 0;
        if !self.write_message(msg, &mut written, &mut free) {
            // The queue was empty and `msg.len() <= max_message_len <= queue_limit`, so
            // the tail is always accepted (at most one frame header over the limit).
            self.queued = msg.len() - written + FRAME_HEADER as usize;
            self.front_written = 0;
            self.queue.push_back(msg[written..].to_vec());
        }
        let notify = self.publish(before);
        if !self.queue.is_empty() {
            let (_, again) = self.flush()?;
            return Ok((self.status(), notify || again));
        }
        Ok((self.status(), notify))
    }

    /// Writes queued bytes that fit now. When bytes remain, sets "producer waiting for
    /// space" and re-checks the consumer index so a concurrent free is never missed.
    pub(crate) fn flush(&mut self) -> Result<(SendStatus, bool), RingError> {
        let mut notify = false;
        loop {
            let before = self.prod;
            let mut free = self.free(u32::MAX)?;
            self.drain_queue(&mut free);
            notify |= self.publish(before);
            if self.queue.is_empty() {
                return Ok((SendStatus::Sent, notify));
            }
            let seen = self.last_cons;
            self.ring.producer_waiting().store(1, Ordering::Relaxed);
            fence(Ordering::SeqCst);
            let cons = self.ring.consumer().load(Ordering::Acquire);
            if cons == seen {
                return Ok((self.status(), notify));
            }
        }
    }

    /// Before sleeping: true if the consumer freed space since our last attempt (then
    /// flush instead of sleeping).
    pub(crate) fn space_changed(&self) -> bool {
        !self.queue.is_empty() && self.ring.consumer().load(Ordering::Acquire) != self.last_cons
    }
}

/// Internal send failure (mapped to [`SendError`](crate::SendError) by the endpoint).
#[derive(Debug)]
pub(crate) enum SendFailure {
    Ring(RingError),
    Backpressure {
        pending: usize,
        limit: usize,
        notify: bool,
    },
}

impl From<RingError> for SendFailure {
    fn from(e: RingError) -> Self {
        Self::Ring(e)
    }
}
