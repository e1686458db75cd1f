//! dom0's input: pure decisions over a small state, then a thin shell that sends what was
//! decided.
//!
//! - this module: what a key or button *means* ([`key_action`], [`button_action`]);
//! - [`route`]: one raw event (from a backend or the control socket: the same path) turned
//!   into [`route::Effect`]s: messages for exactly one qube, dom0 shortcuts, clipboard
//!   gestures. Keys go only to the focused window's qube; pointer events only to the qube
//!   whose window content is under the pointer, never during dom0's Super+drag;
//! - [`keyboard`]: dom0's xkb keymap and modifier state (the keymap text qubes are sent,
//!   the modifier masks, text → key codes for the control socket's `type`);
//! - [`shell`]: `State::input`, which feeds an event through [`route`] and sends the
//!   effects over the qubes' connections.
//!
//! dom0 consumes button presses on frames (focus and raise), Super+drag (move), Super+Tab
//! (cycle focus), Super+Shift+Q (close) and Ctrl+Shift+C/V (the mediated clipboard); a qube
//! never sees those keys, their releases included, nor the Super key.

pub mod keyboard;
pub mod route;
pub mod shell;

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
    /// Whether a Super key is held.
    pub super_held: bool,
    /// Whether a Ctrl key is held.
    pub ctrl_held: bool,
    /// Whether a Shift key is held.
    pub shift_held: bool,
    /// Whether an Alt key is held.
    pub alt_held: bool,
    /// Keys whose press dom0 kept (a shortcut): their release is kept too.
    swallowed: Vec<u32>,
    /// The window whose content the pointer is in, as last told to its qube.
    pub pointer_in: Option<(QubeId, WindowId)>,
    /// Buttons whose press a qube got: the release goes to the same window (so no button
    /// stays stuck in a client), and to no other.
    pub held: Vec<(u32, QubeId, WindowId)>,
    /// Keys (evdev codes) whose press a qube got: the release goes to that qube if it
    /// still has the focus, and to no other (a qube that lost the focus has had its
    /// keyboard leave, which releases everything).
    pub keys_down: Vec<(u32, QubeId)>,
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
    /// Nothing for dom0.
    None,
}

/// Decides what a button event means.
pub fn button_action(state: &InputState, button: u32, pressed: bool, moving: bool) -> ButtonAction {
    match (pressed, moving) {
        (false, true) => ButtonAction::EndMove,
        (true, false) if button == BTN_LEFT && state.super_held => {
            ButtonAction::BeginMove(state.pointer)
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
    /// Nothing is focused, or dom0 keeps the key (modifiers it uses, shortcut releases).
    Drop,
}

/// Updates the modifier state and decides where a key event goes. `focused` is the qube of
/// the focused window: the only qube that may ever receive a key.
pub fn key_action(
    state: &mut InputState,
    focused: Option<QubeId>,
    keycode: u32,
    pressed: bool,
) -> KeyAction {
    if KEY_SUPER.contains(&keycode) {
        state.super_held = pressed;
        return KeyAction::Drop;
    }
    if KEY_CTRL.contains(&keycode) {
        state.ctrl_held = pressed;
    }
    if KEY_SHIFT.contains(&keycode) {
        state.shift_held = pressed;
    }
    if KEY_ALT.contains(&keycode) {
        state.alt_held = pressed;
    }
    if !pressed {
        if let Some(i) = state.swallowed.iter().position(|k| *k == keycode) {
            state.swallowed.swap_remove(i);
            return KeyAction::Drop;
        }
    }
    let shortcut = match (
        pressed,
        state.super_held,
        state.ctrl_held,
        state.shift_held,
        keycode,
    ) {
        (true, true, _, false, KEY_TAB) => Some(KeyAction::FocusNext),
        (true, true, _, true, KEY_Q) => Some(KeyAction::CloseFocused),
        (true, false, true, true, KEY_C) => Some(KeyAction::ClipboardCopy),
        (true, false, true, true, KEY_V) => Some(KeyAction::ClipboardPaste),
        (true, false, true, _, KEY_BACKSPACE) if state.alt_held => Some(KeyAction::Quit),
        (true, false, true, _, code) if state.alt_held => KEY_F
            .iter()
            .position(|f| *f == code)
            .and_then(|i| u8::try_from(i + 1).ok())
            .map(KeyAction::SwitchVt),
        _ => None,
    };
    if let Some(action) = shortcut {
        if !state.swallowed.contains(&keycode) {
            state.swallowed.push(keycode);
        }
        return action;
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
