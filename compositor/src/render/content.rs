//! Where a window's guest pixels come from.
//!
//! Today: a copy in dom0 memory ([`ContentSource::Memory`]), filled from whatever slice the
//! caller has (tests, and the first connection handler). The frame path of DESIGN.md
//! replaces it with a pixman image made straight over the window's slot in the shared-memory
//! arena (`smithay`'s `PixmanTexture` is `From<pixman::Image>`), drawn with a
//! `TextureRenderElement`: zero copies with the pixman renderer. Only this type changes;
//! the renderer asks it for one element per frame.

use smithay::backend::allocator::Fourcc;
use smithay::backend::renderer::element::memory::MemoryRenderBuffer;
use smithay::utils::{Buffer, Rectangle, Transform};

use crate::desktop::{Rect, Size};

/// Pixel formats a qube may send (as `wl_shm` and the wire protocol name them).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PixelFormat {
    /// 32-bit, premultiplied alpha, little-endian B, G, R, A bytes.
    Argb8888,
    /// 32-bit, the top byte ignored (opaque).
    Xrgb8888,
}

impl PixelFormat {
    fn fourcc(self) -> Fourcc {
        match self {
            PixelFormat::Argb8888 => Fourcc::Argb8888,
            PixelFormat::Xrgb8888 => Fourcc::Xrgb8888,
        }
    }
}

/// A frame's pixels as the caller holds them: `stride` bytes per row, `size.h` rows.
#[derive(Debug, Clone, Copy)]
pub struct PixelsRef<'a> {
    /// The bytes.
    pub data: &'a [u8],
    /// Width and height in pixels.
    pub size: Size,
    /// Bytes from one row to the next (at least `4 * size.w`).
    pub stride: usize,
    /// Their format.
    pub format: PixelFormat,
}

/// Pixels that do not match their declared size.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContentError {
    /// The qube's buffer in the shared-memory arena does not hold the frame.
    #[error(transparent)]
    Arena(#[from] bulkhead_shm_transport::ArenaError),
    /// Zero or negative side.
    #[error("empty or negative size {w}x{h}")]
    BadSize {
        /// Width.
        w: i32,
        /// Height.
        h: i32,
    },
    /// Stride below `4 * width`, or fewer bytes than `stride * height`.
    #[error("stride {stride} and {len} bytes do not hold {w}x{h} pixels")]
    ShortBuffer {
        /// Declared stride.
        stride: usize,
        /// Bytes given.
        len: usize,
        /// Width.
        w: i32,
        /// Height.
        h: i32,
    },
}

/// Where a frame's pixels come from: a slice the caller holds ([`PixelsRef`]) or the
/// qube's buffer in the shared-memory arena (the connection handler's source). The content
/// copies only the damaged rectangles out of it, once.
pub trait FrameSource {
    /// Width and height in pixels.
    fn size(&self) -> Size;
    /// The pixel format.
    fn format(&self) -> PixelFormat;
    /// Checks that the source holds its declared size.
    fn validate(&self) -> Result<(), ContentError>;
    /// Copies the rectangle `(x, y, w, h)`, already inside the frame, into `dst` (rows of
    /// `dst_stride` bytes) at the same position.
    fn copy_rect(
        &self,
        dst: &mut [u8],
        dst_stride: usize,
        rect: (usize, usize, usize, usize),
    ) -> Result<(), ContentError>;
}

impl FrameSource for PixelsRef<'_> {
    fn size(&self) -> Size {
        self.size
    }

    fn format(&self) -> PixelFormat {
        self.format
    }

    fn validate(&self) -> Result<(), ContentError> {
        self.dims().map(|_| ())
    }

    fn copy_rect(
        &self,
        dst: &mut [u8],
        dst_stride: usize,
        (x, y, w, h): (usize, usize, usize, usize),
    ) -> Result<(), ContentError> {
        for row in y..y + h {
            let s = row * self.stride + x * 4;
            let d = row * dst_stride + x * 4;
            dst[d..d + w * 4].copy_from_slice(&self.data[s..s + w * 4]);
        }
        Ok(())
    }
}

impl PixelsRef<'_> {
    fn dims(&self) -> Result<(usize, usize), ContentError> {
        let (w, h) = (self.size.w, self.size.h);
        let (Ok(wu), Ok(hu)) = (usize::try_from(w), usize::try_from(h)) else {
            return Err(ContentError::BadSize { w, h });
        };
        if wu == 0 || hu == 0 {
            return Err(ContentError::BadSize { w, h });
        }
        let short = || ContentError::ShortBuffer {
            stride: self.stride,
            len: self.data.len(),
            w,
            h,
        };
        let row = wu.checked_mul(4).ok_or_else(short)?;
        let need = self
            .stride
            .checked_mul(hu - 1)
            .and_then(|n| n.checked_add(row))
            .ok_or_else(short)?;
        if self.stride < row || self.data.len() < need {
            return Err(short());
        }
        Ok((wu, hu))
    }
}

/// The source of one window's pixels.
#[derive(Debug, Clone)]
pub enum ContentSource {
    /// A copy in dom0 memory, uploaded by the renderer as needed.
    Memory(MemoryRenderBuffer),
}

/// A window's current pixels.
#[derive(Debug, Clone)]
pub struct WindowContent {
    source: ContentSource,
    size: Size,
    format: PixelFormat,
}

impl WindowContent {
    /// Content made of a full frame.
    pub fn new(pixels: impl FrameSource) -> Result<WindowContent, ContentError> {
        pixels.validate()?;
        let size = pixels.size();
        let (w, h) = dims_of(size)?;
        let mut packed = vec![0u8; w * h * 4];
        pixels.copy_rect(&mut packed, w * 4, (0, 0, w, h))?;
        let buffer = MemoryRenderBuffer::from_slice(
            &packed,
            pixels.format().fourcc(),
            (size.w, size.h),
            1,
            Transform::Normal,
            None,
        );
        Ok(WindowContent {
            source: ContentSource::Memory(buffer),
            size,
            format: pixels.format(),
        })
    }

    /// Takes a new frame: only the `damage` rectangles are copied (clipped to the frame), or
    /// everything when the size or format changed.
    pub fn update(
        &mut self,
        pixels: impl FrameSource,
        damage: &[Rect],
    ) -> Result<(), ContentError> {
        pixels.validate()?;
        if pixels.size() != self.size || pixels.format() != self.format {
            *self = WindowContent::new(pixels)?;
            return Ok(());
        }
        let (w, h) = dims_of(self.size)?;
        let ContentSource::Memory(buffer) = &mut self.source;
        let mut ctx = buffer.render();
        ctx.draw(|mem| {
            let mut done = Vec::new();
            for r in damage {
                let Some((x, y, rw, rh)) = clip(r, w, h) else {
                    continue;
                };
                pixels.copy_rect(mem, w * 4, (x, y, rw, rh))?;
                done.push(Rectangle::<i32, Buffer>::new(
                    (to_i32(x), to_i32(y)).into(),
                    (to_i32(rw), to_i32(rh)).into(),
                ));
            }
            Ok::<_, ContentError>(done)
        })
    }

    /// The frame's size.
    pub fn size(&self) -> Size {
        self.size
    }

    /// The source, for the renderer.
    pub fn source(&self) -> &ContentSource {
        &self.source
    }
}

fn to_i32(v: usize) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}

/// `r` clipped to a `w`×`h` frame, as (x, y, width, height), or `None` if nothing is left.
fn clip(r: &Rect, w: usize, h: usize) -> Option<(usize, usize, usize, usize)> {
    let x0 = usize::try_from(r.x.max(0)).ok()?.min(w);
    let y0 = usize::try_from(r.y.max(0)).ok()?.min(h);
    let x1 = usize::try_from(r.right().clamp(0, i64::try_from(w).ok()?)).ok()?;
    let y1 = usize::try_from(r.bottom().clamp(0, i64::try_from(h).ok()?)).ok()?;
    (x1 > x0 && y1 > y0).then(|| (x0, y0, x1 - x0, y1 - y0))
}

/// A validated size as `usize` dimensions.
fn dims_of(size: Size) -> Result<(usize, usize), ContentError> {
    match (usize::try_from(size.w), usize::try_from(size.h)) {
        (Ok(w), Ok(h)) if w > 0 && h > 0 => Ok((w, h)),
        _ => Err(ContentError::BadSize {
            w: size.w,
            h: size.h,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn px(data: &[u8], w: i32, h: i32, stride: usize) -> PixelsRef<'_> {
        PixelsRef {
            data,
            size: Size::new(w, h),
            stride,
            format: PixelFormat::Argb8888,
        }
    }

    #[test]
    fn short_or_bad_buffers_are_refused() {
        let data = vec![0u8; 100];
        assert!(matches!(
            WindowContent::new(px(&data, 0, 1, 0)),
            Err(ContentError::BadSize { .. })
        ));
        assert!(matches!(
            WindowContent::new(px(&data, 5, 6, 20)),
            Err(ContentError::ShortBuffer { .. })
        ));
        assert!(matches!(
            WindowContent::new(px(&data, 5, 1, 16)),
            Err(ContentError::ShortBuffer { .. })
        ));
        assert!(WindowContent::new(px(&data, 5, 5, 20)).is_ok());
        // The last row needs no padding after it.
        assert!(WindowContent::new(px(&data, 5, 4, 24)).is_ok());
    }

    #[test]
    fn damage_is_clipped() {
        assert_eq!(clip(&Rect::new(-5, -5, 10, 10), 8, 8), Some((0, 0, 5, 5)));
        assert_eq!(clip(&Rect::new(6, 6, 10, 10), 8, 8), Some((6, 6, 2, 2)));
        assert_eq!(clip(&Rect::new(9, 0, 10, 10), 8, 8), None);
        assert_eq!(
            clip(&Rect::new(i32::MAX, i32::MAX, i32::MAX, i32::MAX), 8, 8),
            None
        );
    }
}
