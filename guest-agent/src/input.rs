//! dom0's input events, delivered to the right surface of the right window.
//!
//! dom0 decides which window has keyboard focus and which one the pointer is over (a qube
//! cannot take focus by itself); the agent only maps window-content coordinates to the
//! surface under them (subsurfaces included; popups are windows of their own).

use bulkhead_protocol::Axis as WireAxis;
use smithay::backend::input::{Axis, AxisSource, ButtonState, KeyState};
use smithay::desktop::WindowSurfaceType;
use smithay::desktop::utils::under_from_surface_tree;
use smithay::input::keyboard::{FilterResult, KeyboardTarget, Layout, ModifiersState};
use smithay::input::pointer::{AxisFrame, ButtonEvent, MotionEvent};
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::utils::{Logical, Point, SERIAL_COUNTER};

use crate::link::WindowId;
use crate::state::Agent;
use crate::window::Shell;
use crate::window::frame::window_geometry;

/// evdev key codes are xkb key codes minus 8.
const EVDEV_XKB_OFFSET: u32 = 8;

/// A surface and its origin, in the coordinates of its window's root surface.
type PointerFocus = (WlSurface, Point<f64, Logical>);

/// Who has the qube's input, as dom0 said.
#[derive(Debug, Default, Clone)]
pub struct InputState {
    /// The window dom0 says is focused.
    pub focused: Option<WindowId>,
    /// The window the pointer is over.
    pub pointer: Option<WindowId>,
    /// The last pointer shape sent, and for which window.
    pub cursor: Option<(WindowId, bulkhead_protocol::CursorShape)>,
    /// Popups that took an xdg_popup grab (menus), oldest first.
    pub grabs: Vec<WindowId>,
}

/// Modifier masks in wl_keyboard form turned into smithay's booleans, assuming the usual
/// real-modifier bits of xkb keymaps (Shift, Lock, Control, Mod1, Mod2, -, Mod4, Mod5).
pub fn modifiers_from_masks(depressed: u32, latched: u32, locked: u32) -> ModifiersState {
    let active = depressed | latched | locked;
    ModifiersState {
        shift: active & 1 != 0,
        caps_lock: locked & 2 != 0,
        ctrl: active & 4 != 0,
        alt: active & 8 != 0,
        num_lock: locked & 16 != 0,
        logo: active & 64 != 0,
        iso_level3_shift: active & 128 != 0,
        ..ModifiersState::default()
    }
}

impl Agent {
    /// The surface under `(x, y)` pixels of window `id`'s content, with the pointer
    /// position and that surface's origin in the root surface's coordinates.
    fn surface_under(
        &self,
        id: WindowId,
        x: f64,
        y: f64,
    ) -> Option<(Point<f64, Logical>, Option<PointerFocus>)> {
        let window = self.windows.get(id)?;
        let root = window.shell.wl_surface();
        let geometry = window_geometry(root);
        let scale = f64::from(self.output.scale);
        let position = Point::from((
            x / scale + f64::from(geometry.loc.x),
            y / scale + f64::from(geometry.loc.y),
        ));
        let under = under_from_surface_tree(root, position, (0, 0), WindowSurfaceType::ALL)
            .map(|(surface, origin)| (surface, origin.to_f64()));
        Some((position, under))
    }

    pub(crate) fn pointer_motion(&mut self, id: WindowId, x: f64, y: f64, time: u32) {
        let Some(pointer) = self.wayland.seat.get_pointer() else {
            return;
        };
        let Some((location, focus)) = self.surface_under(id, x, y) else {
            tracing::debug!(%id, "pointer event for an unknown window");
            return;
        };
        self.input.pointer = Some(id);
        let event = MotionEvent {
            location,
            serial: SERIAL_COUNTER.next_serial(),
            time,
        };
        pointer.motion(self, focus, &event);
        pointer.frame(self);
    }

    pub(crate) fn pointer_leave(&mut self, id: WindowId) {
        if self.input.pointer != Some(id) {
            return;
        }
        self.input.pointer = None;
        // dom0 forgets the window's pointer shape when the pointer leaves: the shape the
        // client sets on its next enter must reach dom0 even if it is the same again.
        self.input.cursor = None;
        let Some(pointer) = self.wayland.seat.get_pointer() else {
            return;
        };
        let event = MotionEvent {
            location: pointer.current_location(),
            serial: SERIAL_COUNTER.next_serial(),
            time: self.now_ms(),
        };
        pointer.motion(self, None, &event);
        pointer.frame(self);
    }

    pub(crate) fn pointer_button(&mut self, id: WindowId, button: u32, pressed: bool, time: u32) {
        let Some(pointer) = self.wayland.seat.get_pointer() else {
            return;
        };
        if self.input.pointer != Some(id) {
            tracing::debug!(%id, "button for a window the pointer is not in");
            return;
        }
        if pressed {
            self.dismiss_grabs_outside(id);
        }
        let state = if pressed {
            ButtonState::Pressed
        } else {
            ButtonState::Released
        };
        let event = ButtonEvent {
            serial: SERIAL_COUNTER.next_serial(),
            time,
            button,
            state,
        };
        pointer.button(self, &event);
        pointer.frame(self);
    }

    pub(crate) fn pointer_axis(
        &mut self,
        id: WindowId,
        axis: WireAxis,
        value: f64,
        discrete_120: i32,
        time: u32,
    ) {
        let Some(pointer) = self.wayland.seat.get_pointer() else {
            return;
        };
        if self.input.pointer != Some(id) {
            tracing::debug!(%id, "scroll for a window the pointer is not in");
            return;
        }
        let axis = match axis {
            WireAxis::Vertical => Axis::Vertical,
            WireAxis::Horizontal => Axis::Horizontal,
        };
        let source = if discrete_120 == 0 {
            AxisSource::Finger
        } else {
            AxisSource::Wheel
        };
        let mut frame = AxisFrame::new(time).source(source).value(axis, value);
        if discrete_120 != 0 {
            frame = frame.v120(axis, discrete_120);
        }
        pointer.axis(self, frame);
        pointer.frame(self);
    }

    /// A press in window `id`: grabbing popups that are neither `id` nor one of its
    /// parents are dismissed (a click outside a menu closes it).
    fn dismiss_grabs_outside(&mut self, id: WindowId) {
        let mut keep = Vec::new();
        let mut current = Some(id);
        // The clicked window and its chain of parents stay.
        for _ in 0..64 {
            let Some(window) = current.and_then(|w| self.windows.get(w)) else {
                break;
            };
            keep.push(window.id);
            current = match &window.shell {
                Shell::Popup(popup) => popup
                    .get_parent_surface()
                    .and_then(|parent| self.windows.id_of(&parent)),
                Shell::Toplevel(_) => None,
            };
        }
        let grabs = std::mem::take(&mut self.input.grabs);
        for grab in grabs {
            if keep.contains(&grab) {
                self.input.grabs.push(grab);
            } else if let Some(Shell::Popup(popup)) = self.windows.get(grab).map(|w| &w.shell) {
                tracing::debug!(popup = %grab, clicked = %id, "click outside a menu dismisses it");
                popup.send_popup_done();
            }
        }
    }

    pub(crate) fn focus_in(&mut self, id: WindowId) {
        self.focus(Some(id));
    }

    pub(crate) fn focus_out(&mut self, id: WindowId) {
        if self.input.focused == Some(id) {
            self.focus(None);
        }
    }

    fn focus(&mut self, id: Option<WindowId>) {
        let Some(keyboard) = self.wayland.seat.get_keyboard() else {
            return;
        };
        let surface = id
            .and_then(|id| self.windows.get(id))
            .map(|w| w.shell.wl_surface().clone());
        if id.is_some() && surface.is_none() {
            tracing::debug!(?id, "focus for an unknown window");
        }
        self.input.focused = id.filter(|_| surface.is_some());
        keyboard.set_focus(self, surface, SERIAL_COUNTER.next_serial());
    }

    pub(crate) fn key(&mut self, key: u32, pressed: bool, time: u32) {
        let Some(keyboard) = self.wayland.seat.get_keyboard() else {
            return;
        };
        if self.input.focused.is_none() {
            tracing::debug!(key, "key without a focused window dropped");
            return;
        }
        let state = if pressed {
            KeyState::Pressed
        } else {
            KeyState::Released
        };
        let Some(code) = key.checked_add(EVDEV_XKB_OFFSET) else {
            tracing::warn!(key, "key code out of range");
            return;
        };
        keyboard.input::<(), _>(
            self,
            code.into(),
            state,
            SERIAL_COUNTER.next_serial(),
            time,
            |_, _, _| FilterResult::Forward,
        );
    }

    pub(crate) fn modifiers(&mut self, depressed: u32, latched: u32, locked: u32, group: u32) {
        let Some(keyboard) = self.wayland.seat.get_keyboard() else {
            return;
        };
        let changed = keyboard.set_modifier_state(modifiers_from_masks(depressed, latched, locked));
        // The layout group dom0 says is active (e.g. after a layout switch); this tells
        // the focused client itself when the group changed.
        keyboard.with_xkb_state(self, |mut context| context.set_layout(Layout(group)));
        if changed != 0 {
            // `set_modifier_state` does not tell the client: do it here.
            if let Some(focus) = keyboard.current_focus() {
                let seat = self.wayland.seat.clone();
                let state = keyboard.modifier_state();
                focus.modifiers(&seat, self, state, SERIAL_COUNTER.next_serial());
            }
        }
    }

    pub(crate) fn keymap(&mut self, keymap: String) {
        let Some(keyboard) = self.wayland.seat.get_keyboard() else {
            return;
        };
        if let Err(err) = keyboard.set_keymap_from_string(self, keymap) {
            tracing::warn!(%err, "dom0's keymap does not compile; keeping the old one");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::modifiers_from_masks;

    #[test]
    fn masks_map_to_modifiers() {
        let m = modifiers_from_masks(1 | 4, 0, 2);
        assert!(m.shift && m.ctrl && m.caps_lock);
        assert!(!m.alt && !m.logo && !m.num_lock);
    }
}
