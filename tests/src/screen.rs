//! The compositor's screenshots, decoded, and the pixel checks of dom0's trust frames.
//!
//! Frame sizes are the default theme's (border-theme: 3 px borders, 2 px on popups, a
//! 24 px title bar) and the label colours are written out here as the spec says them
//! (`#3465a4`, `#cc0000`), so a wrong theme default fails the tests too.

use std::collections::HashMap;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

pub use bulkhead_border_theme::Rgb;
use bulkhead_compositor::control::WindowInfo;
use bulkhead_compositor::desktop::Rect;

/// The blue label (`work`).
pub const BLUE: Rgb = Rgb::new(0x34, 0x65, 0xa4);
/// The red label (`untrusted`).
pub const RED: Rgb = Rgb::new(0xcc, 0x00, 0x00);
/// Border width around toplevels.
pub const BORDER: i32 = 3;
/// Border width around popups.
pub const POPUP_BORDER: i32 = 2;
/// Height of a toplevel's title bar.
pub const TITLE_HEIGHT: i32 = 24;

/// A decoded screenshot (opaque RGB).
#[derive(Debug, Clone)]
pub struct Screen {
    /// Where it was written.
    pub path: PathBuf,
    /// Width in pixels.
    pub width: i32,
    /// Height in pixels.
    pub height: i32,
    rgb: Vec<Rgb>,
}

impl Screen {
    /// Decodes an 8-bit RGB or RGBA PNG.
    pub fn load(path: &Path) -> Result<Screen, String> {
        let file = File::open(path).map_err(|e| e.to_string())?;
        let mut reader = png::Decoder::new(BufReader::new(file))
            .read_info()
            .map_err(|e| e.to_string())?;
        let mut buf = vec![0; reader.output_buffer_size().ok_or("image too large")?];
        let info = reader.next_frame(&mut buf).map_err(|e| e.to_string())?;
        if info.bit_depth != png::BitDepth::Eight {
            return Err(format!("unexpected bit depth {:?}", info.bit_depth));
        }
        let channels = match info.color_type {
            png::ColorType::Rgb => 3,
            png::ColorType::Rgba => 4,
            other => return Err(format!("unexpected colour type {other:?}")),
        };
        let rgb = buf[..info.buffer_size()]
            .chunks_exact(channels)
            .map(|p| Rgb::new(p[0], p[1], p[2]))
            .collect();
        Ok(Screen {
            path: path.to_path_buf(),
            width: i32::try_from(info.width).map_err(|e| e.to_string())?,
            height: i32::try_from(info.height).map_err(|e| e.to_string())?,
            rgb,
        })
    }

    /// The pixel at `(x, y)`, `None` off screen.
    pub fn pixel(&self, x: i32, y: i32) -> Option<Rgb> {
        if x < 0 || y < 0 || x >= self.width || y >= self.height {
            return None;
        }
        let i = usize::try_from(y * self.width + x).ok()?;
        self.rgb.get(i).copied()
    }

    /// How often each colour occurs in `rect` (clipped to the screen).
    pub fn histogram(&self, rect: Rect) -> HashMap<Rgb, usize> {
        let mut counts = HashMap::new();
        for (x, y) in points(rect) {
            if let Some(p) = self.pixel(x, y) {
                *counts.entry(p).or_insert(0) += 1;
            }
        }
        counts
    }
}

/// Every point of `rect`, row by row.
pub fn points(rect: Rect) -> impl Iterator<Item = (i32, i32)> {
    (rect.y..rect.y + rect.h).flat_map(move |y| (rect.x..rect.x + rect.w).map(move |x| (x, y)))
}

fn contains(r: &Rect, x: i32, y: i32) -> bool {
    x >= r.x && y >= r.y && x < r.x + r.w && y < r.y + r.h
}

/// Whether `(x, y)` lies under the frame of a visible window stacked above `window`
/// (`windows` is bottom to top, as list-windows gives it).
pub fn covered(windows: &[WindowInfo], window: &WindowInfo, x: i32, y: i32) -> bool {
    windows
        .iter()
        .skip_while(|w| w.id != window.id)
        .skip(1)
        .any(|w| w.visible && contains(&w.frame, x, y))
}

/// The window with `id`.
pub fn find(windows: &[WindowInfo], id: u64) -> Result<&WindowInfo, String> {
    windows
        .iter()
        .find(|w| w.id == id)
        .ok_or_else(|| format!("no window {id} in {windows:#?}"))
}

/// What [`check_frame`] looked at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameCheck {
    /// Border pixels compared (the ones not covered by a window above).
    pub border_pixels: usize,
    /// Title bar pixels in the label colour.
    pub title_label_pixels: usize,
    /// Title bar pixels of the title text (lighter than the label colour).
    pub title_text_pixels: usize,
}

/// Checks dom0's frame of window `id` in `screen` pixel by pixel:
/// - its frame rectangle is the content rectangle grown by the border (and, for
///   toplevels, the title bar) and nothing else;
/// - every uncovered pixel of the border ring is exactly `label`;
/// - a toplevel's title bar is the label colour with light title text on it;
/// - the pixels just outside the frame are not the label colour (the border ends there).
pub fn check_frame(
    screen: &Screen,
    windows: &[WindowInfo],
    id: u64,
    label: Rgb,
) -> Result<FrameCheck, String> {
    let w = find(windows, id)?;
    let (g, f) = (w.geometry, w.frame);
    let toplevel = w.kind == "toplevel";
    let b = if toplevel { BORDER } else { POPUP_BORDER };
    let top = if toplevel { b + TITLE_HEIGHT } else { b };
    // Toplevels narrower than the narrowest title bar get a filler on the right.
    let right_ok = if toplevel {
        f.x + f.w >= g.x + g.w + b
    } else {
        f.x + f.w == g.x + g.w + b
    };
    if f.x != g.x - b || f.y != g.y - top || f.y + f.h != g.y + g.h + b || !right_ok {
        return Err(format!(
            "window {id}: frame {f:?} is not content {g:?} plus the {} frame",
            w.kind
        ));
    }

    let mut check = FrameCheck {
        border_pixels: 0,
        title_label_pixels: 0,
        title_text_pixels: 0,
    };
    let mut wrong = Vec::new();
    let mut ring = 0;
    for (x, y) in points(f) {
        let in_ring = x < f.x + b || x >= f.x + f.w - b || y < f.y + b || y >= f.y + f.h - b;
        if !in_ring {
            continue;
        }
        ring += 1;
        if covered(windows, w, x, y) {
            continue;
        }
        let Some(p) = screen.pixel(x, y) else {
            continue;
        };
        check.border_pixels += 1;
        if p != label && wrong.len() < 8 {
            wrong.push((x, y, p));
        }
    }
    if !wrong.is_empty() {
        return Err(format!(
            "window {id}: border pixels not {label}: {wrong:?} (in {})",
            screen.path.display()
        ));
    }
    if check.border_pixels * 2 < ring {
        return Err(format!(
            "window {id}: only {} of {ring} border pixels are visible",
            check.border_pixels
        ));
    }

    if toplevel {
        let bar = Rect::new(f.x + b, f.y + b, f.w - 2 * b, TITLE_HEIGHT);
        let mut visible = 0;
        for (x, y) in points(bar) {
            if covered(windows, w, x, y) {
                continue;
            }
            let Some(p) = screen.pixel(x, y) else {
                continue;
            };
            visible += 1;
            if p == label {
                check.title_label_pixels += 1;
            } else if luma(p) > luma(label) + 60 {
                check.title_text_pixels += 1;
            }
        }
        if check.title_label_pixels * 2 < visible {
            return Err(format!(
                "window {id}: title bar {bar:?} is mostly not {label}: {check:?} of {visible}"
            ));
        }
        if visible * 2 > points(bar).count() && check.title_text_pixels < 30 {
            return Err(format!(
                "window {id}: no title text in the title bar {bar:?}: {check:?}"
            ));
        }
        // A filler beside narrow content is part of the frame as well.
        let filler = Rect::new(g.x + g.w, g.y, f.x + f.w - b - (g.x + g.w), g.h);
        for (x, y) in points(filler) {
            match screen.pixel(x, y) {
                Some(p) if p != label && !covered(windows, w, x, y) => {
                    return Err(format!("window {id}: filler pixel ({x}, {y}) is {p}"));
                }
                _ => {}
            }
        }
    }

    // Just outside the frame, where no other window is, the border colour must stop.
    let outside = Rect::new(f.x - 1, f.y - 1, f.w + 2, f.h + 2);
    for (x, y) in points(outside) {
        let on_edge = x == outside.x
            || y == outside.y
            || x == outside.x + outside.w - 1
            || y == outside.y + outside.h - 1;
        if !on_edge
            || windows
                .iter()
                .any(|o| o.visible && contains(&o.frame, x, y))
        {
            continue;
        }
        if screen.pixel(x, y) == Some(label) {
            return Err(format!(
                "window {id}: the label colour runs past the frame at ({x}, {y})"
            ));
        }
    }
    Ok(check)
}

/// The uncovered pixels of window `id`'s content, as (content-relative x, y, colour).
pub fn content_pixels(
    screen: &Screen,
    windows: &[WindowInfo],
    id: u64,
) -> Result<Vec<(i32, i32, Rgb)>, String> {
    let w = find(windows, id)?;
    let g = w.geometry;
    Ok(points(g)
        .filter(|&(x, y)| !covered(windows, w, x, y))
        .filter_map(|(x, y)| screen.pixel(x, y).map(|p| (x - g.x, y - g.y, p)))
        .collect())
}

/// The pixel at content-relative `(x, y)` of window `id`, `None` when covered or off
/// screen.
pub fn content_pixel(
    screen: &Screen,
    windows: &[WindowInfo],
    id: u64,
    (x, y): (i32, i32),
) -> Result<Option<Rgb>, String> {
    let w = find(windows, id)?;
    let (sx, sy) = (w.geometry.x + x, w.geometry.y + y);
    if covered(windows, w, sx, sy) {
        return Ok(None);
    }
    Ok(screen.pixel(sx, sy))
}

/// Rough brightness, 0..=255·3.
pub fn luma(p: Rgb) -> u32 {
    u32::from(p.r) + u32::from(p.g) + u32::from(p.b)
}
