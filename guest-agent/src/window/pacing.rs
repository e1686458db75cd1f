//! Double buffering and frame pacing of one window, without any Wayland in it.
//!
//! Each window has two buffer slots in the arena. dom0 shows at most one of them (the
//! *front*); the agent writes a frame into the other (the *back*), sends `Damage` and then
//! waits: until dom0's `FrameDone` for that frame, nothing more is written for the window.
//! `FrameDone { serial: N }` makes frame N's slot the front and releases the other one.
//! A back slot of the wrong size (after a resize) is freed and reallocated; it is never
//! the front, so dom0 is not reading it.

use std::ops::Range;

use crate::arena::ArenaAllocator;
use crate::link::{BufferDesc, PixelFormat};
use bulkhead_protocol::BYTES_PER_PIXEL;

/// One buffer of a window in the arena.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Slot {
    range: Range<u64>,
    width: u32,
    height: u32,
    /// Serial of the frame it holds; 0 = never written.
    frame: u32,
}

impl Slot {
    fn desc(&self) -> BufferDesc {
        BufferDesc {
            offset: self.range.start,
            width: self.width,
            height: self.height,
            stride: self.width * BYTES_PER_PIXEL,
            format: PixelFormat::Argb8888,
        }
    }
}

/// Where the next frame goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameTarget {
    /// The buffer to write.
    pub buffer: BufferDesc,
    /// The serial the frame will carry.
    pub serial: u32,
    /// How many frames ago this buffer's content was current: 0 if it holds nothing
    /// usable (fresh or never written), else 1 or 2. Frame N written over frame N-2 needs
    /// the damage of frames N-1 and N copied.
    pub age: u32,
}

/// Why no frame can be started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PacingError {
    /// A frame is still waiting for dom0's frame-done.
    #[error("frame {0} is still in flight")]
    InFlight(u32),
    /// The arena has no room for a buffer of this size.
    #[error("no room in the arena for a {0}x{1} buffer")]
    NoSpace(u32, u32),
    /// The size is zero or its byte size overflows.
    #[error("invalid buffer size {0}x{1}")]
    BadSize(u32, u32),
}

/// The buffers and in-flight frame of one window.
#[derive(Debug, Default)]
pub struct FramePacer {
    slots: [Option<Slot>; 2],
    /// Index of the slot dom0 shows.
    front: Option<usize>,
    /// `(serial, slot)` of the frame sent and not yet acknowledged.
    in_flight: Option<(u32, usize)>,
    /// Serial of the last frame sent.
    serial: u32,
}

impl FramePacer {
    /// A window with no buffers yet.
    pub fn new() -> Self {
        FramePacer::default()
    }

    /// True if no frame is waiting for dom0.
    pub fn ready(&self) -> bool {
        self.in_flight.is_none()
    }

    /// The serial of the frame waiting for dom0, if any.
    pub fn in_flight(&self) -> Option<u32> {
        self.in_flight.map(|(serial, _)| serial)
    }

    /// Picks (and if needed allocates) the back buffer for a `width × height` frame.
    pub fn begin_frame(
        &mut self,
        arena: &mut ArenaAllocator,
        width: u32,
        height: u32,
    ) -> Result<FrameTarget, PacingError> {
        if let Some((serial, _)) = self.in_flight {
            return Err(PacingError::InFlight(serial));
        }
        let bytes = u64::from(width) * u64::from(height) * u64::from(BYTES_PER_PIXEL);
        if bytes == 0 || width.checked_mul(BYTES_PER_PIXEL).is_none() {
            return Err(PacingError::BadSize(width, height));
        }
        let back = match self.front {
            Some(front) => 1 - front,
            None => 0,
        };
        let reusable = self.slots[back]
            .as_ref()
            .is_some_and(|s| s.width == width && s.height == height);
        if !reusable {
            // Not the front and nothing in flight: dom0 has released it.
            if let Some(old) = self.slots[back].take() {
                arena.free(old.range);
            }
            let range = arena
                .alloc(bytes)
                .ok_or(PacingError::NoSpace(width, height))?;
            self.slots[back] = Some(Slot {
                range,
                width,
                height,
                frame: 0,
            });
        }
        let slot = self.slots[back]
            .as_ref()
            .ok_or(PacingError::NoSpace(width, height))?;
        let serial = self.serial.wrapping_add(1).max(1);
        let age = if slot.frame == 0 {
            0
        } else {
            serial.wrapping_sub(slot.frame).min(3)
        };
        Ok(FrameTarget {
            buffer: slot.desc(),
            serial,
            age: if age > 2 { 0 } else { age },
        })
    }

    /// Records that the frame from [`begin_frame`](Self::begin_frame) was written and sent.
    pub fn submitted(&mut self, target: &FrameTarget) {
        let back = match self.front {
            Some(front) => 1 - front,
            None => 0,
        };
        if let Some(slot) = self.slots[back].as_mut() {
            slot.frame = target.serial;
        }
        self.serial = target.serial;
        self.in_flight = Some((target.serial, back));
    }

    /// dom0 displayed frame `serial`. False (and no change) if that frame is not the one in
    /// flight: a confused or hostile peer, or a stale message.
    pub fn frame_done(&mut self, serial: u32) -> bool {
        match self.in_flight {
            Some((expected, slot)) if expected == serial => {
                self.front = Some(slot);
                self.in_flight = None;
                true
            }
            _ => false,
        }
    }

    /// Frees both buffers (the window is gone and dom0 was told so).
    pub fn release(&mut self, arena: &mut ArenaAllocator) {
        for slot in self.slots.iter_mut() {
            if let Some(slot) = slot.take() {
                arena.free(slot.range);
            }
        }
        self.front = None;
        self.in_flight = None;
    }

    /// The arena ranges this window owns (for checks).
    pub fn ranges(&self) -> impl Iterator<Item = Range<u64>> + '_ {
        self.slots.iter().flatten().map(|s| s.range.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::arena::PAGE;

    #[test]
    fn alternates_buffers_and_waits_for_frame_done() {
        let mut arena = ArenaAllocator::new(64 * PAGE);
        let mut p = FramePacer::new();
        let f1 = p.begin_frame(&mut arena, 16, 16).unwrap();
        assert_eq!((f1.serial, f1.age), (1, 0));
        p.submitted(&f1);
        assert_eq!(
            p.begin_frame(&mut arena, 16, 16),
            Err(PacingError::InFlight(1))
        );
        assert!(!p.frame_done(7));
        assert!(p.frame_done(1));
        let f2 = p.begin_frame(&mut arena, 16, 16).unwrap();
        assert_ne!(
            f2.buffer.offset, f1.buffer.offset,
            "never the displayed buffer"
        );
        assert_eq!((f2.serial, f2.age), (2, 0));
        p.submitted(&f2);
        assert!(p.frame_done(2));
        let f3 = p.begin_frame(&mut arena, 16, 16).unwrap();
        assert_eq!(f3.buffer.offset, f1.buffer.offset);
        assert_eq!((f3.serial, f3.age), (3, 2));
    }

    #[test]
    fn resize_reallocates_only_the_released_buffer() {
        let mut arena = ArenaAllocator::new(64 * PAGE);
        let mut p = FramePacer::new();
        let f1 = p.begin_frame(&mut arena, 32, 32).unwrap();
        p.submitted(&f1);
        assert!(p.frame_done(1));
        let f2 = p.begin_frame(&mut arena, 64, 64).unwrap();
        assert_eq!(f2.age, 0);
        assert_eq!(f2.buffer.width, 64);
        // The front (frame 1) is still allocated and untouched.
        let front = f1.buffer.offset..f1.buffer.offset + 32 * 32 * 4;
        assert!(f2.buffer.offset >= front.end || f2.buffer.offset + 64 * 64 * 4 <= front.start);
        p.submitted(&f2);
        assert!(p.frame_done(2));
        // Now the old 32x32 front is released and replaced.
        let f3 = p.begin_frame(&mut arena, 64, 64).unwrap();
        assert_eq!(f3.age, 0);
        p.submitted(&f3);
        assert!(p.frame_done(3));
        p.release(&mut arena);
        assert_eq!(arena.free_bytes(), arena.len());
    }

    #[test]
    fn full_arena_is_reported() {
        let mut arena = ArenaAllocator::new(PAGE);
        let mut p = FramePacer::new();
        assert_eq!(
            p.begin_frame(&mut arena, 100, 100),
            Err(PacingError::NoSpace(100, 100))
        );
        assert_eq!(
            p.begin_frame(&mut arena, 0, 10),
            Err(PacingError::BadSize(0, 10))
        );
    }
}
