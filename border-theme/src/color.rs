//! sRGB colours, their pixel formats, and WCAG 2.x contrast.

use std::fmt;
use std::str::FromStr;

use crate::quoted;

/// An opaque 8-bit sRGB colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Rgb {
    /// Red channel.
    pub r: u8,
    /// Green channel.
    pub g: u8,
    /// Blue channel.
    pub b: u8,
}

/// The contrast ratio every title text must reach on its bar: WCAG 2.x level AA for normal
/// text.
pub const MIN_TEXT_CONTRAST: f64 = 4.5;

impl Rgb {
    /// Pure black, `#000000`.
    pub const BLACK: Rgb = Rgb::new(0, 0, 0);
    /// Pure white, `#ffffff`.
    pub const WHITE: Rgb = Rgb::new(0xff, 0xff, 0xff);

    /// A colour from its three channels.
    pub const fn new(r: u8, g: u8, b: u8) -> Rgb {
        Rgb { r, g, b }
    }

    /// Parses `#rrggbb`: exactly seven characters, a `#` then six hex digits in either case.
    /// Short forms (`#fff`), alpha (`#rrggbbaa`), names and surrounding spaces are errors.
    pub fn from_hex(s: &str) -> Result<Rgb, BadColor> {
        let bad = || BadColor {
            input: s.to_owned(),
        };
        let digits = s.strip_prefix('#').ok_or_else(bad)?;
        if digits.len() != 6 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad());
        }
        // Six ASCII hex digits: every two-byte slice is on a char boundary and valid hex.
        let channel = |i: usize| u8::from_str_radix(&digits[i..i + 2], 16).map_err(|_| bad());
        Ok(Rgb::new(channel(0)?, channel(2)?, channel(4)?))
    }

    /// Opaque ARGB8888 (`0xAARRGGBB`, alpha `0xff`), the `wl_shm`/DRM little-endian format.
    /// Being opaque, it is already premultiplied.
    pub const fn to_argb8888(self) -> u32 {
        self.to_argb8888_premultiplied(0xff)
    }

    /// ARGB8888 with the given alpha, colour channels premultiplied by it (rounded to
    /// nearest), as compositors blend.
    pub const fn to_argb8888_premultiplied(self, alpha: u8) -> u32 {
        const fn mul(c: u8, a: u8) -> u32 {
            (c as u32 * a as u32 + 127) / 255
        }
        ((alpha as u32) << 24)
            | (mul(self.r, alpha) << 16)
            | (mul(self.g, alpha) << 8)
            | mul(self.b, alpha)
    }

    /// `[r, g, b, a]` in `0.0..=1.0` with `a = 1.0`, for GL/smithay renderers. Being opaque,
    /// it is already premultiplied.
    pub fn to_rgba_f32(self) -> [f32; 4] {
        let c = |v: u8| f32::from(v) / 255.0;
        [c(self.r), c(self.g), c(self.b), 1.0]
    }

    /// WCAG 2.x relative luminance: 0.0 for black, 1.0 for white.
    ///
    /// Each channel is linearised with the sRGB curve (`c / 12.92` up to 0.04045, else
    /// `((c + 0.055) / 1.055)^2.4`; WCAG 2.0's older threshold 0.03928 gives the same result
    /// for every 8-bit value), then weighted `0.2126 R + 0.7152 G + 0.0722 B`.
    pub fn relative_luminance(self) -> f64 {
        0.2126 * linear(self.r) + 0.7152 * linear(self.g) + 0.0722 * linear(self.b)
    }

    /// Black or white, whichever contrasts more with `self` (black on a tie).
    ///
    /// For **every** colour the winner reaches at least [`MIN_TEXT_CONTRAST`]: with
    /// luminance `L`, white gives `1.05 / (L + 0.05)` and black `(L + 0.05) / 0.05`; the
    /// larger of the two is smallest where they are equal, at `(L + 0.05)² = 0.0525`, where
    /// both are `√21 ≈ 4.58`. The crate's tests check this over all 2²⁴ colours, so no theme
    /// colour can leave its title unreadable.
    pub fn text_color(self) -> Rgb {
        if contrast_ratio(self, Rgb::WHITE) > contrast_ratio(self, Rgb::BLACK) {
            Rgb::WHITE
        } else {
            Rgb::BLACK
        }
    }
}

/// sRGB channel to linear light, `0.0..=1.0`.
fn linear(channel: u8) -> f64 {
    let c = f64::from(channel) / 255.0;
    if c <= 0.04045 {
        c / 12.92
    } else {
        ((c + 0.055) / 1.055).powf(2.4)
    }
}

/// WCAG 2.x contrast ratio between two colours, from 1.0 (same luminance) to 21.0 (black and
/// white); symmetric in its arguments.
pub fn contrast_ratio(a: Rgb, b: Rgb) -> f64 {
    let (la, lb) = (a.relative_luminance(), b.relative_luminance());
    let (hi, lo) = if la >= lb { (la, lb) } else { (lb, la) };
    (hi + 0.05) / (lo + 0.05)
}

impl fmt::Display for Rgb {
    /// `#rrggbb`, lowercase.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "#{:02x}{:02x}{:02x}", self.r, self.g, self.b)
    }
}

impl FromStr for Rgb {
    type Err = BadColor;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Rgb::from_hex(s)
    }
}

/// A string that is not a `#rrggbb` colour.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} is not a #rrggbb colour", quoted(.input))]
pub struct BadColor {
    /// The rejected input.
    pub input: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rgb(s: &str) -> Rgb {
        s.parse().unwrap()
    }

    #[test]
    fn hex_parses_both_cases_and_displays_lowercase() {
        assert_eq!(rgb("#cc0000"), Rgb::new(0xcc, 0, 0));
        assert_eq!(rgb("#3465A4"), Rgb::new(0x34, 0x65, 0xa4));
        assert_eq!(rgb("#aBcDeF").to_string(), "#abcdef");
        assert_eq!(Rgb::new(1, 2, 3).to_string(), "#010203");
    }

    #[test]
    fn hex_is_strict() {
        for bad in [
            "",
            "#",
            "#12345",
            "#1234567",
            "123456",
            "#fff",
            "#gggggg",
            " #123456",
            "#123456 ",
            "#+12345",
            "#-12345",
            "#12 345",
            "red",
            "#１２３４５６",
            "#12345\u{e9}",
        ] {
            let err = bad.parse::<Rgb>().unwrap_err();
            assert_eq!(err.input, bad);
        }
        assert_eq!(
            "#12345".parse::<Rgb>().unwrap_err().to_string(),
            "\"#12345\" is not a #rrggbb colour"
        );
    }

    #[test]
    fn pixel_formats() {
        let c = Rgb::new(0x34, 0x65, 0xa4);
        assert_eq!(c.to_argb8888(), 0xff34_65a4);
        assert_eq!(c.to_argb8888_premultiplied(0), 0);
        assert_eq!(Rgb::WHITE.to_argb8888_premultiplied(0x80), 0x8080_8080);
        assert_eq!(
            Rgb::new(0xcc, 0, 0).to_argb8888_premultiplied(0x80),
            0x8066_0000
        );
        assert_eq!(Rgb::WHITE.to_rgba_f32(), [1.0; 4]);
        assert_eq!(Rgb::BLACK.to_rgba_f32(), [0.0, 0.0, 0.0, 1.0]);
        assert_eq!(
            Rgb::new(0x33, 0x66, 0x99).to_rgba_f32(),
            [0.2, 0.4, 0.6, 1.0]
        );
    }

    #[test]
    fn luminance_known_values() {
        assert_eq!(Rgb::BLACK.relative_luminance(), 0.0);
        assert!((Rgb::WHITE.relative_luminance() - 1.0).abs() < 1e-12);
        // #777777: ((0x77/255 + 0.055) / 1.055)^2.4 = 0.18447...
        assert!((rgb("#777777").relative_luminance() - 0.184_475).abs() < 1e-5);
        assert!((rgb("#ff0000").relative_luminance() - 0.2126).abs() < 1e-12);
        assert!((rgb("#00ff00").relative_luminance() - 0.7152).abs() < 1e-12);
        assert!((rgb("#0000ff").relative_luminance() - 0.0722).abs() < 1e-12);
    }

    #[test]
    fn contrast_known_values() {
        assert!((contrast_ratio(Rgb::WHITE, Rgb::BLACK) - 21.0).abs() < 1e-9);
        assert!((contrast_ratio(Rgb::BLACK, Rgb::WHITE) - 21.0).abs() < 1e-9);
        assert!((contrast_ratio(rgb("#777777"), Rgb::WHITE) - 4.48).abs() < 0.005);
        assert!((contrast_ratio(rgb("#767676"), Rgb::WHITE) - 4.54).abs() < 0.005);
        assert!((contrast_ratio(rgb("#ff0000"), Rgb::WHITE) - 4.0).abs() < 0.005);
        assert_eq!(contrast_ratio(rgb("#3465a4"), rgb("#3465a4")), 1.0);
    }

    #[test]
    fn text_color_picks_the_higher_contrast() {
        assert_eq!(Rgb::BLACK.text_color(), Rgb::WHITE);
        assert_eq!(Rgb::WHITE.text_color(), Rgb::BLACK);
        assert_eq!(rgb("#edd400").text_color(), Rgb::BLACK);
        assert_eq!(rgb("#3465a4").text_color(), Rgb::WHITE);
    }

    /// The claim in [`Rgb::text_color`]'s docs, checked for all 2^24 colours: black or white
    /// text always reaches at least √21 ≈ 4.58:1, hence [`MIN_TEXT_CONTRAST`].
    #[test]
    fn black_or_white_text_is_readable_on_every_colour() {
        let lin: Vec<f64> = (0..=255u8).map(linear).collect();
        let mut worst = f64::INFINITY;
        for r in 0..256 {
            for g in 0..256 {
                let rg = 0.2126 * lin[r] + 0.7152 * lin[g];
                for &b in &lin {
                    let l = rg + 0.0722 * b;
                    let best = (1.05 / (l + 0.05)).max((l + 0.05) / 0.05);
                    worst = worst.min(best);
                }
            }
        }
        assert!(worst >= 21f64.sqrt() - 1e-9, "worst case {worst}");
        // ... which is above MIN_TEXT_CONTRAST (4.5).
        assert!(worst > 4.58, "worst case {worst}");
    }
}
