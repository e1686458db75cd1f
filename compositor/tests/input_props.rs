//! Property tests over focus, input routing and the clipboard: random sequences of qube
//! requests, user input (real and injected input share this path) and qube clipboard
//! answers, with invariants checked after every step:
//! - only the focused window's qube ever gets a key, and never a Super key or the C/V of
//!   Ctrl+Shift+C/V;
//! - pointer enter/motion/press go only to the window whose content is under the pointer,
//!   nothing but a leave goes out while dom0 moves a window;
//! - clipboard data enters dom0's buffer only as the answer to the latest gesture's request
//!   from that qube, leaves it only on a paste gesture the policy allows, and is gone after;
//! - the model's own invariants (`Desktop::verify_invariants`).

use bulkhead_border_theme::{Label, QubeName};
use bulkhead_compositor::clipboard::{Answer, Clipboard, ClipboardPolicy, Paste};
use bulkhead_compositor::desktop::{Desktop, FrameStyle, Point, QubeId, Size, WindowId};
use bulkhead_compositor::input::route::{
    Effect, QubeInput, RawInput, XKB_OFFSET, content_under, route,
};
use bulkhead_compositor::input::{BTN_LEFT, InputState};
use proptest::prelude::*;

const KEYS: [u32; 13] = [125, 29, 42, 46, 47, 15, 16, 30, 57, 54, 56, 60, 14];

#[derive(Debug, Clone)]
enum Op {
    Create {
        qube: usize,
        w: i32,
        h: i32,
    },
    Map {
        n: usize,
        on: bool,
    },
    Destroy {
        n: usize,
    },
    Pointer {
        x: i32,
        y: i32,
    },
    Button {
        pressed: bool,
        right: bool,
    },
    Key {
        key: usize,
        pressed: bool,
    },
    Answer {
        qube: usize,
        serial_delta: u32,
        len: usize,
    },
    Empty {
        qube: usize,
        serial_delta: u32,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        (0..3usize, 1..700i32, 1..500i32).prop_map(|(qube, w, h)| Op::Create { qube, w, h }),
        (0..16usize, any::<bool>()).prop_map(|(n, on)| Op::Map { n, on }),
        (0..16usize).prop_map(|n| Op::Destroy { n }),
        (-10..1300i32, -10..820i32).prop_map(|(x, y)| Op::Pointer { x, y }),
        (any::<bool>(), any::<bool>()).prop_map(|(pressed, right)| Op::Button { pressed, right }),
        (0..KEYS.len(), any::<bool>()).prop_map(|(key, pressed)| Op::Key { key, pressed }),
        (0..3usize, 0..3u32, 0..64usize).prop_map(|(qube, serial_delta, len)| Op::Answer {
            qube,
            serial_delta,
            len
        }),
        (0..3usize, 0..3u32).prop_map(|(qube, serial_delta)| Op::Empty { qube, serial_delta }),
    ]
}

struct World {
    desktop: Desktop,
    input: InputState,
    clipboard: Clipboard,
    qubes: Vec<QubeId>,
    windows: Vec<WindowId>,
    /// The latest gesture: (qube, serial).
    asked: Option<(QubeId, u32)>,
    /// What the model says dom0 holds: (source, bytes).
    held: Option<(QubeId, Vec<u8>)>,
    /// Keys a qube got the press of.
    keys: Vec<(u32, QubeId)>,
}

fn world(policy: ClipboardPolicy) -> World {
    let mut desktop = Desktop::new(Size::new(1280, 800), FrameStyle::default());
    let qubes = ["work", "untrusted", "vault"]
        .iter()
        .zip([Label::Blue, Label::Red, Label::Black])
        .map(|(n, l)| desktop.add_qube(QubeName::new(n).unwrap(), l).unwrap())
        .collect();
    World {
        desktop,
        input: InputState::default(),
        clipboard: Clipboard::new(policy),
        qubes,
        windows: Vec::new(),
        asked: None,
        held: None,
        keys: Vec::new(),
    }
}

fn name(q: QubeId) -> Option<String> {
    Some(["?", "work", "untrusted", "vault"][q.0 as usize % 4].to_owned())
}

fn step(w: &mut World, op: Op) -> Result<(), TestCaseError> {
    let focused_before = w.desktop.focused_qube();
    let held_before = w.input.held.clone();
    let (ctrl, shift, sup) = (w.input.ctrl_held, w.input.shift_held, w.input.super_held);
    let alt = w.input.alt_held;
    let raw = match op {
        Op::Create { qube, w: cw, h } => {
            let _ = w
                .desktop
                .create_toplevel(w.qubes[qube], Size::new(cw, h))
                .map(|id| w.windows.push(id));
            None
        }
        Op::Map { n, on } => {
            if let Some(id) = w.windows.get(n).copied() {
                let q = w.desktop.window(id).map(|x| x.qube());
                if let Some(q) = q {
                    let _ = w.desktop.set_mapped(q, id, on);
                }
            }
            None
        }
        Op::Destroy { n } => {
            if n < w.windows.len() {
                let id = w.windows.remove(n);
                if let Some(q) = w.desktop.window(id).map(|x| x.qube()) {
                    let _ = w.desktop.destroy(q, id);
                }
            }
            None
        }
        Op::Pointer { x, y } => Some(RawInput::PointerTo(Point::new(x, y))),
        Op::Button { pressed, right } => Some(RawInput::Button {
            button: if right { BTN_LEFT + 1 } else { BTN_LEFT },
            pressed,
        }),
        Op::Key { key, pressed } => Some(RawInput::Key {
            keycode: KEYS[key] + XKB_OFFSET,
            pressed,
        }),
        Op::Answer {
            qube,
            serial_delta,
            len,
        } => {
            let q = w.qubes[qube];
            let serial = w
                .asked
                .map_or(serial_delta, |(_, s)| s.wrapping_sub(serial_delta));
            let data = vec![u8::try_from(len % 251).unwrap(); len];
            let answer = w
                .clipboard
                .answer(q, serial, Some(("text/plain".into(), data.clone())));
            let expected = w.asked == Some((q, serial));
            prop_assert_eq!(
                matches!(answer, Answer::Copied { .. }),
                expected,
                "data accepted only for the latest request"
            );
            if expected {
                w.asked = None;
                w.held = Some((q, data));
            }
            None
        }
        Op::Empty { qube, serial_delta } => {
            let q = w.qubes[qube];
            let serial = w
                .asked
                .map_or(serial_delta, |(_, s)| s.wrapping_sub(serial_delta));
            let answer = w.clipboard.answer(q, serial, None);
            if w.asked == Some((q, serial)) {
                prop_assert_eq!(answer, Answer::Empty);
                w.asked = None;
            } else {
                prop_assert_eq!(answer, Answer::Unasked);
            }
            None
        }
    };
    if let Some(raw) = raw {
        let effects = route(&mut w.desktop, &mut w.input, raw);
        for e in effects {
            match e {
                Effect::Send(q, QubeInput::Key { keycode, pressed }) => {
                    prop_assert_eq!(Some(q), focused_before, "a key for an unfocused qube");
                    let i = w.keys.iter().position(|(k, _)| *k == keycode);
                    match (pressed, i) {
                        (true, Some(i)) => w.keys[i].1 = q,
                        (true, None) => w.keys.push((keycode, q)),
                        (false, i) => {
                            let i = i.ok_or_else(|| {
                                TestCaseError::fail("a release without its press")
                            })?;
                            prop_assert_eq!(
                                w.keys.swap_remove(i).1,
                                q,
                                "a release for another qube's press"
                            );
                        }
                    }
                    prop_assert!(keycode != 125 && keycode != 126, "Super reached a qube");
                    if let RawInput::Key { pressed: true, .. } = raw {
                        prop_assert!(
                            !(ctrl && shift && !sup && (keycode == 46 || keycode == 47)),
                            "the clipboard gesture reached a qube"
                        );
                        prop_assert!(
                            !(ctrl && alt && !sup && (keycode == 60 || keycode == 14)),
                            "a session key (Ctrl+Alt+F2, Ctrl+Alt+Backspace) reached a qube"
                        );
                    }
                }
                Effect::Send(q, QubeInput::PointerLeave { .. }) => {
                    prop_assert!(w.desktop.qube(q).is_some());
                }
                Effect::Send(
                    q,
                    QubeInput::PointerButton {
                        window,
                        pressed: false,
                        button,
                    },
                ) => {
                    prop_assert!(
                        held_before.contains(&(button, q, window)),
                        "a release for a press the qube never got"
                    );
                }
                Effect::Send(q, QubeInput::PointerEnter { window, x, y })
                | Effect::Send(q, QubeInput::PointerMotion { window, x, y }) => {
                    prop_assert!(!w.desktop.is_moving(), "pointer during a move");
                    let under = content_under(&w.desktop, w.input.pointer);
                    prop_assert_eq!(
                        under,
                        Some((q, window, x, y)),
                        "not the window under the pointer"
                    );
                }
                Effect::Send(q, QubeInput::PointerButton { window, .. })
                | Effect::Send(q, QubeInput::PointerAxis { window, .. }) => {
                    prop_assert!(!w.desktop.is_moving(), "pointer during a move");
                    let under = content_under(&w.desktop, w.input.pointer).map(|(q, w, ..)| (q, w));
                    prop_assert_eq!(under, Some((q, window)), "not the window under the pointer");
                }
                Effect::ClipboardCopy(q) => {
                    prop_assert_eq!(Some(q), focused_before);
                    let gesture = matches!(raw, RawInput::Key { keycode, pressed: true } if keycode == 46 + XKB_OFFSET);
                    prop_assert!(gesture, "a clipboard gesture from another key");
                    let serial = w.clipboard.copy_gesture(q);
                    w.asked = Some((q, serial));
                    w.held = None;
                }
                Effect::ClipboardPaste(q) => {
                    prop_assert_eq!(Some(q), focused_before);
                    let gesture = matches!(raw, RawInput::Key { keycode, pressed: true } if keycode == 47 + XKB_OFFSET);
                    prop_assert!(gesture, "a clipboard gesture from another key");
                    match w.clipboard.paste(q, name) {
                        Paste::Send { source, data, .. } => {
                            let (src, bytes) = w.held.take().expect("data only after a copy");
                            prop_assert_eq!(source, src);
                            prop_assert_eq!(data, bytes);
                            prop_assert!(
                                name(source)
                                    .zip(name(q))
                                    .is_some_and(|(a, b)| w.clipboard.policy.allows(&a, &b))
                            );
                        }
                        Paste::Empty => prop_assert!(w.held.is_none()),
                        Paste::Refused { source } => {
                            prop_assert_eq!(w.held.as_ref().map(|h| h.0), Some(source));
                        }
                    }
                }
                Effect::SwitchVt(vt) => {
                    prop_assert_eq!(vt, 2);
                    let f2 = matches!(raw, RawInput::Key { keycode, pressed: true } if keycode == 60 + XKB_OFFSET);
                    prop_assert!(f2 && ctrl && alt && !sup, "a VT switch from another key");
                }
                Effect::Quit => {
                    let bs = matches!(raw, RawInput::Key { keycode, pressed: true } if keycode == 14 + XKB_OFFSET);
                    prop_assert!(bs && ctrl && alt && !sup, "a quit from another key");
                }
                Effect::Redraw => {}
            }
        }
    }
    // dom0's buffer is exactly what the model says.
    let held = w.clipboard.held().map(|h| (h.source, h.len()));
    prop_assert_eq!(held, w.held.as_ref().map(|(q, d)| (*q, d.len())));
    prop_assert_eq!(w.clipboard.pending(), w.asked);
    w.desktop
        .verify_invariants()
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn input_and_clipboard_follow_the_rules(ops in prop::collection::vec(op(), 1..120)) {
        let mut w = world(ClipboardPolicy::default());
        for op in ops {
            step(&mut w, op)?;
        }
    }

    #[test]
    fn a_denying_policy_never_moves_data(ops in prop::collection::vec(op(), 1..120)) {
        let policy = ClipboardPolicy::parse("default = \"deny\"\nallow_same_qube = false").unwrap();
        let mut w = world(policy);
        for op in ops {
            step(&mut w, op)?;
        }
    }
}
