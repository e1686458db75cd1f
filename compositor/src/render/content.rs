//! Where a window's guest pixels come from, and how the renderer reads them.
//!
//! A qube's frame lives in its buffer in the shared-memory arena. dom0 does not copy it:
//! [`ContentSource::Arena`] keeps a pixman image made straight over that buffer
//! (`ArenaRegion::pixman_image`), and the pixman renderer composites from it into the output
//! — the only copy dom0 makes is the one every compositor makes, into the output image.
//! Renderers that cannot read the arena in place (GLES in the nested backend) get a mirror
//! in dom0 memory, filled from the arena with the damaged rectangles only
//! ([`ContentRenderer`]); the GL upload of that mirror is the one upload DESIGN.md allows.
//!
//! # Reading memory the guest may write (the trade-off)
//!
//! The guest can write its buffers at any time, also while dom0 composites from them. That
//! can tear the picture of *that qube's own window* and nothing else:
//! - dom0 only ever *reads* through these images. They are composite sources, never a
//!   render target, never handed to `ImportMem::update_memory`, and the pixels are never
//!   interpreted (no decisions are made on them).
//! - The image was checked to lie inside the arena when it was made (offset, stride,
//!   height), and the memfd is sealed against shrinking, so a read never leaves the mapping
//!   and never faults (no SIGBUS from a truncated file).
//! - Each image holds a reference to the mapping (released by pixman's destroy callback),
//!   so the pixels stay mapped as long as any texture or render element can reach them —
//!   also after the qube disconnects and its arena is dropped by the connection.
//! - A well-behaved agent never writes the buffer dom0 shows (double buffering, released
//!   by dom0's `FrameDone`), so only a misbehaving guest sees tearing, in its own window.
//!
//! Frames given as a slice ([`PixelsRef`]: tests, benchmarks) are copied into dom0 memory
//! ([`ContentSource::Memory`]).

use bulkhead_shm_transport::{Arena, ImageLayout, Rect as ArenaRect};
use smithay::backend::allocator::Fourcc;
use smithay::backend::renderer::element::Id;
use smithay::backend::renderer::element::Kind;
use smithay::backend::renderer::element::memory::MemoryRenderBuffer;
use smithay::backend::renderer::element::texture::TextureRenderElement;
use smithay::backend::renderer::pixman::{PixmanRenderer, PixmanTexture};
use smithay::backend::renderer::utils::DamageBag;
use smithay::backend::renderer::{ImportMem, Renderer, Texture};
use smithay::reexports::pixman;
use smithay::utils::{
    Buffer, Logical, Physical, Point as SPoint, Rectangle, Size as SSize, Transform,
};

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

    fn wire(self) -> bulkhead_protocol::PixelFormat {
        match self {
            PixelFormat::Argb8888 => bulkhead_protocol::PixelFormat::Argb8888,
            PixelFormat::Xrgb8888 => bulkhead_protocol::PixelFormat::Xrgb8888,
        }
    }
}

/// A frame's buffer in a qube's arena, owned (the arena handle keeps the mapping): what
/// dom0 reads a window's pixels from, in place.
#[derive(Debug, Clone)]
pub struct ArenaPixels {
    /// The qube's arena.
    pub arena: Arena,
    /// Where the buffer starts in the arena.
    pub offset: u64,
    /// Its byte length (`stride × height`).
    pub len: u64,
    /// Width, height, stride.
    pub layout: ImageLayout,
    /// Its format.
    pub format: PixelFormat,
}

impl ArenaPixels {
    /// Which buffer this is (two frames in the same buffer share the key).
    fn key(&self) -> (u64, ImageLayout, PixelFormat) {
        (self.offset, self.layout, self.format)
    }

    /// A pixman image over the buffer, holding the mapping alive.
    ///
    /// Always as XRGB: dom0 shows a window's pixels over an opaque black underlay, and
    /// premultiplied ARGB over black is exactly its colour channels. Read as XRGB, the
    /// content is opaque: pixman copies it (`Src`) instead of blending it over an underlay
    /// drawn first (`Over`, which reads the destination too), and the damage tracker does
    /// not draw the underlay beneath it — one pass over the damaged bytes instead of two.
    fn image(&self) -> Result<pixman::Image<'static, 'static>, ContentError> {
        let region = self.arena.region(self.offset, self.len)?;
        Ok(region.pixman_image(&self.layout, PixelFormat::Xrgb8888.wire())?)
    }

    /// Copies the rectangle `(x, y, w, h)` into `dst` (rows of `dst_stride` bytes) at the
    /// same position.
    fn read_rect(
        &self,
        dst: &mut [u8],
        dst_stride: usize,
        (x, y, w, h): (usize, usize, usize, usize),
    ) -> Result<(), ContentError> {
        let region = self.arena.region(self.offset, self.len)?;
        region.read_rect(&self.layout, arena_rect((x, y, w, h)), dst, dst_stride)?;
        Ok(())
    }
}

/// A rectangle `(x, y, w, h)` of a frame as the arena's checked reads take it (values
/// beyond `u32` saturate, so the arena refuses them).
pub(crate) fn arena_rect((x, y, w, h): (usize, usize, usize, usize)) -> ArenaRect {
    let fit = |v: usize| u32::try_from(v).unwrap_or(u32::MAX);
    ArenaRect {
        x: fit(x),
        y: fit(y),
        width: fit(w),
        height: fit(h),
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

/// Where a frame's pixels come from: a slice the caller holds ([`PixelsRef`], copied once)
/// or the qube's buffer in the shared-memory arena (the connection handler's source, read
/// in place: [`FrameSource::arena`]).
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
    /// The buffer in the qube's arena these pixels are in, when they are: dom0 then
    /// renders straight from it and copies nothing.
    fn arena(&self) -> Option<ArenaPixels> {
        None
    }
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

impl FrameSource for ArenaPixels {
    fn size(&self) -> Size {
        let side = |v: u32| i32::try_from(v).unwrap_or(i32::MAX);
        Size::new(side(self.layout.width), side(self.layout.height))
    }

    fn format(&self) -> PixelFormat {
        self.format
    }

    fn validate(&self) -> Result<(), ContentError> {
        // The buffer lies in the arena; its geometry is checked when the image over it is
        // made, and by every read.
        self.arena.region(self.offset, self.len)?;
        Ok(())
    }

    fn copy_rect(
        &self,
        dst: &mut [u8],
        dst_stride: usize,
        rect: (usize, usize, usize, usize),
    ) -> Result<(), ContentError> {
        self.read_rect(dst, dst_stride, rect)
    }

    fn arena(&self) -> Option<ArenaPixels> {
        Some(self.clone())
    }
}

/// The source of one window's pixels.
#[derive(Debug)]
pub enum ContentSource {
    /// A copy in dom0 memory, uploaded by the renderer as needed.
    Memory(MemoryRenderBuffer),
    /// The qube's buffer in the arena, read in place.
    Arena(Box<ArenaContent>),
}

/// How many frames of damage a window's content remembers (older renders redraw it all).
const DAMAGE_HISTORY: usize = 8;

/// A pixman texture over one of a window's buffers in the arena.
#[derive(Debug, Clone)]
struct ArenaTexture {
    key: (u64, ImageLayout, PixelFormat),
    texture: PixmanTexture,
}

/// Damage a mirror has not taken yet (`None`: all of it).
type PendingDamage = Option<Vec<Rectangle<i32, Buffer>>>;

/// A window's pixels read in place from its buffers in the qube's arena.
#[derive(Debug)]
pub struct ArenaContent {
    id: Id,
    pixels: ArenaPixels,
    /// The buffer of the current frame, and the window's other buffer (agents double
    /// buffer: two textures per window, made once each).
    current: ArenaTexture,
    other: Option<ArenaTexture>,
    /// The damage of every frame, for the output's damage tracker.
    damage: DamageBag<i32, Buffer>,
    /// For renderers that cannot read the arena in place: a copy, and the damage it has
    /// not taken yet (`None`: all of it).
    mirror: Option<(MemoryRenderBuffer, PendingDamage)>,
}

impl ArenaContent {
    fn new(pixels: ArenaPixels) -> Result<ArenaContent, ContentError> {
        let current = ArenaTexture {
            key: pixels.key(),
            texture: PixmanTexture::from(pixels.image()?),
        };
        Ok(ArenaContent {
            id: Id::new(),
            pixels,
            current,
            other: None,
            damage: DamageBag::new(DAMAGE_HISTORY),
            mirror: None,
        })
    }

    /// A new frame of the same size and format in `pixels` (either buffer of the window).
    fn update(
        &mut self,
        pixels: ArenaPixels,
        damage: &[Rectangle<i32, Buffer>],
    ) -> Result<(), ContentError> {
        let key = pixels.key();
        if self.current.key != key {
            let next = match self.other.take() {
                Some(t) if t.key == key => t,
                _ => ArenaTexture {
                    key,
                    texture: PixmanTexture::from(pixels.image()?),
                },
            };
            self.other = Some(std::mem::replace(&mut self.current, next));
        }
        self.pixels = pixels;
        self.damage.add(damage.iter().copied());
        if let Some((_, pending)) = &mut self.mirror {
            match pending {
                Some(p) if p.len() + damage.len() <= DAMAGE_HISTORY * 4 => {
                    p.extend_from_slice(damage);
                }
                _ => *pending = None,
            }
        }
        Ok(())
    }

    /// The render element of the pixman renderer: a texture straight over the arena.
    fn texture_element(
        &self,
        renderer: &PixmanRenderer,
        location: SPoint<f64, Physical>,
        src: Rectangle<f64, Logical>,
        size: SSize<i32, Logical>,
    ) -> TextureRenderElement<PixmanTexture> {
        TextureRenderElement::from_texture_with_damage(
            self.id.clone(),
            renderer.context_id(),
            location,
            self.current.texture.clone(),
            1,
            Transform::Normal,
            None,
            Some(src),
            Some(size),
            Some(vec![Rectangle::from_size(self.current.texture.size())]),
            self.damage.snapshot(),
            Kind::Unspecified,
        )
    }

    /// The dom0-memory copy for renderers that cannot read the arena, brought up to date
    /// with the damage since it was last used (one copy of the damaged bytes).
    fn mirror(
        &mut self,
        size: Size,
        format: PixelFormat,
    ) -> Result<&MemoryRenderBuffer, ContentError> {
        let (w, h) = dims_of(size)?;
        if self.mirror.is_none() {
            let buffer = MemoryRenderBuffer::new(
                format.fourcc(),
                (size.w, size.h),
                1,
                Transform::Normal,
                None,
            );
            self.mirror = Some((buffer, None));
        }
        let Some((buffer, pending)) = &mut self.mirror else {
            unreachable!("made above");
        };
        let whole = [Rectangle::<i32, Buffer>::from_size((size.w, size.h).into())];
        let rects: Vec<Rectangle<i32, Buffer>> = match pending.take() {
            Some(p) => p,
            None => whole.to_vec(),
        };
        *pending = Some(Vec::new());
        if !rects.is_empty() {
            let pixels = &self.pixels;
            let mut ctx = buffer.render();
            ctx.draw(|mem| {
                let mut done = Vec::new();
                for r in &rects {
                    let rect = Rect::new(r.loc.x, r.loc.y, r.size.w, r.size.h);
                    let Some((x, y, rw, rh)) = clip(&rect, w, h) else {
                        continue;
                    };
                    pixels.read_rect(mem, w * 4, (x, y, rw, rh))?;
                    done.push(*r);
                }
                Ok::<_, ContentError>(done)
            })?;
        }
        Ok(buffer)
    }
}

/// Renderers and how they read a window's pixels in the arena: the pixman renderer
/// composites from them in place; others read a mirror in dom0 memory.
pub trait ContentRenderer: Renderer + ImportMem + Sized {
    /// A render element of `content` at `location`, showing `src` at `size`, or `None`
    /// when this renderer reads a mirror instead (then [`WindowContent::memory`] gives it).
    fn arena_element(
        &mut self,
        content: &ArenaContent,
        location: SPoint<f64, Physical>,
        src: Rectangle<f64, Logical>,
        size: SSize<i32, Logical>,
    ) -> Option<TextureRenderElement<Self::TextureId>>;
}

impl ContentRenderer for PixmanRenderer {
    fn arena_element(
        &mut self,
        content: &ArenaContent,
        location: SPoint<f64, Physical>,
        src: Rectangle<f64, Logical>,
        size: SSize<i32, Logical>,
    ) -> Option<TextureRenderElement<PixmanTexture>> {
        Some(content.texture_element(self, location, src, size))
    }
}

#[cfg(feature = "winit")]
impl ContentRenderer for smithay::backend::renderer::gles::GlesRenderer {
    fn arena_element(
        &mut self,
        _content: &ArenaContent,
        _location: SPoint<f64, Physical>,
        _src: Rectangle<f64, Logical>,
        _size: SSize<i32, Logical>,
    ) -> Option<TextureRenderElement<Self::TextureId>> {
        None
    }
}

/// A window's current pixels.
#[derive(Debug)]
pub struct WindowContent {
    source: ContentSource,
    size: Size,
    format: PixelFormat,
}

impl WindowContent {
    /// Content made of a full frame: read in place when it is in an arena, else copied.
    pub fn new(pixels: impl FrameSource) -> Result<WindowContent, ContentError> {
        pixels.validate()?;
        let size = pixels.size();
        let (w, h) = dims_of(size)?;
        let source = match pixels.arena() {
            Some(arena) => ContentSource::Arena(Box::new(ArenaContent::new(arena)?)),
            None => {
                let mut packed = vec![0u8; w * h * 4];
                pixels.copy_rect(&mut packed, w * 4, (0, 0, w, h))?;
                ContentSource::Memory(MemoryRenderBuffer::from_slice(
                    &packed,
                    pixels.format().fourcc(),
                    (size.w, size.h),
                    1,
                    Transform::Normal,
                    None,
                ))
            }
        };
        Ok(WindowContent {
            source,
            size,
            format: pixels.format(),
        })
    }

    /// Takes a new frame: only the `damage` rectangles (clipped to the frame) change — read
    /// in place from the arena, or copied from a slice — or everything when the size,
    /// format or kind of source changed.
    pub fn update(
        &mut self,
        pixels: impl FrameSource,
        damage: &[Rect],
    ) -> Result<(), ContentError> {
        pixels.validate()?;
        let arena = pixels.arena();
        let same_kind = matches!(
            (&self.source, &arena),
            (ContentSource::Arena(_), Some(_)) | (ContentSource::Memory(_), None)
        );
        if pixels.size() != self.size || pixels.format() != self.format || !same_kind {
            *self = WindowContent::new(pixels)?;
            return Ok(());
        }
        let (w, h) = dims_of(self.size)?;
        let clipped: Vec<_> = damage.iter().filter_map(|r| clip(r, w, h)).collect();
        let buffer_rect = |(x, y, rw, rh): (usize, usize, usize, usize)| {
            Rectangle::<i32, Buffer>::new(
                (to_i32(x), to_i32(y)).into(),
                (to_i32(rw), to_i32(rh)).into(),
            )
        };
        match (&mut self.source, arena) {
            (ContentSource::Arena(content), Some(arena)) => {
                let rects: Vec<_> = clipped.into_iter().map(buffer_rect).collect();
                content.update(arena, &rects)
            }
            (ContentSource::Memory(buffer), _) => {
                let mut ctx = buffer.render();
                ctx.draw(|mem| {
                    let mut done = Vec::new();
                    for r in clipped {
                        pixels.copy_rect(mem, w * 4, r)?;
                        done.push(buffer_rect(r));
                    }
                    Ok::<_, ContentError>(done)
                })
            }
            (ContentSource::Arena(_), None) => unreachable!("same_kind checked above"),
        }
    }

    /// The frame's size.
    pub fn size(&self) -> Size {
        self.size
    }

    /// The source, for the renderer.
    pub fn source(&self) -> &ContentSource {
        &self.source
    }

    /// The pixels as a buffer in dom0 memory, for renderers that cannot read the arena
    /// (the arena's damage is copied into a mirror first).
    pub fn memory(&mut self) -> Result<&MemoryRenderBuffer, ContentError> {
        match &mut self.source {
            ContentSource::Memory(buffer) => Ok(buffer),
            ContentSource::Arena(content) => content.mirror(self.size, self.format),
        }
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
