//! The direct baseline of the benchmarks: a minimal smithay compositor that does, per frame,
//! what dom0 does — composites the committed damage with the pixman renderer into an
//! offscreen output image of the same size as dom0's headless output — and then answers the
//! frame callbacks at once (no refresh pacing, like `bulkhead-compositor --refresh-hz 0`).
//! A frame callback therefore means, on both, "the damaged pixels are in the compositor's
//! output image".
//!
//! Key presses for the input benchmark come on stdin, one `key CODE PRESSED` line each
//! (evdev code, 1 or 0), and go to the surface with keyboard focus (the last toplevel that
//! committed a first buffer).
//!
//! `bench-direct-compositor --socket PATH --size WxH`; prints `ready` when it listens.
#![forbid(unsafe_code)]
#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    reason = "the benchmark harness reads stdout; failures go to its log"
)]

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Parser;
use smithay::backend::allocator::Fourcc;
use smithay::backend::renderer::damage::OutputDamageTracker;
use smithay::backend::renderer::element::Kind;
use smithay::backend::renderer::element::surface::{
    WaylandSurfaceRenderElement, render_elements_from_surface_tree,
};
use smithay::backend::renderer::pixman::PixmanRenderer;
use smithay::backend::renderer::utils::on_commit_buffer_handler;
use smithay::backend::renderer::{Bind, Color32F, Offscreen};
use smithay::input::keyboard::{FilterResult, XkbConfig};
use smithay::input::{Seat, SeatHandler, SeatState};
use smithay::reexports::calloop::generic::Generic;
use smithay::reexports::calloop::{EventLoop, Interest, Mode, PostAction};
use smithay::reexports::pixman;
use smithay::reexports::wayland_server::backend::{ClientData, ClientId, DisconnectReason};
use smithay::reexports::wayland_server::protocol::wl_buffer::WlBuffer;
use smithay::reexports::wayland_server::protocol::wl_seat::WlSeat;
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::reexports::wayland_server::{Client, Display, DisplayHandle, ListeningSocket};
use smithay::utils::{SERIAL_COUNTER, Serial, Transform};
use smithay::wayland::buffer::BufferHandler;
use smithay::wayland::compositor::{
    CompositorClientState, CompositorHandler, CompositorState, SurfaceAttributes, TraversalAction,
    with_states, with_surface_tree_downward,
};
use smithay::wayland::shell::xdg::{
    PopupSurface, PositionerState, ToplevelSurface, XdgShellHandler, XdgShellState,
    XdgToplevelSurfaceData,
};
use smithay::wayland::shm::{ShmHandler, ShmState};
use smithay::{delegate_compositor, delegate_seat, delegate_shm, delegate_xdg_shell};

#[derive(Debug, Parser)]
struct Args {
    /// Absolute path of the Wayland socket to create.
    #[arg(long)]
    socket: PathBuf,
    /// Output size, WIDTHxHEIGHT (as dom0's `--size`).
    #[arg(long, default_value = "2048x1200")]
    size: String,
}

struct Direct {
    compositor: CompositorState,
    shm: ShmState,
    xdg: XdgShellState,
    seat_state: SeatState<Direct>,
    seat: Seat<Direct>,
    renderer: PixmanRenderer,
    output: pixman::Image<'static, 'static>,
    damage: OutputDamageTracker,
    toplevels: Vec<ToplevelSurface>,
    committed: bool,
    epoch: Instant,
}

impl std::fmt::Debug for Direct {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Direct")
    }
}

#[derive(Debug, Default)]
struct ClientState {
    compositor: CompositorClientState,
}

impl ClientData for ClientState {
    fn initialized(&self, _client_id: ClientId) {}
    fn disconnected(&self, _client_id: ClientId, _reason: DisconnectReason) {}
}

impl BufferHandler for Direct {
    fn buffer_destroyed(&mut self, _buffer: &WlBuffer) {}
}

impl ShmHandler for Direct {
    fn shm_state(&self) -> &ShmState {
        &self.shm
    }
}

impl CompositorHandler for Direct {
    fn compositor_state(&mut self) -> &mut CompositorState {
        &mut self.compositor
    }

    fn client_compositor_state<'a>(&self, client: &'a Client) -> &'a CompositorClientState {
        &client
            .get_data::<ClientState>()
            .expect("every client has ClientState")
            .compositor
    }

    fn commit(&mut self, surface: &WlSurface) {
        on_commit_buffer_handler::<Self>(surface);
        let Some(toplevel) = self
            .toplevels
            .iter()
            .find(|t| t.wl_surface() == surface)
            .cloned()
        else {
            return;
        };
        let configured = with_states(surface, |states| {
            states
                .data_map
                .get::<XdgToplevelSurfaceData>()
                .is_some_and(|d| d.lock().is_ok_and(|d| d.initial_configure_sent))
        });
        if !configured {
            toplevel.send_configure();
            return;
        }
        // The frame's pixels are usable here from now on (the harness pairs this with the
        // client's commit; the same line as the bulkhead compositor's `frame_timing` event).
        eprintln!("frame usable monotonic_ns={}", monotonic_ns());
        if !self.committed {
            self.committed = true;
            let keyboard = self.seat.get_keyboard().expect("the seat has a keyboard");
            keyboard.set_focus(self, Some(surface.clone()), SERIAL_COUNTER.next_serial());
        }
        self.composite(surface);
    }
}

/// CLOCK_MONOTONIC in nanoseconds (the clock the benchmark client stamps commits with).
fn monotonic_ns() -> u128 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    u128::try_from(t.tv_sec).unwrap_or(0) * 1_000_000_000 + u128::try_from(t.tv_nsec).unwrap_or(0)
}

impl Direct {
    /// Composites what the surface damaged into the output image, then answers its frame
    /// callbacks: the damage is in the output.
    fn composite(&mut self, surface: &WlSurface) {
        let elements: Vec<WaylandSurfaceRenderElement<PixmanRenderer>> =
            render_elements_from_surface_tree(
                &mut self.renderer,
                surface,
                (0, 0),
                1.0,
                1.0,
                Kind::Unspecified,
            );
        match self.renderer.bind(&mut self.output) {
            Ok(mut target) => {
                if let Err(e) = self.damage.render_output(
                    &mut self.renderer,
                    &mut target,
                    1,
                    &elements,
                    Color32F::new(0.1, 0.1, 0.1, 1.0),
                ) {
                    eprintln!("render failed: {e:?}");
                }
            }
            Err(e) => eprintln!("bind failed: {e:?}"),
        }
        let time = u32::try_from(self.epoch.elapsed().as_millis() & 0xffff_ffff).unwrap_or(0);
        with_surface_tree_downward(
            surface,
            (),
            |_, _, _| TraversalAction::DoChildren(()),
            |_, states, _| {
                for callback in states
                    .cached_state
                    .get::<SurfaceAttributes>()
                    .current()
                    .frame_callbacks
                    .drain(..)
                {
                    callback.done(time);
                }
            },
            |_, _, _| true,
        );
    }

    fn key(&mut self, keycode: u32, pressed: bool) {
        let Some(keyboard) = self.seat.get_keyboard() else {
            return;
        };
        let state = if pressed {
            smithay::backend::input::KeyState::Pressed
        } else {
            smithay::backend::input::KeyState::Released
        };
        let time = u32::try_from(self.epoch.elapsed().as_millis() & 0xffff_ffff).unwrap_or(0);
        let serial: Serial = SERIAL_COUNTER.next_serial();
        // xkb key codes are evdev codes + 8.
        keyboard.input::<(), _>(
            self,
            (keycode + 8).into(),
            state,
            serial,
            time,
            |_, _, _| FilterResult::Forward,
        );
    }
}

impl XdgShellHandler for Direct {
    fn xdg_shell_state(&mut self) -> &mut XdgShellState {
        &mut self.xdg
    }

    fn new_toplevel(&mut self, surface: ToplevelSurface) {
        self.toplevels.push(surface);
    }

    fn new_popup(&mut self, _surface: PopupSurface, _positioner: PositionerState) {}

    fn grab(&mut self, _surface: PopupSurface, _seat: WlSeat, _serial: Serial) {}

    fn reposition_request(
        &mut self,
        _surface: PopupSurface,
        _positioner: PositionerState,
        _token: u32,
    ) {
    }

    fn toplevel_destroyed(&mut self, surface: ToplevelSurface) {
        self.toplevels.retain(|t| t != &surface);
    }
}

impl SeatHandler for Direct {
    type KeyboardFocus = WlSurface;
    type PointerFocus = WlSurface;
    type TouchFocus = WlSurface;

    fn seat_state(&mut self) -> &mut SeatState<Self> {
        &mut self.seat_state
    }
}

delegate_compositor!(Direct);
delegate_shm!(Direct);
delegate_xdg_shell!(Direct);
delegate_seat!(Direct);

fn parse_size(s: &str) -> Result<(i32, i32)> {
    let (w, h) = s.split_once('x').context("--size is WIDTHxHEIGHT")?;
    Ok((w.parse()?, h.parse()?))
}

fn main() -> Result<()> {
    let args = Args::parse();
    let (w, h) = parse_size(&args.size)?;
    let mut event_loop: EventLoop<'static, Direct> = EventLoop::try_new()?;
    let display: Display<Direct> = Display::new()?;
    let dh: DisplayHandle = display.handle();
    let mut renderer = PixmanRenderer::new()?;
    let output = renderer.create_buffer(Fourcc::Argb8888, (w, h).into())?;
    let mut seat_state = SeatState::new();
    let mut seat = seat_state.new_wl_seat(&dh, "seat0");
    seat.add_keyboard(XkbConfig::default(), 600, 25)?;
    let mut state = Direct {
        compositor: CompositorState::new::<Direct>(&dh),
        shm: ShmState::new::<Direct>(&dh, vec![]),
        xdg: XdgShellState::new::<Direct>(&dh),
        seat_state,
        seat,
        renderer,
        output,
        damage: OutputDamageTracker::new((w, h), 1.0, Transform::Normal),
        toplevels: Vec::new(),
        committed: false,
        epoch: Instant::now(),
    };

    let listener = ListeningSocket::bind_absolute(args.socket.clone())?;
    let handle = event_loop.handle();
    let mut dh_accept = dh.clone();
    handle.insert_source(
        Generic::new(listener, Interest::READ, Mode::Level),
        move |_, listener, _state| {
            while let Ok(Some(stream)) = listener.accept() {
                if let Err(e) = dh_accept.insert_client(stream, Arc::new(ClientState::default())) {
                    eprintln!("client refused: {e}");
                }
            }
            Ok(PostAction::Continue)
        },
    )?;
    let display = std::rc::Rc::new(std::cell::RefCell::new(display));
    let dispatch = std::rc::Rc::clone(&display);
    let poll_fd = display
        .borrow_mut()
        .backend()
        .poll_fd()
        .try_clone_to_owned()?;
    handle.insert_source(
        Generic::new(poll_fd, Interest::READ, Mode::Level),
        move |_, _, state| {
            dispatch.borrow_mut().dispatch_clients(state)?;
            Ok(PostAction::Continue)
        },
    )?;
    // Injected keys, one line each on stdin, read in the event loop itself (as dom0 reads
    // its control socket).
    let stdin = std::io::stdin().as_fd().try_clone_to_owned()?;
    rustix::fs::fcntl_setfl(&stdin, rustix::fs::OFlags::NONBLOCK)?;
    let mut pending = Vec::new();
    handle.insert_source(
        Generic::new(File::from(stdin), Interest::READ, Mode::Level),
        move |_, stdin, state| {
            let mut buf = [0u8; 4096];
            match (&**stdin).read(&mut buf) {
                Ok(0) => return Ok(PostAction::Remove),
                Ok(n) => pending.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
            while let Some(end) = pending.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = pending.drain(..=end).collect();
                let line = String::from_utf8_lossy(&line);
                let mut words = line.split_whitespace();
                if let (Some("key"), Some(code), Some(pressed)) =
                    (words.next(), words.next(), words.next())
                    && let Ok(code) = code.parse()
                {
                    state.key(code, pressed == "1");
                }
            }
            Ok(PostAction::Continue)
        },
    )?;

    println!("ready");
    std::io::stdout().flush()?;
    loop {
        event_loop.dispatch(None, &mut state)?;
        display.borrow_mut().flush_clients()?;
    }
}
