//! dom0's input decisions, as pure functions over a small state, and the thin shell that
//! feeds them from the nested backend's events.
//!
//! dom0 consumes button presses (focus and raise), Super+drag (move), Super+Tab (cycle
//! focus), Super+Shift+Q (close) and Ctrl+Shift+C/V (the mediated clipboard, later); every
//! other key is for the focused window's qube and no other ([`KeyAction::ToQube`]). Sending
//! it there is the connection handler's job (next issue).

use crate::desktop::{ClickOutcome, Point, QubeId};
use crate::state::Dom0;

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
    /// Keys whose press dom0 kept (a shortcut): their release is kept too.
    swallowed: Vec<u32>,
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

/// Applies a key decision to the model. Returns whether anything changed.
pub fn apply_key(dom0: &mut Dom0, action: KeyAction) -> bool {
    match action {
        KeyAction::FocusNext => dom0.desktop.focus_next().is_some(),
        KeyAction::CloseFocused => {
            let focused = dom0.desktop.focused();
            focused
                .and_then(|w| dom0.desktop.request_close(w))
                .is_some()
        }
        KeyAction::ClipboardCopy | KeyAction::ClipboardPaste => {
            tracing::debug!(
                ?action,
                "clipboard gesture (the mediated clipboard comes later)"
            );
            false
        }
        // Forwarding to the qube is the connection handler's (next issue).
        KeyAction::ToQube(_) | KeyAction::Drop => false,
    }
}

/// Applies a button decision to the model. Returns whether anything changed.
pub fn apply_button(dom0: &mut Dom0, action: ButtonAction) -> bool {
    match action {
        ButtonAction::Click(at) => matches!(dom0.desktop.click(at), ClickOutcome::Window { .. }),
        ButtonAction::BeginMove(at) => dom0.desktop.begin_move(at).is_some(),
        ButtonAction::EndMove => {
            dom0.desktop.end_move();
            false
        }
        ButtonAction::None => false,
    }
}

/// Feeds one nested-backend input event through the decisions. Returns whether to redraw.
#[cfg(feature = "winit")]
pub fn handle_winit_input(
    dom0: &mut Dom0,
    output: crate::desktop::Size,
    event: smithay::backend::input::InputEvent<smithay::backend::winit::WinitInput>,
) -> bool {
    use smithay::backend::input::{
        AbsolutePositionEvent, ButtonState, InputEvent, KeyState, KeyboardKeyEvent,
        PointerButtonEvent,
    };
    match event {
        InputEvent::PointerMotionAbsolute { event } => {
            let p = event.position_transformed((output.w, output.h).into());
            dom0.input.pointer = Point::new(saturate(p.x), saturate(p.y));
            dom0.desktop.update_move(dom0.input.pointer)
        }
        InputEvent::PointerButton { event } => {
            let pressed = event.state() == ButtonState::Pressed;
            let action = button_action(
                &dom0.input,
                event.button_code(),
                pressed,
                dom0.desktop.is_moving(),
            );
            apply_button(dom0, action)
        }
        InputEvent::Keyboard { event } => {
            let code = event.key_code().raw();
            let focused = dom0.desktop.focused_qube();
            let action = key_action(
                &mut dom0.input,
                focused,
                code,
                event.state() == KeyState::Pressed,
            );
            apply_key(dom0, action)
        }
        _ => false,
    }
}

/// A float pointer coordinate as whole pixels (saturating; NaN is 0).
#[cfg(feature = "winit")]
#[allow(
    clippy::cast_possible_truncation,
    reason = "float-to-int `as` saturates, which is the intent"
)]
fn saturate(v: f64) -> i32 {
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
}
