//! Where frames go. An enum, not a generic (STYLE.md): `Headless` (offscreen pixman image),
//! `Winit` (a window inside an X11/Wayland session, for development), `Drm` (the real
//! desktop session: DRM/KMS with libseat, udev and libinput).

#[cfg(feature = "drm")]
pub mod drm;
pub mod headless;
#[cfg(feature = "winit")]
pub mod winit;

use std::io::BufWriter;
use std::path::Path;

use bulkhead_border_theme::{Rgb, Theme};

use crate::desktop::{Desktop, Size};
use crate::render::Scene;
pub use headless::Headless;

/// Something the backend could not do.
#[derive(Debug, thiserror::Error)]
pub enum BackendError {
    /// The pixman renderer failed.
    #[error("pixman renderer")]
    Pixman(#[from] smithay::backend::renderer::pixman::PixmanError),
    /// Rendering a frame failed.
    #[error("rendering failed: {0}")]
    Render(String),
    /// The nested window could not be opened or drawn.
    #[error("nested (winit) backend: {0}")]
    Nested(String),
    /// The DRM session could not draw.
    #[cfg(feature = "drm")]
    #[error(transparent)]
    Drm(#[from] drm::DrmError),
    /// A read-back had an unexpected size.
    #[error("read back {len} bytes, expected a {w}x{h} ARGB8888 image")]
    BadReadback {
        /// Bytes read.
        len: usize,
        /// Width.
        w: i32,
        /// Height.
        h: i32,
    },
    /// Writing a PNG failed.
    #[error("cannot write {path}")]
    Png {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// The output's pixels at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Screenshot {
    /// Size in pixels.
    pub size: Size,
    /// Row-major `0xAARRGGBB` values, `size.w * size.h` of them.
    pub argb: Vec<u32>,
}

impl Screenshot {
    /// From little-endian ARGB8888 bytes with any row stride.
    pub fn from_argb8888(size: Size, bytes: &[u8]) -> Result<Screenshot, BackendError> {
        let bad = || BackendError::BadReadback {
            len: bytes.len(),
            w: size.w,
            h: size.h,
        };
        let w = usize::try_from(size.w).map_err(|_| bad())?;
        let h = usize::try_from(size.h).map_err(|_| bad())?;
        if h == 0 || bytes.len() % h != 0 || bytes.len() / h < w * 4 {
            return Err(bad());
        }
        let stride = bytes.len() / h;
        let mut argb = Vec::with_capacity(w * h);
        for row in bytes.chunks_exact(stride) {
            argb.extend(
                row[..w * 4]
                    .chunks_exact(4)
                    .map(|p| u32::from_le_bytes([p[0], p[1], p[2], p[3]])),
            );
        }
        Ok(Screenshot { size, argb })
    }

    /// From OpenGL's `glReadPixels` order: R, G, B, A bytes, bottom row first.
    pub fn from_gl_rgba(size: Size, bytes: &[u8]) -> Result<Screenshot, BackendError> {
        let bad = || BackendError::BadReadback {
            len: bytes.len(),
            w: size.w,
            h: size.h,
        };
        let w = usize::try_from(size.w).map_err(|_| bad())?;
        let h = usize::try_from(size.h).map_err(|_| bad())?;
        if bytes.len() != w * h * 4 {
            return Err(bad());
        }
        let mut argb = Vec::with_capacity(w * h);
        for row in bytes.chunks_exact(w * 4).rev() {
            argb.extend(
                row.chunks_exact(4)
                    .map(|p| u32::from_le_bytes([p[2], p[1], p[0], p[3]])),
            );
        }
        Ok(Screenshot { size, argb })
    }

    /// The colour at `(x, y)` (alpha ignored), or `None` outside.
    pub fn rgb(&self, x: i32, y: i32) -> Option<Rgb> {
        if x < 0 || y < 0 || x >= self.size.w || y >= self.size.h {
            return None;
        }
        let i = usize::try_from(y).ok()? * usize::try_from(self.size.w).ok()?
            + usize::try_from(x).ok()?;
        let [b, g, r, _] = self.argb.get(i)?.to_le_bytes();
        Some(Rgb::new(r, g, b))
    }

    /// Writes an opaque RGB PNG.
    pub fn write_png(&self, path: &Path) -> Result<(), BackendError> {
        let err = |source| BackendError::Png {
            path: path.display().to_string(),
            source,
        };
        let file = std::fs::File::create(path).map_err(err)?;
        let (w, h) = (
            u32::try_from(self.size.w).unwrap_or(0),
            u32::try_from(self.size.h).unwrap_or(0),
        );
        let mut enc = png::Encoder::new(BufWriter::new(file), w, h);
        enc.set_color(png::ColorType::Rgb);
        enc.set_depth(png::BitDepth::Eight);
        let rgb: Vec<u8> = self
            .argb
            .iter()
            .flat_map(|p| {
                let [b, g, r, _] = p.to_le_bytes();
                [r, g, b]
            })
            .collect();
        let io = |e: png::EncodingError| err(std::io::Error::other(e));
        let mut writer = enc.write_header().map_err(io)?;
        writer.write_image_data(&rgb).map_err(io)?;
        writer.finish().map_err(io)?;
        Ok(())
    }
}

/// The active backend.
#[derive(Debug)]
pub enum Backend {
    /// Offscreen.
    Headless(Box<Headless>),
    /// A nested window.
    #[cfg(feature = "winit")]
    Winit(Box<winit::Nested>),
    /// The real desktop session.
    #[cfg(feature = "drm")]
    Drm(Box<drm::Drm>),
}

impl Backend {
    /// The output size.
    pub fn size(&self) -> Size {
        match self {
            Backend::Headless(h) => h.size(),
            #[cfg(feature = "winit")]
            Backend::Winit(n) => n.size(),
            #[cfg(feature = "drm")]
            Backend::Drm(d) => d.size(),
        }
    }

    /// Draws a frame (only what changed).
    pub fn render(
        &mut self,
        scene: &mut Scene,
        desktop: &Desktop,
        theme: &Theme,
    ) -> Result<(), BackendError> {
        match self {
            Backend::Headless(h) => h.render(scene, desktop, theme).map(|_| ()),
            #[cfg(feature = "winit")]
            Backend::Winit(n) => n.render(scene, desktop, theme),
            #[cfg(feature = "drm")]
            Backend::Drm(d) => d.render(scene, desktop, theme),
        }
    }

    /// Renders the current state and returns its pixels (offscreen, with pixman, whatever
    /// the backend, so screenshots look the same everywhere).
    pub fn screenshot(
        &mut self,
        scene: &mut Scene,
        desktop: &Desktop,
        theme: &Theme,
    ) -> Result<Screenshot, BackendError> {
        match self {
            Backend::Headless(h) => h.screenshot(scene, desktop, theme),
            #[cfg(feature = "winit")]
            Backend::Winit(n) => n.screenshot(scene, desktop, theme),
            #[cfg(feature = "drm")]
            Backend::Drm(d) => d.screenshot(scene, desktop, theme),
        }
    }

    /// The pointer's shape is now `shape` ([`crate::input::InputState::cursor`]): the nested
    /// window sets its host cursor, a DRM session draws it, headless draws no pointer.
    /// Returns whether a frame must be drawn for it.
    #[cfg_attr(
        not(any(feature = "winit", feature = "drm")),
        allow(unused_variables, reason = "only headless: nothing draws a pointer")
    )]
    pub fn set_cursor(&mut self, shape: bulkhead_protocol::CursorShape) -> bool {
        match self {
            // No pointer is drawn (the shape stays in dom0's input state).
            Backend::Headless(_) => false,
            #[cfg(feature = "winit")]
            Backend::Winit(n) => {
                n.set_cursor(shape);
                false
            }
            #[cfg(feature = "drm")]
            Backend::Drm(d) => d.set_cursor(shape),
        }
    }

    /// Switches to virtual terminal `vt` (Ctrl+Alt+Fn); only a DRM session has terminals.
    pub fn switch_vt(&mut self, vt: u8) {
        match self {
            #[cfg(feature = "drm")]
            Backend::Drm(d) => d.switch_vt(vt),
            _ => tracing::debug!(vt, "no virtual terminals on this backend"),
        }
    }
}
