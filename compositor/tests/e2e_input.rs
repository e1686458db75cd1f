//! Input end to end: the compositor binary, two real guest agents and two foot terminals;
//! keys injected through the control socket (the same decisions as real keys) reach only
//! the focused qube's terminal, and an injected click moves the keyboard.

mod common;

use std::time::Duration;

use bulkhead_compositor::control::Request;
use bulkhead_compositor::desktop::Rect;
use common::session::{Session, available};

fn shot(s: &Session, name: &str) -> bulkhead_compositor::backend::Screenshot {
    let path = s.dir.path().join(name);
    s.control(&[Request::Screenshot { path: path.clone() }]);
    let _ = std::fs::copy(&path, common::artifacts().join(name));
    common::read_png(&path)
}

/// Pixels of `r` that differ between `a` and `b`, leaving out what lies under `above`
/// (windows stacked over the one checked).
fn differing(
    a: &bulkhead_compositor::backend::Screenshot,
    b: &bulkhead_compositor::backend::Screenshot,
    r: Rect,
    above: &[Rect],
) -> usize {
    let covered = |x: i32, y: i32| {
        above
            .iter()
            .any(|f| x >= f.x && x < f.x + f.w && y >= f.y && y < f.y + f.h)
    };
    common::rect_pixels(r)
        .filter(|(x, y)| !covered(*x, *y) && a.rgb(*x, *y) != b.rgb(*x, *y))
        .count()
}

/// Waits until the screen stops changing (the terminals finished drawing).
fn settled(s: &Session, name: &str) -> bulkhead_compositor::backend::Screenshot {
    let mut last = shot(s, name);
    for _ in 0..40 {
        std::thread::sleep(Duration::from_millis(250));
        let next = shot(s, name);
        if next == last {
            return next;
        }
        last = next;
    }
    last
}

#[test]
fn typing_reaches_only_the_focused_terminal_and_a_click_moves_the_keyboard() {
    if !available(&["foot"]) {
        return;
    }
    let mut s = Session::start(&[]);
    let (work_dir, bad_dir) = (
        s.dir.path().join("in-work"),
        s.dir.path().join("in-untrusted"),
    );
    std::fs::create_dir_all(&work_dir).unwrap();
    std::fs::create_dir_all(&bad_dir).unwrap();
    s.foot("work", &work_dir);
    let work = s.new_window("work", &[]);
    s.foot("untrusted", &bad_dir);
    let bad = s.new_window("untrusted", &[work.id]);

    s.click(work.id);
    let before = settled(&s, "typing-before.png");
    s.control(&[Request::Type {
        text: "touch typed-first\n".into(),
    }]);
    s.wait("the command typed into work", |_| {
        work_dir.join("typed-first").exists()
    });
    let after = settled(&s, "typing-after.png");
    let geo = |id| {
        s.windows()
            .into_iter()
            .find(|w| w.id == id)
            .unwrap()
            .geometry
    };
    // work was clicked last: it is stacked over untrusted.
    let frame = |id| s.windows().into_iter().find(|w| w.id == id).unwrap().frame;
    assert!(
        differing(&before, &after, geo(work.id), &[]) > 50,
        "the typed text shows in work's terminal"
    );
    assert_eq!(
        differing(&before, &after, geo(bad.id), &[frame(work.id)]),
        0,
        "nothing changed in untrusted's terminal"
    );
    assert!(!bad_dir.join("typed-first").exists());

    // A click on untrusted's window moves the keyboard there.
    s.click(bad.id);
    s.control(&[Request::Type {
        text: "touch typed-second\n".into(),
    }]);
    s.wait("the command typed into untrusted", |_| {
        bad_dir.join("typed-second").exists()
    });
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        !work_dir.join("typed-second").exists(),
        "work got keys while unfocused"
    );

    // Ctrl+Shift+C is dom0's copy gesture: dom0 asks untrusted for its selection (it has
    // none), and the qube's shell still reads the next line normally (Ctrl and Shift were
    // released in the qube too).
    s.control(&[Request::Type {
        text: "touch ".into(),
    }]);
    s.chord(&[29, 42, 46]);
    s.wait("dom0's notice", |s| {
        s.control(&[Request::Notices])[0]
            .notices
            .as_ref()
            .is_some_and(|n| n.iter().any(|t| t == "Nothing to copy in [untrusted]"))
    });
    s.control(&[Request::Type { text: "x\n".into() }]);
    s.wait("the line typed after the gesture", |_| {
        bad_dir.join("x").exists()
    });

    // A new keymap reaches the qube: with German keys (y and z swapped) dom0 types "yz"
    // with the keys in z's and y's US places, and the qube reads them as dom0 meant.
    s.control(&[Request::Keymap {
        layout: "de".into(),
        variant: String::new(),
    }]);
    s.control(&[Request::Type {
        text: "touch de-yz\n".into(),
    }]);
    s.wait("the line typed with the German keymap", |_| {
        bad_dir.join("de-yz").exists()
    });
    assert!(!bad_dir.join("de-zy").exists());
}
