//! Title text: one line rasterised with `ab_glyph` into a premultiplied ARGB8888 image.
//!
//! The text has already been sanitised (no bidi controls, no invisible characters), and is
//! laid out strictly left to right, glyph after glyph, so the `[qube]` prefix is always
//! first and at the left edge of the title bar.

use std::path::{Path, PathBuf};

use ab_glyph::{Font, FontVec, PxScale, ScaleFont, point};
use bulkhead_border_theme::Rgb;

/// Where Debian's `fonts-dejavu-core` puts the title font.
pub const DEFAULT_FONT_PATH: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";

/// Widest title image, in pixels (wider text is cut; the bar is never that wide anyway).
pub const MAX_TEXT_WIDTH: usize = 8192;

/// The title font could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum FontError {
    /// The file could not be read.
    #[error("cannot read the title font {path} (on Debian, install the fonts-dejavu-core package)")]
    Read {
        /// The font file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a font `ab_glyph` understands.
    #[error("{path} is not a usable TrueType/OpenType font")]
    Parse {
        /// The font file.
        path: PathBuf,
    },
}

/// The font titles are drawn with, loaded once at start.
#[derive(Debug)]
pub struct TitleFont {
    font: FontVec,
}

/// A rasterised line of text: premultiplied ARGB8888, little-endian bytes (B, G, R, A).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextImage {
    /// Width in pixels (at least 1).
    pub width: usize,
    /// Height in pixels (at least 1).
    pub height: usize,
    /// `width * height * 4` bytes, rows top to bottom, no padding.
    pub pixels: Vec<u8>,
}

impl TitleFont {
    /// Loads a TrueType/OpenType font file.
    pub fn load(path: &Path) -> Result<TitleFont, FontError> {
        let bytes = std::fs::read(path).map_err(|source| FontError::Read {
            path: path.to_owned(),
            source,
        })?;
        let font = FontVec::try_from_vec(bytes).map_err(|_| FontError::Parse {
            path: path.to_owned(),
        })?;
        tracing::debug!(path = %path.display(), "title font loaded");
        Ok(TitleFont { font })
    }

    /// Loads [`DEFAULT_FONT_PATH`].
    pub fn load_default() -> Result<TitleFont, FontError> {
        TitleFont::load(Path::new(DEFAULT_FONT_PATH))
    }

    /// Rasterises `text` in `color` for a bar `bar_height` pixels high: the image is that
    /// high, the text vertically centred, with `pad` pixels of space on the left.
    pub fn rasterize(&self, text: &str, bar_height: usize, pad: usize, color: Rgb) -> TextImage {
        let height = bar_height.max(1);
        // Glyphs at ~60 % of the bar: DejaVu's cap height is ~0.73 of the pixel size.
        let px = (height as f32 * 0.6).max(6.0);
        let scaled = self.font.as_scaled(PxScale::from(px));
        let baseline = ((height as f32 + scaled.ascent() + scaled.descent()) / 2.0).round();

        let mut glyphs = Vec::new();
        let mut caret = pad as f32;
        let mut prev = None;
        for c in text.chars() {
            let id = scaled.glyph_id(c);
            if let Some(p) = prev {
                caret += scaled.kern(p, id);
            }
            if caret >= MAX_TEXT_WIDTH as f32 {
                break;
            }
            // Whole-pixel glyph origins keep stems crisp.
            glyphs.push(id.with_scale_and_position(px, point(caret.round(), baseline)));
            caret += scaled.h_advance(id);
            prev = Some(id);
        }
        let width = usize::try_from(float_to_int(caret.ceil()))
            .unwrap_or(1)
            .clamp(1, MAX_TEXT_WIDTH);

        let mut coverage = vec![0f32; width * height];
        for g in glyphs {
            let Some(outline) = self.font.outline_glyph(g) else {
                continue;
            };
            let b = outline.px_bounds();
            outline.draw(|x, y, c| {
                let px = usize::try_from(float_to_int(b.min.x) + i64::from(x));
                let py = usize::try_from(float_to_int(b.min.y) + i64::from(y));
                if let (Ok(px), Ok(py)) = (px, py) {
                    if px < width && py < height {
                        let cell = &mut coverage[py * width + px];
                        *cell = (*cell + c).min(1.0);
                    }
                }
            });
        }

        let mut pixels = Vec::with_capacity(width * height * 4);
        for a in coverage {
            let alpha = u8::try_from(float_to_int((a * 255.0).round()).clamp(0, 255)).unwrap_or(0);
            let argb = color.to_argb8888_premultiplied(alpha);
            pixels.extend_from_slice(&argb.to_le_bytes());
        }
        TextImage {
            width,
            height,
            pixels,
        }
    }
}

/// A float as an integer, saturating at the `i64` range (NaN is 0).
#[allow(
    clippy::cast_possible_truncation,
    reason = "float-to-int `as` saturates, which is the intent"
)]
fn float_to_int(v: f32) -> i64 {
    v as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_font_names_the_package() {
        let err = TitleFont::load(Path::new("/nonexistent/font.ttf")).unwrap_err();
        assert!(err.to_string().contains("fonts-dejavu-core"), "{err}");
    }

    #[test]
    fn text_has_coverage_in_the_text_colour_only() {
        let Ok(font) = TitleFont::load_default() else {
            // Checked by the headless test, which needs the font too.
            return;
        };
        let img = font.rasterize("[work] Hello", 24, 6, Rgb::WHITE);
        assert_eq!(img.height, 24);
        assert!(img.width > 60, "{}", img.width);
        assert_eq!(img.pixels.len(), img.width * img.height * 4);
        let mut solid = 0;
        for px in img.pixels.chunks_exact(4) {
            // Premultiplied white: every channel equals alpha.
            assert!(px[0] == px[3] && px[1] == px[3] && px[2] == px[3]);
            if px[3] >= 192 {
                solid += 1;
            }
        }
        assert!(solid > 30, "{solid} mostly covered pixels");
        // The padding column stays empty.
        assert!((0..img.height).all(|y| img.pixels[y * img.width * 4 + 3] == 0));
    }
}
