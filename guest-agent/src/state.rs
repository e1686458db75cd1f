//! The agent's state, split by concern: the Wayland globals, the window model and the
//! dom0 link borrow separately.

use std::sync::Arc;
use std::time::Instant;

use smithay::backend::renderer::pixman::PixmanRenderer;
use smithay::input::{Seat, SeatState};
use smithay::output::{Mode, Output, PhysicalProperties, Scale, Subpixel};
use smithay::reexports::calloop::{LoopHandle, LoopSignal};
use smithay::reexports::wayland_server::backend::{ClientData, ClientId, DisconnectReason};
use smithay::reexports::wayland_server::protocol::wl_callback::WlCallback;
use smithay::reexports::wayland_server::{DisplayHandle, Resource};
use smithay::utils::Transform;
use smithay::wayland::compositor::{CompositorClientState, CompositorState};
use smithay::wayland::cursor_shape::CursorShapeManagerState;
use smithay::wayland::output::OutputManagerState;
use smithay::wayland::selection::data_device::DataDeviceState;
use smithay::wayland::selection::wlr_data_control::DataControlState;
use smithay::wayland::shell::xdg::XdgShellState;
use smithay::wayland::shell::xdg::decoration::XdgDecorationState;
use smithay::wayland::shm::ShmState;
use smithay::wayland::viewporter::ViewporterState;

use bulkhead_protocol::Capabilities;

use crate::clipboard::ClipboardState;
use crate::input::InputState;
use crate::link::{AgentMessage, DomLink, LinkError, OutputMode};
use crate::window::Windows;

/// Repeat rate (keys per second) and delay (ms) the qube's clients are told.
const KEY_REPEAT: (i32, i32) = (25, 600);

/// The smithay protocol states: one field per global.
#[derive(Debug)]
pub struct WaylandState {
    /// The display, for creating globals and flushing.
    pub display: DisplayHandle,
    /// wl_compositor and wl_subcompositor.
    pub compositor: CompositorState,
    /// xdg_wm_base.
    pub xdg_shell: XdgShellState,
    /// zxdg_decoration_manager_v1.
    pub xdg_decoration: XdgDecorationState,
    /// wl_shm.
    pub shm: ShmState,
    /// wl_seat bookkeeping.
    pub seat_state: SeatState<Agent>,
    /// The one seat (keyboard and pointer driven by dom0).
    pub seat: Seat<Agent>,
    /// wl_data_device_manager: the qube's own clipboard.
    pub data_device: DataDeviceState,
    /// zwlr_data_control_manager_v1: the qube's clipboard for its command-line tools
    /// (`wl-copy`, `wl-paste`), which then need no window and no focus.
    pub data_control: DataControlState,
    /// wp_viewporter.
    pub viewporter: ViewporterState,
    /// wl_output bookkeeping.
    pub output_manager: OutputManagerState,
    /// wp_cursor_shape_manager_v1.
    pub cursor_shape: CursorShapeManagerState,
    /// The one output, sized by dom0.
    pub output: Output,
}

/// Everything the event loop hands to callbacks.
#[derive(Debug)]
pub struct Agent {
    /// Wayland globals.
    pub wayland: WaylandState,
    /// The windows and the arena.
    pub windows: Windows,
    /// Flattens windows into images.
    pub renderer: PixmanRenderer,
    /// The connection to dom0.
    pub link: Box<dyn DomLink>,
    /// The screen dom0 shows windows on.
    pub output: OutputMode,
    /// Focus and pointer window, as dom0 said.
    pub input: InputState,
    /// dom0's clipboard requests and pastes.
    pub clipboard: ClipboardState,
    /// What dom0 agreed to in the handshake.
    pub dom0_capabilities: Capabilities,
    /// Frame callbacks of commits that changed nothing, sent by a short timer.
    pub idle: IdleCallbacks,
    /// Starts the programs dom0 asks for.
    pub launcher: crate::launch::Launcher,
    /// The event loop and the agent's life.
    pub runtime: Runtime,
}

/// Frame callbacks answered at an idle pace (content dom0 does not show).
#[derive(Debug, Default)]
pub struct IdleCallbacks {
    /// Waiting for the timer.
    pub pending: Vec<WlCallback>,
    /// True while the timer is armed.
    pub timer_armed: bool,
}

/// The event loop and the agent's life.
#[derive(Debug)]
pub struct Runtime {
    /// The event loop, for timers.
    pub handle: LoopHandle<'static, Agent>,
    /// Stops the event loop.
    pub signal: LoopSignal,
    /// Clock for frame callbacks.
    pub start: Instant,
    /// Set once the dom0 link failed; the loop then stops.
    pub link_failed: bool,
}

impl Agent {
    /// Creates every global on `display`.
    pub fn new(
        display: DisplayHandle,
        link: Box<dyn DomLink>,
        renderer: PixmanRenderer,
        loop_handle: LoopHandle<'static, Agent>,
        loop_signal: LoopSignal,
        clipboard: ClipboardState,
    ) -> Result<Self, smithay::input::keyboard::Error> {
        let dh = &display;
        let compositor = CompositorState::new::<Agent>(dh);
        let xdg_shell = XdgShellState::new::<Agent>(dh);
        let xdg_decoration = XdgDecorationState::new::<Agent>(dh);
        let shm = ShmState::new::<Agent>(dh, Vec::new());
        let data_device = DataDeviceState::new::<Agent>(dh);
        // Every client of this agent runs in the same qube, one trust domain: each may read
        // and set the qube's own selection. Only dom0's gestures move it between qubes.
        let data_control = DataControlState::new::<Agent, _>(dh, None, |_| true);
        let viewporter = ViewporterState::new::<Agent>(dh);
        let output_manager = OutputManagerState::new();
        let cursor_shape = CursorShapeManagerState::new::<Agent>(dh);
        let mut seat_state = SeatState::new();
        let mut seat = seat_state.new_wl_seat(dh, "seat0");
        seat.add_keyboard(Default::default(), KEY_REPEAT.1, KEY_REPEAT.0)?;
        seat.add_pointer();

        let output = Output::new(
            "bulkhead".to_owned(),
            PhysicalProperties {
                size: (0, 0).into(),
                subpixel: Subpixel::Unknown,
                make: "Bulkhead".to_owned(),
                model: "dom0".to_owned(),
            },
        );
        let _global = output.create_global::<Agent>(dh);
        let output_mode = OutputMode::default();
        apply_output(&output, output_mode);

        let arena_len = link.arena().size();
        let dom0_capabilities = link.capabilities();
        Ok(Agent {
            wayland: WaylandState {
                display: display.clone(),
                compositor,
                xdg_shell,
                xdg_decoration,
                shm,
                seat_state,
                seat,
                data_device,
                data_control,
                viewporter,
                output_manager,
                cursor_shape,
                output,
            },
            windows: Windows::new(arena_len),
            renderer,
            link,
            output: output_mode,
            input: InputState::default(),
            clipboard,
            dom0_capabilities,
            idle: IdleCallbacks::default(),
            launcher: crate::launch::Launcher::default(),
            runtime: Runtime {
                handle: loop_handle,
                signal: loop_signal,
                start: Instant::now(),
                link_failed: false,
            },
        })
    }

    /// Sends a message to dom0; a failure stops the agent (dom0 is gone).
    pub fn send(&mut self, message: AgentMessage) {
        if self.runtime.link_failed {
            return;
        }
        tracing::trace!(?message, "to dom0");
        match self.link.send(message) {
            Ok(()) => {}
            // A message that breaks the wire contract is our bug: drop it, keep going.
            Err(err @ LinkError::Encode(_)) => tracing::error!(%err, "message not sent"),
            Err(err) => {
                tracing::warn!(%err, "dom0 link failed, stopping");
                self.runtime.link_failed = true;
                self.runtime.signal.stop();
            }
        }
    }

    /// Handles everything dom0 sent (its doorbell rang).
    pub fn poll_link(&mut self) {
        match self.link.poll() {
            Ok(messages) => {
                for message in messages {
                    self.handle_dom0(message);
                }
            }
            Err(err) => {
                tracing::warn!(%err, "dom0 link failed, stopping");
                self.runtime.link_failed = true;
                self.runtime.signal.stop();
            }
        }
    }

    /// Milliseconds since the agent started, for frame callbacks.
    pub fn now_ms(&self) -> u32 {
        u32::try_from(self.runtime.start.elapsed().as_millis() % (1 << 32)).unwrap_or(0)
    }

    /// Sends `done` to frame callbacks.
    pub fn fire_callbacks(&self, callbacks: Vec<WlCallback>) {
        let time = self.now_ms();
        for callback in callbacks {
            if callback.is_alive() {
                callback.done(time);
            }
        }
    }

    /// The output changed (dom0's handshake or a screen change).
    pub fn set_output(&mut self, mode: OutputMode) {
        if mode == self.output {
            return;
        }
        tracing::info!(?mode, "output changed");
        self.output = mode;
        apply_output(&self.wayland.output, mode);
        self.windows.mark_all_dirty();
    }
}

fn apply_output(output: &Output, info: OutputMode) {
    let mode = Mode {
        size: (
            i32::try_from(info.width).unwrap_or(i32::MAX),
            i32::try_from(info.height).unwrap_or(i32::MAX),
        )
            .into(),
        refresh: 60_000,
    };
    output.change_current_state(
        Some(mode),
        Some(Transform::Normal),
        Some(Scale::Integer(i32::try_from(info.scale).unwrap_or(1))),
        Some((0, 0).into()),
    );
    output.set_preferred(mode);
}

/// Per-client data smithay needs.
#[derive(Debug, Default)]
pub struct ClientState {
    /// wl_compositor's per-client state.
    pub compositor: CompositorClientState,
}

impl ClientData for ClientState {
    fn initialized(&self, client_id: ClientId) {
        tracing::debug!(?client_id, "client connected");
    }

    fn disconnected(&self, client_id: ClientId, reason: DisconnectReason) {
        tracing::debug!(?client_id, ?reason, "client disconnected");
    }
}

/// A new client's data.
pub fn client_data() -> Arc<ClientState> {
    Arc::new(ClientState::default())
}
