//! xdg_wm_base: every toplevel and every popup becomes one dom0 window.

use smithay::delegate_xdg_shell;
use smithay::reexports::wayland_server::protocol::{wl_output, wl_seat};
use smithay::utils::{Logical, Point, Rectangle, Serial};
use smithay::wayland::compositor::with_states;
use smithay::wayland::shell::xdg::{
    PopupSurface, PositionerState, SurfaceCachedState, ToplevelSurface, XdgShellHandler,
    XdgShellState, XdgToplevelSurfaceData,
};

use crate::link::{AgentMessage, WindowId, WindowRole};
use crate::state::Agent;
use crate::window::Shell;

/// Longest title or app id sent to dom0, in bytes.
pub const MAX_TEXT_BYTES: usize = 1024;

/// A client's title or app id made fit for the wire: control characters become spaces and
/// the text is cut (on a character boundary) to `max` bytes.
pub fn sanitize_text(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max));
    for c in text.chars() {
        let c = if c.is_control() { ' ' } else { c };
        if out.len() + c.len_utf8() > max {
            break;
        }
        out.push(c);
    }
    out
}

impl Agent {
    /// Sends the toplevel's title and app id if they changed.
    fn announce_texts(&mut self, toplevel: &ToplevelSurface) {
        let Some(id) = self.windows.id_of(toplevel.wl_surface()) else {
            return;
        };
        let (title, app_id) = with_states(toplevel.wl_surface(), |states| {
            states
                .data_map
                .get::<XdgToplevelSurfaceData>()
                .and_then(|data| data.lock().ok())
                .map(|data| (data.title.clone(), data.app_id.clone()))
                .unwrap_or_default()
        });
        let title = title.map(|t| sanitize_text(&t, MAX_TEXT_BYTES));
        let app_id = app_id.map(|a| sanitize_text(&a, MAX_TEXT_BYTES));
        let mut messages = Vec::new();
        if let Some(window) = self.windows.get_mut(id) {
            if title.is_some() && window.announced.title != title {
                window.announced.title.clone_from(&title);
                messages.extend(title.map(|title| AgentMessage::SetTitle { id, title }));
            }
            if app_id.is_some() && window.announced.app_id != app_id {
                window.announced.app_id.clone_from(&app_id);
                messages.extend(app_id.map(|app_id| AgentMessage::SetAppId { id, app_id }));
            }
        }
        for message in messages {
            self.send(message);
        }
    }

    /// Sends the toplevel's committed min/max size if it changed.
    pub(crate) fn announce_size_hints(&mut self, id: WindowId) {
        let scale = self.output_info.scale;
        let Some(window) = self.windows.get_mut(id) else {
            return;
        };
        let Shell::Toplevel(toplevel) = &window.shell else {
            return;
        };
        let (min, max) = with_states(toplevel.wl_surface(), |states| {
            let mut cached = states.cached_state.get::<SurfaceCachedState>();
            let current = cached.current();
            (current.min_size, current.max_size)
        });
        let px = |v: i32| u32::try_from(v).unwrap_or(0).saturating_mul(scale);
        let hints = ((px(min.w), px(min.h)), (px(max.w), px(max.h)));
        if window.announced.size_hints == Some(hints) {
            return;
        }
        window.announced.size_hints = Some(hints);
        self.send(AgentMessage::SizeHints {
            id,
            min: hints.0,
            max: hints.1,
        });
    }

    /// Offset of `id`'s content from its toplevel's content, in logical pixels.
    fn offset_in_toplevel(&self, mut id: WindowId) -> Point<i32, Logical> {
        let mut offset = Point::from((0, 0));
        // Popup chains are short; the bound only guards against a cycle bug.
        for _ in 0..64 {
            let Some(Shell::Popup(popup)) = self.windows.get(id).map(|w| &w.shell) else {
                break;
            };
            offset += popup.with_pending_state(|state| state.geometry.loc);
            match popup
                .get_parent_surface()
                .and_then(|parent| self.windows.id_of(&parent))
            {
                Some(parent) => id = parent,
                None => break,
            }
        }
        offset
    }

    /// The popup's geometry relative to its parent, kept on the output assuming the
    /// toplevel sits at the output's origin (the agent does not know where dom0 put it;
    /// dom0 keeps popups on screen in the end).
    fn place_popup(
        &self,
        parent: WindowId,
        positioner: PositionerState,
    ) -> Rectangle<i32, Logical> {
        let parent_offset = self.offset_in_toplevel(parent);
        let scale = i32::try_from(self.output_info.scale).unwrap_or(1).max(1);
        let logical = |v: u32| i32::try_from(v).unwrap_or(i32::MAX) / scale;
        let target = Rectangle::new(
            (-parent_offset.x, -parent_offset.y).into(),
            (
                logical(self.output_info.width),
                logical(self.output_info.height),
            )
                .into(),
        );
        positioner.get_unconstrained_geometry(target)
    }
}

impl XdgShellHandler for Agent {
    fn xdg_shell_state(&mut self) -> &mut XdgShellState {
        &mut self.wayland.xdg_shell
    }

    fn new_toplevel(&mut self, surface: ToplevelSurface) {
        let Some(id) = self.windows.insert(Shell::Toplevel(surface.clone())) else {
            tracing::warn!("window limit reached; toplevel not shown");
            return;
        };
        tracing::debug!(%id, "new toplevel");
        self.send(AgentMessage::CreateWindow {
            id,
            role: WindowRole::Toplevel,
        });
        self.announce_texts(&surface);
    }

    fn new_popup(&mut self, surface: PopupSurface, positioner: PositionerState) {
        let Some(parent) = surface
            .get_parent_surface()
            .and_then(|parent| self.windows.id_of(&parent))
        else {
            tracing::debug!("popup without a known parent; not shown");
            return;
        };
        let geometry = self.place_popup(parent, positioner);
        surface.with_pending_state(|state| state.geometry = geometry);
        let Some(id) = self.windows.insert(Shell::Popup(surface)) else {
            tracing::warn!("window limit reached; popup not shown");
            return;
        };
        tracing::debug!(%id, %parent, ?geometry, "new popup");
        let scale = i32::try_from(self.output_info.scale).unwrap_or(1);
        self.send(AgentMessage::CreateWindow {
            id,
            role: WindowRole::Popup {
                parent,
                x: geometry.loc.x.saturating_mul(scale),
                y: geometry.loc.y.saturating_mul(scale),
            },
        });
    }

    fn reposition_request(
        &mut self,
        surface: PopupSurface,
        positioner: PositionerState,
        token: u32,
    ) {
        let Some(id) = self.windows.id_of(surface.wl_surface()) else {
            return;
        };
        let Some(parent) = surface
            .get_parent_surface()
            .and_then(|parent| self.windows.id_of(&parent))
        else {
            return;
        };
        let geometry = self.place_popup(parent, positioner);
        surface.with_pending_state(|state| {
            state.geometry = geometry;
            state.positioner = positioner;
        });
        surface.send_repositioned(token);
        if let Err(err) = surface.send_configure() {
            tracing::warn!(%err, "popup configure refused");
        }
        let scale = i32::try_from(self.output_info.scale).unwrap_or(1);
        self.send(AgentMessage::MovePopup {
            id,
            x: geometry.loc.x.saturating_mul(scale),
            y: geometry.loc.y.saturating_mul(scale),
        });
    }

    fn grab(&mut self, _surface: PopupSurface, _seat: wl_seat::WlSeat, _serial: Serial) {
        // Input comes only from dom0, which routes it to the window under the pointer;
        // an explicit grab has nothing more to take.
        tracing::trace!("popup grab");
    }

    fn toplevel_destroyed(&mut self, surface: ToplevelSurface) {
        self.destroy_window(surface.wl_surface());
    }

    fn popup_destroyed(&mut self, surface: PopupSurface) {
        self.destroy_window(surface.wl_surface());
    }

    fn title_changed(&mut self, surface: ToplevelSurface) {
        self.announce_texts(&surface);
    }

    fn app_id_changed(&mut self, surface: ToplevelSurface) {
        self.announce_texts(&surface);
    }

    fn maximize_request(&mut self, surface: ToplevelSurface) {
        self.request(&surface, |id| AgentMessage::SetMaximized { id, on: true });
    }

    fn unmaximize_request(&mut self, surface: ToplevelSurface) {
        self.request(&surface, |id| AgentMessage::SetMaximized { id, on: false });
    }

    fn fullscreen_request(
        &mut self,
        surface: ToplevelSurface,
        _output: Option<wl_output::WlOutput>,
    ) {
        self.request(&surface, |id| AgentMessage::SetFullscreen { id, on: true });
    }

    fn unfullscreen_request(&mut self, surface: ToplevelSurface) {
        self.request(&surface, |id| AgentMessage::SetFullscreen { id, on: false });
    }

    fn minimize_request(&mut self, surface: ToplevelSurface) {
        self.request(&surface, |id| AgentMessage::Minimize { id });
    }
}

impl Agent {
    fn request(
        &mut self,
        surface: &ToplevelSurface,
        message: impl FnOnce(WindowId) -> AgentMessage,
    ) {
        if let Some(id) = self.windows.id_of(surface.wl_surface()) {
            self.send(message(id));
        }
    }
}

delegate_xdg_shell!(Agent);

#[cfg(test)]
mod tests {
    use super::sanitize_text;

    #[test]
    fn titles_lose_control_characters_and_excess_bytes() {
        assert_eq!(sanitize_text("a\nb\u{1b}[31m", 100), "a b [31m");
        assert_eq!(sanitize_text("ééé", 5), "éé");
        assert_eq!(sanitize_text("", 5), "");
    }
}
