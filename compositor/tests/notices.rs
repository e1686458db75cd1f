//! dom0's notices have a strip of their own at the top of the output: a window dragged as
//! high as it goes stops below it, and the notices are drawn there, untouched.

mod common;

use std::time::Instant;

use bulkhead_border_theme::Label;
use bulkhead_compositor::desktop::{Point, Size};
use bulkhead_compositor::notice::{NoticeKind, Notices};
use bulkhead_compositor::render::notice::{INFO_BAR, REFUSED_BAR, notice_rect};
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
        "Copied 12 bytes text/plain from [work]",
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
