//! One copy of a Wayland client's pixels: damaged rectangles of a `wl_shm` buffer moved
//! straight into a window image in the arena (feature `wl-shm`, used by the agent).
//!
//! This is the agent's path for the common window — one surface, one shm buffer, no
//! scaling or transform. Flattening through pixman costs a clear and a blend (the arena
//! buffer is read and written twice); this moves each damaged row once. The client's pool
//! is mapped by smithay, which guards the access against `SIGBUS` (a client that shrinks
//! the file under its pool gets a protocol error; the copy reads zeros). The rows are
//! written with streaming stores (`stream_copy`), fenced before this returns.
//!
//! The client is hostile: the buffer's geometry inside its pool, each rectangle against the
//! buffer and the arena image, are all checked with checked arithmetic before a byte moves.

use smithay::reexports::wayland_server::protocol::wl_buffer::WlBuffer;
use smithay::reexports::wayland_server::protocol::wl_shm;
use smithay::wayland::shm::{BufferAccessError, BufferData, with_buffer_contents};

use crate::arena::{ArenaRegion, ImageLayout, Rect};
use crate::error::ArenaError;
use crate::stream_copy::store_fence;

/// Bytes per pixel of the formats copied directly.
const BYTES_PER_PIXEL: usize = 4;

/// The pixel format of a copied buffer (both 4 bytes per pixel, little-endian `0xAARRGGBB`
/// or `0xXXRRGGBB`, the arena's own order).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ShmFormat {
    /// `wl_shm` argb8888 (premultiplied alpha).
    Argb8888,
    /// `wl_shm` xrgb8888 (the high byte is undefined).
    Xrgb8888,
}

/// Why a client's buffer could not be copied directly. None of these is the agent's
/// fault; the caller falls back to flattening, or drops the frame.
#[derive(Debug, thiserror::Error)]
pub enum ClientBufferError {
    /// Not a `wl_shm` buffer (or already destroyed).
    #[error("not a wl_shm buffer")]
    NotShm,
    /// The pool shrank under the mapping (`SIGBUS`); smithay has sent the client a
    /// protocol error.
    #[error("the client's shm pool could not be read")]
    BadPool,
    /// A format other than argb8888 / xrgb8888.
    #[error("wl_shm format {0:?} is not copied directly")]
    Format(wl_shm::Format),
    /// The buffer's geometry does not fit its pool, or a rectangle (shifted by the
    /// origin) is outside the buffer.
    #[error("{0} outside the client's buffer")]
    OutOfBuffer(&'static str),
    /// The rectangle or image does not fit the arena region.
    #[error(transparent)]
    Arena(#[from] ArenaError),
}

/// A buffer's geometry inside its pool, checked against the pool's length.
#[derive(Debug, Clone, Copy)]
struct Source {
    offset: usize,
    stride: usize,
    width: u32,
    height: u32,
}

impl Source {
    /// Checks `data` against a pool of `pool_len` bytes: every row of the buffer,
    /// `offset + y * stride .. + width * 4`, must lie inside the pool.
    fn new(data: &BufferData, pool_len: usize) -> Result<Source, ClientBufferError> {
        let bad = || ClientBufferError::OutOfBuffer("buffer geometry");
        let offset = usize::try_from(data.offset).map_err(|_| bad())?;
        let stride = usize::try_from(data.stride).map_err(|_| bad())?;
        let width = u32::try_from(data.width).map_err(|_| bad())?;
        let height = u32::try_from(data.height).map_err(|_| bad())?;
        let row = usize::try_from(width)
            .ok()
            .and_then(|w| w.checked_mul(BYTES_PER_PIXEL))
            .ok_or_else(bad)?;
        if stride < row {
            return Err(bad());
        }
        let end = match height {
            0 => Some(offset),
            h => usize::try_from(h - 1)
                .ok()
                .and_then(|rows| rows.checked_mul(stride))
                .and_then(|v| v.checked_add(row))
                .and_then(|v| v.checked_add(offset)),
        };
        match end {
            Some(end) if end <= pool_len => Ok(Source {
                offset,
                stride,
                width,
                height,
            }),
            _ => Err(bad()),
        }
    }

    /// Byte offset in the pool of pixel `(x, y)` of the rectangle `rect` shifted by
    /// `origin`, after checking the whole shifted rectangle lies inside the buffer.
    fn start_of(&self, rect: Rect, origin: (u32, u32)) -> Result<usize, ClientBufferError> {
        let outside = || ClientBufferError::OutOfBuffer("damage rectangle");
        let x = rect.x.checked_add(origin.0).ok_or_else(outside)?;
        let y = rect.y.checked_add(origin.1).ok_or_else(outside)?;
        let right = x.checked_add(rect.width).ok_or_else(outside)?;
        let bottom = y.checked_add(rect.height).ok_or_else(outside)?;
        if right > self.width || bottom > self.height {
            return Err(outside());
        }
        // Bounded by the checked buffer end (x < width, y < height).
        let x = usize::try_from(x).map_err(|_| outside())?;
        let y = usize::try_from(y).map_err(|_| outside())?;
        Ok(self.offset + y * self.stride + x * BYTES_PER_PIXEL)
    }
}

impl ArenaRegion<'_> {
    /// Copies `rects` of the window image `image` stored in this region from the client's
    /// `wl_shm` buffer: image pixel `(x, y)` gets buffer pixel `(x + origin.0, y +
    /// origin.1)`. Only the rectangles' bytes of the region are written; nothing is
    /// written if any check fails before the copy. Returns the buffer's format.
    pub fn copy_from_wl_shm(
        &self,
        image: &ImageLayout,
        buffer: &WlBuffer,
        origin: (u32, u32),
        rects: &[Rect],
    ) -> Result<ShmFormat, ClientBufferError> {
        let copied = with_buffer_contents(buffer, |pool, pool_len, data| {
            let format = match data.format {
                wl_shm::Format::Argb8888 => ShmFormat::Argb8888,
                wl_shm::Format::Xrgb8888 => ShmFormat::Xrgb8888,
                other => return Err(ClientBufferError::Format(other)),
            };
            if image.bytes_per_pixel as usize != BYTES_PER_PIXEL {
                return Err(ArenaError::BadBytesPerPixel {
                    bytes_per_pixel: image.bytes_per_pixel,
                }
                .into());
            }
            self.check_rects(image, rects)?;
            let source = Source::new(&data, pool_len)?;
            let starts = rects
                .iter()
                .map(|rect| source.start_of(*rect, origin))
                .collect::<Result<Vec<_>, _>>()?;
            let mut copied = Ok(());
            for (rect, start) in rects.iter().zip(starts) {
                // SAFETY: `pool..pool + pool_len` is the client's pool, mapped by smithay
                // for the duration of this closure (faults from a shrunk file are caught
                // and turned into zero pages). `start_of` checked the rectangle inside the
                // buffer and `Source::new` every buffer row inside the pool, so each row
                // `start + i * stride .. + width * 4` of the rectangle is inside the pool.
                copied = unsafe {
                    self.write_rect_from_raw(image, *rect, pool.wrapping_add(start), source.stride)
                };
                if copied.is_err() {
                    break;
                }
            }
            // The rows went out with streaming stores: order them before the `Damage`
            // message that tells dom0 they are there.
            store_fence();
            copied?;
            Ok(format)
        });
        match copied {
            Ok(result) => result,
            Err(BufferAccessError::BadMap) => Err(ClientBufferError::BadPool),
            Err(_) => Err(ClientBufferError::NotShm),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(offset: i32, width: i32, height: i32, stride: i32) -> BufferData {
        BufferData {
            offset,
            width,
            height,
            stride,
            format: wl_shm::Format::Argb8888,
        }
    }

    #[test]
    fn buffer_rows_must_lie_inside_the_pool() {
        // 10x10 at offset 100, stride 48: last row ends at 100 + 9 * 48 + 40 = 572.
        assert!(Source::new(&data(100, 10, 10, 48), 572).is_ok());
        assert!(Source::new(&data(100, 10, 10, 48), 571).is_err());
        assert!(
            Source::new(&data(-4, 10, 10, 48), 4096).is_err(),
            "negative offset"
        );
        assert!(
            Source::new(&data(0, 10, 10, 36), 4096).is_err(),
            "stride < row"
        );
        assert!(
            Source::new(&data(0, -1, 10, 48), 4096).is_err(),
            "negative width"
        );
        assert!(
            Source::new(&data(i32::MAX, i32::MAX, i32::MAX, i32::MAX), usize::MAX).is_err(),
            "stride smaller than width * 4 after the multiplication"
        );
        assert!(
            Source::new(&data(i32::MAX, 1, i32::MAX, i32::MAX), usize::MAX >> 40).is_err(),
            "end beyond the pool"
        );
    }

    #[test]
    fn rectangles_are_checked_against_the_buffer_after_the_origin_shift() {
        let source = Source::new(&data(64, 10, 8, 40), 4096).expect("geometry");
        let rect = |x, y, width, height| Rect {
            x,
            y,
            width,
            height,
        };
        assert_eq!(source.start_of(rect(0, 0, 10, 8), (0, 0)).ok(), Some(64));
        assert_eq!(
            source.start_of(rect(1, 2, 3, 4), (2, 1)).ok(),
            Some(64 + 3 * 40 + 3 * 4)
        );
        assert!(source.start_of(rect(0, 0, 10, 8), (1, 0)).is_err());
        assert!(source.start_of(rect(0, 0, 9, 8), (0, 1)).is_err());
        assert!(source.start_of(rect(u32::MAX, 0, 1, 1), (1, 0)).is_err());
        assert!(source.start_of(rect(0, 0, u32::MAX, 1), (0, 0)).is_err());
    }
}
