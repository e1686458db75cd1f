//! dom0's input decisions, as pure functions over a small state, and the thin shell that
//! feeds them from the nested backend's events.
//!
//! Today dom0 itself consumes: button presses (focus and raise), Super+drag (move) and
//! Super+Tab (cycle focus). Routing the rest to the focused qube comes with the connection
//! handler (next issue); the decision layer is where that rule will live.

use crate::desktop::{ClickOutcome, Point};
use crate::state::Dom0;

/// Linux evdev code of the left mouse button.
pub const BTN_LEFT: u32 = 0x110;
/// xkb keycodes (evdev + 8) of the two Super keys.
pub const KEY_SUPER: [u32; 2] = [125 + 8, 126 + 8];
/// xkb keycode of Tab.
pub const KEY_TAB: u32 = 15 + 8;

/// What dom0 remembers about the input devices.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InputState {
    /// Last pointer position on the output.
    pub pointer: Point,
    /// Whether a Super key is held.
    pub super_held: bool,
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

/// What a key event means for dom0.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyAction {
    /// Super+Tab: focus the next window.
    FocusNext,
    /// Not a dom0 shortcut (would go to the focused qube).
    Forward,
}

/// Updates the modifier state and decides what a key event means.
pub fn key_action(state: &mut InputState, keycode: u32, pressed: bool) -> KeyAction {
    if KEY_SUPER.contains(&keycode) {
        state.super_held = pressed;
        return KeyAction::Forward;
    }
    if pressed && state.super_held && keycode == KEY_TAB {
        return KeyAction::FocusNext;
    }
    KeyAction::Forward
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
            match key_action(&mut dom0.input, code, event.state() == KeyState::Pressed) {
                KeyAction::FocusNext => dom0.desktop.focus_next().is_some(),
                KeyAction::Forward => false,
            }
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
            super_held: false,
        };
        assert_eq!(
            button_action(&s, BTN_LEFT, true, false),
            ButtonAction::Click(Point::new(5, 6))
        );
        assert_eq!(key_action(&mut s, KEY_SUPER[0], true), KeyAction::Forward);
        assert_eq!(
            button_action(&s, BTN_LEFT, true, false),
            ButtonAction::BeginMove(Point::new(5, 6))
        );
        assert_eq!(
            button_action(&s, BTN_LEFT, false, true),
            ButtonAction::EndMove
        );
        assert_eq!(key_action(&mut s, KEY_TAB, true), KeyAction::FocusNext);
        key_action(&mut s, KEY_SUPER[0], false);
        assert_eq!(key_action(&mut s, KEY_TAB, true), KeyAction::Forward);
    }
}
