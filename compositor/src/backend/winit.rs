//! The nested backend: dom0's desktop in a window of the developer's X11 or Wayland session,
//! drawn with smithay's GLES renderer (through EGL; Mesa's llvmpipe works without a GPU).
//! The host draws the pointer over the window: dom0 sets the host cursor to the named shape
//! the window that has the pointer (the focused qube's) asked for, else dom0's default.

use bulkhead_border_theme::Theme;
use bulkhead_protocol::CursorShape;
use smithay::backend::allocator::Fourcc;
use smithay::backend::renderer::ExportMem;
use smithay::backend::renderer::damage::OutputDamageTracker;
use smithay::backend::renderer::gles::GlesRenderer;
use smithay::backend::winit::{self, WinitEventLoop, WinitGraphicsBackend};
use smithay::reexports::winit::window::CursorIcon;
use smithay::utils::{Rectangle, Transform};

use super::{BackendError, Headless, Screenshot};
use crate::desktop::{Desktop, Size};
use crate::render::{BACKGROUND, Scene, color32};

/// A nested window.
#[derive(Debug)]
pub struct Nested {
    graphics: WinitGraphicsBackend<GlesRenderer>,
    damage: OutputDamageTracker,
    size: Size,
    /// The host cursor's shape now.
    cursor: CursorShape,
    /// Offscreen twin for screenshots, made on first use.
    shots: Option<Headless>,
}

/// The host's cursor icon for `shape` (`None`: hidden). Every named shape has its winit
/// icon of the same CSS name.
pub fn host_cursor(shape: CursorShape) -> Option<CursorIcon> {
    match shape {
        CursorShape::Hidden => None,
        named => Some(named.css_name().parse().unwrap_or_else(|_| {
            tracing::debug!(shape = named.css_name(), "no host cursor of that name");
            CursorIcon::Default
        })),
    }
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
                cursor: CursorShape::Default,
                shots: None,
            },
            events,
        ))
    }

    /// The window's size.
    pub fn size(&self) -> Size {
        self.size
    }

    /// Sets the host cursor over the window to `shape` (only when it changed).
    pub fn set_cursor(&mut self, shape: CursorShape) {
        if shape == self.cursor {
            return;
        }
        self.cursor = shape;
        let window = self.graphics.window();
        match host_cursor(shape) {
            Some(icon) => {
                window.set_cursor(icon);
                window.set_cursor_visible(true);
            }
            None => window.set_cursor_visible(false),
        }
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
        self.render_inner(scene, desktop, theme, false).map(|_| ())
    }

    /// Draws a frame, reads the window's pixels back from GL before presenting it (what the
    /// nested window really shows; for tests of this backend).
    pub fn render_and_read_back(
        &mut self,
        scene: &mut Scene,
        desktop: &Desktop,
        theme: &Theme,
    ) -> Result<Screenshot, BackendError> {
        self.render_inner(scene, desktop, theme, true)?
            .ok_or_else(|| BackendError::Nested("no read-back".into()))
    }

    fn render_inner(
        &mut self,
        scene: &mut Scene,
        desktop: &Desktop,
        theme: &Theme,
        read_back: bool,
    ) -> Result<Option<Screenshot>, BackendError> {
        // A read-back needs the whole frame drawn, whatever the buffer held.
        let age = if read_back {
            0
        } else {
            self.graphics.buffer_age().unwrap_or(0)
        };
        let nested = |e: &dyn std::fmt::Debug| BackendError::Nested(format!("{e:?}"));
        let size = self.size;
        let (damage, mapping) = {
            // Textures are uploaded before binding: an upload makes the context current
            // without the window surface, after which the swap would fail (EGL_BAD_SURFACE).
            let elements = scene.elements(self.graphics.renderer(), desktop, theme);
            let (renderer, mut fb) = self.graphics.bind().map_err(|e| nested(&e))?;
            let result = self
                .damage
                .render_output(renderer, &mut fb, age, &elements, color32(BACKGROUND))
                .map_err(|e| nested(&e))?;
            let damage = result.damage.cloned();
            // Only start the read-back here (into a pixel buffer); mapping it also switches
            // the context away from the surface, so that waits until after the swap.
            let mapping = if read_back {
                let region = Rectangle::from_size((size.w, size.h).into());
                Some(
                    renderer
                        .copy_framebuffer(&fb, region, Fourcc::Abgr8888)
                        .map_err(|e| nested(&e))?,
                )
            } else {
                None
            };
            (damage, mapping)
        };
        self.graphics
            .submit(damage.as_deref())
            .map_err(|e| nested(&e))?;
        tracing::trace!(
            damaged = damage.as_ref().map_or(0, Vec::len),
            "nested frame"
        );
        let shot = match mapping {
            Some(m) => {
                let bytes = self
                    .graphics
                    .renderer()
                    .map_texture(&m)
                    .map_err(|e| nested(&e))?;
                Some(Screenshot::from_gl_rgba(size, bytes)?)
            }
            None => None,
        };
        Ok(shot)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_named_shape_has_its_host_cursor() {
        for shape in CursorShape::ALL {
            match host_cursor(*shape) {
                None => assert_eq!(*shape, CursorShape::Hidden),
                Some(icon) => assert_eq!(icon.name(), shape.css_name()),
            }
        }
    }
}
