//! `bulkhead-compositor`: the dom0 compositor binary.

use anyhow::{Context, Result};
use bulkhead_border_theme::Theme;
use bulkhead_compositor::backend::{Backend, Headless};
use bulkhead_compositor::cli::{Args, BackendKind};
use bulkhead_compositor::clipboard::{Clipboard, ClipboardPolicy};
use bulkhead_compositor::control::server::{ControlSocket, default_socket_path};
use bulkhead_compositor::qube::QubeLinks;
use bulkhead_compositor::render::text::TitleFont;
use bulkhead_compositor::state::{Dom0, State};
use bulkhead_compositor::window_policy::WindowPolicy;
use bulkhead_shm_transport::Config;
use clap::Parser;
use smithay::reexports::calloop::{EventLoop, LoopHandle, LoopSignal};
use tracing_subscriber::EnvFilter;

fn main() -> Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let args = Args::parse();

    let theme = match &args.theme {
        Some(path) => Theme::load(path).with_context(|| format!("theme {}", path.display()))?,
        None => Theme::default(),
    };
    let font = match &args.font {
        Some(path) => TitleFont::load(path)?,
        None => TitleFont::load_default()?,
    };

    let mut event_loop: EventLoop<'static, State> =
        EventLoop::try_new().context("creating the event loop")?;
    let handle = event_loop.handle();

    let signal = event_loop.get_signal();
    let backend = match args.backend {
        BackendKind::Headless => Backend::Headless(Box::new(Headless::new(args.size.0)?)),
        BackendKind::Winit => nested(&handle, signal.clone())?,
        BackendKind::Drm => drm(&handle)?,
    };
    let mut dom0 = Dom0::new(&backend, theme, font, args.host_agents);
    dom0.stop = Some(signal.clone());
    if let Some(path) = &args.clipboard_policy {
        dom0.clipboard = Clipboard::new(ClipboardPolicy::load(path)?);
        tracing::info!(path = %path.display(), "clipboard policy loaded");
    }
    if args.host_agents {
        tracing::warn!("agents run as host processes: this mode isolates nothing");
    }
    let mut qubes = Vec::new();
    for q in &args.qubes {
        qubes.push((dom0.add_qube(q.name.clone(), q.label)?, q.name.clone()));
    }
    if let Some(path) = &args.window_policy {
        // Kept for the compositor's life: the `--qube` qubes get their entries now, qubes
        // declared later (`add-qube`) when they are added.
        let policy = WindowPolicy::load(path)
            .with_context(|| format!("fix the window policy {}", path.display()))?;
        dom0.set_window_policy(policy);
        tracing::info!(path = %path.display(), "window policy loaded");
    }
    let mut state = State {
        backend,
        dom0,
        qubes: QubeLinks::new(Config::default()),
    };
    state.qubes.set_refresh_interval(args.refresh_interval());
    let socket_dir = match args.qube_socket_dir {
        Some(d) => d,
        None => default_socket_dir()?,
    };
    state.qubes.listen(&handle, &socket_dir, &qubes)?;

    let socket_path = match args.control_socket {
        Some(p) => p,
        None => default_socket_path()?,
    };
    let mut control = ControlSocket::bind(&socket_path)?;
    control.insert(&handle)?;

    ctrl_c(&handle, signal)?;

    tracing::info!(qubes = args.qubes.len(), "compositor running");
    // The nested window's events are polled, so that backend wakes up every frame; the
    // headless one sleeps until a request comes.
    let tick = match state.backend {
        Backend::Headless(_) => None,
        #[cfg(feature = "winit")]
        Backend::Winit(_) => Some(std::time::Duration::from_millis(16)),
        // Vblanks, input and hotplugs are all events: no polling.
        #[cfg(feature = "drm")]
        Backend::Drm(_) => None,
    };
    event_loop
        .run(tick, &mut state, State::after_dispatch)
        .context("event loop")?;
    drop(control);
    Ok(())
}

/// `$XDG_RUNTIME_DIR/bulkhead`, beside the control socket.
fn default_socket_dir() -> Result<std::path::PathBuf> {
    let control = default_socket_path()?;
    Ok(control.parent().map(ToOwned::to_owned).unwrap_or_default())
}

/// Stops the loop on SIGINT/SIGTERM so the control socket file is removed.
fn ctrl_c(handle: &LoopHandle<'static, State>, signal: LoopSignal) -> Result<()> {
    use calloop::signals::{Signal, Signals};
    let signals = Signals::new(&[Signal::SIGINT, Signal::SIGTERM]).context("signal handler")?;
    handle
        .insert_source(signals, move |_, _, _| signal.stop())
        .map_err(|e| anyhow::anyhow!("signal source: {e}"))?;
    Ok(())
}

#[cfg(feature = "winit")]
fn nested(handle: &LoopHandle<'static, State>, signal: LoopSignal) -> Result<Backend> {
    use bulkhead_compositor::backend::winit::Nested;
    use smithay::backend::winit::WinitEvent;

    let (nested, events) = Nested::new().context("opening the nested window")?;
    handle
        .insert_source(events, move |event, _, state| match event {
            WinitEvent::Resized { size, .. } => {
                let size = bulkhead_compositor::desktop::Size::new(size.w, size.h);
                if let Backend::Winit(n) = &mut state.backend {
                    n.resized(size);
                }
                state.dom0.desktop.set_output_size(size);
                state.dom0.needs_redraw = true;
            }
            WinitEvent::Input(input) => {
                if let Some(raw) =
                    bulkhead_compositor::input::from_backend(state.backend.size(), input)
                {
                    state.input(raw);
                }
            }
            WinitEvent::Redraw => state.dom0.needs_redraw = true,
            WinitEvent::CloseRequested => signal.stop(),
            WinitEvent::Focus(_) => {}
        })
        .map_err(|e| anyhow::anyhow!("winit event source: {e}"))?;
    Ok(Backend::Winit(Box::new(nested)))
}

#[cfg(not(feature = "winit"))]
fn nested(_: &LoopHandle<'static, State>, _: LoopSignal) -> Result<Backend> {
    anyhow::bail!("this build has no nested backend (build with the `winit` feature)")
}

#[cfg(feature = "drm")]
fn drm(handle: &LoopHandle<'static, State>) -> Result<Backend> {
    use bulkhead_compositor::backend::drm::Drm;
    let drm = Drm::start(handle)?;
    for (name, size) in drm.outputs() {
        tracing::info!(output = %name, w = size.w, h = size.h, "output");
    }
    Ok(Backend::Drm(Box::new(drm)))
}

#[cfg(not(feature = "drm"))]
fn drm(_: &LoopHandle<'static, State>) -> Result<Backend> {
    anyhow::bail!("this build has no DRM backend (build with the `drm` feature)")
}
