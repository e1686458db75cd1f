//! wl_compositor and wl_subcompositor: commits mark their window dirty.

use smithay::backend::renderer::utils::on_commit_buffer_handler;
use smithay::delegate_compositor;
use smithay::reexports::wayland_server::Client;
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::wayland::compositor::{
    CompositorClientState, CompositorHandler, CompositorState, get_parent,
};

use crate::state::{Agent, ClientState};
use crate::window::Shell;
use crate::window::frame::take_frame_callbacks;

impl CompositorHandler for Agent {
    fn compositor_state(&mut self) -> &mut CompositorState {
        &mut self.wayland.compositor
    }

    fn client_compositor_state<'a>(&self, client: &'a Client) -> &'a CompositorClientState {
        match client.get_data::<ClientState>() {
            Some(data) => &data.compositor,
            None => {
                // Every client is inserted with a ClientState; anything else is our bug.
                tracing::error!("client without ClientState");
                static FALLBACK: std::sync::OnceLock<CompositorClientState> =
                    std::sync::OnceLock::new();
                FALLBACK.get_or_init(CompositorClientState::default)
            }
        }
    }

    fn commit(&mut self, surface: &WlSurface) {
        on_commit_buffer_handler::<Self>(surface);
        let mut root = surface.clone();
        while let Some(parent) = get_parent(&root) {
            root = parent;
        }
        let Some(id) = self.windows.id_of(&root) else {
            // Not part of any window (a cursor image, a surface without a role yet, a
            // window over the limit): dom0 never shows it. Its frame callbacks are
            // answered at an idle pace, and an xdg toplevel still gets its configure so
            // that the client does not wait forever.
            if let Some(toplevel) = self
                .wayland
                .xdg_shell
                .toplevel_surfaces()
                .iter()
                .find(|t| t.wl_surface() == &root)
            {
                if !toplevel.is_initial_configure_sent() {
                    toplevel.send_configure();
                }
            }
            let callbacks = take_frame_callbacks(&root);
            self.defer_callbacks(callbacks);
            return;
        };
        self.windows.mark_dirty(id);
        let Some(window) = self.windows.get(id) else {
            return;
        };
        match &window.shell {
            Shell::Toplevel(toplevel) => {
                if !toplevel.is_initial_configure_sent() {
                    toplevel.send_configure();
                }
            }
            Shell::Popup(popup) => {
                if !popup.is_initial_configure_sent() {
                    if let Err(err) = popup.send_configure() {
                        tracing::warn!(%err, "popup configure refused");
                    }
                }
            }
        }
        if surface == &root {
            self.announce_size_hints(id);
        }
    }
}

delegate_compositor!(Agent);
