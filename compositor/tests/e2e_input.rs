//! Input end to end: the compositor binary, two real guest agents and two foot terminals;
//! keys injected through the control socket (the same decisions as real keys) reach only
//! the focused qube's terminal, and an injected click moves the keyboard. Then the same
//! process against stand-in agents that see every message dom0 sends: Super chords, Super
//! with a button or the wheel, and the pointer over another qube's window reach no qube.
//! Pointer shapes (stand-ins): a qube's `SetCursor` counts only for its window that has the
//! pointer, and the shape is dom0's again whenever the pointer's window changes.

mod common;

use std::time::Duration;

use bulkhead_compositor::control::{Request, WindowInfo};
use bulkhead_compositor::desktop::Rect;
use bulkhead_protocol::{AgentMessage, Capabilities, CursorShape, Dom0Message, WindowId};
use common::session::{Session, available};
use common::standin::{Compositor, StandIn};

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

/// evdev codes.
const LEFT_SUPER: u32 = 125;
const RIGHT_SUPER: u32 = 126;
const LEFT_SHIFT: u32 = 42;
const KEY_A: u32 = 30;
const KEY_L: u32 = 38;
const BTN_RIGHT: u32 = 0x111;
/// The Shift bit of the `us` keymap's modifier masks.
const SHIFT_MASK: u32 = 1;

/// The stand-ins' output size.
const OUTPUT_W: i32 = common::standin::OUTPUT.0;
const OUTPUT_H: i32 = common::standin::OUTPUT.1;

/// A stand-in for `qube` with one 200×150 window on screen.
fn stand_in(c: &Compositor, qube: &str) -> StandIn {
    let mut s = StandIn::connect(&c.socket(qube));
    s.send_hello(Capabilities::empty());
    s.window(1, 200, 150, 0);
    c.wait_for("the window", || c.windows_of(qube).len() == 1);
    s
}

fn is_key_or_button(m: &Dom0Message) -> bool {
    matches!(
        m,
        Dom0Message::Key { .. }
            | Dom0Message::PointerButton { .. }
            | Dom0Message::PointerAxis { .. }
    )
}

fn is_pointer(m: &Dom0Message) -> bool {
    matches!(
        m,
        Dom0Message::PointerEnter { .. }
            | Dom0Message::PointerMotion { .. }
            | Dom0Message::PointerButton { .. }
            | Dom0Message::PointerAxis { .. }
    )
}

/// A point in `w`'s content that no other window's frame covers.
fn inside(w: &WindowInfo, others: &[&WindowInfo]) -> (i32, i32) {
    let g = w.geometry;
    let covered = |x: i32, y: i32| {
        others.iter().any(|o| {
            let f = o.frame;
            x >= f.x && x < f.x + f.w && y >= f.y && y < f.y + f.h
        })
    };
    (g.y + 2..g.y + g.h - 2)
        .step_by(4)
        .flat_map(|y| (g.x + 2..g.x + g.w - 2).step_by(4).map(move |x| (x, y)))
        .find(|(x, y)| !covered(*x, *y))
        .expect("a window partly uncovered")
}

#[test]
fn super_chords_and_other_qubes_windows_are_dom0s() {
    let c = Compositor::start(&[]);
    let mut good = stand_in(&c, "good");
    let mut bad = stand_in(&c, "bad");
    let quiet = Duration::from_millis(300);
    let (g, b) = (
        c.windows_of("good")[0].clone(),
        c.windows_of("bad")[0].clone(),
    );
    let (in_good, in_bad) = (inside(&g, &[&b]), inside(&b, &[&g]));
    let pointer = |(x, y): (i32, i32)| assert!(c.control(Request::Pointer { x, y }).ok);
    let button = |button, pressed| assert!(c.control(Request::Button { button, pressed }).ok);
    let scroll = || assert!(c.control(Request::Scroll { detents: 1 }).ok);

    // The pointer over a window while nothing is focused: no qube gets it.
    pointer(in_good);
    scroll();
    assert!(!good.drain(quiet).iter().any(is_pointer));

    c.click_qube("good", false);
    pointer(in_good);
    let to_good = good.drain(quiet);
    assert!(
        to_good
            .iter()
            .any(|m| matches!(m, Dom0Message::PointerEnter { .. }))
    );
    assert!(
        to_good
            .iter()
            .any(|m| matches!(m, Dom0Message::PointerButton { .. }))
    );
    // Over the unfocused qube's window the pointer is dom0's: good leaves, bad gets
    // nothing, not even a scroll or a button.
    pointer(in_bad);
    scroll();
    let to_good = good.drain(quiet);
    assert!(
        matches!(to_good[..], [Dom0Message::PointerLeave { .. }]),
        "{to_good:?}"
    );
    let to_bad = bad.drain(quiet);
    assert!(!to_bad.iter().any(is_pointer), "{to_bad:?}");

    // Back in good: Super+L, Super+Shift, Super+right-click, Super+wheel, and a chord on
    // right Super while left Super stays down: good gets no key, button or scroll, and no
    // Shift in its modifiers.
    pointer(in_good);
    c.keys(&[
        (LEFT_SUPER, true),
        (KEY_L, true),
        (KEY_L, false),
        (LEFT_SHIFT, true),
        (KEY_A, true),
    ]);
    button(BTN_RIGHT, true);
    button(BTN_RIGHT, false);
    scroll();
    c.keys(&[(RIGHT_SUPER, true), (RIGHT_SUPER, false), (KEY_L, true)]);
    let shifted = |m: &Dom0Message| matches!(m, Dom0Message::Modifiers { depressed, .. } if depressed & SHIFT_MASK != 0);
    let to_good = good.drain(quiet);
    assert!(!to_good.iter().any(is_key_or_button), "{to_good:?}");
    assert!(
        !to_good.iter().any(shifted),
        "modifiers changed while Super is held: {to_good:?}"
    );
    // Super let go, Shift still down: good learns the Shift held now, but none of the
    // chord's keys, not even their releases.
    c.keys(&[(LEFT_SUPER, false), (KEY_L, false), (KEY_A, false)]);
    let to_good = good.drain(quiet);
    assert!(!to_good.iter().any(is_key_or_button), "{to_good:?}");
    assert!(to_good.iter().any(shifted), "{to_good:?}");
    c.keys(&[(LEFT_SHIFT, false)]);
    let to_good = good.drain(quiet);
    assert!(
        matches!(to_good[..], [Dom0Message::Modifiers { depressed: 0, .. }]),
        "{to_good:?}"
    );
    // A key pressed before Super gets its release; then keys reach good again.
    c.keys(&[
        (KEY_A, true),
        (LEFT_SUPER, true),
        (KEY_A, false),
        (LEFT_SUPER, false),
        (KEY_L, true),
        (KEY_L, false),
    ]);
    let keys: Vec<(u32, bool)> = good
        .drain(quiet)
        .iter()
        .filter_map(|m| match m {
            Dom0Message::Key {
                keycode, pressed, ..
            } => Some((*keycode, *pressed)),
            _ => None,
        })
        .collect();
    assert_eq!(
        keys,
        [(KEY_A, true), (KEY_A, false), (KEY_L, true), (KEY_L, false)]
    );

    // A click on bad's window: the focus moves, then bad gets the pointer and the press.
    let (x, y) = in_bad;
    assert!(c.control(Request::Click { x, y, button: None }).ok);
    let to_bad = bad.drain(quiet);
    let enter = to_bad
        .iter()
        .position(|m| matches!(m, Dom0Message::PointerEnter { .. }));
    let press = to_bad
        .iter()
        .position(|m| matches!(m, Dom0Message::PointerButton { pressed: true, .. }));
    assert!(
        matches!((enter, press), (Some(e), Some(p)) if e < p),
        "{to_bad:?}"
    );
    let to_good = good.drain(quiet);
    assert!(!to_good.iter().any(is_key_or_button), "{to_good:?}");
    assert!(
        to_good
            .iter()
            .any(|m| matches!(m, Dom0Message::PointerLeave { .. }))
    );
}

/// dom0's pointer: (the qube whose window has it, the shape's CSS name).
fn pointer_state(c: &Compositor) -> (Option<String>, String) {
    let r = c.control(Request::PointerInfo);
    let p = r
        .pointer
        .clone()
        .unwrap_or_else(|| panic!("pointer-info: {r:?}"));
    (p.qube, p.cursor)
}

/// The qube's messages so far have all been handled: a frame sent after them is done
/// (the window's previous frame must have been acknowledged).
fn sync(s: &mut StandIn, window: WindowId, serial: u32) {
    s.frame(window, serial, 200, 150, 0);
    s.frame_done(serial);
}

#[test]
fn a_qube_sets_the_pointer_shape_only_over_its_window_that_has_the_pointer() {
    let c = Compositor::start(&[]);
    let cursor = |s: CursorShape| s.css_name().to_owned();
    let mut good = StandIn::connect(&c.socket("good"));
    good.send_hello(Capabilities::CURSOR_SHAPE);
    let g1 = good.window(1, 200, 150, 0);
    let g2 = good.window(2, 120, 100, 1 << 20);
    c.wait_for("good's windows", || c.windows_of("good").len() == 2);
    let mut bad = StandIn::connect(&c.socket("bad"));
    bad.send_hello(Capabilities::CURSOR_SHAPE);
    let b1 = bad.window(1, 200, 150, 0);
    c.wait_for("bad's window", || c.windows_of("bad").len() == 1);
    // Both of good's first frames, and bad's.
    good.frame_done(0);
    good.frame_done(0);
    bad.frame_done(0);
    let windows = c.windows();
    let info = |qube: &str, n: usize| {
        windows
            .iter()
            .filter(|w| w.qube == qube)
            .nth(n)
            .expect("window")
            .clone()
    };
    let (w1, w2, wb) = (info("good", 0), info("good", 1), info("bad", 0));
    let (in_g1, in_b) = (inside(&w1, &[&w2, &wb]), inside(&wb, &[&w1, &w2]));
    let background = (OUTPUT_W - 2, OUTPUT_H - 2);
    assert!(
        windows.iter().all(|w| {
            let f = w.frame;
            !(background.0 >= f.x && background.0 < f.x + f.w && background.1 >= f.y)
        }),
        "the lower right corner is background: {windows:#?}"
    );
    let pointer = |(x, y): (i32, i32)| assert!(c.control(Request::Pointer { x, y }).ok);

    assert_eq!(pointer_state(&c), (None, cursor(CursorShape::Default)));
    // good focused, the pointer in its first window: its text cursor shows.
    let (x, y) = in_g1;
    assert!(c.control(Request::Click { x, y, button: None }).ok);
    c.wait_for("good focused", || {
        c.windows().iter().any(|w| w.id == w1.id && w.focused)
    });
    assert_eq!(pointer_state(&c).0.as_deref(), Some("good"));
    good.send(&AgentMessage::SetCursor {
        window: g1,
        shape: CursorShape::Text,
    });
    c.wait_for("the text cursor", || {
        pointer_state(&c) == (Some("good".into()), cursor(CursorShape::Text))
    });
    // The unfocused qube's shape for its own window, and good's for its window the
    // pointer is not in, change nothing.
    bad.send(&AgentMessage::SetCursor {
        window: b1,
        shape: CursorShape::Wait,
    });
    sync(&mut bad, b1, 1);
    good.send(&AgentMessage::SetCursor {
        window: g2,
        shape: CursorShape::Crosshair,
    });
    sync(&mut good, g1, 1);
    assert_eq!(
        pointer_state(&c),
        (Some("good".into()), cursor(CursorShape::Text))
    );

    // Onto the background: dom0's arrow; back into good's window: still dom0's until good
    // asks again (then hidden, over its own window only).
    pointer(background);
    assert_eq!(pointer_state(&c), (None, cursor(CursorShape::Default)));
    pointer(in_g1);
    assert_eq!(
        pointer_state(&c),
        (Some("good".into()), cursor(CursorShape::Default))
    );
    good.send(&AgentMessage::SetCursor {
        window: g1,
        shape: CursorShape::Hidden,
    });
    c.wait_for("the hidden cursor", || {
        pointer_state(&c).1 == cursor(CursorShape::Hidden)
    });

    // Over the unfocused qube's window the pointer is dom0's, whatever that qube asks.
    pointer(in_b);
    assert_eq!(pointer_state(&c), (None, cursor(CursorShape::Default)));
    bad.send(&AgentMessage::SetCursor {
        window: b1,
        shape: CursorShape::Hidden,
    });
    sync(&mut bad, b1, 2);
    assert_eq!(pointer_state(&c), (None, cursor(CursorShape::Default)));

    // A shape for a window the qube does not have is a violation, as before.
    bad.send(&AgentMessage::SetCursor {
        window: WindowId::new(99).unwrap(),
        shape: CursorShape::Text,
    });
    assert!(bad.was_disconnected(), "{}", c.log());
    assert_eq!(pointer_state(&c), (None, cursor(CursorShape::Default)));

    // An agent that did not negotiate shapes is not heard either, even with the pointer.
    drop(bad);
    c.wait_for("bad's window gone", || c.windows_of("bad").is_empty());
    let mut bad = stand_in(&c, "bad");
    bad.frame_done(0);
    let wb = c.windows_of("bad")[0].clone();
    let (x, y) = inside(&wb, &[]);
    assert!(c.control(Request::Click { x, y, button: None }).ok);
    c.wait_for("bad has the pointer", || {
        pointer_state(&c).0.as_deref() == Some("bad")
    });
    bad.send(&AgentMessage::SetCursor {
        window: b1,
        shape: CursorShape::Text,
    });
    sync(&mut bad, b1, 1);
    assert_eq!(
        pointer_state(&c),
        (Some("bad".into()), cursor(CursorShape::Default))
    );
}
