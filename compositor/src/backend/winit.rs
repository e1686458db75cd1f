//! The nested backend: dom0's desktop in a window of the developer's X11 or Wayland session,
//! drawn with smithay's GLES renderer (through EGL; Mesa's llvmpipe works without a GPU).

use bulkhead_border_theme::Theme;
use smithay::backend::renderer::damage::OutputDamageTracker;
use smithay::backend::renderer::gles::GlesRenderer;
use smithay::backend::winit::{self, WinitEventLoop, WinitGraphicsBackend};
use smithay::utils::Transform;

use super::{BackendError, Headless, Screenshot};
use crate::desktop::{Desktop, Size};
use crate::render::{BACKGROUND, Scene, color32};

/// A nested window.
#[derive(Debug)]
pub struct Nested {
    graphics: WinitGraphicsBackend<GlesRenderer>,
    damage: OutputDamageTracker,
    size: Size,
    /// Offscreen twin for screenshots, made on first use.
    shots: Option<Headless>,
}

impl Nested {
    /// Opens the window. The event loop half must be inserted into calloop by the caller.
    pub fn new() -> Result<(Nested, WinitEventLoop), BackendError> {
        let (graphics, events) =
            winit::init::<GlesRenderer>().map_err(|e| BackendError::Nested(e.to_string()))?;
        let s = graphics.window_size();
        let size = Size::new(s.w.max(1), s.h.max(1));
        let damage = OutputDamageTracker::new((size.w, size.h), 1.0, Transform::Flipped180);
        tracing::info!(w = size.w, h = size.h, "nested window opened");
        Ok((
            Nested {
                graphics,
                damage,
                size,
                shots: None,
            },
            events,
        ))
    }

    /// The window's size.
    pub fn size(&self) -> Size {
        self.size
    }

    /// The window was resized.
    pub fn resized(&mut self, size: Size) {
        self.size = Size::new(size.w.max(1), size.h.max(1));
        self.damage =
            OutputDamageTracker::new((self.size.w, self.size.h), 1.0, Transform::Flipped180);
        self.shots = None;
    }

    /// Draws a frame and presents it.
    pub fn render(
        &mut self,
        scene: &mut Scene,
        desktop: &Desktop,
        theme: &Theme,
    ) -> Result<(), BackendError> {
        let age = self.graphics.buffer_age().unwrap_or(0);
        let nested = |e: &dyn std::fmt::Debug| BackendError::Nested(format!("{e:?}"));
        let damage = {
            let (renderer, mut fb) = self.graphics.bind().map_err(|e| nested(&e))?;
            let elements = scene.elements(renderer, desktop, theme);
            let result = self
                .damage
                .render_output(renderer, &mut fb, age, &elements, color32(BACKGROUND))
                .map_err(|e| nested(&e))?;
            result.damage.cloned()
        };
        self.graphics
            .submit(damage.as_deref())
            .map_err(|e| nested(&e))?;
        Ok(())
    }

    /// Renders offscreen with pixman at the window's size.
    pub fn screenshot(
        &mut self,
        scene: &mut Scene,
        desktop: &Desktop,
        theme: &Theme,
    ) -> Result<Screenshot, BackendError> {
        let shots = match &mut self.shots {
            Some(s) => s,
            None => self.shots.insert(Headless::new(self.size)?),
        };
        shots.screenshot(scene, desktop, theme)
    }
}
