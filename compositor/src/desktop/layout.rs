//! Layout math as pure functions: rectangles, the trust frame around a window, where new
//! toplevels go, and how popups and moved windows are kept on screen.
//!
//! Coordinates are output pixels (logical = physical for now), origin top-left, `x` right,
//! `y` down. A window's *content* rectangle is where the guest's pixels go; the frame (border
//! and, for toplevels, the title bar) lies entirely **outside** it.
//!
//! Every guest frame is kept inside an *area*: the output minus what dom0 reserves for
//! itself (the notice bar at the top, see [`crate::desktop::Desktop::usable_area`]).

use serde::{Deserialize, Serialize};

/// A point in output coordinates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Point {
    /// Horizontal, growing to the right.
    pub x: i32,
    /// Vertical, growing downwards.
    pub y: i32,
}

impl Point {
    /// A point from its coordinates.
    pub const fn new(x: i32, y: i32) -> Point {
        Point { x, y }
    }
}

/// A size in pixels; both sides are positive for anything drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Size {
    /// Width.
    pub w: i32,
    /// Height.
    pub h: i32,
}

impl Size {
    /// A size from its sides.
    pub const fn new(w: i32, h: i32) -> Size {
        Size { w, h }
    }
}

/// An axis-aligned rectangle; empty when either side is `<= 0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct Rect {
    /// Left edge.
    pub x: i32,
    /// Top edge.
    pub y: i32,
    /// Width.
    pub w: i32,
    /// Height.
    pub h: i32,
}

impl Rect {
    /// A rectangle from its top-left corner and size.
    pub const fn new(x: i32, y: i32, w: i32, h: i32) -> Rect {
        Rect { x, y, w, h }
    }

    /// A rectangle at `loc` of `size`.
    pub const fn from_parts(loc: Point, size: Size) -> Rect {
        Rect::new(loc.x, loc.y, size.w, size.h)
    }

    /// The top-left corner.
    pub const fn loc(&self) -> Point {
        Point::new(self.x, self.y)
    }

    /// The size.
    pub const fn size(&self) -> Size {
        Size::new(self.w, self.h)
    }

    /// One past the right edge (in `i64`, so no sum can overflow).
    pub fn right(&self) -> i64 {
        i64::from(self.x) + i64::from(self.w)
    }

    /// One past the bottom edge.
    pub fn bottom(&self) -> i64 {
        i64::from(self.y) + i64::from(self.h)
    }

    /// Whether the rectangle covers no pixel.
    pub const fn is_empty(&self) -> bool {
        self.w <= 0 || self.h <= 0
    }

    /// Whether `p` is inside.
    pub fn contains(&self, p: Point) -> bool {
        !self.is_empty()
            && p.x >= self.x
            && p.y >= self.y
            && i64::from(p.x) < self.right()
            && i64::from(p.y) < self.bottom()
    }

    /// Whether `other` lies entirely inside `self` (an empty `other` always does).
    pub fn contains_rect(&self, other: &Rect) -> bool {
        other.is_empty()
            || (other.x >= self.x
                && other.y >= self.y
                && other.right() <= self.right()
                && other.bottom() <= self.bottom())
    }

    /// Whether the two share at least one pixel.
    pub fn overlaps(&self, other: &Rect) -> bool {
        !self.is_empty()
            && !other.is_empty()
            && i64::from(self.x) < other.right()
            && i64::from(other.x) < self.right()
            && i64::from(self.y) < other.bottom()
            && i64::from(other.y) < self.bottom()
    }
}

/// Sizes of the trust frame, from the theme (all in pixels, all `>= 1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameStyle {
    /// Border width around toplevels.
    pub border: i32,
    /// Border width around popups.
    pub popup_border: i32,
    /// Height of a toplevel's title bar.
    pub title_height: i32,
    /// Narrowest title bar: a toplevel narrower than this gets a filler in the label colour
    /// beside its content, so the `[qube]` name always has room.
    pub min_title_width: i32,
    /// Height of the label strip with `[qube] title` above a fullscreen window (its other
    /// sides get the popup border).
    pub fullscreen_strip: i32,
}

/// Default [`FrameStyle::min_title_width`]: about 25 characters of title text.
pub const MIN_TITLE_WIDTH: i32 = 200;
/// Default [`FrameStyle::fullscreen_strip`]: room for the qube name in small type.
pub const FULLSCREEN_STRIP: i32 = 16;

impl FrameStyle {
    /// The sizes of `theme`.
    pub fn from_theme(theme: &bulkhead_border_theme::Theme) -> FrameStyle {
        // The theme keeps these within small ranges (at most 96 px).
        let px = |v: u32| i32::try_from(v).unwrap_or(i32::MAX).max(1);
        FrameStyle {
            border: px(theme.border_width()),
            popup_border: px(theme.popup_border_width()),
            title_height: px(theme.title_height()),
            min_title_width: MIN_TITLE_WIDTH,
            fullscreen_strip: FULLSCREEN_STRIP,
        }
    }

    /// Width of the filler beside a toplevel's content `content_w` pixels wide.
    pub fn filler_width(&self, kind: FrameKind, content_w: i32) -> i32 {
        match kind {
            FrameKind::Toplevel => self.min_title_width.saturating_sub(content_w).max(0),
            FrameKind::Popup | FrameKind::Fullscreen => 0,
        }
    }

    /// Extra pixels the frame adds around content `content_w` pixels wide: (left, top,
    /// right, bottom); the right side includes the filler of narrow toplevels.
    pub fn insets(&self, kind: FrameKind, content_w: i32) -> Insets {
        match kind {
            FrameKind::Toplevel => Insets {
                left: self.border,
                top: self.border + self.title_height,
                right: self.border + self.filler_width(kind, content_w),
                bottom: self.border,
            },
            FrameKind::Popup => Insets {
                left: self.popup_border,
                top: self.popup_border,
                right: self.popup_border,
                bottom: self.popup_border,
            },
            FrameKind::Fullscreen => Insets {
                left: self.popup_border,
                top: self.popup_border + self.fullscreen_strip,
                right: self.popup_border,
                bottom: self.popup_border,
            },
        }
    }

    /// The border width and title bar height of a frame kind (none for popups).
    pub const fn border_and_bar(&self, kind: FrameKind) -> (i32, Option<i32>) {
        match kind {
            FrameKind::Toplevel => (self.border, Some(self.title_height)),
            FrameKind::Popup => (self.popup_border, None),
            FrameKind::Fullscreen => (self.popup_border, Some(self.fullscreen_strip)),
        }
    }
}

impl Default for FrameStyle {
    fn default() -> FrameStyle {
        FrameStyle::from_theme(&bulkhead_border_theme::Theme::default())
    }
}

/// Which frame dom0 draws around a window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FrameKind {
    /// Border and title bar (normal and maximized toplevels).
    Toplevel,
    /// Border only (thinner).
    Popup,
    /// A fullscreen toplevel the qube's policy allows: the thin popup border and a slim
    /// label strip with `[qube] title` on top, never covered by the guest.
    Fullscreen,
}

impl FrameKind {
    /// Whether the frame has a title bar (strip) with the qube name.
    pub const fn has_title_bar(self) -> bool {
        !matches!(self, FrameKind::Popup)
    }
}

/// How far a frame reaches beyond the content on each side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Insets {
    /// Left.
    pub left: i32,
    /// Top (border plus title bar for toplevels).
    pub top: i32,
    /// Right.
    pub right: i32,
    /// Bottom.
    pub bottom: i32,
}

impl Insets {
    /// Horizontal total.
    pub const fn horizontal(&self) -> i32 {
        self.left + self.right
    }

    /// Vertical total.
    pub const fn vertical(&self) -> i32 {
        self.top + self.bottom
    }
}

/// Where everything of one window is drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameGeometry {
    /// The whole window: frame plus content.
    pub outer: Rect,
    /// Top, bottom, left, right border strips (in the label colour).
    pub borders: [Rect; 4],
    /// The title bar, for toplevels: between the top border and the content.
    pub title_bar: Option<Rect>,
    /// Beside the content of a toplevel narrower than the narrowest title bar.
    pub filler: Option<Rect>,
    /// The guest's pixels.
    pub content: Rect,
}

impl FrameGeometry {
    /// Every rectangle dom0 paints in the label colour.
    pub fn decorations(&self) -> impl Iterator<Item = Rect> + '_ {
        self.borders
            .iter()
            .copied()
            .chain(self.title_bar)
            .chain(self.filler)
    }
}

/// The frame around `content`: borders and title bar all outside the content.
///
/// ```text
/// ┌──────────── top border ────────────┐
/// │┌─────────── title bar ────────────┐│
/// ││ [qube] title                     ││
/// │├──────────────────────────────────┤│
/// ││            content               ││
/// │└──────────────────────────────────┘│
/// └─────────── bottom border ──────────┘
/// ```
pub fn frame_geometry(content: Rect, kind: FrameKind, style: &FrameStyle) -> FrameGeometry {
    let i = style.insets(kind, content.w);
    let filler_w = style.filler_width(kind, content.w);
    let inner_w = content.w.saturating_add(filler_w);
    let outer = Rect::new(
        content.x.saturating_sub(i.left),
        content.y.saturating_sub(i.top),
        content.w.saturating_add(i.horizontal()),
        content.h.saturating_add(i.vertical()),
    );
    let (top_border, bar_height) = style.border_and_bar(kind);
    let title_bar =
        bar_height.map(|h| Rect::new(content.x, outer.y.saturating_add(top_border), inner_w, h));
    let content_right = content.x.saturating_add(content.w);
    let filler = (filler_w > 0).then(|| Rect::new(content_right, content.y, filler_w, content.h));
    // Left and right strips run from below the top border to above the bottom border, beside
    // the title bar and the content (and filler).
    let side_top = outer.y + top_border;
    let side_h = content.h.saturating_add(i.top - top_border);
    let side_w = i.left;
    let borders = [
        Rect::new(outer.x, outer.y, outer.w, top_border),
        Rect::new(
            outer.x,
            content.y.saturating_add(content.h),
            outer.w,
            i.bottom,
        ),
        Rect::new(outer.x, side_top, side_w, side_h),
        Rect::new(content.x.saturating_add(inner_w), side_top, side_w, side_h),
    ];
    FrameGeometry {
        outer,
        borders,
        title_bar,
        filler,
        content,
    }
}

/// The largest content size whose frame fits in an area of `output` pixels.
pub fn max_content_size(output: Size, kind: FrameKind, style: &FrameStyle) -> Size {
    // Without filler: a window this wide is wider than the narrowest title bar as long as
    // the output is at least `MIN_OUTPUT_SIDE` wide.
    let i = style.insets(kind, i32::MAX);
    Size::new(
        (output.w - i.horizontal()).max(1),
        (output.h - i.vertical()).max(1),
    )
}

/// `size` cut to what fits in an area of `output` pixels with its frame (and at least 1×1).
pub fn clamp_content_size(size: Size, output: Size, kind: FrameKind, style: &FrameStyle) -> Size {
    let max = max_content_size(output, kind, style);
    Size::new(size.w.clamp(1, max.w), size.h.clamp(1, max.h))
}

/// The content origin closest to `wanted` such that the whole frame is inside `area`.
///
/// `size` must already fit ([`clamp_content_size`]); if it does not, the frame's top-left
/// corner wins (the title bar and qube name stay visible).
pub fn clamp_content_origin(
    wanted: Point,
    size: Size,
    area: Rect,
    kind: FrameKind,
    style: &FrameStyle,
) -> Point {
    let i = style.insets(kind, size.w);
    let clamp_axis = |want: i32, len: i32, before: i32, after: i32, start: i32, out: i32| {
        let min = start.saturating_add(before);
        let max = start
            .saturating_add(out)
            .saturating_sub(after)
            .saturating_sub(len)
            .max(min);
        want.clamp(min, max)
    };
    Point::new(
        clamp_axis(wanted.x, size.w, i.left, i.right, area.x, area.w),
        clamp_axis(wanted.y, size.h, i.top, i.bottom, area.y, area.h),
    )
}

/// The content rectangle of a window filling `area` with a frame of `kind` (maximized or
/// fullscreen).
pub fn fill_area(area: Rect, kind: FrameKind, style: &FrameStyle) -> Rect {
    let size = max_content_size(area.size(), kind, style);
    let origin = clamp_content_origin(area.loc(), size, area, kind, style);
    Rect::from_parts(origin, size)
}

/// Distance between successive cascaded toplevels.
pub const CASCADE_STEP: i32 = 32;
/// Where the cascade starts (the frame's top-left corner).
pub const CASCADE_START: Point = Point::new(48, 48);

/// The content origin of the `n`th new toplevel: a diagonal cascade from [`CASCADE_START`]
/// (relative to `area`'s corner) that restarts at the top-left whenever the next step would
/// leave the area, so that the whole frame is always inside it.
pub fn cascade_origin(n: u32, size: Size, area: Rect, style: &FrameStyle) -> Point {
    let i = style.insets(FrameKind::Toplevel, size.w);
    let outer = Size::new(size.w + i.horizontal(), size.h + i.vertical());
    let room_x = i64::from(area.w) - i64::from(outer.w) - i64::from(CASCADE_START.x);
    let room_y = i64::from(area.h) - i64::from(outer.h) - i64::from(CASCADE_START.y);
    let steps = room_x.min(room_y) / i64::from(CASCADE_STEP) + 1;
    let k = if steps <= 0 { 0 } else { i64::from(n) % steps };
    let offset = i32::try_from(k * i64::from(CASCADE_STEP)).unwrap_or(0);
    let wanted = Point::new(
        area.x + CASCADE_START.x + offset + i.left,
        area.y + CASCADE_START.y + offset + i.top,
    );
    clamp_content_origin(wanted, size, area, FrameKind::Toplevel, style)
}

/// Space left between a placed window's frame and its neighbours'.
pub const PLACEMENT_GAP: i32 = 8;
/// At most this many frames (the topmost) are avoided when placing a window: the search is
/// quadratic in them, and a qube must not make dom0 slow by opening windows.
pub const PLACEMENT_MAX_FRAMES: usize = 32;

/// The content origin of a new toplevel of `size` in `area`, where `taken` are the outer
/// frames of the windows already there (bottom to top): the highest, then leftmost, spot
/// whose frame overlaps none of them — trying the cascade's start and the places beside,
/// below, left of and above each frame, aligned with its edges — else the `n`th step of
/// the cascade (a full desktop stays predictable).
pub fn place_toplevel(n: u32, size: Size, area: Rect, taken: &[Rect], style: &FrameStyle) -> Point {
    let i = style.insets(FrameKind::Toplevel, size.w);
    let outer = Size::new(
        size.w.saturating_add(i.horizontal()),
        size.h.saturating_add(i.vertical()),
    );
    let taken = &taken[taken.len().saturating_sub(PLACEMENT_MAX_FRAMES)..];
    let fit = |v: i64| i32::try_from(v).ok();
    let mut xs = vec![area.x.saturating_add(CASCADE_START.x)];
    let mut ys = vec![area.y.saturating_add(CASCADE_START.y)];
    for r in taken {
        let gap = i64::from(PLACEMENT_GAP);
        xs.extend(
            [
                Some(r.x),
                fit(r.right() + gap),
                fit(i64::from(r.x) - gap - i64::from(outer.w)),
            ]
            .into_iter()
            .flatten(),
        );
        ys.extend(
            [
                Some(r.y),
                fit(r.bottom() + gap),
                fit(i64::from(r.y) - gap - i64::from(outer.h)),
            ]
            .into_iter()
            .flatten(),
        );
    }
    xs.sort_unstable();
    xs.dedup();
    ys.sort_unstable();
    ys.dedup();
    for &y in &ys {
        for &x in &xs {
            let frame = Rect::from_parts(Point::new(x, y), outer);
            if area.contains_rect(&frame) && !taken.iter().any(|t| t.overlaps(&frame)) {
                let content = Point::new(x.saturating_add(i.left), y.saturating_add(i.top));
                return clamp_content_origin(content, size, area, FrameKind::Toplevel, style);
            }
        }
    }
    cascade_origin(n, size, area, style)
}

#[cfg(test)]
mod tests {
    use super::*;

    const STYLE: FrameStyle = FrameStyle {
        border: 3,
        popup_border: 2,
        title_height: 24,
        min_title_width: 200,
        fullscreen_strip: 16,
    };

    #[test]
    fn toplevel_frame_is_outside_the_content() {
        let content = Rect::new(100, 200, 640, 480);
        let g = frame_geometry(content, FrameKind::Toplevel, &STYLE);
        assert_eq!(g.outer, Rect::new(97, 173, 646, 510));
        assert_eq!(g.title_bar, Some(Rect::new(100, 176, 640, 24)));
        assert_eq!(g.borders[0], Rect::new(97, 173, 646, 3));
        assert_eq!(g.borders[1], Rect::new(97, 680, 646, 3));
        assert_eq!(g.borders[2], Rect::new(97, 176, 3, 504));
        assert_eq!(g.borders[3], Rect::new(740, 176, 3, 504));
        for d in g.decorations() {
            assert!(!d.overlaps(&content), "{d:?}");
            assert!(g.outer.contains_rect(&d));
        }
        // The decorations and the content tile the outer rectangle exactly.
        let area = |r: Rect| i64::from(r.w) * i64::from(r.h);
        let sum: i64 = g.decorations().map(area).sum::<i64>() + area(content);
        assert_eq!(sum, area(g.outer));
    }

    #[test]
    fn narrow_toplevels_get_a_filler_so_the_title_has_room() {
        let content = Rect::new(100, 100, 20, 50);
        let g = frame_geometry(content, FrameKind::Toplevel, &STYLE);
        assert_eq!(g.title_bar, Some(Rect::new(100, 76, 200, 24)));
        assert_eq!(g.filler, Some(Rect::new(120, 100, 180, 50)));
        assert_eq!(g.outer, Rect::new(97, 73, 206, 80));
        assert_eq!(g.borders[3], Rect::new(300, 76, 3, 74));
        let area = |r: Rect| i64::from(r.w) * i64::from(r.h);
        let sum: i64 = g.decorations().map(area).sum::<i64>() + area(content);
        assert_eq!(sum, area(g.outer));
        for d in g.decorations() {
            assert!(!d.overlaps(&content) && g.outer.contains_rect(&d), "{d:?}");
        }
        // Wide enough: no filler.
        let wide = frame_geometry(Rect::new(0, 30, 200, 10), FrameKind::Toplevel, &STYLE);
        assert_eq!(wide.filler, None);
        // The cascade and clamping account for the filler.
        let out = Size::new(320, 320);
        let p = clamp_content_origin(
            Point::new(5000, 5000),
            Size::new(1, 1),
            Rect::from_parts(Point::default(), out),
            FrameKind::Toplevel,
            &STYLE,
        );
        let g = frame_geometry(
            Rect::from_parts(p, Size::new(1, 1)),
            FrameKind::Toplevel,
            &STYLE,
        );
        assert_eq!((g.outer.right(), g.outer.bottom()), (320, 320));
    }

    #[test]
    fn popup_frame_has_no_title_bar() {
        let g = frame_geometry(Rect::new(10, 10, 5, 5), FrameKind::Popup, &STYLE);
        assert_eq!(g.title_bar, None);
        assert_eq!(g.outer, Rect::new(8, 8, 9, 9));
        assert_eq!(g.borders[2], Rect::new(8, 10, 2, 5));
    }

    #[test]
    fn cascade_stays_on_screen_and_wraps() {
        let out = Rect::new(0, 0, 1280, 800);
        let size = Size::new(400, 300);
        let first = cascade_origin(0, size, out, &STYLE);
        assert_eq!(first, Point::new(48 + 3, 48 + 27));
        assert_eq!(cascade_origin(1, size, out, &STYLE), Point::new(83, 107));
        for n in 0..100 {
            let p = cascade_origin(n, size, out, &STYLE);
            let g = frame_geometry(Rect::from_parts(p, size), FrameKind::Toplevel, &STYLE);
            assert!(Rect::new(0, 0, 1280, 800).contains_rect(&g.outer), "n={n}");
        }
        // A window as large as the screen still lands fully on it.
        let big = max_content_size(out.size(), FrameKind::Toplevel, &STYLE);
        let p = cascade_origin(7, big, out, &STYLE);
        let g = frame_geometry(Rect::from_parts(p, big), FrameKind::Toplevel, &STYLE);
        assert_eq!(g.outer, Rect::new(0, 0, 1280, 800));
    }

    #[test]
    fn new_windows_go_where_they_cover_nothing() {
        let area = Rect::new(0, 28, 1280, 772);
        let size = Size::new(400, 300);
        let frame =
            |p: Point| frame_geometry(Rect::from_parts(p, size), FrameKind::Toplevel, &STYLE).outer;
        let mut taken = Vec::new();
        // The first where the cascade starts; then side by side, tops aligned; then a
        // second row below; every frame inside the area, none overlapping another.
        let first = place_toplevel(0, size, area, &taken, &STYLE);
        assert_eq!(first, cascade_origin(0, size, area, &STYLE));
        taken.push(frame(first));
        let second = place_toplevel(1, size, area, &taken, &STYLE);
        assert_eq!(frame(second).y, frame(first).y);
        assert_eq!(i64::from(frame(second).x), frame(first).right() + 8);
        taken.push(frame(second));
        for n in 2..4 {
            let p = place_toplevel(n, size, area, &taken, &STYLE);
            let f = frame(p);
            assert!(area.contains_rect(&f), "{n}: {f:?}");
            assert!(
                !taken.iter().any(|t| t.overlaps(&f)),
                "{n}: {f:?} over {taken:?}"
            );
            taken.push(f);
        }
        // Two rows of two: the second row starts below the first, at the left.
        assert_eq!(taken[2].x, taken[0].x);
        assert_eq!(i64::from(taken[2].y), taken[0].bottom() + 8);
        // No free spot left: the cascade, still inside the area.
        let p = place_toplevel(4, size, area, &taken, &STYLE);
        assert_eq!(p, cascade_origin(4, size, area, &STYLE));
        let big = Size::new(900, 600);
        let p = place_toplevel(3, big, area, &taken[..1], &STYLE);
        assert_eq!(p, cascade_origin(3, big, area, &STYLE));
        // Frames far outside i32 arithmetic do not break it.
        let odd = [
            Rect::new(i32::MAX - 10, i32::MAX - 10, 5, 5),
            Rect::new(i32::MIN, 0, 1, 1),
        ];
        let p = place_toplevel(0, size, area, &odd, &STYLE);
        assert!(area.contains_rect(&frame(p)));
    }

    #[test]
    fn clamping_keeps_the_frame_on_screen() {
        let out = Rect::new(0, 28, 800, 572);
        let size = Size::new(100, 100);
        for wanted in [
            Point::new(-500, -500),
            Point::new(5000, 5000),
            Point::new(i32::MIN, i32::MAX),
        ] {
            let p = clamp_content_origin(wanted, size, out, FrameKind::Popup, &STYLE);
            let g = frame_geometry(Rect::from_parts(p, size), FrameKind::Popup, &STYLE);
            assert!(out.contains_rect(&g.outer), "{wanted:?}");
        }
        assert_eq!(
            clamp_content_size(Size::new(5000, 0), out.size(), FrameKind::Toplevel, &STYLE),
            Size::new(794, 1)
        );
    }

    #[test]
    fn fullscreen_frame_is_a_thin_border_and_a_label_strip() {
        let area = Rect::new(0, 28, 800, 572);
        let c = fill_area(area, FrameKind::Fullscreen, &STYLE);
        assert_eq!(c, Rect::new(2, 28 + 18, 796, 572 - 20));
        let g = frame_geometry(c, FrameKind::Fullscreen, &STYLE);
        assert_eq!(g.outer, area);
        assert_eq!(g.title_bar, Some(Rect::new(2, 30, 796, 16)));
        assert_eq!(g.filler, None);
        let area_px = |r: Rect| i64::from(r.w) * i64::from(r.h);
        let sum: i64 = g.decorations().map(area_px).sum::<i64>() + area_px(c);
        assert_eq!(sum, area_px(g.outer));
        let m = fill_area(area, FrameKind::Toplevel, &STYLE);
        assert_eq!(
            frame_geometry(m, FrameKind::Toplevel, &STYLE).outer,
            area,
            "maximized fills the area with the normal frame"
        );
    }
}
