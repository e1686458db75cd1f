//! Where one input event goes, decided purely over the model and dom0's input state.
//!
//! Real input (the nested backend) and injected input (the control socket) both come here
//! as a [`RawInput`]; the result is a list of [`Effect`]s the shell carries out. The rules:
//! - a key goes to the focused window's qube, or nowhere; dom0's shortcuts (Super+…,
//!   Ctrl+Shift+C/V, the session keys), their releases and the Super keys go to no qube,
//!   nor does any key pressed while Super is held;
//! - pointer events go only to the focused window's qube, for its window (any of them,
//!   popups included) whose *content* is under the pointer, as enter/motion/leave relative
//!   to that content; over another qube's window, a frame or the background the pointer is
//!   dom0's; none while dom0 moves a window (Super+drag); Super+button and Super+scroll
//!   are dom0's;
//! - a button press focuses and raises (dom0's click-to-focus), then the window under the
//!   pointer gets an enter (if it had not the pointer yet) and the press; its release goes
//!   to the window that got the press.

use bulkhead_protocol::{Axis, FIXED_ONE, MAX_KEYCODE};

use super::{ButtonAction, InputState, KeyAction, button_action, key_action};
use crate::desktop::{Desktop, HitPart, Point, QubeId, WindowId};

/// xkb key codes are evdev codes plus 8.
pub const XKB_OFFSET: u32 = 8;

/// One input event as dom0 receives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RawInput {
    /// A key, by xkb key code (evdev + 8).
    Key {
        /// xkb key code.
        keycode: u32,
        /// Pressed or released.
        pressed: bool,
    },
    /// The pointer is now at this output position.
    PointerTo(Point),
    /// A pointer button (evdev `BTN_*`).
    Button {
        /// evdev button code.
        button: u32,
        /// Pressed or released.
        pressed: bool,
    },
    /// A scroll.
    Axis {
        /// Which axis.
        axis: Axis,
        /// Distance in 1/256 px.
        value: i32,
        /// Wheel detents × 120 (0 for continuous scrolling).
        discrete_120: i32,
    },
}

/// What one qube is sent. Window handles are dom0's; the connection maps them to the qube's
/// own ids (and drops events for windows it no longer has).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QubeInput {
    /// A key, by evdev code.
    Key {
        /// evdev key code (at most [`MAX_KEYCODE`]).
        keycode: u32,
        /// Pressed or released.
        pressed: bool,
    },
    /// The pointer entered a window's content at (x, y), 1/256 px from its top-left.
    PointerEnter {
        /// The window.
        window: WindowId,
        /// 1/256 px.
        x: i32,
        /// 1/256 px.
        y: i32,
    },
    /// The pointer left a window's content.
    PointerLeave {
        /// The window.
        window: WindowId,
    },
    /// The pointer moved inside a window's content.
    PointerMotion {
        /// The window.
        window: WindowId,
        /// 1/256 px.
        x: i32,
        /// 1/256 px.
        y: i32,
    },
    /// A button over a window's content.
    PointerButton {
        /// The window.
        window: WindowId,
        /// evdev button code.
        button: u32,
        /// Pressed or released.
        pressed: bool,
    },
    /// A scroll over a window's content.
    PointerAxis {
        /// The window.
        window: WindowId,
        /// Which axis.
        axis: Axis,
        /// 1/256 px.
        value: i32,
        /// Detents × 120.
        discrete_120: i32,
    },
}

/// What the shell does after an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Send this to that qube (and to no other).
    Send(QubeId, QubeInput),
    /// Ctrl+Shift+C in this qube's window: ask it for its selection.
    ClipboardCopy(QubeId),
    /// Ctrl+Shift+V in this qube's window: paste dom0's buffer into it (if policy allows).
    ClipboardPaste(QubeId),
    /// The model changed (focus, stacking, a move): draw again.
    Redraw,
    /// Ctrl+Alt+Fn: switch to virtual terminal n (only a DRM session can).
    SwitchVt(u8),
    /// Ctrl+Alt+Backspace: end the session.
    Quit,
}

/// Decides what `input` does: updates the model (dom0's own actions: focus, raise, move,
/// close) and `state`, and returns what the shell must send or do.
pub fn route(desktop: &mut Desktop, state: &mut InputState, input: RawInput) -> Vec<Effect> {
    let mut out = Vec::new();
    match input {
        RawInput::Key { keycode, pressed } => key(desktop, state, keycode, pressed, &mut out),
        RawInput::PointerTo(at) => {
            state.pointer = at;
            if desktop.is_moving() {
                if desktop.update_move(at) {
                    out.push(Effect::Redraw);
                }
            } else {
                retarget(desktop, state, &mut out);
            }
        }
        RawInput::Button { button, pressed } => {
            button_event(desktop, state, button, pressed, &mut out)
        }
        RawInput::Axis {
            axis,
            value,
            discrete_120,
        } => {
            // Super+scroll is dom0's; during a move the pointer is dom0's.
            if desktop.is_moving() || state.super_held() {
                return out;
            }
            sync_pointer(desktop, state, &mut out);
            if let Some((qube, window)) = state.pointer_in {
                out.push(Effect::Send(
                    qube,
                    QubeInput::PointerAxis {
                        window,
                        axis,
                        value,
                        discrete_120,
                    },
                ));
            }
        }
    }
    out
}

fn key(
    desktop: &mut Desktop,
    state: &mut InputState,
    keycode: u32,
    pressed: bool,
    out: &mut Vec<Effect>,
) {
    let focused = desktop.focused_qube();
    let evdev = keycode
        .checked_sub(XKB_OFFSET)
        .filter(|c| *c <= MAX_KEYCODE);
    // A release ends the key's press wherever it went (also when no qube gets it).
    let pressed_in = match (pressed, evdev) {
        (false, Some(code)) => state
            .keys_down
            .iter()
            .position(|(k, _)| *k == code)
            .map(|i| state.keys_down.swap_remove(i).1),
        _ => None,
    };
    match key_action(state, focused, keycode, pressed) {
        KeyAction::ToQube(qube) => {
            let Some(evdev) = evdev else {
                return;
            };
            let send = if pressed {
                match state.keys_down.iter_mut().find(|(k, _)| *k == evdev) {
                    // A repeat: it belongs to the qube that has the focus now.
                    Some(down) => down.1 = qube,
                    None => state.keys_down.push((evdev, qube)),
                }
                true
            } else {
                pressed_in == Some(qube)
            };
            if send {
                out.push(Effect::Send(
                    qube,
                    QubeInput::Key {
                        keycode: evdev,
                        pressed,
                    },
                ));
            }
        }
        KeyAction::FocusNext => {
            if desktop.focus_next().is_some() {
                out.push(Effect::Redraw);
                // The pointer now belongs to the new focused qube, if over its window.
                sync_pointer(desktop, state, out);
            }
        }
        KeyAction::CloseFocused => {
            if let Some(w) = desktop.focused() {
                desktop.request_close(w);
            }
        }
        KeyAction::ClipboardCopy => out.extend(focused.map(Effect::ClipboardCopy)),
        KeyAction::ClipboardPaste => out.extend(focused.map(Effect::ClipboardPaste)),
        KeyAction::SwitchVt(vt) => out.push(Effect::SwitchVt(vt)),
        KeyAction::Quit => out.push(Effect::Quit),
        KeyAction::Drop => {}
    }
}

fn button_event(
    desktop: &mut Desktop,
    state: &mut InputState,
    button: u32,
    pressed: bool,
    out: &mut Vec<Effect>,
) {
    match button_action(state, button, pressed, desktop.is_moving()) {
        ButtonAction::Click(at) => {
            if matches!(
                desktop.click(at),
                crate::desktop::ClickOutcome::Window { .. }
            ) {
                out.push(Effect::Redraw);
            }
            // Raising may have changed what is under the pointer.
            retarget(desktop, state, out);
            if let Some((qube, window)) = state.pointer_in {
                if !state.held.iter().any(|(b, ..)| *b == button) {
                    state.held.push((button, qube, window));
                }
                out.push(Effect::Send(
                    qube,
                    QubeInput::PointerButton {
                        window,
                        button,
                        pressed: true,
                    },
                ));
            }
        }
        ButtonAction::BeginMove(at) => {
            if desktop.begin_move(at).is_some() {
                out.push(Effect::Redraw);
                // The pointer is dom0's until the move ends.
                leave(state, out);
            }
        }
        ButtonAction::EndMove => {
            desktop.end_move();
            release(state, button, out);
            retarget(desktop, state, out);
        }
        ButtonAction::None if !pressed => release(state, button, out),
        ButtonAction::Dom0 | ButtonAction::None => {}
    }
}

/// A release goes to the window that got the press, if it still exists.
fn release(state: &mut InputState, button: u32, out: &mut Vec<Effect>) {
    if let Some(i) = state.held.iter().position(|(b, ..)| *b == button) {
        let (_, qube, window) = state.held.swap_remove(i);
        out.push(Effect::Send(
            qube,
            QubeInput::PointerButton {
                window,
                button,
                pressed: false,
            },
        ));
    }
}

fn leave(state: &mut InputState, out: &mut Vec<Effect>) {
    if let Some((qube, window)) = state.pointer_in {
        state.set_pointer_in(None);
        out.push(Effect::Send(qube, QubeInput::PointerLeave { window }));
    }
}

/// The window whose content is under `at`, with the position relative to that content in
/// 1/256 px.
pub fn content_under(desktop: &Desktop, at: Point) -> Option<(QubeId, WindowId, i32, i32)> {
    let (window, part) = desktop.window_at(at)?;
    if part != HitPart::Content {
        return None;
    }
    let qube = desktop.window(window)?.qube();
    let c = desktop.content_rect(window)?;
    let fixed = |v: i32, origin: i32| v.saturating_sub(origin).saturating_mul(FIXED_ONE);
    Some((qube, window, fixed(at.x, c.x), fixed(at.y, c.y)))
}

/// Where the pointer at `at` goes: the window whose content is under it if that window
/// belongs to the focused window's qube (any of its windows and popups), else nowhere:
/// over another qube's window, a frame or the background the pointer is dom0's.
pub fn pointer_target(desktop: &Desktop, at: Point) -> Option<(QubeId, WindowId, i32, i32)> {
    let focused = desktop.focused_qube()?;
    content_under(desktop, at).filter(|(qube, ..)| *qube == focused)
}

/// Sends enter/leave/motion for the pointer's current position.
fn retarget(desktop: &Desktop, state: &mut InputState, out: &mut Vec<Effect>) {
    match pointer_target(desktop, state.pointer) {
        Some((qube, window, x, y)) if state.pointer_in == Some((qube, window)) => {
            out.push(Effect::Send(
                qube,
                QubeInput::PointerMotion { window, x, y },
            ));
        }
        Some((qube, window, x, y)) => {
            leave(state, out);
            state.set_pointer_in(Some((qube, window)));
            out.push(Effect::Send(qube, QubeInput::PointerEnter { window, x, y }));
        }
        None => leave(state, out),
    }
}

/// Sends enter/leave if the pointer's window is no longer the one last told (the focus
/// moved, or a window appeared, went or moved under the still pointer). Nothing while dom0
/// moves a window (the pointer is dom0's then).
fn sync_pointer(desktop: &Desktop, state: &mut InputState, out: &mut Vec<Effect>) {
    if desktop.is_moving() {
        return;
    }
    let target = pointer_target(desktop, state.pointer).map(|(q, w, ..)| (q, w));
    if target != state.pointer_in {
        retarget(desktop, state, out);
    }
}

/// The model changed under a still pointer (a window appeared, went or moved, the focus
/// moved): tell the qubes where the pointer is now. Nothing while dom0 moves a window.
pub fn pointer_refresh(desktop: &Desktop, state: &mut InputState) -> Vec<Effect> {
    let mut out = Vec::new();
    sync_pointer(desktop, state, &mut out);
    // Releases for windows that are gone are not sent.
    state.held.retain(|(_, q, w)| desktop.owns(*q, *w));
    out
}

#[cfg(test)]
mod tests {
    use bulkhead_border_theme::{Label, QubeName};

    use super::*;
    use crate::desktop::{FrameStyle, Size};
    use crate::input::{BTN_LEFT, KEY_C, KEY_CTRL, KEY_SHIFT, KEY_SUPER, KEY_TAB};

    /// Two qubes, one window each, side by side (b cascades over a's lower right).
    fn setup() -> (Desktop, InputState, (QubeId, WindowId), (QubeId, WindowId)) {
        let mut d = Desktop::new(Size::new(1280, 800), FrameStyle::default());
        let qa = d
            .add_qube(QubeName::new("work").unwrap(), Label::Blue)
            .unwrap();
        let qb = d
            .add_qube(QubeName::new("untrusted").unwrap(), Label::Red)
            .unwrap();
        let a = d.create_toplevel(qa, Size::new(400, 300)).unwrap();
        let b = d.create_toplevel(qb, Size::new(400, 300)).unwrap();
        d.set_mapped(qa, a, true).unwrap();
        d.set_mapped(qb, b, true).unwrap();
        (d, InputState::default(), (qa, a), (qb, b))
    }

    fn sends(effects: &[Effect]) -> Vec<(QubeId, QubeInput)> {
        effects
            .iter()
            .filter_map(|e| match e {
                Effect::Send(q, i) => Some((*q, *i)),
                _ => None,
            })
            .collect()
    }

    fn key(d: &mut Desktop, s: &mut InputState, code: u32, pressed: bool) -> Vec<Effect> {
        route(
            d,
            s,
            RawInput::Key {
                keycode: code,
                pressed,
            },
        )
    }

    #[test]
    fn keys_reach_only_the_focused_qube_as_evdev_codes() {
        let (mut d, mut s, (qa, a), (qb, b)) = setup();
        assert!(
            sends(&key(&mut d, &mut s, 30 + 8, true)).is_empty(),
            "no focus"
        );
        d.focus_and_raise(a);
        assert_eq!(
            sends(&key(&mut d, &mut s, 30 + 8, true)),
            [(
                qa,
                QubeInput::Key {
                    keycode: 30,
                    pressed: true
                }
            )]
        );
        d.focus_and_raise(b);
        assert_eq!(
            sends(&key(&mut d, &mut s, 30 + 8, true)),
            [(
                qb,
                QubeInput::Key {
                    keycode: 30,
                    pressed: true
                }
            )],
            "a repeat after the focus moved belongs to the new qube"
        );
        assert_eq!(
            sends(&key(&mut d, &mut s, 30 + 8, false)),
            [(
                qb,
                QubeInput::Key {
                    keycode: 30,
                    pressed: false
                }
            )]
        );
        // Super never; the gesture's C neither, and it becomes a copy of b's qube.
        assert!(sends(&key(&mut d, &mut s, KEY_SUPER[0], true)).is_empty());
        assert!(sends(&key(&mut d, &mut s, KEY_SUPER[0], false)).is_empty());
        key(&mut d, &mut s, KEY_CTRL[0], true);
        key(&mut d, &mut s, KEY_SHIFT[0], true);
        assert_eq!(
            key(&mut d, &mut s, KEY_C, true),
            [Effect::ClipboardCopy(qb)]
        );
        assert!(key(&mut d, &mut s, KEY_C, false).is_empty());
    }

    #[test]
    fn a_release_goes_only_to_the_qube_that_got_the_press() {
        let (mut d, mut s, (qa, a), (_, b)) = setup();
        d.focus_and_raise(a);
        assert_eq!(
            sends(&key(&mut d, &mut s, 30 + 8, true)),
            [(
                qa,
                QubeInput::Key {
                    keycode: 30,
                    pressed: true
                }
            )]
        );
        d.focus_and_raise(b);
        assert!(
            sends(&key(&mut d, &mut s, 30 + 8, false)).is_empty(),
            "b never saw the press; a had its keyboard leave"
        );
        assert!(
            sends(&key(&mut d, &mut s, 31 + 8, false)).is_empty(),
            "never pressed"
        );
    }

    fn button(d: &mut Desktop, s: &mut InputState, button: u32, pressed: bool) -> Vec<Effect> {
        route(d, s, RawInput::Button { button, pressed })
    }

    const SCROLL: RawInput = RawInput::Axis {
        axis: Axis::Vertical,
        value: 10,
        discrete_120: 120,
    };

    #[test]
    fn pointer_events_go_only_to_the_focused_qubes_content() {
        let (mut d, mut s, (qa, a), (qb, b)) = setup();
        let ca = d.content_rect(a).unwrap();
        let at = Point::new(ca.x + 3, ca.y + 4);
        assert!(
            sends(&route(&mut d, &mut s, RawInput::PointerTo(at))).is_empty(),
            "nothing focused: no qube gets the pointer"
        );
        assert!(sends(&route(&mut d, &mut s, SCROLL)).is_empty());
        d.focus_and_raise(a);
        assert_eq!(
            sends(&pointer_refresh(&d, &mut s)),
            [(
                qa,
                QubeInput::PointerEnter {
                    window: a,
                    x: 3 * 256,
                    y: 4 * 256
                }
            )],
            "a got the focus under the still pointer"
        );
        let at = Point::new(ca.x + 5, ca.y + 4);
        assert_eq!(
            sends(&route(&mut d, &mut s, RawInput::PointerTo(at))),
            [(
                qa,
                QubeInput::PointerMotion {
                    window: a,
                    x: 5 * 256,
                    y: 4 * 256
                }
            )]
        );
        // a's title bar is dom0's: a leaves, nobody enters.
        let bar = d.frame(a).unwrap().title_bar.unwrap();
        assert_eq!(
            sends(&route(&mut d, &mut s, RawInput::PointerTo(bar.loc()))),
            [(qa, QubeInput::PointerLeave { window: a })]
        );
        // b's content is another qube's: the pointer is dom0's there.
        let cb = d.content_rect(b).unwrap();
        let inside_b = Point::new(cb.x + cb.w - 1, cb.y + cb.h - 1);
        assert_eq!(content_under(&d, inside_b).map(|c| c.1), Some(b));
        for input in [RawInput::PointerTo(inside_b), SCROLL] {
            assert!(sends(&route(&mut d, &mut s, input)).is_empty(), "{input:?}");
        }
        // Back into a, then over b: a leaves, b gets nothing.
        route(&mut d, &mut s, RawInput::PointerTo(at));
        assert_eq!(
            sends(&route(&mut d, &mut s, RawInput::PointerTo(inside_b))),
            [(qa, QubeInput::PointerLeave { window: a })]
        );
        // A click on b is the user's: b gets the focus, then the pointer at its position,
        // then the press; its scroll and release follow.
        let press = sends(&button(&mut d, &mut s, BTN_LEFT, true));
        assert_eq!(d.focused(), Some(b));
        assert_eq!(
            press,
            [
                (
                    qb,
                    QubeInput::PointerEnter {
                        window: b,
                        x: (cb.w - 1) * 256,
                        y: (cb.h - 1) * 256
                    }
                ),
                (
                    qb,
                    QubeInput::PointerButton {
                        window: b,
                        button: BTN_LEFT,
                        pressed: true
                    }
                )
            ]
        );
        assert!(matches!(
            sends(&route(&mut d, &mut s, SCROLL))[..],
            [(q, QubeInput::PointerAxis { window, .. })] if q == qb && window == b
        ));
        assert_eq!(
            sends(&button(&mut d, &mut s, BTN_LEFT, false)),
            [(
                qb,
                QubeInput::PointerButton {
                    window: b,
                    button: BTN_LEFT,
                    pressed: false
                }
            )]
        );
        // Now a (below b) is the other qube's.
        assert_eq!(
            sends(&route(&mut d, &mut s, RawInput::PointerTo(at))),
            [(qb, QubeInput::PointerLeave { window: b })]
        );
        assert!(sends(&route(&mut d, &mut s, SCROLL)).is_empty());
        // Super+Tab to a: a gets the pointer it is under (while Super is held), and back.
        key(&mut d, &mut s, KEY_SUPER[0], true);
        assert_eq!(
            sends(&key(&mut d, &mut s, KEY_TAB, true)),
            [(
                qa,
                QubeInput::PointerEnter {
                    window: a,
                    x: 5 * 256,
                    y: 4 * 256
                }
            )]
        );
        key(&mut d, &mut s, KEY_TAB, false);
        assert_eq!(
            sends(&key(&mut d, &mut s, KEY_TAB, true)),
            [(qa, QubeInput::PointerLeave { window: a })]
        );
    }

    #[test]
    fn the_focused_qubes_other_windows_and_popups_get_the_pointer() {
        let (mut d, mut s, (qa, a), (qb, b)) = setup();
        let popup = d
            .create_popup(qa, a, Point::new(10, 10), Size::new(50, 40))
            .unwrap();
        d.set_mapped(qa, popup, true).unwrap();
        d.focus_and_raise(b);
        let cp = d.content_rect(popup).unwrap();
        let in_popup = Point::new(cp.x + 1, cp.y + 2);
        assert!(
            sends(&route(&mut d, &mut s, RawInput::PointerTo(in_popup))).is_empty(),
            "a's popup is not the focused qube's"
        );
        // A second window of b's qube, not focused itself: b's qube gets the pointer.
        let b2 = d.create_toplevel(qb, Size::new(100, 80)).unwrap();
        d.set_mapped(qb, b2, true).unwrap();
        assert_eq!(d.focused(), Some(b));
        let c2 = d.content_rect(b2).unwrap();
        assert_eq!(content_under(&d, c2.loc()).map(|c| c.1), Some(b2));
        assert_eq!(
            sends(&route(&mut d, &mut s, RawInput::PointerTo(c2.loc()))),
            [(
                qb,
                QubeInput::PointerEnter {
                    window: b2,
                    x: 0,
                    y: 0
                }
            )]
        );
        // Super+Tab to b2: b's qube keeps the pointer.
        key(&mut d, &mut s, KEY_SUPER[0], true);
        assert!(sends(&key(&mut d, &mut s, KEY_TAB, true)).is_empty());
        assert_eq!(d.focused(), Some(b2));
        key(&mut d, &mut s, KEY_TAB, false);
        key(&mut d, &mut s, KEY_SUPER[0], false);
        // a focused (as by a click on its frame): b2 leaves; over a's popup it is a's.
        d.focus_and_raise(a);
        let refresh = sends(&pointer_refresh(&d, &mut s));
        assert_eq!(refresh[0], (qb, QubeInput::PointerLeave { window: b2 }));
        assert!(refresh[1..].iter().all(|(q, _)| *q == qa), "{refresh:?}");
        let moved = sends(&route(&mut d, &mut s, RawInput::PointerTo(in_popup)));
        assert!(moved.iter().all(|(q, _)| *q == qa), "{moved:?}");
        assert_eq!(
            moved.last(),
            Some(&(
                qa,
                QubeInput::PointerEnter {
                    window: popup,
                    x: 256,
                    y: 2 * 256
                }
            ))
        );
    }

    #[test]
    fn while_super_is_held_keys_buttons_and_scrolls_are_dom0s() {
        let (mut d, mut s, (qa, a), _) = setup();
        d.focus_and_raise(a);
        let ca = d.content_rect(a).unwrap();
        route(&mut d, &mut s, RawInput::PointerTo(ca.loc()));
        // Pressed before Super: a key and the right button.
        key(&mut d, &mut s, 30 + 8, true);
        assert!(
            sends(&button(&mut d, &mut s, BTN_LEFT + 1, true)).contains(&(
                qa,
                QubeInput::PointerButton {
                    window: a,
                    button: BTN_LEFT + 1,
                    pressed: true
                }
            ))
        );
        key(&mut d, &mut s, KEY_SUPER[1], true);
        // Super+L, Super+Shift, Super+middle-click, Super+scroll: nothing reaches a.
        for effects in [
            key(&mut d, &mut s, 38 + 8, true),
            key(&mut d, &mut s, KEY_SHIFT[1], true),
            key(&mut d, &mut s, 30 + 8, true),
            button(&mut d, &mut s, BTN_LEFT + 2, true),
            route(&mut d, &mut s, SCROLL),
            button(&mut d, &mut s, BTN_LEFT + 2, false),
        ] {
            assert!(sends(&effects).is_empty(), "{effects:?}");
        }
        // The presses a got before Super get their releases, during Super or after.
        assert_eq!(
            sends(&key(&mut d, &mut s, 30 + 8, false)),
            [(
                qa,
                QubeInput::Key {
                    keycode: 30,
                    pressed: false
                }
            )]
        );
        key(&mut d, &mut s, KEY_SUPER[1], false);
        assert_eq!(
            sends(&button(&mut d, &mut s, BTN_LEFT + 1, false)),
            [(
                qa,
                QubeInput::PointerButton {
                    window: a,
                    button: BTN_LEFT + 1,
                    pressed: false
                }
            )]
        );
        // The chord's keys, let go after Super, stay dom0's.
        for code in [38 + 8, KEY_SHIFT[1]] {
            assert!(sends(&key(&mut d, &mut s, code, false)).is_empty());
        }
        assert_eq!(sends(&key(&mut d, &mut s, 38 + 8, true)).len(), 1);
    }

    #[test]
    fn left_and_right_super_are_two_keys() {
        let (mut d, mut s, (_, a), _) = setup();
        d.focus_and_raise(a);
        key(&mut d, &mut s, KEY_SUPER[0], true);
        key(&mut d, &mut s, KEY_SUPER[1], true);
        key(&mut d, &mut s, KEY_SUPER[1], false);
        for code in [38 + 8, KEY_TAB] {
            assert!(sends(&key(&mut d, &mut s, code, true)).is_empty());
        }
        assert!(d.focused() != Some(a), "Super+Tab moved the focus");
    }

    #[test]
    fn a_click_focuses_then_reaches_the_window_and_its_release_follows_the_press() {
        let (mut d, mut s, (qa, a), (qb, b)) = setup();
        let ca = d.content_rect(a).unwrap();
        route(&mut d, &mut s, RawInput::PointerTo(ca.loc()));
        let press = route(
            &mut d,
            &mut s,
            RawInput::Button {
                button: BTN_LEFT,
                pressed: true,
            },
        );
        assert_eq!(d.focused(), Some(a), "click-to-focus is dom0's");
        assert!(sends(&press).contains(&(
            qa,
            QubeInput::PointerButton {
                window: a,
                button: BTN_LEFT,
                pressed: true
            }
        )));
        // Dragged onto b (below a now, another qube's): a leaves, b gets nothing, the
        // release still goes to a.
        let cb = d.content_rect(b).unwrap();
        let onto_b = route(
            &mut d,
            &mut s,
            RawInput::PointerTo(Point::new(cb.x + cb.w - 1, cb.y + cb.h - 1)),
        );
        assert_eq!(
            sends(&onto_b),
            [(qa, QubeInput::PointerLeave { window: a })]
        );
        let release = route(
            &mut d,
            &mut s,
            RawInput::Button {
                button: BTN_LEFT,
                pressed: false,
            },
        );
        assert_eq!(
            sends(&release),
            [(
                qa,
                QubeInput::PointerButton {
                    window: a,
                    button: BTN_LEFT,
                    pressed: false
                }
            )]
        );
        assert!(!sends(&release).iter().any(|(q, _)| *q == qb));
    }

    #[test]
    fn during_super_drag_no_qube_sees_the_pointer() {
        let (mut d, mut s, (qa, a), _) = setup();
        d.focus_and_raise(a);
        let ca = d.content_rect(a).unwrap();
        route(&mut d, &mut s, RawInput::PointerTo(ca.loc()));
        key(&mut d, &mut s, KEY_SUPER[0], true);
        let begin = route(
            &mut d,
            &mut s,
            RawInput::Button {
                button: BTN_LEFT,
                pressed: true,
            },
        );
        assert_eq!(sends(&begin), [(qa, QubeInput::PointerLeave { window: a })]);
        for dx in 1..5 {
            let moved = route(
                &mut d,
                &mut s,
                RawInput::PointerTo(Point::new(ca.x + dx, ca.y)),
            );
            assert!(sends(&moved).is_empty());
        }
        let end = route(
            &mut d,
            &mut s,
            RawInput::Button {
                button: BTN_LEFT,
                pressed: false,
            },
        );
        assert!(matches!(
            sends(&end)[..],
            [(q, QubeInput::PointerEnter { window, .. })] if q == qa && window == a
        ));
    }

    #[test]
    fn the_cursor_shape_is_dom0s_whenever_the_pointer_window_changes() {
        use bulkhead_protocol::CursorShape::{Default, Text, Wait};
        let (mut d, mut s, (qa, a), (qb, b)) = setup();
        let ca = d.content_rect(a).unwrap();
        let in_a = ca.loc();
        let to = |d: &mut Desktop, s: &mut InputState, at: Point| {
            route(d, s, RawInput::PointerTo(at));
        };
        // Unfocused: the pointer is dom0's, so is the shape.
        to(&mut d, &mut s, in_a);
        assert!(!s.request_cursor(qa, a, Text));
        d.focus_and_raise(a);
        to(&mut d, &mut s, in_a);
        assert!(
            !s.request_cursor(qb, b, Text),
            "the unfocused qube's own window"
        );
        assert!(s.request_cursor(qa, a, Text));
        assert_eq!(s.cursor(), Text);
        // Onto a's frame (the border above its content): dom0's arrow.
        to(&mut d, &mut s, Point::new(ca.x, ca.y - 1));
        assert_eq!(s.cursor(), Default);
        to(&mut d, &mut s, in_a);
        assert_eq!(s.cursor(), Default, "until a's qube asks again");
        assert!(s.request_cursor(qa, a, Text));
        // Super+drag: the pointer is dom0's for the move, and after it.
        key(&mut d, &mut s, KEY_SUPER[0], true);
        let button = |pressed| RawInput::Button {
            button: BTN_LEFT,
            pressed,
        };
        route(&mut d, &mut s, button(true));
        assert_eq!(s.cursor(), Default);
        assert!(!s.request_cursor(qa, a, Text), "during the move");
        route(&mut d, &mut s, button(false));
        key(&mut d, &mut s, KEY_SUPER[0], false);
        assert_eq!(s.pointer_in(), Some((qa, a)));
        assert_eq!(s.cursor(), Default);
        // The focus moves to b's qube (Super+Tab) under a still pointer.
        assert!(s.request_cursor(qa, a, Wait));
        key(&mut d, &mut s, KEY_SUPER[0], true);
        key(&mut d, &mut s, KEY_TAB, true);
        assert_eq!(d.focused(), Some(b));
        assert_eq!(s.cursor(), Default);
        key(&mut d, &mut s, KEY_TAB, false);
        key(&mut d, &mut s, KEY_SUPER[0], false);
        // Back to a, then a goes.
        d.focus_and_raise(a);
        pointer_refresh(&d, &mut s);
        assert!(s.request_cursor(qa, a, Wait));
        d.destroy(qa, a).unwrap();
        pointer_refresh(&d, &mut s);
        assert_eq!((s.pointer_in(), s.cursor()), (None, Default));
    }
}
