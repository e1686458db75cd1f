//! The headless backend: renders into an offscreen pixman image (for tests, CI and
//! screenshots). Also used by the other backends to take screenshots.

use bulkhead_border_theme::Theme;
use smithay::backend::allocator::Fourcc;
use smithay::backend::renderer::damage::OutputDamageTracker;
use smithay::backend::renderer::pixman::PixmanRenderer;
use smithay::backend::renderer::{Bind, ExportMem, Offscreen};
use smithay::reexports::pixman;
use smithay::utils::{Rectangle, Transform};

use super::{BackendError, Screenshot};
use crate::desktop::{Desktop, Rect, Size};
use crate::render::{BACKGROUND, Scene, color32};

/// An offscreen output of a fixed size.
#[derive(Debug)]
pub struct Headless {
    renderer: PixmanRenderer,
    image: pixman::Image<'static, 'static>,
    damage: OutputDamageTracker,
    size: Size,
}

impl Headless {
    /// An output of `size` pixels.
    pub fn new(size: Size) -> Result<Headless, BackendError> {
        let mut renderer = PixmanRenderer::new()?;
        let image = renderer.create_buffer(Fourcc::Argb8888, (size.w, size.h).into())?;
        let damage = OutputDamageTracker::new((size.w, size.h), 1.0, Transform::Normal);
        tracing::info!(w = size.w, h = size.h, "headless output");
        Ok(Headless {
            renderer,
            image,
            damage,
            size,
        })
    }

    /// The output size.
    pub fn size(&self) -> Size {
        self.size
    }

    /// Redraws what changed since the last frame. Returns the damaged rectangles.
    pub fn render(
        &mut self,
        scene: &mut Scene,
        desktop: &Desktop,
        theme: &Theme,
    ) -> Result<Vec<Rect>, BackendError> {
        let elements = scene.elements(&mut self.renderer, desktop, theme);
        let mut target = self.renderer.bind(&mut self.image)?;
        // The image keeps its pixels between frames: age 1.
        let result = self
            .damage
            .render_output(
                &mut self.renderer,
                &mut target,
                1,
                &elements,
                color32(BACKGROUND),
            )
            .map_err(|e| BackendError::Render(format!("{e:?}")))?;
        let damaged: Vec<Rect> = result
            .damage
            .map(|d| {
                d.iter()
                    .map(|r| Rect::new(r.loc.x, r.loc.y, r.size.w, r.size.h))
                    .collect()
            })
            .unwrap_or_default();
        tracing::trace!(damaged = damaged.len(), "headless frame");
        Ok(damaged)
    }

    /// Renders, then copies the whole output out.
    pub fn screenshot(
        &mut self,
        scene: &mut Scene,
        desktop: &Desktop,
        theme: &Theme,
    ) -> Result<Screenshot, BackendError> {
        self.render(scene, desktop, theme)?;
        let target = self.renderer.bind(&mut self.image)?;
        let region = Rectangle::from_size((self.size.w, self.size.h).into());
        let mapping = self
            .renderer
            .copy_framebuffer(&target, region, Fourcc::Argb8888)?;
        let bytes = self.renderer.map_texture(&mapping)?;
        Screenshot::from_argb8888(self.size, bytes)
    }
}
