//! dom0's input: pure decisions over a small state, then a thin shell that sends what was
//! decided.
//!
//! - this module: what a key or button *means* ([`key_action`], [`button_action`]) and
//!   which modifier keys are held (per key: left and right apart);
//! - [`route`]: one raw event (from a backend or the control socket: the same path) turned
//!   into [`route::Effect`]s: messages for exactly one qube, dom0 shortcuts, clipboard
//!   gestures. Keys go only to the focused window's qube; pointer events only to the
//!   focused window's qube, for its window whose content is under the pointer, never
//!   during dom0's Super+drag;
//! - [`keyboard`]: dom0's xkb keymap and modifier state (the keymap text qubes are sent,
//!   the modifier masks, text → key codes for the control socket's `type`);
//! - [`shell`]: `State::input`, which feeds an event through [`route`] and sends the
//!   effects over the qubes' connections.
//!
//! dom0 also keeps the pointer's shape ([`InputState::cursor`]): the default arrow, or a
//! named shape (never an image) the qube asked for over the window that has the pointer.
//! A qube's `SetCursor` counts only for that window ([`InputState::request_cursor`]); when
//! the pointer's window changes in any way (leave, another window, a focus change, the
//! window gone, a Super+drag move) the shape is dom0's arrow again, until that window's
//! qube asks anew.
//!
//! dom0 consumes button presses on frames (focus and raise), Super+drag (move), Super+Tab
//! (cycle focus), Super+Shift+Q (close), Ctrl+Shift+C/V (the mediated clipboard) and the
//! session keys; a qube never sees those keys, their releases included, nor the Super key.
//! While Super is held every key press, button and scroll is dom0's (an unknown Super
//! chord does nothing); a key pressed then stays dom0's until it is released.

pub mod keyboard;
pub mod route;
pub mod shell;

use bulkhead_protocol::CursorShape;

use crate::desktop::{Point, QubeId, WindowId};

/// Linux evdev code of the left mouse button.
pub const BTN_LEFT: u32 = 0x110;
/// xkb keycodes (evdev + 8) of the two Super keys.
pub const KEY_SUPER: [u32; 2] = [125 + 8, 126 + 8];
/// xkb keycodes of the two Ctrl keys.
pub const KEY_CTRL: [u32; 2] = [29 + 8, 97 + 8];
/// xkb keycodes of the two Shift keys.
pub const KEY_SHIFT: [u32; 2] = [42 + 8, 54 + 8];
/// xkb keycode of Tab.
pub const KEY_TAB: u32 = 15 + 8;
/// xkb keycode of Q.
pub const KEY_Q: u32 = 16 + 8;
/// xkb keycode of C.
pub const KEY_C: u32 = 46 + 8;
/// xkb keycode of V.
pub const KEY_V: u32 = 47 + 8;
/// xkb keycodes of the two Alt keys.
pub const KEY_ALT: [u32; 2] = [56 + 8, 100 + 8];
/// xkb keycode of Backspace.
pub const KEY_BACKSPACE: u32 = 14 + 8;
/// xkb keycodes of F1 … F12 (evdev 59–68, 87, 88).
pub const KEY_F: [u32; 12] = [
    59 + 8,
    60 + 8,
    61 + 8,
    62 + 8,
    63 + 8,
    64 + 8,
    65 + 8,
    66 + 8,
    67 + 8,
    68 + 8,
    87 + 8,
    88 + 8,
];

/// What dom0 remembers about the input devices.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InputState {
    /// Last pointer position on the output.
    pub pointer: Point,
    /// Modifier keys held (xkb codes, left and right apart): a modifier counts as held
    /// while any of its keys is down.
    mods_down: Vec<u32>,
    /// Keys whose press dom0 kept (a shortcut, or anything pressed while Super is held):
    /// their release, and their repeats, are kept too.
    swallowed: Vec<u32>,
    /// The window whose content the pointer is in, as last told to its qube (changed only
    /// through [`InputState::set_pointer_in`], which keeps the cursor shape in step).
    pointer_in: Option<(QubeId, WindowId)>,
    /// The shape the window that has the pointer asked for (`None`: dom0's arrow). Only
    /// ever set for `pointer_in`, and dropped whenever `pointer_in` changes.
    cursor: Option<CursorShape>,
    /// Buttons whose press a qube got: the release goes to the same window (so no button
    /// stays stuck in a client), and to no other.
    pub held: Vec<(u32, QubeId, WindowId)>,
    /// Keys (evdev codes) whose press a qube got: the release goes to that qube if it
    /// still has the focus, and to no other (a qube that lost the focus has had its
    /// keyboard leave, which releases everything).
    pub keys_down: Vec<(u32, QubeId)>,
    /// The modifier masks changed while Super was held and the focused qube was not told
    /// (the shell tells it when Super is let go).
    pub(crate) mods_withheld: bool,
}

impl InputState {
    /// The window whose content the pointer is in, as last told to its qube.
    pub fn pointer_in(&self) -> Option<(QubeId, WindowId)> {
        self.pointer_in
    }

    /// The pointer's window is now `to`: if that is another window (or none), the shape
    /// goes back to dom0's arrow.
    pub(crate) fn set_pointer_in(&mut self, to: Option<(QubeId, WindowId)>) {
        if to != self.pointer_in {
            self.cursor = None;
        }
        self.pointer_in = to;
    }

    /// `qube`'s connection is gone: it no longer has the pointer nor a held button.
    pub(crate) fn qube_gone(&mut self, qube: QubeId) {
        if self.pointer_in.is_some_and(|(q, _)| q == qube) {
            self.set_pointer_in(None);
        }
        self.held.retain(|(_, q, _)| *q != qube);
    }

    /// `qube` asks for `shape` over its `window`: honoured (and `true` returned) only if
    /// that window has the pointer now ([`cursor_request_honoured`]); otherwise nothing
    /// changes.
    pub fn request_cursor(&mut self, qube: QubeId, window: WindowId, shape: CursorShape) -> bool {
        let honoured = cursor_request_honoured(self.pointer_in, qube, window);
        if honoured {
            self.cursor = Some(shape);
        }
        honoured
    }

    /// The pointer's shape now: what the window that has the pointer asked for, else
    /// dom0's default arrow (over frames, the background, other qubes' windows, during a
    /// move, and over a window that has not asked since the pointer came in).
    pub fn cursor(&self) -> CursorShape {
        match (self.pointer_in, self.cursor) {
            (Some(_), Some(shape)) => shape,
            _ => CursorShape::Default,
        }
    }

    fn any_down(&self, keys: [u32; 2]) -> bool {
        self.mods_down.iter().any(|k| keys.contains(k))
    }

    /// Whether a Super key is held.
    pub fn super_held(&self) -> bool {
        self.any_down(KEY_SUPER)
    }

    /// Whether a Ctrl key is held.
    pub fn ctrl_held(&self) -> bool {
        self.any_down(KEY_CTRL)
    }

    /// Whether a Shift key is held.
    pub fn shift_held(&self) -> bool {
        self.any_down(KEY_SHIFT)
    }

    /// Whether an Alt key is held.
    pub fn alt_held(&self) -> bool {
        self.any_down(KEY_ALT)
    }

    /// Follows one key of the modifier state (xkb code).
    fn track_modifier(&mut self, keycode: u32, pressed: bool) {
        let modifier = [KEY_SUPER, KEY_CTRL, KEY_SHIFT, KEY_ALT]
            .iter()
            .any(|keys| keys.contains(&keycode));
        if !modifier {
            return;
        }
        let i = self.mods_down.iter().position(|k| *k == keycode);
        match (pressed, i) {
            (true, None) => self.mods_down.push(keycode),
            (false, Some(i)) => {
                self.mods_down.swap_remove(i);
            }
            _ => {}
        }
    }
}

/// Whether a qube's `SetCursor` for its `window` is honoured: only when that very window
/// (of that very qube) has the pointer. A qube cannot change the pointer over another
/// qube's window, a frame, the background, or its own window the pointer is not in; so a
/// hidden pointer, too, is only ever hidden over the asking qube's own window.
pub fn cursor_request_honoured(
    pointer_in: Option<(QubeId, WindowId)>,
    qube: QubeId,
    window: WindowId,
) -> bool {
    pointer_in == Some((qube, window))
}

/// What a pointer button does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ButtonAction {
    /// Focus and raise what is under the pointer.
    Click(Point),
    /// Super+press: start moving the window under the pointer.
    BeginMove(Point),
    /// Release during a move.
    EndMove,
    /// Super + any other button: dom0's (nothing yet); no qube sees the press nor, as it
    /// never got the press, the release.
    Dom0,
    /// Nothing for dom0.
    None,
}

/// Decides what a button event means.
pub fn button_action(state: &InputState, button: u32, pressed: bool, moving: bool) -> ButtonAction {
    match (pressed, moving) {
        (false, true) if button == BTN_LEFT => ButtonAction::EndMove,
        (true, false) if state.super_held() => {
            if button == BTN_LEFT {
                ButtonAction::BeginMove(state.pointer)
            } else {
                ButtonAction::Dom0
            }
        }
        (true, false) => ButtonAction::Click(state.pointer),
        _ => ButtonAction::None,
    }
}

/// What a key event means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAction {
    /// Super+Tab: focus the next window.
    FocusNext,
    /// Super+Shift+Q: ask the focused window's qube to close it.
    CloseFocused,
    /// Ctrl+Shift+C: copy the focused qube's clipboard into dom0's (never seen by a guest).
    ClipboardCopy,
    /// Ctrl+Shift+V: offer dom0's clipboard to the focused qube (never seen by a guest).
    ClipboardPaste,
    /// Ctrl+Alt+F1 … F12: switch to that virtual terminal (a DRM session; never seen by a
    /// guest, whatever the backend).
    SwitchVt(u8),
    /// Ctrl+Alt+Backspace: end dom0's session (the way out of a DRM session on a VT).
    Quit,
    /// An ordinary key: to the focused window's qube, and to no other.
    ToQube(QubeId),
    /// Nothing is focused, or dom0 keeps the key (the Super keys, anything pressed while
    /// Super is held, shortcut releases and repeats).
    Drop,
}

/// Updates the modifier state and decides where a key event goes. `focused` is the qube of
/// the focused window: the only qube that may ever receive a key.
///
/// While Super is held every key press is dom0's: a Super chord dom0 does not know does
/// nothing, and the key's release (and its repeats, after Super too) stays dom0's. A key a
/// qube got the press of before Super went down still gets its release there.
pub fn key_action(
    state: &mut InputState,
    focused: Option<QubeId>,
    keycode: u32,
    pressed: bool,
) -> KeyAction {
    state.track_modifier(keycode, pressed);
    if KEY_SUPER.contains(&keycode) {
        return KeyAction::Drop;
    }
    let swallowed = state.swallowed.iter().position(|k| *k == keycode);
    if !pressed {
        return match (swallowed, focused) {
            (Some(i), _) => {
                state.swallowed.swap_remove(i);
                KeyAction::Drop
            }
            (None, Some(qube)) => KeyAction::ToQube(qube),
            (None, None) => KeyAction::Drop,
        };
    }
    let in_a_qube = keycode
        .checked_sub(route::XKB_OFFSET)
        .is_some_and(|evdev| state.keys_down.iter().any(|(k, _)| *k == evdev));
    if in_a_qube {
        // A repeat of a key a qube got the press of: never a shortcut, and its release
        // stays the qube's. While Super is held the repeat itself is dom0's.
        return match focused {
            Some(qube) if !state.super_held() => KeyAction::ToQube(qube),
            _ => KeyAction::Drop,
        };
    }
    let shortcut = match (
        state.super_held(),
        state.ctrl_held(),
        state.shift_held(),
        keycode,
    ) {
        (true, _, false, KEY_TAB) => Some(KeyAction::FocusNext),
        (true, _, true, KEY_Q) => Some(KeyAction::CloseFocused),
        (false, true, true, KEY_C) => Some(KeyAction::ClipboardCopy),
        (false, true, true, KEY_V) => Some(KeyAction::ClipboardPaste),
        (false, true, _, KEY_BACKSPACE) if state.alt_held() => Some(KeyAction::Quit),
        (false, true, _, code) if state.alt_held() => KEY_F
            .iter()
            .position(|f| *f == code)
            .and_then(|i| u8::try_from(i + 1).ok())
            .map(KeyAction::SwitchVt),
        _ => None,
    };
    if let Some(action) = shortcut {
        if swallowed.is_none() {
            state.swallowed.push(keycode);
        }
        return action;
    }
    if swallowed.is_some() {
        // A repeat of a key dom0 kept: its release will be dom0's too.
        return KeyAction::Drop;
    }
    if state.super_held() {
        // An unknown Super chord: nothing, and the key is dom0's until released.
        state.swallowed.push(keycode);
        return KeyAction::Drop;
    }
    match focused {
        Some(qube) => KeyAction::ToQube(qube),
        None => KeyAction::Drop,
    }
}

/// One backend input event (nested window or libinput) as dom0's [`route::RawInput`], then
/// handled exactly like injected input. Relative pointer motion needs the pointer's position
/// and is the DRM backend's to convert.
#[cfg(any(feature = "winit", feature = "drm"))]
pub fn from_backend<B: smithay::backend::input::InputBackend>(
    output: crate::desktop::Size,
    event: smithay::backend::input::InputEvent<B>,
) -> Option<route::RawInput> {
    use smithay::backend::input::{
        AbsolutePositionEvent, Axis, ButtonState, InputEvent, KeyState, KeyboardKeyEvent,
        PointerAxisEvent, PointerButtonEvent,
    };
    match event {
        InputEvent::PointerMotionAbsolute { event } => {
            let p = event.position_transformed((output.w, output.h).into());
            Some(route::RawInput::PointerTo(Point::new(
                saturate(p.x),
                saturate(p.y),
            )))
        }
        InputEvent::PointerButton { event } => Some(route::RawInput::Button {
            button: event.button_code(),
            pressed: event.state() == ButtonState::Pressed,
        }),
        InputEvent::Keyboard { event } => Some(route::RawInput::Key {
            keycode: event.key_code().raw(),
            pressed: event.state() == KeyState::Pressed,
        }),
        InputEvent::PointerAxis { event } => {
            let (axis, wire) = if event.amount(Axis::Vertical).is_some()
                || event.amount_v120(Axis::Vertical).is_some()
            {
                (Axis::Vertical, bulkhead_protocol::Axis::Vertical)
            } else {
                (Axis::Horizontal, bulkhead_protocol::Axis::Horizontal)
            };
            let v120 = event.amount_v120(axis).unwrap_or(0.0);
            let value = event.amount(axis).unwrap_or(v120 / 120.0 * 15.0);
            let clamp = |v: f64, max: i32| saturate(v).clamp(-max, max);
            Some(route::RawInput::Axis {
                axis: wire,
                value: clamp(value * 256.0, bulkhead_protocol::MAX_AXIS_VALUE),
                discrete_120: clamp(v120, bulkhead_protocol::MAX_AXIS_DISCRETE_120),
            })
        }
        _ => None,
    }
}

/// A float as a whole number (saturating; NaN is 0).
#[cfg(any(feature = "winit", feature = "drm"))]
#[allow(
    clippy::cast_possible_truncation,
    reason = "float-to-int `as` saturates, which is the intent"
)]
pub(crate) fn saturate(v: f64) -> i32 {
    v.floor() as i32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_request_counts_only_for_the_window_that_has_the_pointer() {
        let (work, other) = (QubeId(1), QubeId(2));
        let (a, b) = (WindowId(10), WindowId(11));
        assert!(!cursor_request_honoured(None, work, a));
        assert!(cursor_request_honoured(Some((work, a)), work, a));
        assert!(
            !cursor_request_honoured(Some((work, a)), work, b),
            "its other window"
        );
        assert!(
            !cursor_request_honoured(Some((work, a)), other, a),
            "another qube"
        );

        let mut s = InputState::default();
        assert_eq!(s.cursor(), CursorShape::Default);
        assert!(
            !s.request_cursor(work, a, CursorShape::Text),
            "nobody has the pointer"
        );
        assert_eq!(s.cursor(), CursorShape::Default);
        s.set_pointer_in(Some((work, a)));
        assert!(!s.request_cursor(other, a, CursorShape::Hidden));
        assert!(!s.request_cursor(work, b, CursorShape::Hidden));
        assert_eq!(s.cursor(), CursorShape::Default);
        assert!(s.request_cursor(work, a, CursorShape::Text));
        assert_eq!(s.cursor(), CursorShape::Text);
        assert!(s.request_cursor(work, a, CursorShape::Hidden));
        assert_eq!(s.cursor(), CursorShape::Hidden);
        // The same window again: the shape stays.
        s.set_pointer_in(Some((work, a)));
        assert_eq!(s.cursor(), CursorShape::Hidden);
    }

    #[test]
    fn the_shape_is_dom0s_again_whenever_the_pointer_window_changes() {
        let (work, other) = (QubeId(1), QubeId(2));
        let (a, b) = (WindowId(10), WindowId(11));
        let mut s = InputState::default();
        // Another window of the same qube.
        s.set_pointer_in(Some((work, a)));
        s.request_cursor(work, a, CursorShape::Text);
        s.set_pointer_in(Some((work, b)));
        assert_eq!(s.cursor(), CursorShape::Default);
        // Out, then back into the same window: not the old shape until asked anew.
        s.request_cursor(work, b, CursorShape::Pointer);
        s.set_pointer_in(None);
        assert_eq!(s.cursor(), CursorShape::Default);
        s.set_pointer_in(Some((work, b)));
        assert_eq!(s.cursor(), CursorShape::Default);
        // The qube goes: its shape goes with it; another qube's disconnect changes nothing.
        s.request_cursor(work, b, CursorShape::Wait);
        s.qube_gone(other);
        assert_eq!(s.cursor(), CursorShape::Wait);
        s.qube_gone(work);
        assert_eq!((s.pointer_in(), s.cursor()), (None, CursorShape::Default));
    }

    #[test]
    fn super_press_moves_plain_press_clicks() {
        let mut s = InputState {
            pointer: Point::new(5, 6),
            ..InputState::default()
        };
        assert_eq!(
            button_action(&s, BTN_LEFT, true, false),
            ButtonAction::Click(Point::new(5, 6))
        );
        assert_eq!(
            key_action(&mut s, None, KEY_SUPER[0], true),
            KeyAction::Drop
        );
        assert_eq!(
            button_action(&s, BTN_LEFT, true, false),
            ButtonAction::BeginMove(Point::new(5, 6))
        );
        assert_eq!(
            button_action(&s, BTN_LEFT, false, true),
            ButtonAction::EndMove
        );
    }

    #[test]
    fn keys_go_to_the_focused_qube_only_and_shortcuts_to_no_qube() {
        let (work, other) = (Some(QubeId(1)), Some(QubeId(2)));
        let mut s = InputState::default();
        assert_eq!(
            key_action(&mut s, work, KEY_C, true),
            KeyAction::ToQube(QubeId(1))
        );
        assert_eq!(
            key_action(&mut s, other, KEY_C, false),
            KeyAction::ToQube(QubeId(2))
        );
        assert_eq!(key_action(&mut s, None, KEY_C, true), KeyAction::Drop);
        // Ctrl+Shift+C/V: the press and the release of C/V never reach a guest.
        for code in [KEY_CTRL[0], KEY_SHIFT[1]] {
            assert_eq!(
                key_action(&mut s, work, code, true),
                KeyAction::ToQube(QubeId(1))
            );
        }
        assert_eq!(
            key_action(&mut s, work, KEY_C, true),
            KeyAction::ClipboardCopy
        );
        assert_eq!(
            key_action(&mut s, work, KEY_C, true),
            KeyAction::ClipboardCopy,
            "repeat"
        );
        assert_eq!(key_action(&mut s, work, KEY_C, false), KeyAction::Drop);
        assert_eq!(
            key_action(&mut s, work, KEY_V, true),
            KeyAction::ClipboardPaste
        );
        // Shift is let go before V: V's release is still dom0's.
        assert_eq!(
            key_action(&mut s, work, KEY_SHIFT[1], false),
            KeyAction::ToQube(QubeId(1))
        );
        assert_eq!(key_action(&mut s, work, KEY_V, false), KeyAction::Drop);
        // Super shortcuts.
        key_action(&mut s, work, KEY_CTRL[0], false);
        key_action(&mut s, work, KEY_SUPER[1], true);
        assert_eq!(
            key_action(&mut s, work, KEY_TAB, true),
            KeyAction::FocusNext
        );
        assert_eq!(key_action(&mut s, work, KEY_TAB, false), KeyAction::Drop);
        key_action(&mut s, work, KEY_SHIFT[0], true);
        assert_eq!(
            key_action(&mut s, work, KEY_Q, true),
            KeyAction::CloseFocused
        );
        key_action(&mut s, work, KEY_SUPER[1], false);
        key_action(&mut s, work, KEY_SHIFT[0], false);
        assert_eq!(
            key_action(&mut s, work, KEY_TAB, true),
            KeyAction::ToQube(QubeId(1))
        );
    }

    #[test]
    fn every_super_chord_is_dom0s_press_release_and_repeats() {
        let work = Some(QubeId(1));
        let key_l = 38 + 8;
        let mut s = InputState::default();
        key_action(&mut s, work, KEY_SUPER[0], true);
        // Super+L (no such shortcut): nothing, and no qube sees the L.
        assert_eq!(key_action(&mut s, work, key_l, true), KeyAction::Drop);
        assert_eq!(
            key_action(&mut s, work, KEY_SHIFT[0], true),
            KeyAction::Drop
        );
        assert_eq!(key_action(&mut s, work, KEY_ALT[1], true), KeyAction::Drop);
        key_action(&mut s, work, KEY_SUPER[0], false);
        // Let go after Super: the releases and repeats are still dom0's.
        assert_eq!(
            key_action(&mut s, work, key_l, true),
            KeyAction::Drop,
            "repeat"
        );
        assert_eq!(key_action(&mut s, work, key_l, false), KeyAction::Drop);
        assert_eq!(
            key_action(&mut s, work, KEY_SHIFT[0], false),
            KeyAction::Drop
        );
        assert_eq!(key_action(&mut s, work, KEY_ALT[1], false), KeyAction::Drop);
        // Then L is the qube's again.
        assert_eq!(
            key_action(&mut s, work, key_l, true),
            KeyAction::ToQube(QubeId(1))
        );
        assert_eq!(
            key_action(&mut s, work, key_l, false),
            KeyAction::ToQube(QubeId(1))
        );
    }

    #[test]
    fn a_key_a_qube_got_before_super_keeps_its_release_there() {
        let work = Some(QubeId(1));
        let mut s = InputState::default();
        // The route records the press a qube got; Super goes down while it is held.
        s.keys_down.push((KEY_TAB - 8, QubeId(1)));
        key_action(&mut s, work, KEY_SUPER[1], true);
        assert_eq!(
            key_action(&mut s, work, KEY_TAB, true),
            KeyAction::Drop,
            "a repeat during Super is neither a shortcut nor the qube's"
        );
        assert_eq!(
            key_action(&mut s, work, KEY_TAB, false),
            KeyAction::ToQube(QubeId(1))
        );
    }

    #[test]
    fn modifiers_are_held_while_any_of_their_keys_is() {
        let work = Some(QubeId(1));
        let mut s = InputState::default();
        // Left Super held, right Super tapped: Super is still held.
        key_action(&mut s, work, KEY_SUPER[0], true);
        key_action(&mut s, work, KEY_SUPER[1], true);
        key_action(&mut s, work, KEY_SUPER[1], false);
        assert!(s.super_held());
        assert_eq!(
            key_action(&mut s, work, KEY_TAB, true),
            KeyAction::FocusNext
        );
        key_action(&mut s, work, KEY_TAB, false);
        key_action(&mut s, work, KEY_SUPER[0], false);
        assert!(!s.super_held());
        // The same for Ctrl, Shift and Alt.
        for (left, right) in [KEY_CTRL, KEY_SHIFT, KEY_ALT].map(|[l, r]| (l, r)) {
            key_action(&mut s, work, left, true);
            key_action(&mut s, work, right, true);
            key_action(&mut s, work, right, false);
        }
        assert!(s.ctrl_held() && s.shift_held() && s.alt_held());
        assert_eq!(
            key_action(&mut s, work, KEY_C, true),
            KeyAction::ClipboardCopy
        );
        assert_eq!(
            key_action(&mut s, work, KEY_F[2], true),
            KeyAction::SwitchVt(3)
        );
        // A release of a key never pressed changes nothing.
        key_action(&mut s, work, KEY_CTRL[1], false);
        assert!(s.ctrl_held());
        key_action(&mut s, work, KEY_CTRL[0], false);
        assert!(!s.ctrl_held());
    }

    #[test]
    fn super_with_any_other_button_is_dom0s() {
        let mut s = InputState::default();
        key_action(&mut s, None, KEY_SUPER[1], true);
        for button in [BTN_LEFT + 1, BTN_LEFT + 2, BTN_LEFT + 3] {
            assert_eq!(button_action(&s, button, true, false), ButtonAction::Dom0);
        }
        // Another button let go during a move does not end it.
        assert_eq!(
            button_action(&s, BTN_LEFT + 1, false, true),
            ButtonAction::None
        );
        key_action(&mut s, None, KEY_SUPER[1], false);
        assert_eq!(
            button_action(&s, BTN_LEFT + 1, true, false),
            ButtonAction::Click(Point::default())
        );
    }

    #[test]
    fn session_keys_never_reach_a_guest() {
        let work = Some(QubeId(1));
        let mut s = InputState::default();
        // F2 alone, or with Ctrl only, is the qube's.
        assert_eq!(
            key_action(&mut s, work, KEY_F[1], true),
            KeyAction::ToQube(QubeId(1))
        );
        key_action(&mut s, work, KEY_F[1], false);
        key_action(&mut s, work, KEY_CTRL[1], true);
        key_action(&mut s, work, KEY_ALT[0], true);
        assert_eq!(
            key_action(&mut s, work, KEY_F[1], true),
            KeyAction::SwitchVt(2)
        );
        assert_eq!(
            key_action(&mut s, work, KEY_F[11], true),
            KeyAction::SwitchVt(12)
        );
        assert_eq!(
            key_action(&mut s, work, KEY_BACKSPACE, true),
            KeyAction::Quit
        );
        // Their releases stay dom0's, even after the modifiers are let go.
        key_action(&mut s, work, KEY_ALT[0], false);
        key_action(&mut s, work, KEY_CTRL[1], false);
        for key in [KEY_F[1], KEY_F[11], KEY_BACKSPACE] {
            assert_eq!(key_action(&mut s, work, key, false), KeyAction::Drop);
        }
        assert_eq!(
            key_action(&mut s, work, KEY_BACKSPACE, true),
            KeyAction::ToQube(QubeId(1))
        );
    }
}
