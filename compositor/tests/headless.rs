//! Headless, in-process: two qubes' windows with known pixels are rendered with the pixman
//! renderer, and the output is checked pixel by pixel (content, borders, title bars).

mod common;

use bulkhead_border_theme::{Label, QubeName, Rgb};
use bulkhead_compositor::desktop::{Point, Rect, Size};
use bulkhead_compositor::render::content::{PixelFormat, PixelsRef, WindowContent};
use bulkhead_compositor::render::{BACKGROUND, UNDERLAY};
use common::{Fixture, artifacts, check_window, pattern, pattern_pixels, rect_pixels};

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

    // A tiny window still gets a title bar wide enough for its qube's name.
    let personal = f.qube("personal", Label::Green);
    let tiny = f.window(personal, Size::new(24, 16), "", 0x80);
    let at = f.desktop.content_rect(tiny).unwrap().loc();
    f.desktop.begin_move(at).unwrap();
    f.desktop.update_move(Point::new(at.x + 10, at.y + 500));
    f.desktop.end_move();
    f.desktop.focus_and_raise(a);
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
fn only_what_changed_is_redrawn() {
    let mut f = Fixture::new(false);
    let work = f.qube("work", Label::Green);
    let a = f.window(work, Size::new(300, 200), "one", 0x10);
    let first = f
        .headless
        .render(&mut f.scene, &f.desktop, &f.theme)
        .unwrap();
    assert_eq!(
        first,
        vec![f.desktop.output_rect()],
        "the first frame is drawn whole"
    );
    let again = f
        .headless
        .render(&mut f.scene, &f.desktop, &f.theme)
        .unwrap();
    assert_eq!(again, vec![], "nothing changed, nothing redrawn");

    // A new title redraws the title bar only.
    f.desktop.set_title(work, a, "two").unwrap();
    let bar = f.desktop.frame(a).unwrap().title_bar.unwrap();
    let after = f
        .headless
        .render(&mut f.scene, &f.desktop, &f.theme)
        .unwrap();
    assert!(!after.is_empty());
    for r in &after {
        assert!(bar.contains_rect(r), "{r:?} outside the title bar {bar:?}");
    }

    // New pixels in one rectangle redraw that rectangle only, and only it is copied.
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
    let c = f.desktop.content_rect(a).unwrap();
    let damage = f
        .headless
        .render(&mut f.scene, &f.desktop, &f.theme)
        .unwrap();
    assert_eq!(damage, vec![Rect::new(c.x + 10, c.y + 10, 20, 20)]);
    let shot = f.shot();
    assert_eq!(shot.rgb(c.x + 15, c.y + 15), Some(pattern(15, 15, 0x99)));
    assert_eq!(shot.rgb(c.x + 40, c.y + 40), Some(pattern(40, 40, 0x10)));

    // Moving a window redraws where it was and where it is, nothing else.
    let outer_before = f.desktop.frame(a).unwrap().outer;
    f.desktop.begin_move(c.loc()).unwrap();
    f.desktop.update_move(Point::new(c.x + 100, c.y + 50));
    f.desktop.end_move();
    let outer_after = f.desktop.frame(a).unwrap().outer;
    let damage = f
        .headless
        .render(&mut f.scene, &f.desktop, &f.theme)
        .unwrap();
    assert!(!damage.is_empty());
    for r in &damage {
        assert!(outer_before.overlaps(r) || outer_after.overlaps(r), "{r:?}");
    }
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

#[test]
fn popups_have_thin_borders_no_title_and_stay_on_screen() {
    let mut f = Fixture::new(false);
    let work = f.qube("work", Label::Purple);
    let a = f.window(work, Size::new(400, 300), "Editor", 0x20);
    // A menu thrown past the right edge of the screen.
    let menu = f
        .desktop
        .create_popup(work, a, Point::new(5000, 40), Size::new(150, 90))
        .unwrap();
    f.desktop.set_mapped(work, menu, true).unwrap();
    let size = Size::new(150, 90);
    let px = pattern_pixels(size, 0x77, 0xff);
    let content = WindowContent::new(PixelsRef {
        data: &px,
        size,
        stride: 600,
        format: PixelFormat::Argb8888,
    });
    f.scene.set_content(menu, content.unwrap());
    f.desktop.verify_invariants().unwrap();
    let shot = f.shot();
    shot.write_png(&artifacts().join("headless-popup.png"))
        .unwrap();

    let geo = f.desktop.frame(menu).unwrap();
    assert_eq!(geo.title_bar, None);
    assert_eq!(geo.outer.right(), 1280, "clamped to the right edge");
    let purple = f.theme.color(Label::Purple);
    let bw = i32::try_from(f.theme.popup_border_width()).unwrap();
    assert_eq!(geo.borders[2].w, bw);
    for b in geo.borders {
        for (x, y) in rect_pixels(b) {
            assert_eq!(shot.rgb(x, y), Some(purple), "popup border ({x}, {y})");
        }
    }
    let c = geo.content;
    for (x, y) in rect_pixels(c) {
        assert_eq!(
            shot.rgb(x, y),
            Some(pattern(x - c.x, y - c.y, 0x77)),
            "popup content ({x}, {y})"
        );
    }
    // Right outside the popup's left border: not the label colour (background here).
    assert_eq!(shot.rgb(geo.outer.x - 1, c.y), Some(BACKGROUND));
}

/// A frame in a qube's shared-memory arena, as the guest agent writes it.
fn arena_frame(
    arena: &bulkhead_shm_transport::Arena,
    offset: u64,
    size: Size,
    pixels: &[u8],
) -> bulkhead_compositor::render::content::ArenaPixels {
    let len = pixels.len() as u64;
    arena.region(offset, len).unwrap().write(0, pixels).unwrap();
    bulkhead_compositor::render::content::ArenaPixels {
        arena: arena.clone(),
        offset,
        len,
        layout: bulkhead_shm_transport::ImageLayout {
            width: size.w as u32,
            height: size.h as u32,
            stride: size.w as u32 * 4,
            bytes_per_pixel: 4,
        },
        format: PixelFormat::Argb8888,
    }
}

#[test]
fn content_read_in_place_from_the_arena_shows_over_black_and_follows_damage() {
    use bulkhead_compositor::render::content::ContentSource;
    use bulkhead_shm_transport::{Config, channel_pair};

    let mut f = Fixture::new(false);
    let work = f.qube("work", Label::Blue);
    let bad = f.qube("untrusted", Label::Red);
    let size = Size::new(200, 100);
    let below = f.window(work, size, "below", 0x40);
    let win = f.window(bad, size, "in the arena", 0x00);
    // Both windows at the same place: the arena window on top of the other.
    let (a, b) = (
        f.desktop.content_rect(below).unwrap(),
        f.desktop.content_rect(win).unwrap(),
    );
    f.desktop.begin_move(b.loc()).unwrap();
    f.desktop.update_move(a.loc());
    f.desktop.end_move();
    f.desktop.focus_and_raise(win);
    let c = f.desktop.content_rect(win).unwrap();
    assert_eq!(c, a);

    let (_agent, dom0) = channel_pair(&Config {
        arena_size: 1 << 20,
        ..Config::default()
    })
    .unwrap();
    let arena = dom0.arena().clone();
    // Frame 1, buffer 0: left half half-transparent premultiplied, right half transparent.
    let mut px = Vec::new();
    for _y in 0..size.h {
        for x in 0..size.w {
            let p: u32 = if x < 100 { 0x8040_2010 } else { 0 };
            px.extend_from_slice(&p.to_le_bytes());
        }
    }
    let frame1 = arena_frame(&arena, 0, size, &px);
    let content = WindowContent::new(frame1).unwrap();
    assert!(
        matches!(content.source(), ContentSource::Arena(_)),
        "read in place"
    );
    f.scene.set_content(win, content);
    let shot = f.shot();
    // Premultiplied colour over black: the colour channels; nothing of the window below.
    assert_eq!(
        shot.rgb(c.x + 10, c.y + 10),
        Some(Rgb::new(0x40, 0x20, 0x10))
    );
    assert_eq!(shot.rgb(c.x + 150, c.y + 10), Some(UNDERLAY));

    // Frame 2 in buffer 1: the whole image again, a 20×20 square changed, only it damaged.
    for y in 30..50 {
        for x in 40..60 {
            let i = ((y * size.w + x) * 4) as usize;
            px[i..i + 4].copy_from_slice(&0xff00_ff00u32.to_le_bytes());
        }
    }
    let frame2 = arena_frame(&arena, 256 * 1024, size, &px);
    f.scene
        .content_mut(win)
        .unwrap()
        .update(frame2, &[Rect::new(40, 30, 20, 20)])
        .unwrap();
    let damaged = f
        .headless
        .render(&mut f.scene, &f.desktop, &f.theme)
        .unwrap();
    assert_eq!(damaged, vec![Rect::new(c.x + 40, c.y + 30, 20, 20)]);
    let shot = f.shot();
    assert_eq!(shot.rgb(c.x + 45, c.y + 35), Some(Rgb::new(0, 0xff, 0)));
    assert_eq!(
        shot.rgb(c.x + 10, c.y + 10),
        Some(Rgb::new(0x40, 0x20, 0x10))
    );

    // The qube's side goes away: the pixels dom0 shows stay mapped (and readable).
    drop((_agent, dom0, arena));
    f.desktop.set_title(work, below, "redraw").unwrap();
    let shot = f.shot();
    assert_eq!(shot.rgb(c.x + 45, c.y + 35), Some(Rgb::new(0, 0xff, 0)));
}
