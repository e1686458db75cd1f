//! Acting on dom0's events (already decoded and validated by the link).

use smithay::reexports::wayland_protocols::xdg::shell::server::xdg_toplevel::State as XdgState;
use smithay::wayland::shell::xdg::ToplevelSurface;

use crate::link::{Dom0Event, WindowId, WindowStates};
use crate::state::Agent;
use crate::window::Shell;

impl Agent {
    /// Handles one event from dom0.
    pub fn handle_dom0(&mut self, event: Dom0Event) {
        tracing::trace!(?event, "from dom0");
        match event {
            Dom0Event::OutputChange(info) => self.set_output(info),
            Dom0Event::Configure {
                id,
                width,
                height,
                states,
            } => self.configure(id, width, height, states),
            Dom0Event::Close { id } => self.close(id),
            Dom0Event::FrameDone { id, serial } => self.frame_done(id, serial),
            Dom0Event::Keymap(keymap) => self.keymap(keymap),
            Dom0Event::FocusIn { id } => self.focus(Some(id)),
            Dom0Event::FocusOut => self.focus(None),
            Dom0Event::Key { key, state, time } => self.key(key, state, time),
            Dom0Event::Modifiers {
                depressed,
                latched,
                locked,
                group: _,
            } => self.modifiers(depressed, latched, locked),
            Dom0Event::PointerEnter { id, x, y } => {
                let time = self.now_ms();
                self.pointer_motion(id, x, y, time);
            }
            Dom0Event::PointerMotion { id, x, y, time } => self.pointer_motion(id, x, y, time),
            Dom0Event::PointerLeave { id } => self.pointer_leave(id),
            Dom0Event::PointerButton {
                button,
                state,
                time,
            } => self.pointer_button(button, state, time),
            Dom0Event::PointerAxis {
                horizontal,
                vertical,
                time,
            } => self.pointer_axis(horizontal, vertical, time),
        }
    }

    fn toplevel(&self, id: WindowId) -> Option<ToplevelSurface> {
        match self.windows.get(id).map(|w| &w.shell) {
            Some(Shell::Toplevel(toplevel)) => Some(toplevel.clone()),
            _ => {
                tracing::debug!(%id, "event for a window that is not a toplevel");
                None
            }
        }
    }

    fn configure(&mut self, id: WindowId, width: u32, height: u32, states: WindowStates) {
        let Some(toplevel) = self.toplevel(id) else {
            return;
        };
        let scale = self.output_info.scale.max(1);
        let logical = |v: u32| i32::try_from(v / scale).unwrap_or(i32::MAX);
        toplevel.with_pending_state(|pending| {
            pending.size =
                (width > 0 && height > 0).then(|| (logical(width), logical(height)).into());
            for (on, state) in [
                (states.activated, XdgState::Activated),
                (states.maximized, XdgState::Maximized),
                (states.fullscreen, XdgState::Fullscreen),
                (states.resizing, XdgState::Resizing),
            ] {
                if on {
                    pending.states.set(state);
                } else {
                    pending.states.unset(state);
                }
            }
        });
        if toplevel.is_initial_configure_sent() {
            toplevel.send_pending_configure();
        }
    }

    fn close(&mut self, id: WindowId) {
        match self.windows.get(id).map(|w| &w.shell) {
            Some(Shell::Toplevel(toplevel)) => toplevel.send_close(),
            Some(Shell::Popup(popup)) => popup.send_popup_done(),
            None => tracing::debug!(%id, "close for an unknown window"),
        }
    }
}
