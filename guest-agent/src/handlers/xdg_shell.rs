//! xdg_wm_base: every toplevel and every popup becomes one dom0 window.
//!
//! Windows are registered here and announced to dom0 with their first frame
//! (`window::frame`), when their size is known; titles, app ids and size hints follow
//! changes from then on.

use bulkhead_protocol::{MAX_APP_ID_BYTES, MAX_TITLE_BYTES, MAX_WINDOW_HEIGHT, MAX_WINDOW_WIDTH};
use smithay::delegate_xdg_shell;
use smithay::reexports::wayland_server::protocol::{wl_output, wl_seat};
use smithay::utils::{Logical, Point, Rectangle, Serial};
use smithay::wayland::compositor::with_states;
use smithay::wayland::shell::xdg::{
    PopupSurface, PositionerState, SurfaceCachedState, ToplevelSurface, XdgShellHandler,
    XdgShellState, XdgToplevelSurfaceData,
};

use crate::link::{AgentMessage, Size, WindowId};
use crate::state::Agent;
use crate::window::Shell;

/// A client's title made fit for the wire: control characters become spaces and the text
/// is cut on a character boundary to `MAX_TITLE_BYTES`.
pub fn sanitize_title(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(MAX_TITLE_BYTES));
    for c in text.chars() {
        let c = if c.is_control() { ' ' } else { c };
        if out.len() + c.len_utf8() > MAX_TITLE_BYTES {
            break;
        }
        out.push(c);
    }
    out
}

/// A client's app id made fit for the wire: printable ASCII only (others become `_`), at
/// most `MAX_APP_ID_BYTES`.
pub fn sanitize_app_id(text: &str) -> String {
    text.chars()
        .map(|c| if (' '..='~').contains(&c) { c } else { '_' })
        .take(MAX_APP_ID_BYTES)
        .collect()
}

/// Wayland's min/max size (logical, 0 = unconstrained per dimension) as wire size hints
/// in pixels: `None` for 0 × 0, a single 0 becomes 1 (min) or the limit (max), and min is
/// lowered to max where a client got them the wrong way round.
pub fn size_hints(min: (i32, i32), max: (i32, i32), scale: u32) -> (Option<Size>, Option<Size>) {
    let px = |v: i32, limit: u32, zero: u32| match u32::try_from(v) {
        Ok(0) | Err(_) => zero,
        Ok(v) => v.saturating_mul(scale).clamp(1, limit),
    };
    let max = (max != (0, 0)).then(|| {
        Size::new(
            px(max.0, MAX_WINDOW_WIDTH, MAX_WINDOW_WIDTH),
            px(max.1, MAX_WINDOW_HEIGHT, MAX_WINDOW_HEIGHT),
        )
    });
    let min = (min != (0, 0)).then(|| {
        let mut size = Size::new(
            px(min.0, MAX_WINDOW_WIDTH, 1),
            px(min.1, MAX_WINDOW_HEIGHT, 1),
        );
        if let Some(max) = max {
            size.width = size.width.min(max.width);
            size.height = size.height.min(max.height);
        }
        size
    });
    (min, max)
}

impl Agent {
    /// Tells dom0 the window's title, app id and size hints (those that changed).
    pub(crate) fn announce(&mut self, id: WindowId) {
        self.announce_texts(id);
        self.announce_size_hints(id);
        self.announce_early_wishes(id);
    }

    /// Sends the maximize/fullscreen wishes the client made before dom0 knew the window.
    fn announce_early_wishes(&mut self, id: WindowId) {
        let Some(window) = self.windows.get_mut(id).filter(|w| w.created) else {
            return;
        };
        let maximized = window.announced.early_maximized.take();
        let fullscreen = window.announced.early_fullscreen.take();
        if let Some(on) = maximized {
            self.send(AgentMessage::SetMaximized { window: id, on });
        }
        if let Some(on) = fullscreen {
            self.send(AgentMessage::SetFullscreen { window: id, on });
        }
    }

    /// A maximize or fullscreen wish: sent now if dom0 knows the window, else kept (the
    /// latest of each kind) for [`Agent::announce`].
    fn wish(&mut self, surface: &ToplevelSurface, message: impl FnOnce(WindowId) -> AgentMessage) {
        let Some(id) = self.windows.id_of(surface.wl_surface()) else {
            return;
        };
        let message = message(id);
        match self.windows.get_mut(id) {
            Some(w) if w.created => self.send(message),
            Some(w) => match message {
                AgentMessage::SetMaximized { on, .. } => w.announced.early_maximized = Some(on),
                AgentMessage::SetFullscreen { on, .. } => {
                    w.announced.early_fullscreen = Some(on);
                }
                _ => {}
            },
            None => {}
        }
    }

    /// Sends the toplevel's title and app id if they changed and dom0 knows the window.
    fn announce_texts(&mut self, id: WindowId) {
        let Some(window) = self.windows.get_mut(id) else {
            return;
        };
        let Shell::Toplevel(toplevel) = &window.shell else {
            return;
        };
        if !window.created {
            return;
        }
        let (title, app_id) = with_states(toplevel.wl_surface(), |states| {
            states
                .data_map
                .get::<XdgToplevelSurfaceData>()
                .and_then(|data| data.lock().ok())
                .map(|data| (data.title.clone(), data.app_id.clone()))
                .unwrap_or_default()
        });
        let title = title.map(|t| sanitize_title(&t));
        let app_id = app_id.map(|a| sanitize_app_id(&a));
        let mut messages = Vec::new();
        if title.is_some() && window.announced.title != title {
            window.announced.title.clone_from(&title);
            messages.extend(title.map(|title| AgentMessage::SetTitle { window: id, title }));
        }
        if app_id.is_some() && window.announced.app_id != app_id {
            window.announced.app_id.clone_from(&app_id);
            messages.extend(app_id.map(|app_id| AgentMessage::SetAppId { window: id, app_id }));
        }
        for message in messages {
            self.send(message);
        }
    }

    /// Sends the toplevel's committed min/max size if it changed and dom0 knows the window.
    pub(crate) fn announce_size_hints(&mut self, id: WindowId) {
        let scale = self.output.scale;
        let Some(window) = self.windows.get_mut(id) else {
            return;
        };
        let Shell::Toplevel(toplevel) = &window.shell else {
            return;
        };
        if !window.created {
            return;
        }
        let (min, max) = with_states(toplevel.wl_surface(), |states| {
            let mut cached = states.cached_state.get::<SurfaceCachedState>();
            let current = cached.current();
            (current.min_size, current.max_size)
        });
        let hints = size_hints((min.w, min.h), (max.w, max.h), scale);
        if window.announced.size_hints == Some(hints) {
            return;
        }
        let first = window.announced.size_hints.is_none();
        window.announced.size_hints = Some(hints);
        if first && hints == (None, None) {
            return;
        }
        self.send(AgentMessage::SizeHints {
            window: id,
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
        let scale = self.output.scale.max(1);
        let logical = |v: u32| i32::try_from(v / scale).unwrap_or(i32::MAX);
        let target = Rectangle::new(
            (-parent_offset.x, -parent_offset.y).into(),
            (logical(self.output.width), logical(self.output.height)).into(),
        );
        positioner.get_unconstrained_geometry(target)
    }

    fn request(
        &mut self,
        surface: &ToplevelSurface,
        message: impl FnOnce(WindowId) -> AgentMessage,
    ) {
        let Some(id) = self.windows.id_of(surface.wl_surface()) else {
            return;
        };
        if self.windows.get(id).is_some_and(|w| w.created) {
            self.send(message(id));
        }
    }
}

impl XdgShellHandler for Agent {
    fn xdg_shell_state(&mut self) -> &mut XdgShellState {
        &mut self.wayland.xdg_shell
    }

    fn new_toplevel(&mut self, surface: ToplevelSurface) {
        match self.windows.insert(Shell::Toplevel(surface)) {
            Some(id) => tracing::debug!(%id, "new toplevel"),
            None => tracing::warn!("window limit reached; toplevel not shown"),
        }
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
        match self.windows.insert(Shell::Popup(surface)) {
            Some(id) => tracing::debug!(%id, %parent, ?geometry, "new popup"),
            None => tracing::warn!("window limit reached; popup not shown"),
        }
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
        // The wire has no "move popup": dom0 forgets it and gets it anew, same id, at the
        // new place with its next frame.
        if self.windows.get(id).is_some_and(|w| w.created) {
            self.send(AgentMessage::Destroy { window: id });
            let callbacks = self
                .windows
                .get_mut(id)
                .map(|w| std::mem::take(&mut w.callbacks))
                .unwrap_or_default();
            self.windows.forget_in_dom0(id);
            self.defer_callbacks(callbacks);
        }
    }

    fn grab(&mut self, surface: PopupSurface, _seat: wl_seat::WlSeat, _serial: Serial) {
        // Input comes only from dom0, which routes it to the window under the pointer; a
        // grab only means: a press anywhere else dismisses the popup (`input`).
        if let Some(id) = self.windows.id_of(surface.wl_surface()) {
            tracing::trace!(%id, "popup grab");
            self.input.grabs.push(id);
        }
    }

    fn toplevel_destroyed(&mut self, surface: ToplevelSurface) {
        self.destroy_window(surface.wl_surface());
    }

    fn popup_destroyed(&mut self, surface: PopupSurface) {
        self.destroy_window(surface.wl_surface());
    }

    fn title_changed(&mut self, surface: ToplevelSurface) {
        if let Some(id) = self.windows.id_of(surface.wl_surface()) {
            self.announce_texts(id);
        }
    }

    fn app_id_changed(&mut self, surface: ToplevelSurface) {
        if let Some(id) = self.windows.id_of(surface.wl_surface()) {
            self.announce_texts(id);
        }
    }

    fn maximize_request(&mut self, surface: ToplevelSurface) {
        self.wish(&surface, |window| AgentMessage::SetMaximized {
            window,
            on: true,
        });
    }

    fn unmaximize_request(&mut self, surface: ToplevelSurface) {
        self.wish(&surface, |window| AgentMessage::SetMaximized {
            window,
            on: false,
        });
    }

    fn fullscreen_request(
        &mut self,
        surface: ToplevelSurface,
        _output: Option<wl_output::WlOutput>,
    ) {
        self.wish(&surface, |window| AgentMessage::SetFullscreen {
            window,
            on: true,
        });
    }

    fn unfullscreen_request(&mut self, surface: ToplevelSurface) {
        self.wish(&surface, |window| AgentMessage::SetFullscreen {
            window,
            on: false,
        });
    }

    fn minimize_request(&mut self, surface: ToplevelSurface) {
        self.request(&surface, |window| AgentMessage::Minimize { window });
    }
}

delegate_xdg_shell!(Agent);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles_lose_control_characters_and_excess_bytes() {
        assert_eq!(sanitize_title("a\nb\u{1b}[31m"), "a b [31m");
        let long = "é".repeat(200);
        let cut = sanitize_title(&long);
        assert_eq!(cut.len(), 254);
        assert_eq!(sanitize_title(""), "");
    }

    #[test]
    fn app_ids_are_printable_ascii() {
        assert_eq!(sanitize_app_id("org.ex\u{e9}mple\n"), "org.ex_mple_");
        assert_eq!(sanitize_app_id(&"a".repeat(300)).len(), MAX_APP_ID_BYTES);
    }

    #[test]
    fn size_hints_follow_the_wire_rules() {
        assert_eq!(size_hints((0, 0), (0, 0), 1), (None, None));
        assert_eq!(
            size_hints((100, 0), (0, 50), 2),
            (
                Some(Size::new(200, 1)),
                Some(Size::new(MAX_WINDOW_WIDTH, 100))
            )
        );
        // min above max: min is lowered.
        assert_eq!(
            size_hints((300, 300), (200, 400), 1),
            (Some(Size::new(200, 300)), Some(Size::new(200, 400)))
        );
        assert_eq!(
            size_hints((-5, 100_000), (0, 0), 1),
            (Some(Size::new(1, MAX_WINDOW_HEIGHT)), None)
        );
    }
}
