//! Property tests over focus, input routing and the clipboard: random sequences of qube
//! requests, user input (real and injected input share this path), dom0's pointer refresh
//! and qube clipboard answers, with invariants checked after every step against a model
//! kept by the test itself (which keys and buttons are down, left and right apart):
//! - only the focused window's qube ever gets a key, and never a Super key, the C/V of
//!   Ctrl+Shift+C/V, or a session key; an ordinary key reaches it;
//! - while Super is held (any Super key) no qube gets a key press, a button press or a
//!   scroll; a key pressed during a Super chord stays dom0's until released; a key or
//!   button a qube got the press of gets its release (a key: while its qube has the focus);
//! - pointer enter/motion/press/scroll go only to the window whose content is under the
//!   pointer, and only if it belongs to the focused window's qube; each qube sees a
//!   consistent enter → motion/press/scroll → leave sequence; a press on another qube's
//!   window focuses it and then reaches it; nothing but a leave goes out while dom0 moves a
//!   window; after a refresh exactly the focused qube's window under the pointer has it;
//! - a qube's pointer shape is honoured only for its window that has the pointer, and the
//!   shape is dom0's default again whenever the pointer's window changes;
//! - shortcuts fire only with their modifiers held, as the model (per key) says;
//! - clipboard data enters dom0's buffer only as the answer to the latest gesture's request
//!   from that qube, leaves it only on a paste gesture the policy allows, and is gone after;
//! - the model's own invariants (`Desktop::verify_invariants`).

use bulkhead_border_theme::{Label, QubeName};
use bulkhead_compositor::clipboard::{Answer, Clipboard, ClipboardPolicy, Paste};
use bulkhead_compositor::desktop::{Desktop, FrameStyle, Point, QubeId, Size, WindowId};
use bulkhead_compositor::input::route::{
    Effect, QubeInput, RawInput, XKB_OFFSET, content_under, pointer_refresh, route,
};
use bulkhead_compositor::input::{BTN_LEFT, InputState};
use bulkhead_protocol::{Axis, CursorShape};
use proptest::prelude::*;

/// evdev codes: both Supers, Ctrls, Shifts and Alts, C, V, Tab, Q, A, space, L, F2,
/// Backspace.
const KEYS: [u32; 17] = [
    125, 126, 29, 97, 42, 54, 56, 100, 46, 47, 15, 16, 30, 57, 38, 60, 14,
];
const SUPER: [u32; 2] = [125, 126];
const CTRL: [u32; 2] = [29, 97];
const SHIFT: [u32; 2] = [42, 54];
const ALT: [u32; 2] = [56, 100];
/// Keys no shortcut uses: A, space, L.
const PLAIN: [u32; 3] = [30, 57, 38];

#[derive(Debug, Clone)]
enum Op {
    Create {
        qube: usize,
        w: i32,
        h: i32,
    },
    Popup {
        n: usize,
        x: i32,
        y: i32,
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
    /// dom0's pointer refresh after a dispatch (`State::after_dispatch`).
    Refresh,
    Pointer {
        x: i32,
        y: i32,
    },
    Button {
        pressed: bool,
        right: bool,
    },
    Scroll {
        up: bool,
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
    /// A qube's `SetCursor` for a window (as the connection passes it on: the qube's own
    /// window, or another's, which the connection would refuse first).
    SetCursor {
        qube: usize,
        n: usize,
        shape: usize,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => (0..3usize, 1..700i32, 1..500i32).prop_map(|(qube, w, h)| Op::Create { qube, w, h }),
        1 => (0..16usize, -50..200i32, -50..200i32, 1..300i32, 1..300i32)
            .prop_map(|(n, x, y, w, h)| Op::Popup { n, x, y, w, h }),
        2 => (0..16usize, any::<bool>()).prop_map(|(n, on)| Op::Map { n, on }),
        1 => (0..16usize).prop_map(|n| Op::Destroy { n }),
        1 => Just(Op::Refresh),
        3 => (-10..1300i32, -10..820i32).prop_map(|(x, y)| Op::Pointer { x, y }),
        2 => (any::<bool>(), any::<bool>()).prop_map(|(pressed, right)| Op::Button { pressed, right }),
        1 => any::<bool>().prop_map(|up| Op::Scroll { up }),
        5 => (0..KEYS.len(), any::<bool>()).prop_map(|(key, pressed)| Op::Key { key, pressed }),
        1 => (0..3usize, 0..3u32, 0..64usize).prop_map(|(qube, serial_delta, len)| Op::Answer {
            qube,
            serial_delta,
            len
        }),
        1 => (0..3usize, 0..3u32).prop_map(|(qube, serial_delta)| Op::Empty { qube, serial_delta }),
        2 => (0..4usize, 0..24usize, 0..CursorShape::ALL.len()).prop_map(|(qube, n, shape)| {
            Op::SetCursor { qube, n, shape }
        }),
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
    /// Keys (evdev) physically down, in press order.
    down: Vec<u32>,
    /// Keys a qube got the press of (the latest press, for a repeat).
    keys: Vec<(u32, QubeId)>,
    /// Keys first pressed while Super was held: dom0's until released.
    chord: Vec<u32>,
    /// Buttons a qube got the press of, with the window.
    buttons: Vec<(u32, QubeId, WindowId)>,
    /// The window each qube was last told the pointer is in (enter, not yet left).
    pointer_in: Option<(QubeId, WindowId)>,
    /// The pointer's position.
    at: Point,
    /// The shape the window that has the pointer asked for since it got it.
    shape: Option<CursorShape>,
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
        down: Vec::new(),
        keys: Vec::new(),
        chord: Vec::new(),
        buttons: Vec::new(),
        pointer_in: None,
        at: Point::default(),
        shape: None,
    }
}

impl World {
    fn any_down(&self, keys: [u32; 2]) -> bool {
        self.down.iter().any(|k| keys.contains(k))
    }

    /// The focused qube's window whose content is under the pointer, computed here from
    /// the model (not through the router's own target).
    fn focused_content_under(&self) -> Option<(QubeId, WindowId, i32, i32)> {
        let focused = self.desktop.focused_qube()?;
        content_under(&self.desktop, self.at).filter(|(q, ..)| *q == focused)
    }
}

fn name(q: QubeId) -> Option<String> {
    Some(["?", "work", "untrusted", "vault"][q.0 as usize % 4].to_owned())
}

/// What one op feeds the router.
enum Feed {
    Input(RawInput),
    Refresh,
    Nothing,
}

fn step(w: &mut World, op: Op) -> Result<(), TestCaseError> {
    let focused_before = w.desktop.focused_qube();
    let moving_before = w.desktop.is_moving();
    let (ctrl, shift) = (w.any_down(CTRL), w.any_down(SHIFT));
    let (alt, sup) = (w.any_down(ALT), w.any_down(SUPER));
    let feed = match op {
        Op::Create { qube, w: cw, h } => {
            let _ = w
                .desktop
                .create_toplevel(w.qubes[qube], Size::new(cw, h))
                .map(|id| w.windows.push(id));
            Feed::Nothing
        }
        Op::Popup { n, x, y, w: pw, h } => {
            let parent = w.windows.get(n).copied();
            let q = parent.and_then(|p| w.desktop.window(p)).map(|x| x.qube());
            if let (Some(parent), Some(q)) = (parent, q) {
                let _ = w
                    .desktop
                    .create_popup(q, parent, Point::new(x, y), Size::new(pw, h))
                    .map(|id| w.windows.push(id));
            }
            Feed::Nothing
        }
        Op::Map { n, on } => {
            if let Some(id) = w.windows.get(n).copied() {
                let q = w.desktop.window(id).map(|x| x.qube());
                if let Some(q) = q {
                    let _ = w.desktop.set_mapped(q, id, on);
                }
            }
            Feed::Nothing
        }
        Op::Destroy { n } => {
            if n < w.windows.len() {
                let id = w.windows.remove(n);
                if let Some(q) = w.desktop.window(id).map(|x| x.qube()) {
                    let _ = w.desktop.destroy(q, id);
                }
            }
            Feed::Nothing
        }
        Op::SetCursor { qube, n, shape } => {
            // The fourth "qube" asks for the window's real owner; n from 16 on names the
            // window the pointer is in (if any), so shapes are often honoured.
            let window = match n {
                16.. => w.pointer_in.map(|(_, id)| id),
                _ => w.windows.get(n).copied(),
            };
            let owner = window.and_then(|id| w.desktop.window(id)).map(|x| x.qube());
            if let (Some(window), Some(owner)) = (window, owner) {
                let q = w.qubes.get(qube).copied().unwrap_or(owner);
                let shape = CursorShape::ALL[shape];
                let honoured = w.input.request_cursor(q, window, shape);
                prop_assert_eq!(
                    honoured,
                    w.pointer_in == Some((q, window)),
                    "a shape honoured for a window without the pointer, or refused for the one"
                );
                if honoured {
                    w.shape = Some(shape);
                }
            }
            Feed::Nothing
        }
        Op::Refresh => Feed::Refresh,
        Op::Pointer { x, y } => Feed::Input(RawInput::PointerTo(Point::new(x, y))),
        Op::Button { pressed, right } => Feed::Input(RawInput::Button {
            button: if right { BTN_LEFT + 1 } else { BTN_LEFT },
            pressed,
        }),
        Op::Scroll { up } => Feed::Input(RawInput::Axis {
            axis: Axis::Vertical,
            value: if up { -15 * 256 } else { 15 * 256 },
            discrete_120: if up { -120 } else { 120 },
        }),
        Op::Key { key, pressed } => Feed::Input(RawInput::Key {
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
            Feed::Nothing
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
            Feed::Nothing
        }
    };
    let refreshed = matches!(feed, Feed::Refresh);
    let (raw, effects) = match feed {
        Feed::Input(raw) => (Some(raw), route(&mut w.desktop, &mut w.input, raw)),
        Feed::Refresh => (None, pointer_refresh(&w.desktop, &mut w.input)),
        Feed::Nothing => (None, Vec::new()),
    };
    if let Some(RawInput::PointerTo(at)) = raw {
        w.at = at;
    }
    let focused_after = w.desktop.focused_qube();
    let moving_after = w.desktop.is_moving();
    // The raw key, as the model sees it before this event.
    let key = match raw {
        Some(RawInput::Key { keycode, pressed }) => Some((keycode - XKB_OFFSET, pressed)),
        _ => None,
    };
    let in_chord = key.is_some_and(|(k, _)| w.chord.contains(&k));
    let qube_had = key.and_then(|(k, _)| w.keys.iter().find(|(c, _)| *c == k).map(|e| e.1));
    let button = match raw {
        Some(RawInput::Button { button, pressed }) => Some((button, pressed)),
        _ => None,
    };
    let button_had = button.and_then(|(b, _)| w.buttons.iter().find(|e| e.0 == b).copied());
    let mut sent = Vec::new();
    let all_effects = effects.clone();
    for e in effects {
        if let Effect::Send(q, input) = e {
            sent.push((q, input));
        }
        match e {
            Effect::Send(q, QubeInput::Key { keycode, pressed }) => {
                prop_assert_eq!(Some(q), focused_before, "a key for an unfocused qube");
                prop_assert_eq!(key, Some((keycode, pressed)), "a key from another event");
                prop_assert!(!SUPER.contains(&keycode), "Super reached a qube");
                prop_assert!(!in_chord, "a key of a Super chord reached a qube");
                if pressed {
                    prop_assert!(!sup, "a key press while Super is held reached a qube");
                    match w.keys.iter_mut().find(|(k, _)| *k == keycode) {
                        Some(k) => k.1 = q,
                        None => w.keys.push((keycode, q)),
                    }
                    // A repeat of a key the qube has down is the qube's, not a shortcut.
                    if qube_had.is_none() {
                        prop_assert!(
                            !(ctrl && shift && !sup && (keycode == 46 || keycode == 47)),
                            "the clipboard gesture reached a qube"
                        );
                        prop_assert!(
                            !(ctrl && alt && !sup && (keycode == 60 || keycode == 14)),
                            "a session key (Ctrl+Alt+F2, Ctrl+Alt+Backspace) reached a qube"
                        );
                    }
                } else {
                    prop_assert_eq!(qube_had, Some(q), "a release without the qube's press");
                }
            }
            Effect::Send(q, QubeInput::PointerLeave { window }) => {
                prop_assert_eq!(
                    w.pointer_in,
                    Some((q, window)),
                    "a leave for a window the pointer was not in"
                );
                w.pointer_in = None;
                w.shape = None;
            }
            Effect::Send(q, QubeInput::PointerEnter { window, x, y })
            | Effect::Send(q, QubeInput::PointerMotion { window, x, y }) => {
                prop_assert!(!moving_after, "pointer during a move");
                prop_assert_eq!(focused_after, Some(q), "pointer for an unfocused qube");
                prop_assert_eq!(
                    content_under(&w.desktop, w.at),
                    Some((q, window, x, y)),
                    "not the window under the pointer"
                );
                if matches!(e, Effect::Send(_, QubeInput::PointerEnter { .. })) {
                    prop_assert_eq!(w.pointer_in, None, "an enter before the leave");
                    w.pointer_in = Some((q, window));
                    w.shape = None;
                } else {
                    prop_assert_eq!(w.pointer_in, Some((q, window)), "motion without enter");
                }
            }
            Effect::Send(
                q,
                QubeInput::PointerButton {
                    window,
                    pressed: false,
                    button: b,
                },
            ) => {
                prop_assert_eq!(button, Some((b, false)), "a release from another event");
                prop_assert_eq!(
                    button_had,
                    Some((b, q, window)),
                    "a release for a press the qube never got"
                );
            }
            Effect::Send(
                q,
                QubeInput::PointerButton {
                    window,
                    pressed: true,
                    button: b,
                },
            ) => {
                prop_assert!(!moving_after, "pointer during a move");
                prop_assert!(!sup, "Super+click reached a qube");
                prop_assert_eq!(button, Some((b, true)), "a press from another event");
                prop_assert_eq!(focused_after, Some(q), "a press for an unfocused qube");
                prop_assert_eq!(w.pointer_in, Some((q, window)), "a press without enter");
                let under = content_under(&w.desktop, w.at).map(|(q, w, ..)| (q, w));
                prop_assert_eq!(under, Some((q, window)), "not the window under the pointer");
                if button_had.is_none() {
                    w.buttons.push((b, q, window));
                }
            }
            Effect::Send(q, QubeInput::PointerAxis { window, .. }) => {
                prop_assert!(!moving_after, "pointer during a move");
                prop_assert!(!sup, "Super+scroll reached a qube");
                let from_scroll = matches!(raw, Some(RawInput::Axis { .. }));
                prop_assert!(from_scroll, "a scroll from another event");
                prop_assert_eq!(focused_after, Some(q), "a scroll for an unfocused qube");
                prop_assert_eq!(w.pointer_in, Some((q, window)), "a scroll without enter");
                let under = content_under(&w.desktop, w.at).map(|(q, w, ..)| (q, w));
                prop_assert_eq!(under, Some((q, window)), "not the window under the pointer");
            }
            Effect::ClipboardCopy(q) => {
                prop_assert_eq!(Some(q), focused_before);
                prop_assert!(
                    key == Some((46, true)),
                    "a clipboard gesture from another key"
                );
                prop_assert!(ctrl && shift && !sup, "a copy without Ctrl+Shift held");
                let serial = w.clipboard.copy_gesture(q);
                w.asked = Some((q, serial));
                w.held = None;
            }
            Effect::ClipboardPaste(q) => {
                prop_assert_eq!(Some(q), focused_before);
                prop_assert!(
                    key == Some((47, true)),
                    "a clipboard gesture from another key"
                );
                prop_assert!(ctrl && shift && !sup, "a paste without Ctrl+Shift held");
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
                prop_assert!(
                    key == Some((60, true)) && ctrl && alt && !sup,
                    "a VT switch from another key"
                );
            }
            Effect::Quit => {
                prop_assert!(
                    key == Some((14, true)) && ctrl && alt && !sup,
                    "a quit from another key"
                );
            }
            Effect::Redraw => {}
        }
    }

    // Shortcuts fire when their modifiers are held (as the model says, key by key), on a
    // fresh press (a repeat of a key a qube has down is the qube's).
    if let (Some((k, true)), None) = (key, qube_had) {
        let had = |f: fn(&Effect) -> bool| all_effects.iter().any(f);
        let copy = had(|e| matches!(e, Effect::ClipboardCopy(_)));
        let paste = had(|e| matches!(e, Effect::ClipboardPaste(_)));
        let vt = had(|e| matches!(e, Effect::SwitchVt(2)));
        let quit = had(|e| matches!(e, Effect::Quit));
        let gesture = ctrl && shift && !sup && focused_before.is_some();
        prop_assert!(!(k == 46 && gesture) || copy, "Ctrl+Shift+C did not copy");
        prop_assert!(!(k == 47 && gesture) || paste, "Ctrl+Shift+V did not paste");
        let session = ctrl && alt && !sup;
        prop_assert!(!(k == 60 && session) || vt, "Ctrl+Alt+F2 did not switch");
        prop_assert!(
            !(k == 14 && session) || quit,
            "Ctrl+Alt+Backspace did not quit"
        );
    }

    // What must have reached a qube.
    match (key, raw) {
        (Some((k, true)), _) if PLAIN.contains(&k) && !sup && !in_chord => {
            if let Some(q) = focused_before {
                let expected = (
                    q,
                    QubeInput::Key {
                        keycode: k,
                        pressed: true,
                    },
                );
                prop_assert!(sent.contains(&expected), "a key did not reach the focus");
            }
        }
        (Some((k, false)), _) => {
            if let (Some(q), true) = (qube_had, qube_had == focused_before) {
                let expected = (
                    q,
                    QubeInput::Key {
                        keycode: k,
                        pressed: false,
                    },
                );
                prop_assert!(
                    sent.contains(&expected),
                    "a release did not follow its press"
                );
            }
        }
        (_, Some(RawInput::Button { button: b, pressed })) => {
            if pressed && !sup && !moving_before {
                // Click-to-focus, then the press to what is under the pointer.
                if let Some((q, window, ..)) = content_under(&w.desktop, w.at) {
                    prop_assert_eq!(focused_after, Some(q), "a click did not focus");
                    let expected = (
                        q,
                        QubeInput::PointerButton {
                            window,
                            button: b,
                            pressed: true,
                        },
                    );
                    prop_assert!(sent.contains(&expected), "a click did not reach the window");
                }
            }
            if let (false, Some((_, q, window))) = (pressed, button_had) {
                if w.desktop.owns(q, window) {
                    let expected = (
                        q,
                        QubeInput::PointerButton {
                            window,
                            button: b,
                            pressed: false,
                        },
                    );
                    prop_assert!(
                        sent.contains(&expected),
                        "a release did not follow its press"
                    );
                }
            }
        }
        (_, Some(RawInput::Axis { .. })) if !sup && !moving_after => {
            if let Some((q, window, ..)) = w.focused_content_under() {
                let reached = sent.iter().any(|s| {
                    matches!(s, (sq, QubeInput::PointerAxis { window: sw, .. }) if *sq == q && *sw == window)
                });
                prop_assert!(reached, "a scroll did not reach the focused window");
            }
        }
        _ => {}
    }
    // After a move of the pointer or a refresh, exactly the focused qube's window under the
    // pointer has it.
    let settled = refreshed || matches!(raw, Some(RawInput::PointerTo(_)));
    if settled && !moving_after {
        let target = w.focused_content_under().map(|(q, win, ..)| (q, win));
        prop_assert_eq!(
            w.pointer_in,
            target,
            "the pointer is not where the qubes were told"
        );
    }

    // The pointer's shape: what the window that has it asked for since it got it, else
    // dom0's default (also whenever no window has the pointer).
    prop_assert_eq!(w.input.pointer_in(), w.pointer_in);
    prop_assert_eq!(
        w.input.cursor(),
        w.shape.unwrap_or(CursorShape::Default),
        "the pointer's shape"
    );

    // The model follows the keys and buttons let go and pressed.
    match key {
        Some((k, true)) => {
            if !w.down.contains(&k) {
                w.down.push(k);
            }
            if sup && qube_had.is_none() && !SUPER.contains(&k) && !in_chord {
                w.chord.push(k);
            }
        }
        Some((k, false)) => {
            w.down.retain(|d| *d != k);
            w.chord.retain(|d| *d != k);
            w.keys.retain(|(d, _)| *d != k);
        }
        None => {}
    }
    if let Some((b, false)) = button {
        w.buttons.retain(|e| e.0 != b);
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
