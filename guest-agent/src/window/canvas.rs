//! Flattening one surface tree (a toplevel or popup with its subsurfaces) into an image.
//!
//! Each window keeps a private pixman image of its current content and smithay's damage
//! tracker over it. A render composites only what changed in the tree (in window
//! coordinates, across every surface) and reports those rectangles; the caller then copies
//! them (plus the previous frame's, for the double buffer) into the arena.

use smithay::backend::allocator::Fourcc;
use smithay::backend::renderer::damage::{Error as DamageError, OutputDamageTracker};
use smithay::backend::renderer::element::Kind;
use smithay::backend::renderer::element::surface::{
    WaylandSurfaceRenderElement, render_elements_from_surface_tree,
};
use smithay::backend::renderer::pixman::{PixmanError, PixmanRenderer};
use smithay::backend::renderer::{Bind, ExportMem, Offscreen};
use smithay::reexports::pixman;
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::utils::{
    Buffer as BufferCoords, Logical, Physical, Point, Rectangle, Size, Transform,
};

use crate::link::Rect as PixelRect;

/// Why a window could not be flattened.
#[derive(Debug, thiserror::Error)]
pub enum CanvasError {
    /// pixman refused (out of memory, unsupported format).
    #[error("pixman renderer")]
    Renderer(#[from] PixmanError),
    /// The damage tracker failed to render.
    #[error("damage tracker: {0:?}")]
    Damage(DamageError<PixmanError>),
}

/// The flattened content of one window.
#[derive(Debug)]
pub struct Canvas {
    image: pixman::Image<'static, 'static>,
    tracker: OutputDamageTracker,
    size: Size<i32, Physical>,
    scale: i32,
}

impl Canvas {
    /// A transparent canvas of `size` pixels at integer `scale`.
    pub fn new(
        renderer: &mut PixmanRenderer,
        size: Size<i32, Physical>,
        scale: i32,
    ) -> Result<Self, CanvasError> {
        let image = renderer.create_buffer(Fourcc::Argb8888, (size.w, size.h).into())?;
        Ok(Canvas {
            image,
            tracker: OutputDamageTracker::new(size, f64::from(scale), Transform::Normal),
            size,
            scale,
        })
    }

    /// Size in pixels.
    pub fn size(&self) -> Size<i32, Physical> {
        self.size
    }

    /// Output scale the canvas renders at.
    pub fn scale(&self) -> i32 {
        self.scale
    }

    /// Renders the tree under `root`, whose window geometry starts at `origin` (surface
    /// coordinates of `root`): everything outside the geometry (client-side shadows) is
    /// cropped. Returns the changed rectangles in canvas pixels.
    pub fn render(
        &mut self,
        renderer: &mut PixmanRenderer,
        root: &WlSurface,
        origin: Point<i32, Logical>,
    ) -> Result<Vec<PixelRect>, CanvasError> {
        let location = Point::<i32, Logical>::from((-origin.x, -origin.y)).to_physical(self.scale);
        let elements: Vec<WaylandSurfaceRenderElement<PixmanRenderer>> =
            render_elements_from_surface_tree(
                renderer,
                root,
                location,
                f64::from(self.scale),
                1.0,
                Kind::Unspecified,
            );
        let mut target = renderer.bind(&mut self.image)?;
        let result = self
            .tracker
            .render_output(renderer, &mut target, 1, &elements, [0.0, 0.0, 0.0, 0.0])
            .map_err(CanvasError::Damage)?;
        let size = self.size;
        Ok(result
            .damage
            .map(|rects| {
                rects
                    .iter()
                    .filter_map(|r| to_pixel_rect(*r, size))
                    .collect()
            })
            .unwrap_or_default())
    }

    /// Calls `f` with the pixels of `rect` (which must lie inside the canvas) and the
    /// bytes from one row to the next.
    pub fn with_pixels<T>(
        &mut self,
        renderer: &mut PixmanRenderer,
        rect: PixelRect,
        f: impl FnOnce(&[u8], usize) -> T,
    ) -> Result<T, CanvasError> {
        let region = Rectangle::<i32, BufferCoords>::new(
            (to_i32(rect.x), to_i32(rect.y)).into(),
            (to_i32(rect.w), to_i32(rect.h)).into(),
        );
        let target = renderer.bind(&mut self.image)?;
        let mapping = renderer.copy_framebuffer(&target, region, Fourcc::Argb8888)?;
        let bytes = renderer.map_texture(&mapping)?;
        let stride = bytes.len() / (rect.h.max(1) as usize);
        Ok(f(bytes, stride))
    }
}

fn to_i32(v: u32) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}

/// Clips a damage rectangle to the canvas and converts it; `None` if empty.
fn to_pixel_rect(r: Rectangle<i32, Physical>, size: Size<i32, Physical>) -> Option<PixelRect> {
    let x1 = r.loc.x.clamp(0, size.w);
    let y1 = r.loc.y.clamp(0, size.h);
    let x2 = r.loc.x.saturating_add(r.size.w).clamp(0, size.w);
    let y2 = r.loc.y.saturating_add(r.size.h).clamp(0, size.h);
    let w = u32::try_from(x2 - x1).ok().filter(|w| *w > 0)?;
    let h = u32::try_from(y2 - y1).ok().filter(|h| *h > 0)?;
    Some(PixelRect {
        x: u32::try_from(x1).ok()?,
        y: u32::try_from(y1).ok()?,
        w,
        h,
    })
}
