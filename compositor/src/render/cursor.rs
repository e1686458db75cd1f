//! dom0's pointer on a DRM output (nobody else draws one there), always in front of
//! everything: dom0's own arrow (plain rows, black with a white inside), or the named shape
//! the window that has the pointer (the focused qube's) asked for, drawn from an xcursor
//! theme on dom0's disk. A qube only ever names a shape ([`CursorShape`]); its pixels never
//! reach the pointer.
//!
//! The theme is `XCURSOR_THEME` if set, else `default`, else `Adwaita`; the image size the
//! one nearest `XCURSOR_SIZE` (24 unless set). A shape no theme has (or no theme at all) is
//! drawn as dom0's arrow, and said once in the log. [`CursorShape::Default`] is always the
//! arrow; [`CursorShape::Hidden`] draws nothing.

use std::collections::HashMap;

use bulkhead_border_theme::Rgb;
use bulkhead_protocol::CursorShape;
use smithay::backend::allocator::Fourcc;
use smithay::backend::renderer::element::Kind;
use smithay::backend::renderer::element::memory::{
    MemoryRenderBuffer, MemoryRenderBufferRenderElement,
};
use smithay::backend::renderer::element::solid::SolidColorBuffer;
use smithay::backend::renderer::{ImportMem, Renderer};
use smithay::utils::Transform;

use super::{FrameElement, color32, solid};
use crate::desktop::{Point, Rect, Size};

/// Rows of the arrow.
const ROWS: i32 = 16;
/// The image size wanted when `XCURSOR_SIZE` does not say.
pub const DEFAULT_SIZE: u32 = 24;
/// Largest cursor image dom0 draws (a theme file is dom0's, but a broken one is refused).
const MAX_SIDE: u32 = 256;

/// dom0's pointer: the arrow, the current shape and the theme images loaded so far.
#[derive(Debug)]
pub struct Cursor {
    arrow: Arrow,
    shape: CursorShape,
    theme: ThemeCursors,
}

impl Default for Cursor {
    fn default() -> Cursor {
        Cursor {
            arrow: Arrow::default(),
            shape: CursorShape::Default,
            theme: ThemeCursors::from_env(),
        }
    }
}

impl Cursor {
    /// Sets the shape; returns whether it changed (a frame must be drawn). A named shape's
    /// image is loaded from the theme the first time it is wanted.
    pub fn set_shape(&mut self, shape: CursorShape) -> bool {
        if shape == self.shape {
            return false;
        }
        self.shape = shape;
        if !matches!(shape, CursorShape::Default | CursorShape::Hidden) {
            self.theme.image(shape);
        }
        true
    }

    /// The shape drawn now.
    pub fn shape(&self) -> CursorShape {
        self.shape
    }

    /// The pointer at `at` (the hotspot there), front first.
    pub fn elements<R>(&mut self, renderer: &mut R, at: Point) -> Vec<FrameElement<R>>
    where
        R: Renderer + ImportMem,
        R::TextureId: Send + Clone + 'static,
    {
        let image = match self.shape {
            CursorShape::Hidden => return Vec::new(),
            CursorShape::Default => None,
            named => self.theme.image(named),
        };
        let Some(image) = image else {
            return self.arrow.elements(at);
        };
        let origin = (
            f64::from(at.x.saturating_sub(image.hotspot.x)),
            f64::from(at.y.saturating_sub(image.hotspot.y)),
        );
        match MemoryRenderBufferRenderElement::from_buffer(
            renderer,
            origin,
            &image.buffer,
            None,
            None,
            None,
            Kind::Cursor,
        ) {
            Ok(e) => vec![FrameElement::Memory(e)],
            Err(err) => {
                tracing::error!(?err, "cursor image upload failed: dom0's arrow instead");
                self.arrow.elements(at)
            }
        }
    }
}

/// One shape's image, ready to draw.
#[derive(Debug, Clone)]
pub struct CursorImage {
    /// ARGB8888 (premultiplied, as xcursor files hold them).
    pub buffer: MemoryRenderBuffer,
    /// The image's size.
    pub size: Size,
    /// The pixel that lies under the pointer's position.
    pub hotspot: Point,
}

/// Named shapes from the xcursor theme, loaded when first wanted.
#[derive(Debug)]
struct ThemeCursors {
    /// The themes tried, in order.
    themes: Vec<xcursor::CursorTheme>,
    /// Their names (for the log).
    names: Vec<String>,
    /// Image size wanted.
    size: u32,
    /// Every shape looked up so far (`None`: not found, drawn as the arrow).
    loaded: HashMap<CursorShape, Option<CursorImage>>,
}

impl ThemeCursors {
    /// The themes `XCURSOR_THEME`, `default` and `Adwaita` (the first that has a shape wins)
    /// at `XCURSOR_SIZE`. Nothing is read until a shape is wanted.
    fn from_env() -> ThemeCursors {
        let mut names: Vec<String> = std::env::var("XCURSOR_THEME")
            .ok()
            .filter(|t| !t.is_empty())
            .into_iter()
            .collect();
        for fallback in ["default", "Adwaita"] {
            if !names.iter().any(|n| n == fallback) {
                names.push(fallback.to_owned());
            }
        }
        let size = std::env::var("XCURSOR_SIZE")
            .ok()
            .and_then(|s| s.parse::<u32>().ok())
            .filter(|s| (1..=MAX_SIDE).contains(s))
            .unwrap_or(DEFAULT_SIZE);
        ThemeCursors {
            themes: names
                .iter()
                .map(|n| xcursor::CursorTheme::load(n))
                .collect(),
            names,
            size,
            loaded: HashMap::new(),
        }
    }

    /// `shape`'s image, from the first theme that has it (looked up once; a miss is logged
    /// once and drawn as the arrow).
    fn image(&mut self, shape: CursorShape) -> Option<CursorImage> {
        if let Some(known) = self.loaded.get(&shape) {
            return known.clone();
        }
        let found = self.load(shape);
        if found.is_none() {
            tracing::warn!(
                shape = shape.css_name(),
                themes = ?self.names,
                "no such cursor in the xcursor themes (install adwaita-icon-theme, or set \
                 XCURSOR_THEME): dom0's arrow is drawn instead"
            );
        }
        self.loaded.insert(shape, found.clone());
        found
    }

    fn load(&self, shape: CursorShape) -> Option<CursorImage> {
        let names = std::iter::once(shape.css_name()).chain(legacy_name(shape));
        for name in names {
            for (theme, theme_name) in self.themes.iter().zip(&self.names) {
                let Some(path) = theme.load_icon(name) else {
                    continue;
                };
                match std::fs::read(&path) {
                    Ok(bytes) => match image_from_xcursor(&bytes, self.size) {
                        Some(image) => {
                            tracing::debug!(
                                shape = shape.css_name(),
                                theme = %theme_name,
                                path = %path.display(),
                                "cursor loaded"
                            );
                            return Some(image);
                        }
                        None => tracing::warn!(path = %path.display(), "not a usable xcursor file"),
                    },
                    Err(e) => tracing::warn!(path = %path.display(), error = %e, "cannot read"),
                }
            }
        }
        None
    }
}

/// The older X11 name of a shape, for themes that predate the CSS names.
fn legacy_name(shape: CursorShape) -> Option<&'static str> {
    Some(match shape {
        CursorShape::Text => "xterm",
        CursorShape::Pointer => "hand2",
        CursorShape::Wait => "watch",
        CursorShape::Progress => "left_ptr_watch",
        CursorShape::Crosshair => "crosshair",
        CursorShape::Help => "question_arrow",
        CursorShape::Move | CursorShape::AllScroll => "fleur",
        CursorShape::NotAllowed | CursorShape::NoDrop => "crossed_circle",
        CursorShape::ResizeEw | CursorShape::ColResize => "sb_h_double_arrow",
        CursorShape::ResizeNs | CursorShape::RowResize => "sb_v_double_arrow",
        CursorShape::ResizeE => "right_side",
        CursorShape::ResizeW => "left_side",
        CursorShape::ResizeN => "top_side",
        CursorShape::ResizeS => "bottom_side",
        CursorShape::ResizeNe => "top_right_corner",
        CursorShape::ResizeNw => "top_left_corner",
        CursorShape::ResizeSe => "bottom_right_corner",
        CursorShape::ResizeSw => "bottom_left_corner",
        _ => return None,
    })
}

/// The image of an xcursor file nearest `size` (the first frame of an animation), or
/// `None` if the file is not a usable cursor (no image, a side of 0 or above 256 px, the
/// wrong number of pixels).
pub fn image_from_xcursor(bytes: &[u8], size: u32) -> Option<CursorImage> {
    let images = xcursor::parser::parse_xcursor(bytes)?;
    let best = images
        .iter()
        .filter(|i| {
            (1..=MAX_SIDE).contains(&i.width)
                && (1..=MAX_SIDE).contains(&i.height)
                && u64::try_from(i.pixels_rgba.len()).ok()
                    == Some(u64::from(i.width) * u64::from(i.height) * 4)
        })
        .min_by_key(|i| i.size.abs_diff(size))?;
    let (w, h) = (
        i32::try_from(best.width).ok()?,
        i32::try_from(best.height).ok()?,
    );
    let hot = |v: u32, side: i32| i32::try_from(v).unwrap_or(0).clamp(0, side - 1);
    Some(CursorImage {
        // The file's pixels are little-endian ARGB words: Fourcc's ARGB8888.
        buffer: MemoryRenderBuffer::from_slice(
            &best.pixels_rgba,
            Fourcc::Argb8888,
            (w, h),
            1,
            Transform::Normal,
            None,
        ),
        size: Size::new(w, h),
        hotspot: Point::new(hot(best.xhot, w), hot(best.yhot, h)),
    })
}

/// dom0's arrow's buffers (kept, so the damage tracker sees the same elements move).
#[derive(Debug)]
struct Arrow {
    outline: Vec<SolidColorBuffer>,
    fill: Vec<SolidColorBuffer>,
}

/// Width of row `r` of the arrow's outline: a right triangle, cut at the bottom.
fn row_width(r: i32) -> i32 {
    if r < 12 { r + 1 } else { 15 - r }
}

impl Default for Arrow {
    fn default() -> Arrow {
        let black = color32(Rgb::new(0, 0, 0));
        let white = color32(Rgb::new(0xff, 0xff, 0xff));
        let outline = (0..ROWS)
            .map(|r| SolidColorBuffer::new((row_width(r).max(1), 1), black))
            .collect();
        let fill = (0..ROWS)
            .map(|r| SolidColorBuffer::new(((row_width(r) - 2).max(1), 1), white))
            .collect();
        Arrow { outline, fill }
    }
}

impl Arrow {
    /// The arrow with its tip at `at`, front first.
    fn elements<R: Renderer + ImportMem>(&self, at: Point) -> Vec<FrameElement<R>> {
        let mut out = Vec::with_capacity(self.fill.len() + self.outline.len());
        for (r, buf) in (0..ROWS).zip(&self.fill) {
            if (2..ROWS - 1).contains(&r) && row_width(r) > 2 {
                out.push(solid(
                    buf,
                    Rect::new(at.x + 1, at.y + r, row_width(r) - 2, 1),
                ));
            }
        }
        for (r, buf) in (0..ROWS).zip(&self.outline) {
            out.push(solid(
                buf,
                Rect::new(at.x, at.y + r, row_width(r).max(1), 1),
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use smithay::backend::renderer::element::Element;
    use smithay::backend::renderer::pixman::PixmanRenderer;

    use super::*;

    /// An xcursor file holding one square image per `(size, hotspot)`, each filled with
    /// `size` as its blue byte (so a test can tell them apart).
    fn xcursor_file(images: &[(u32, u32)]) -> Vec<u8> {
        let ntoc = u32::try_from(images.len()).unwrap();
        let mut out = Vec::new();
        let word = |out: &mut Vec<u8>, v: u32| out.extend_from_slice(&v.to_le_bytes());
        out.extend_from_slice(b"Xcur");
        word(&mut out, 16);
        word(&mut out, 0x1_0000);
        word(&mut out, ntoc);
        let mut pos = 16 + 12 * ntoc;
        for (size, _) in images {
            word(&mut out, 0xfffd_0002);
            word(&mut out, *size);
            word(&mut out, pos);
            pos += 36 + size * size * 4;
        }
        for (size, hot) in images {
            for v in [36, 0xfffd_0002, *size, 1, *size, *size, *hot, *hot, 50] {
                word(&mut out, v);
            }
            let pixel = u32::from_le_bytes([size.to_le_bytes()[0], 0, 0, 0xff]);
            for _ in 0..size * size {
                word(&mut out, pixel);
            }
        }
        out
    }

    #[test]
    fn the_image_nearest_the_wanted_size_is_taken_with_its_hotspot() {
        let file = xcursor_file(&[(16, 3), (32, 7), (48, 11)]);
        let img = image_from_xcursor(&file, 24).expect("a cursor");
        // 16 and 32 are as near to 24: the first of them.
        assert_eq!(
            (img.size, img.hotspot),
            (Size::new(16, 16), Point::new(3, 3))
        );
        let img = image_from_xcursor(&file, 30).unwrap();
        assert_eq!(
            (img.size, img.hotspot),
            (Size::new(32, 32), Point::new(7, 7))
        );
        let img = image_from_xcursor(&file, 64).unwrap();
        assert_eq!(img.size, Size::new(48, 48));
        // A hotspot on the image's edge (xcursor allows it) is pulled in.
        let img = image_from_xcursor(&xcursor_file(&[(8, 8)]), 24).unwrap();
        assert_eq!(img.hotspot, Point::new(7, 7));
    }

    #[test]
    fn broken_cursor_files_are_refused() {
        assert!(image_from_xcursor(b"", 24).is_none());
        assert!(image_from_xcursor(b"Xcur nonsense", 24).is_none());
        let mut file = xcursor_file(&[(16, 0)]);
        file.truncate(file.len() - 4);
        assert!(image_from_xcursor(&file, 24).is_none(), "pixels missing");
        assert!(image_from_xcursor(&xcursor_file(&[(300, 0)]), 24).is_none());
        assert!(image_from_xcursor(&xcursor_file(&[(0, 0)]), 24).is_none());
    }

    #[test]
    fn a_named_shape_is_drawn_from_its_image_at_the_hotspot_else_the_arrow() {
        let mut renderer = PixmanRenderer::new().unwrap();
        let mut cursor = Cursor {
            arrow: Arrow::default(),
            shape: CursorShape::Default,
            theme: ThemeCursors {
                themes: Vec::new(),
                names: Vec::new(),
                size: DEFAULT_SIZE,
                loaded: HashMap::new(),
            },
        };
        let text = image_from_xcursor(&xcursor_file(&[(24, 5)]), 24).unwrap();
        cursor.theme.loaded.insert(CursorShape::Text, Some(text));
        let at = Point::new(100, 50);
        let arrow_len = cursor.elements(&mut renderer, at).len();
        assert_eq!(arrow_len, cursor.arrow.elements::<PixmanRenderer>(at).len());
        assert!(!cursor.set_shape(CursorShape::Default), "unchanged");

        assert!(cursor.set_shape(CursorShape::Text));
        let elements = cursor.elements(&mut renderer, at);
        let [FrameElement::Memory(e)] = &elements[..] else {
            panic!("one image: {elements:?}");
        };
        let geo = e.geometry(1.0.into());
        assert_eq!(
            (geo.loc.x, geo.loc.y, geo.size.w, geo.size.h),
            (95, 45, 24, 24),
            "the hotspot is at the pointer"
        );

        // A shape no theme has: the arrow, and the miss is remembered (not looked up again).
        assert!(cursor.set_shape(CursorShape::ZoomIn));
        assert_eq!(cursor.elements(&mut renderer, at).len(), arrow_len);
        assert!(matches!(
            cursor.theme.loaded.get(&CursorShape::ZoomIn),
            Some(None)
        ));
        assert!(cursor.set_shape(CursorShape::Hidden));
        assert!(cursor.elements(&mut renderer, at).is_empty());
    }

    #[test]
    fn the_installed_theme_has_the_text_cursor() {
        // adwaita-icon-theme is one of the build packages (scripts/lib.sh).
        let mut theme = ThemeCursors::from_env();
        let text = theme.image(CursorShape::Text).expect(
            "no `text` cursor in XCURSOR_THEME, default or Adwaita: install \
             adwaita-icon-theme (scripts/lib.sh's BULKHEAD_BUILD_PACKAGES)",
        );
        assert!(text.size.w > 0 && text.size.w <= 256);
        assert!(text.hotspot.x < text.size.w && text.hotspot.y < text.size.h);
    }
}
