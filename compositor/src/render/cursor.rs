//! dom0's pointer on a DRM output (nobody else draws one there): a plain arrow of solid
//! rows, black with a white inside, always in front of everything.

use smithay::backend::renderer::element::solid::SolidColorBuffer;
use smithay::backend::renderer::{ImportMem, Renderer};

use super::{FrameElement, color32, solid};
use crate::desktop::{Point, Rect};
use bulkhead_border_theme::Rgb;

/// Rows of the arrow.
const ROWS: i32 = 16;

/// The arrow's buffers (kept, so the damage tracker sees the same elements move).
#[derive(Debug)]
pub struct Cursor {
    outline: Vec<SolidColorBuffer>,
    fill: Vec<SolidColorBuffer>,
}

/// Width of row `r` of the arrow's outline: a right triangle, cut at the bottom.
fn row_width(r: i32) -> i32 {
    if r < 12 { r + 1 } else { 15 - r }
}

impl Default for Cursor {
    fn default() -> Cursor {
        let black = color32(Rgb::new(0, 0, 0));
        let white = color32(Rgb::new(0xff, 0xff, 0xff));
        let outline = (0..ROWS)
            .map(|r| SolidColorBuffer::new((row_width(r).max(1), 1), black))
            .collect();
        let fill = (0..ROWS)
            .map(|r| SolidColorBuffer::new(((row_width(r) - 2).max(1), 1), white))
            .collect();
        Cursor { outline, fill }
    }
}

impl Cursor {
    /// The arrow with its tip at `at`, front first.
    pub fn elements<R: Renderer + ImportMem>(&self, at: Point) -> Vec<FrameElement<R>> {
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
