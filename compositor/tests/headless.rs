//! Headless, in-process: two qubes' windows with known pixels are rendered with the pixman
//! renderer, and the output is checked pixel by pixel (content, borders, title bars).

use std::path::PathBuf;

use bulkhead_border_theme::{Label, QubeName, Rgb, Theme};
use bulkhead_compositor::backend::{Headless, Screenshot};
use bulkhead_compositor::desktop::{Desktop, FrameStyle, Point, QubeId, Rect, Size, WindowId};
use bulkhead_compositor::render::content::{PixelFormat, PixelsRef, WindowContent};
use bulkhead_compositor::render::text::TitleFont;
use bulkhead_compositor::render::{BACKGROUND, Scene, UNDERLAY};

/// Where screenshots are kept for people to look at.
fn artifacts() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("target dir")
        .join("test-artifacts");
    std::fs::create_dir_all(&dir).expect("create test-artifacts");
    dir
}

/// The known test pattern of a qube: red = x, green = y, blue = `tag`, opaque.
fn pattern(x: i32, y: i32, tag: u8) -> Rgb {
    Rgb::new((x & 0xff) as u8, (y & 0xff) as u8, tag)
}

fn pattern_pixels(size: Size, tag: u8, alpha: u8) -> Vec<u8> {
    let mut px = Vec::new();
    for y in 0..size.h {
        for x in 0..size.w {
            let c = pattern(x, y, tag);
            px.extend_from_slice(&c.to_argb8888_premultiplied(alpha).to_le_bytes());
        }
    }
    px
}

struct Fixture {
    desktop: Desktop,
    scene: Scene,
    theme: Theme,
    headless: Headless,
}

impl Fixture {
    fn new(host_agents: bool) -> Fixture {
        let theme = Theme::default();
        let size = Size::new(1280, 800);
        let font = TitleFont::load_default().expect("fonts-dejavu-core must be installed");
        Fixture {
            desktop: Desktop::new(size, FrameStyle::from_theme(&theme)),
            scene: Scene::new(font, host_agents),
            theme,
            headless: Headless::new(size).expect("headless backend"),
        }
    }

    fn qube(&mut self, name: &str, label: Label) -> QubeId {
        self.desktop
            .add_qube(QubeName::new(name).unwrap(), label)
            .unwrap()
    }

    /// A mapped toplevel showing the qube's pattern.
    fn window(&mut self, qube: QubeId, size: Size, title: &str, tag: u8) -> WindowId {
        let id = self.desktop.create_toplevel(qube, size).unwrap();
        self.desktop.set_title(qube, id, title).unwrap();
        self.desktop.set_mapped(qube, id, true).unwrap();
        let pixels = pattern_pixels(size, tag, 0xff);
        let content = WindowContent::new(PixelsRef {
            data: &pixels,
            size,
            stride: size.w as usize * 4,
            format: PixelFormat::Argb8888,
        })
        .unwrap();
        self.scene.set_content(id, content);
        id
    }

    fn shot(&mut self) -> Screenshot {
        self.headless
            .screenshot(&mut self.scene, &self.desktop, &self.theme)
            .expect("screenshot")
    }
}

fn rect_pixels(r: Rect) -> impl Iterator<Item = (i32, i32)> {
    (r.y..r.y + r.h).flat_map(move |y| (r.x..r.x + r.w).map(move |x| (x, y)))
}

fn assert_all(shot: &Screenshot, r: Rect, what: &str, want: impl Fn(i32, i32) -> Rgb) {
    for (x, y) in rect_pixels(r) {
        let got = shot.rgb(x, y).expect("inside the output");
        assert_eq!(got, want(x, y), "{what}: pixel ({x}, {y})");
    }
}

/// Checks one window: content shows the pattern, borders are exactly the label colour, the
/// title bar is the label colour with some text-coloured pixels and nothing else.
fn check_window(f: &Fixture, shot: &Screenshot, id: WindowId, tag: u8) {
    let geo = f.desktop.frame(id).unwrap();
    let label = f.desktop.label_of(id).unwrap();
    let (bar, text) = (f.theme.color(label), f.theme.text_color(label));
    let c = geo.content;
    assert_all(shot, c, "content", |x, y| pattern(x - c.x, y - c.y, tag));
    for b in geo.borders {
        assert_all(shot, b, "border", |_, _| bar);
    }
    let title = geo.title_bar.expect("toplevel has a title bar");
    let mut text_pixels = 0;
    for (x, y) in rect_pixels(title) {
        let p = shot.rgb(x, y).unwrap();
        let dist = |a: Rgb, b: Rgb| {
            (i32::from(a.r) - i32::from(b.r)).abs()
                + (i32::from(a.g) - i32::from(b.g)).abs()
                + (i32::from(a.b) - i32::from(b.b)).abs()
        };
        if dist(p, text) < dist(p, bar) / 3 {
            text_pixels += 1;
        }
        // Anti-aliased text blends bar and text colours, channel by channel.
        let between = |a: u8, b: u8, v: u8| a.min(b) <= v && v <= a.max(b);
        assert!(
            between(bar.r, text.r, p.r)
                && between(bar.g, text.g, p.g)
                && between(bar.b, text.b, p.b),
            "title bar pixel ({x}, {y}) = {p} is neither {bar} nor {text} nor a blend"
        );
    }
    assert!(
        text_pixels > 30,
        "title bar has only {text_pixels} (nearly) text-coloured pixels"
    );
    // The right end of the bar (past the text) is plain label colour.
    let tail = Rect::new(title.x + title.w - 20, title.y, 20, title.h);
    assert_all(shot, tail, "title bar end", |_, _| bar);
}

#[test]
fn two_qubes_render_with_their_borders_and_content() {
    let mut f = Fixture::new(false);
    let work = f.qube("work", Label::Blue);
    let bad = f.qube("untrusted", Label::Red);
    let a = f.window(work, Size::new(420, 260), "Mail — Inbox", 0x40);
    let b = f.window(bad, Size::new(380, 300), "Downloads", 0xc0);
    // The user drags the untrusted window to the right so both are fully visible.
    let start = f.desktop.content_rect(b).unwrap().loc();
    f.desktop.begin_move(start).unwrap();
    f.desktop
        .update_move(Point::new(start.x + 600, start.y + 250));
    f.desktop.end_move();
    f.desktop.verify_invariants().unwrap();

    let shot = f.shot();
    let path = artifacts().join("headless-two-qubes.png");
    shot.write_png(&path).unwrap();

    check_window(&f, &shot, a, 0x40);
    check_window(&f, &shot, b, 0xc0);
    assert_eq!(
        f.theme.color(Label::Blue),
        f.theme.color(f.desktop.label_of(a).unwrap())
    );
    assert_ne!(f.theme.color(Label::Blue), f.theme.color(Label::Red));
    assert_eq!(shot.rgb(2, 2), Some(BACKGROUND));
    assert_eq!(shot.rgb(1279, 799), Some(BACKGROUND));
}

#[test]
fn overlapping_windows_never_cover_a_higher_frame_and_translucency_shows_nothing_below() {
    let mut f = Fixture::new(true);
    let work = f.qube("work", Label::Blue);
    let bad = f.qube("untrusted", Label::Red);
    let a = f.window(work, Size::new(500, 400), "Secret", 0x40);
    let b = f.window(bad, Size::new(500, 400), "Evil", 0xc0);
    // The untrusted window is fully transparent: its area must show its underlay, not
    // the work window beneath it.
    let size = Size::new(500, 400);
    let clear = pattern_pixels(size, 0xc0, 0);
    let content = WindowContent::new(PixelsRef {
        data: &clear,
        size,
        stride: 2000,
        format: PixelFormat::Argb8888,
    })
    .unwrap();
    f.scene.set_content(b, content);
    // The user clicks the work window: it is raised above the untrusted one.
    let a_title = f.desktop.frame(a).unwrap().title_bar.unwrap();
    f.desktop.click(a_title.loc());
    assert_eq!(f.desktop.focused(), Some(a));
    let shot = f.shot();
    shot.write_png(&artifacts().join("headless-overlap.png"))
        .unwrap();
    check_window(&f, &shot, a, 0x40);
    // Where b is not covered by a, b's content is the opaque underlay.
    let bc = f.desktop.content_rect(b).unwrap();
    let a_outer = f.desktop.frame(a).unwrap().outer;
    for (x, y) in rect_pixels(bc) {
        if !a_outer.contains(Point::new(x, y)) {
            assert_eq!(shot.rgb(x, y), Some(UNDERLAY), "({x}, {y})");
        }
    }
    // b's visible border pixels are red.
    let red = f.theme.color(Label::Red);
    let b_bottom = f.desktop.frame(b).unwrap().borders[1];
    let (x, y) = (b_bottom.x + b_bottom.w - 1, b_bottom.y);
    assert_eq!(shot.rgb(x, y), Some(red));
}

#[test]
fn unchanged_frames_damage_nothing_and_title_changes_damage_the_bar() {
    let mut f = Fixture::new(false);
    let work = f.qube("work", Label::Green);
    let a = f.window(work, Size::new(300, 200), "one", 0x10);
    let first = f
        .headless
        .render(&mut f.scene, &f.desktop, &f.theme)
        .unwrap();
    assert!(first > 0);
    let again = f
        .headless
        .render(&mut f.scene, &f.desktop, &f.theme)
        .unwrap();
    assert_eq!(again, 0, "nothing changed, nothing redrawn");
    f.desktop.set_title(work, a, "two").unwrap();
    let after = f
        .headless
        .render(&mut f.scene, &f.desktop, &f.theme)
        .unwrap();
    assert!(after > 0, "a new title is redrawn");
    // Damage to the content: only the damaged rectangle is copied.
    let size = Size::new(300, 200);
    let new = pattern_pixels(size, 0x99, 0xff);
    let px = PixelsRef {
        data: &new,
        size,
        stride: 1200,
        format: PixelFormat::Argb8888,
    };
    f.scene
        .content_mut(a)
        .unwrap()
        .update(px, &[Rect::new(10, 10, 20, 20)])
        .unwrap();
    let shot = f.shot();
    let c = f.desktop.content_rect(a).unwrap();
    assert_eq!(shot.rgb(c.x + 15, c.y + 15), Some(pattern(15, 15, 0x99)));
    assert_eq!(shot.rgb(c.x + 40, c.y + 40), Some(pattern(40, 40, 0x10)));
}

#[test]
fn host_agents_mode_says_so_in_every_title_bar() {
    let q = QubeName::new("work").unwrap();
    let text = bulkhead_compositor::render::title_text(&q, "Mail", true);
    assert!(
        text.starts_with("[work] — not isolated (host process)"),
        "{text}"
    );
}
