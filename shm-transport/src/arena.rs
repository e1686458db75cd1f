//! The pixel arena: one page-aligned area where the agent keeps its window buffers.
//!
//! The agent picks where each buffer lives and tells dom0 `(offset, len)` pairs; dom0
//! turns them into an [`ArenaRegion`] with [`Arena::region`], which checks alignment and
//! bounds with checked arithmetic, and only then reads from it.

use std::sync::Arc;

use crate::error::ArenaError;
use crate::layout::PAGE_SIZE;
use crate::shared::SharedMemory;

/// The pixel arena of one region. Cheap to clone; keeps the mapping alive.
#[derive(Debug, Clone)]
pub struct Arena {
    mem: Arc<SharedMemory>,
    offset: usize,
    size: u64,
}

/// A validated, page-aligned offset inside the arena.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ArenaOffset(u64);

impl ArenaOffset {
    /// The offset from the start of the arena.
    pub fn get(self) -> u64 {
        self.0
    }
}

/// A validated window of the arena (`offset` page-aligned, `offset + len <= arena size`).
#[derive(Debug, Clone, Copy)]
pub struct ArenaRegion<'a> {
    arena: &'a Arena,
    offset: ArenaOffset,
    len: u64,
}

/// Geometry of an image stored in a region or a private buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageLayout {
    /// Width in pixels.
    pub width: u32,
    /// Height in pixels.
    pub height: u32,
    /// Bytes from one row to the next.
    pub stride: u32,
    /// Bytes per pixel (1 ..= 16; 4 for ARGB8888).
    pub bytes_per_pixel: u32,
}

/// A rectangle in pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rect {
    /// Left edge.
    pub x: u32,
    /// Top edge.
    pub y: u32,
    /// Width.
    pub width: u32,
    /// Height.
    pub height: u32,
}

/// Byte ranges of one rectangle's rows in an image: `first + i * stride`, `row_len` each.
#[derive(Debug, Clone, Copy)]
struct Rows {
    first: u64,
    stride: u64,
    row_len: usize,
    count: u32,
}

impl ImageLayout {
    /// Bytes one row of pixels takes.
    fn row_bytes(&self) -> u64 {
        u64::from(self.width) * u64::from(self.bytes_per_pixel)
    }

    /// Checks the image fits in `available` bytes with a `stride` (which may differ from
    /// `self.stride`, for a caller's buffer).
    pub(crate) fn check(&self, stride: u64, available: u64) -> Result<(), ArenaError> {
        if self.bytes_per_pixel == 0 || self.bytes_per_pixel > 16 {
            return Err(ArenaError::BadBytesPerPixel {
                bytes_per_pixel: self.bytes_per_pixel,
            });
        }
        let row_bytes = self.row_bytes();
        if stride < row_bytes {
            return Err(ArenaError::StrideTooSmall { stride, row_bytes });
        }
        // Last row needs only `row_bytes`, not a whole stride.
        let needed = match self.height {
            0 => 0,
            h => stride
                .checked_mul(u64::from(h - 1))
                .and_then(|v| v.checked_add(row_bytes))
                .unwrap_or(u64::MAX),
        };
        if needed > available {
            return Err(ArenaError::ImageTooLarge { needed, available });
        }
        Ok(())
    }

    /// The rows of `rect` in an image with this geometry and `stride`. The image must have
    /// passed [`check`](Self::check) with the same stride.
    fn rows(&self, rect: Rect, stride: u64) -> Result<Rows, ArenaError> {
        let outside = ArenaError::RectOutOfImage {
            x: rect.x,
            y: rect.y,
            width: rect.width,
            height: rect.height,
        };
        let right = rect.x.checked_add(rect.width).ok_or(outside.clone())?;
        let bottom = rect.y.checked_add(rect.height).ok_or(outside.clone())?;
        if right > self.width || bottom > self.height {
            return Err(outside);
        }
        let bpp = u64::from(self.bytes_per_pixel);
        // All products below are bounded by the checked image size.
        Ok(Rows {
            first: u64::from(rect.y) * stride + u64::from(rect.x) * bpp,
            stride,
            row_len: usize::try_from(u64::from(rect.width) * bpp).unwrap_or(usize::MAX),
            count: rect.height,
        })
    }
}

impl Arena {
    pub(crate) fn new(mem: Arc<SharedMemory>, offset: usize, size: u64) -> Self {
        Self { mem, offset, size }
    }

    /// Size of the arena in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Validates an `(offset, len)` pair from the peer: page-aligned offset, non-empty,
    /// no overflow, inside the arena.
    pub fn region(&self, offset: u64, len: u64) -> Result<ArenaRegion<'_>, ArenaError> {
        if offset % PAGE_SIZE != 0 {
            return Err(ArenaError::UnalignedOffset { offset });
        }
        if len == 0 {
            return Err(ArenaError::EmptyRegion);
        }
        let end = offset
            .checked_add(len)
            .ok_or(ArenaError::RegionOverflow { offset, len })?;
        if end > self.size {
            return Err(ArenaError::RegionOutOfBounds {
                offset,
                len,
                arena_size: self.size,
            });
        }
        Ok(ArenaRegion {
            arena: self,
            offset: ArenaOffset(offset),
            len,
        })
    }

    /// Offset in the mapping of `at` bytes into the arena (`at` within the arena).
    fn map_offset(&self, at: u64) -> usize {
        // The arena lies inside the mapping, whose length is a usize.
        self.offset + usize::try_from(at).unwrap_or(usize::MAX)
    }
}

impl ArenaRegion<'_> {
    /// Offset from the start of the arena.
    pub fn offset(&self) -> ArenaOffset {
        self.offset
    }

    /// Length in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Always false: empty regions are refused.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn map_offset(&self, at: u64) -> usize {
        self.arena.map_offset(self.offset.0 + at)
    }

    /// The mapping this region lies in (for images that must keep it alive).
    #[cfg(feature = "pixman")]
    pub(crate) fn shared_memory(&self) -> &Arc<SharedMemory> {
        &self.arena.mem
    }

    fn check_access(&self, at: u64, len: usize) -> Result<(), ArenaError> {
        let len64 = len as u64;
        match at.checked_add(len64) {
            Some(end) if end <= self.len => Ok(()),
            _ => Err(ArenaError::AccessOutOfRegion {
                at,
                len: len64,
                region_len: self.len,
            }),
        }
    }

    /// Copies `dst.len()` bytes from `at` in the region (bulk copy: pixels only).
    pub fn read(&self, at: u64, dst: &mut [u8]) -> Result<(), ArenaError> {
        self.check_access(at, dst.len())?;
        self.arena.mem.read_bulk(self.map_offset(at), dst);
        Ok(())
    }

    /// Copies `src` to `at` in the region.
    pub fn write(&self, at: u64, src: &[u8]) -> Result<(), ArenaError> {
        self.check_access(at, src.len())?;
        self.arena.mem.write_bulk(self.map_offset(at), src);
        Ok(())
    }

    /// Copies the rows of `rect` of the image stored in this region (geometry `image`)
    /// into `dst`, a private image of the same width, height and bytes per pixel with rows
    /// `dst_stride` bytes apart. Pixels land at the same coordinates.
    pub fn read_rect(
        &self,
        image: &ImageLayout,
        rect: Rect,
        dst: &mut [u8],
        dst_stride: usize,
    ) -> Result<(), ArenaError> {
        let (src_rows, dst_rows) = self.rect_rows(image, rect, dst.len(), dst_stride)?;
        for i in 0..u64::from(src_rows.count) {
            let from = src_rows.first + i * src_rows.stride;
            let to = usize::try_from(dst_rows.first + i * dst_rows.stride).unwrap_or(usize::MAX);
            let row = &mut dst[to..to + dst_rows.row_len];
            self.arena.mem.read_bulk(self.map_offset(from), row);
        }
        Ok(())
    }

    /// Copies the rows of `rect` from `src` (a private image of the same geometry as
    /// `image` but rows `src_stride` apart) into the image stored in this region. Only the
    /// rectangle's bytes are touched: the agent copies damaged rectangles only.
    pub fn write_rect(
        &self,
        image: &ImageLayout,
        rect: Rect,
        src: &[u8],
        src_stride: usize,
    ) -> Result<(), ArenaError> {
        let (dst_rows, src_rows) = self.rect_rows(image, rect, src.len(), src_stride)?;
        for i in 0..u64::from(dst_rows.count) {
            let to = dst_rows.first + i * dst_rows.stride;
            let from = usize::try_from(src_rows.first + i * src_rows.stride).unwrap_or(usize::MAX);
            let row = &src[from..from + src_rows.row_len];
            self.arena.mem.write_bulk(self.map_offset(to), row);
        }
        Ok(())
    }

    /// Checks `image` fits this region and every rectangle lies inside `image`.
    #[cfg(feature = "wl-shm")]
    pub(crate) fn check_rects(
        &self,
        image: &ImageLayout,
        rects: &[Rect],
    ) -> Result<(), ArenaError> {
        let stride = u64::from(image.stride);
        image.check(stride, self.len)?;
        for rect in rects {
            image.rows(*rect, stride)?;
        }
        Ok(())
    }

    /// Copies the rows of `rect` from a foreign image into the image stored in this
    /// region: row `i` of the rectangle comes from `src + i * src_stride`, `rect.width *
    /// bytes_per_pixel` bytes. Only the rectangle's bytes are touched.
    ///
    /// # Safety
    /// For every row `i` of `rect`, `src + i * src_stride ..` plus the row's length must
    /// be valid for reads during the call.
    #[cfg(feature = "wl-shm")]
    pub(crate) unsafe fn write_rect_from_raw(
        &self,
        image: &ImageLayout,
        rect: Rect,
        src: *const u8,
        src_stride: usize,
    ) -> Result<(), ArenaError> {
        let region_stride = u64::from(image.stride);
        image.check(region_stride, self.len)?;
        let rows = image.rows(rect, region_stride)?;
        for i in 0..u64::from(rows.count) {
            let to = rows.first + i * rows.stride;
            let from = src.wrapping_add(usize::try_from(i).unwrap_or(usize::MAX) * src_stride);
            // SAFETY: the caller guarantees row `i` of the source is readable.
            unsafe {
                self.arena
                    .mem
                    .write_from_raw(self.map_offset(to), from, rows.row_len);
            }
        }
        Ok(())
    }

    /// Validates `image` against this region and a private buffer, and `rect` against
    /// `image`; returns the rows in the region and in the buffer.
    fn rect_rows(
        &self,
        image: &ImageLayout,
        rect: Rect,
        buf_len: usize,
        buf_stride: usize,
    ) -> Result<(Rows, Rows), ArenaError> {
        let region_stride = u64::from(image.stride);
        image.check(region_stride, self.len)?;
        let buf_stride = buf_stride as u64;
        image.check(buf_stride, buf_len as u64)?;
        Ok((
            image.rows(rect, region_stride)?,
            image.rows(rect, buf_stride)?,
        ))
    }

    /// Pointer to the first byte of the region and its length, for a renderer that
    /// composites straight from shared memory. The bytes may change at any time (the peer
    /// writes them); read them only as pixels, with raw-pointer or volatile reads, never
    /// through a `&[u8]`. Valid while any clone of the [`Arena`] (or its endpoint) lives.
    pub fn as_raw(&self) -> (*const u8, usize) {
        let len = usize::try_from(self.len).unwrap_or(usize::MAX);
        (self.arena.mem.raw_ptr(self.map_offset(0), len), len)
    }
}

#[cfg(test)]
#[allow(clippy::cast_possible_truncation)]
mod tests {
    use super::*;

    fn arena(size: u64) -> Arena {
        let fd = rustix::fs::memfd_create("arena-test", rustix::fs::MemfdFlags::CLOEXEC).unwrap();
        rustix::fs::ftruncate(&fd, size + 4096).unwrap();
        let mem = SharedMemory::map(&fd, 0, (size + 4096) as usize).unwrap();
        Arena::new(Arc::new(mem), 4096, size)
    }

    #[test]
    fn rect_copy_touches_only_the_rect() {
        let a = arena(64 * 1024);
        let image = ImageLayout {
            width: 16,
            height: 8,
            stride: 80,
            bytes_per_pixel: 4,
        };
        let src: Vec<u8> = (0..16 * 4 * 8).map(|i| (i % 251) as u8 + 1).collect();
        let region = a.region(4096, 80 * 8).unwrap();
        let rect = Rect {
            x: 3,
            y: 2,
            width: 5,
            height: 4,
        };
        region.write_rect(&image, rect, &src, 64).unwrap();
        let mut back = vec![0u8; src.len()];
        region.read_rect(&image, rect, &mut back, 64).unwrap();
        for y in 0..8usize {
            for x in 0..16usize {
                let inside = (3..8).contains(&x) && (2..6).contains(&y);
                let px = &back[y * 64 + x * 4..y * 64 + x * 4 + 4];
                if inside {
                    assert_eq!(px, &src[y * 64 + x * 4..y * 64 + x * 4 + 4]);
                } else {
                    assert_eq!(px, &[0, 0, 0, 0]);
                }
            }
        }
    }

    #[test]
    fn bad_geometry_is_refused() {
        let a = arena(8192);
        let region = a.region(0, 4096).unwrap();
        let mut buf = vec![0u8; 1 << 20];
        let big = ImageLayout {
            width: 100,
            height: 100,
            stride: 400,
            bytes_per_pixel: 4,
        };
        let all = Rect {
            x: 0,
            y: 0,
            width: 1,
            height: 1,
        };
        assert!(matches!(
            region.read_rect(&big, all, &mut buf, 400),
            Err(ArenaError::ImageTooLarge { .. })
        ));
        let narrow = ImageLayout {
            width: 100,
            height: 1,
            stride: 10,
            bytes_per_pixel: 4,
        };
        assert!(matches!(
            region.read_rect(&narrow, all, &mut buf, 400),
            Err(ArenaError::StrideTooSmall { .. })
        ));
        let small = ImageLayout {
            width: 10,
            height: 10,
            stride: 40,
            bytes_per_pixel: 4,
        };
        let outside = Rect {
            x: u32::MAX,
            y: 0,
            width: 2,
            height: 1,
        };
        assert!(matches!(
            region.read_rect(&small, outside, &mut buf, 40),
            Err(ArenaError::RectOutOfImage { .. })
        ));
        assert!(matches!(
            region.read_rect(&small, all, &mut buf[..10], 40),
            Err(ArenaError::ImageTooLarge { .. })
        ));
    }
}
