//! Acting on dom0's messages (decoded and validated by the protocol crate).

use smithay::reexports::wayland_protocols::xdg::shell::server::xdg_toplevel::State as XdgState;
use smithay::wayland::shell::xdg::ToplevelSurface;

use crate::link::{AgentMessage, Dom0Message, OutputMode, WindowId, WindowStates};
use crate::state::Agent;
use crate::window::Shell;

/// wl_fixed / the wire's 1/256 px to pixels.
fn fixed(v: i32) -> f64 {
    f64::from(v) / f64::from(bulkhead_protocol::FIXED_ONE)
}

impl Agent {
    /// Handles one message from dom0.
    pub fn handle_dom0(&mut self, message: Dom0Message) {
        tracing::trace!(?message, "from dom0");
        match message {
            Dom0Message::HelloAck { output, .. } | Dom0Message::OutputChange { output } => {
                self.set_output(OutputMode::from(output));
            }
            Dom0Message::Configure {
                window,
                width,
                height,
                states,
                ..
            } => self.configure(window, width, height, states),
            Dom0Message::Close { window } => self.close(window),
            Dom0Message::FrameDone { window, serial } => self.frame_done(window, serial),
            Dom0Message::Keymap { xkb_text } => self.keymap(xkb_text),
            Dom0Message::FocusIn { window } => self.focus_in(window),
            Dom0Message::FocusOut { window } => self.focus_out(window),
            Dom0Message::Key {
                time_ms,
                keycode,
                pressed,
            } => self.key(keycode, pressed, time_ms),
            Dom0Message::Modifiers {
                depressed,
                latched,
                locked,
                group,
            } => self.modifiers(depressed, latched, locked, group),
            Dom0Message::PointerEnter { window, x, y } => {
                let time = self.now_ms();
                self.pointer_motion(window, fixed(x), fixed(y), time);
            }
            Dom0Message::PointerMotion {
                window,
                time_ms,
                x,
                y,
            } => self.pointer_motion(window, fixed(x), fixed(y), time_ms),
            Dom0Message::PointerLeave { window } => self.pointer_leave(window),
            Dom0Message::PointerButton {
                window,
                time_ms,
                button,
                pressed,
            } => self.pointer_button(window, button, pressed, time_ms),
            Dom0Message::PointerAxis {
                window,
                time_ms,
                axis,
                value,
                discrete_120,
            } => self.pointer_axis(window, axis, fixed(value), discrete_120, time_ms),
            Dom0Message::ClipboardRequest { serial } => self.clipboard_request(serial),
            Dom0Message::ClipboardPaste { mime, data } => self.clipboard_paste(mime, data),
            Dom0Message::Launch { launch, argv } => self.launch(launch, &argv),
        }
    }

    /// Starts a program for dom0 and tells dom0 whether it started (only a number).
    fn launch(&mut self, launch: u32, argv: &[String]) {
        let errno = match self.launcher.launch(argv) {
            Ok(pid) => {
                tracing::info!(?argv, pid, "started a program for dom0");
                0
            }
            Err(err) => {
                tracing::warn!(?argv, %err, "cannot start a program for dom0");
                err.errno()
            }
        };
        self.send(AgentMessage::LaunchResult { launch, errno });
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
        let scale = self.output.scale.max(1);
        let logical = |v: u32| i32::try_from(v.div_ceil(scale)).unwrap_or(i32::MAX);
        toplevel.with_pending_state(|pending| {
            pending.size =
                (width > 0 && height > 0).then(|| (logical(width), logical(height)).into());
            for (on, state) in [
                (
                    states.contains(WindowStates::ACTIVATED),
                    XdgState::Activated,
                ),
                (
                    states.contains(WindowStates::MAXIMIZED),
                    XdgState::Maximized,
                ),
                (
                    states.contains(WindowStates::FULLSCREEN),
                    XdgState::Fullscreen,
                ),
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
