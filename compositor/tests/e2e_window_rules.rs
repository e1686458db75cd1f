//! Window rules end to end: a real client (foot) asking for fullscreen through the real
//! guest agent. Without the window policy's permission dom0 maximizes it below its notice
//! strip (border and `[qube] title` bar kept) and foot redraws at the size dom0 gave; with
//! the permission it goes fullscreen with dom0's label strip.

mod common;

use std::time::{Duration, Instant};

use bulkhead_compositor::backend::Screenshot;
use bulkhead_compositor::control::{Request, WindowInfo};
use bulkhead_compositor::desktop::{DOM0_BAR_HEIGHT, Rect};
use bulkhead_compositor::render::UNDERLAY;
use common::session::{Session, TIMEOUT, available};

const OUTPUT: (i32, i32) = (1280, 800);

fn shot(s: &Session, name: &str) -> Screenshot {
    let path = s.dir.path().join(name);
    s.control(&[Request::Screenshot { path: path.clone() }]);
    let _ = std::fs::copy(&path, common::artifacts().join(name));
    common::read_png(&path)
}

/// Starts `foot --fullscreen` in `untrusted` and waits until dom0 put it in `mode` filling
/// the area below dom0's strip, and foot drew its whole content at that size (its
/// background reaches the content's bottom-right corner, not dom0's black underlay).
fn fullscreen_foot(s: &mut Session, mode: &str, name: &str) -> (WindowInfo, Screenshot) {
    let mut foot = s.command("untrusted", "foot");
    foot.arg("--fullscreen");
    s.spawn(foot);
    let w = s.new_window("untrusted", &[]);
    let usable = Rect::new(0, DOM0_BAR_HEIGHT, OUTPUT.0, OUTPUT.1 - DOM0_BAR_HEIGHT);
    s.wait(&format!("foot {mode}"), |s| {
        s.windows()
            .iter()
            .any(|x| x.id == w.id && x.mode == mode && x.frame == usable)
    });
    let w = s
        .windows()
        .into_iter()
        .find(|x| x.id == w.id)
        .expect("foot's window");
    let g = w.geometry;
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let shot = shot(s, name);
        let corner = shot.rgb(g.x + g.w - 2, g.y + g.h - 2).unwrap();
        let middle = shot.rgb(g.x + g.w / 2, g.y + g.h / 2).unwrap();
        if corner == middle && corner != UNDERLAY {
            return (w, shot);
        }
        assert!(
            Instant::now() < deadline,
            "foot did not redraw at {}x{} ({corner} at the corner, {middle} in the middle)\n{}",
            g.w,
            g.h,
            s.logs()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The strip between the top border and the content is the label colour with the qube name
/// written on it; dom0's strip above shows no guest pixel.
fn label_strip(shot: &Screenshot, w: &WindowInfo) {
    let theme = bulkhead_border_theme::Theme::default();
    let red = theme.color(bulkhead_border_theme::Label::Red);
    let border = w.geometry.x - w.frame.x;
    assert_eq!(shot.rgb(w.frame.x, w.frame.y), Some(red));
    let strip = Rect::new(
        w.geometry.x,
        w.frame.y + border,
        w.geometry.w,
        w.geometry.y - w.frame.y - border,
    );
    let pixels: Vec<_> = common::rect_pixels(strip)
        .map(|(x, y)| shot.rgb(x, y).unwrap())
        .collect();
    let plain = pixels.iter().filter(|p| **p == red).count();
    assert!(plain > pixels.len() / 2, "the strip is the label colour");
    assert!(pixels.len() - plain > 30, "the qube name is written on it");
    for (x, y) in common::rect_pixels(Rect::new(0, 0, OUTPUT.0, DOM0_BAR_HEIGHT)) {
        assert_eq!(
            shot.rgb(x, y),
            Some(bulkhead_compositor::render::BACKGROUND),
            "dom0's strip at ({x}, {y})"
        );
    }
}

#[test]
fn fullscreen_becomes_maximize_and_the_client_follows() {
    if !available(&["foot"]) {
        return;
    }
    let mut s = Session::start(&[]);
    let (w, shot) = fullscreen_foot(&mut s, "maximized", "e2e-foot-maximized.png");
    assert_eq!(
        w.geometry.y - w.frame.y,
        3 + 24,
        "border and full title bar"
    );
    label_strip(&shot, &w);
}

#[test]
fn fullscreen_by_policy_keeps_the_label_strip() {
    if !available(&["foot"]) {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("windows.toml");
    std::fs::write(&policy, "[qube.untrusted]\nallow_fullscreen = true\n").unwrap();
    let mut s = Session::start(&["--window-policy", policy.to_str().unwrap()]);
    let (w, shot) = fullscreen_foot(&mut s, "fullscreen", "e2e-foot-fullscreen.png");
    assert_eq!(
        w.geometry.y - w.frame.y,
        2 + 16,
        "thin border and label strip"
    );
    label_strip(&shot, &w);
}
