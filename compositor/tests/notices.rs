//! dom0's notices have a strip of their own at the top of the output: a window dragged as
//! high as it goes stops below it, and the notices are drawn there, untouched.

mod common;

use std::time::Instant;

use bulkhead_border_theme::Label;
use bulkhead_compositor::backend::Screenshot;
use bulkhead_compositor::desktop::{Point, Size};
use bulkhead_compositor::notice::{NoticeKind, Notices, copied_text, pasted_text};
use bulkhead_compositor::render::TITLE_PAD;
use bulkhead_compositor::render::notice::{
    INFO_BAR, NOTICE_HEIGHT, NOTICE_TEXT, REFUSED_BAR, notice_rect,
};
use bulkhead_compositor::render::text::TitleFont;
use common::{Fixture, artifacts, rect_pixels};

#[test]
fn notices_cover_guest_windows_and_nothing_covers_them() {
    let mut f = Fixture::new(false);
    let work = f.qube("work", Label::Blue);
    let w = f.window(work, Size::new(600, 300), "under the notices", 0x33);
    // Drag the window as high as it goes: it stops right below the notice bar.
    let start = f.desktop.content_rect(w).unwrap().loc();
    f.desktop.begin_move(start);
    f.desktop.update_move(Point::new(0, 0));
    f.desktop.end_move();
    let reserved = f.desktop.reserved_area();
    assert_eq!(f.desktop.frame(w).unwrap().outer.y, reserved.h);

    let now = Instant::now();
    let mut notices = Notices::default();
    notices.post(
        "Copied from [work]: 12 bytes text/plain",
        NoticeKind::Info,
        now,
    );
    notices.post(
        "Paste from [work] into [untrusted] refused by policy",
        NoticeKind::Refused,
        now,
    );
    f.scene.set_notices(notices.views(now));
    let shot = f.shot();
    shot.write_png(&artifacts().join("notices.png")).unwrap();

    let output = f.desktop.output();
    for (i, bar) in [INFO_BAR, REFUSED_BAR].into_iter().enumerate() {
        let r = notice_rect(i, 2, output);
        assert!(reserved.contains_rect(&r));
        let mut bar_pixels = 0;
        for (x, y) in rect_pixels(r) {
            let p = shot.rgb(x, y).unwrap();
            // The bar colour, or white text blended onto it: never a guest or frame pixel.
            assert!(
                p.r >= bar.r && p.g >= bar.g && p.b >= bar.b && p.g == p.b && p.r >= p.g,
                "notice {i} pixel ({x}, {y}) is {p:?}"
            );
            bar_pixels += usize::from(p == bar);
        }
        assert!(
            bar_pixels > r.w as usize * 10,
            "notice {i} is mostly its bar"
        );
    }
    // Right below the notices the window's frame and content are whole.
    common::check_window(&f, &shot, w, 0x33);
}

/// The output with three notices, `newest` last (in the right-hand cell).
fn three_notices(f: &mut Fixture, newest: &str) -> Screenshot {
    let now = Instant::now();
    let mut notices = Notices::default();
    notices.post("Nothing to copy in [work]", NoticeKind::Info, now);
    notices.post("Nothing to copy in [mail]", NoticeKind::Info, now);
    notices.post(newest, NoticeKind::Info, now);
    f.scene.set_notices(notices.views(now));
    f.shot()
}

/// A MIME type is the qube's own text (up to 127 printable characters, brackets included):
/// notices name the qubes first and cut the type, so however long the type, the qubes'
/// names are drawn whole, pixel for pixel as dom0 wrote them, even in the narrowest cell
/// (three notices on a 1280 px output).
#[test]
fn a_long_mime_type_never_hides_the_qubes_names() {
    let mut f = Fixture::new(false);
    let hostile = format!("text/plain;from=[work];{}", "x".repeat(104));
    let font = TitleFont::load_default().expect("fonts-dejavu-core must be installed");
    let height = usize::try_from(NOTICE_HEIGHT).unwrap();
    let cell = notice_rect(2, 3, f.desktop.output());
    for (text, names) in [
        (
            copied_text("untrusted", 5, &hostile),
            "Copied from [untrusted]:",
        ),
        (
            pasted_text("untrusted", "work", 5, &hostile),
            "Pasted [untrusted] → [work]:",
        ),
    ] {
        assert!(text.starts_with(names), "{text}");
        let evil = three_notices(&mut f, &text);
        let plain = three_notices(&mut f, names);
        // The names' own pixels (the next glyph starts a space later).
        let width = font
            .rasterize(names, height, TITLE_PAD * 2, NOTICE_TEXT)
            .width;
        let width = i32::try_from(width).unwrap() - i32::try_from(TITLE_PAD).unwrap();
        assert!(width <= cell.w, "{names:?} does not fit its cell");
        let mut ink = 0;
        for y in 0..cell.h {
            for x in cell.x..cell.x + width {
                let p = evil.rgb(x, y).unwrap();
                assert_eq!(p, plain.rgb(x, y).unwrap(), "{text:?} at ({x}, {y})");
                ink += usize::from(p != INFO_BAR);
            }
        }
        assert!(ink > 100, "the names are drawn");
    }
    three_notices(&mut f, &copied_text("untrusted", 5, &hostile))
        .write_png(&artifacts().join("notice-long-mime.png"))
        .unwrap();
}
