//! The agent's event loop: the Wayland socket, the clients, dom0's events, and a frame
//! flush after every batch.

use std::cell::RefCell;
use std::rc::Rc;

use smithay::backend::renderer::pixman::{PixmanError, PixmanRenderer};
use smithay::reexports::calloop::channel::{self, Channel};
use smithay::reexports::calloop::generic::Generic;
use smithay::reexports::calloop::{EventLoop, Interest, LoopHandle, Mode, PostAction};
use smithay::reexports::wayland_server::Display;
use smithay::wayland::socket::ListeningSocketSource;

use crate::link::{Dom0Event, DomLink};
use crate::state::{Agent, client_data};

/// How the agent runs.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// Socket name in `$XDG_RUNTIME_DIR`; `None` picks a free `wayland-N`.
    pub wayland_display: Option<String>,
}

/// Why the agent could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The event loop could not be created or failed.
    #[error("event loop")]
    EventLoop(#[from] smithay::reexports::calloop::Error),
    /// The Wayland display could not be created.
    #[error("wayland display")]
    Display(#[from] smithay::reexports::wayland_server::backend::InitError),
    /// The Wayland socket could not be bound.
    #[error("wayland socket")]
    Socket(#[from] smithay::reexports::wayland_server::BindError),
    /// The pixman renderer could not be created.
    #[error("pixman renderer")]
    Renderer(#[from] PixmanError),
    /// The default keymap did not compile.
    #[error("keyboard")]
    Keyboard(#[from] smithay::input::keyboard::Error),
    /// Inserting an event source failed.
    #[error("event source: {0}")]
    Source(String),
    /// Dispatching or flushing clients failed.
    #[error("wayland dispatch")]
    Io(#[from] std::io::Error),
}

/// A ready-to-run agent.
#[derive(Debug)]
pub struct Server {
    event_loop: EventLoop<'static, Agent>,
    display: Rc<RefCell<Display<Agent>>>,
    agent: Agent,
    socket_name: String,
}

impl Server {
    /// Creates the globals and binds the Wayland socket.
    pub fn new(config: &Config, link: Box<dyn DomLink>) -> Result<Self, ServerError> {
        let event_loop: EventLoop<'static, Agent> = EventLoop::try_new()?;
        let mut display: Display<Agent> = Display::new()?;
        let renderer = PixmanRenderer::new()?;
        let agent = Agent::new(
            display.handle(),
            link,
            renderer,
            event_loop.handle(),
            event_loop.get_signal(),
        )?;

        let socket = match &config.wayland_display {
            Some(name) => ListeningSocketSource::with_name(name)?,
            None => ListeningSocketSource::new_auto()?,
        };
        let socket_name = socket.socket_name().to_string_lossy().into_owned();
        let handle = event_loop.handle();
        handle
            .insert_source(socket, |stream, _, agent: &mut Agent| {
                if let Err(err) = agent.wayland.display.insert_client(stream, client_data()) {
                    tracing::warn!(%err, "cannot accept a client");
                }
            })
            .map_err(|err| ServerError::Source(err.to_string()))?;

        let poll_fd = display.backend().poll_fd().try_clone_to_owned()?;
        let display = Rc::new(RefCell::new(display));
        let dispatch = Rc::clone(&display);
        handle
            .insert_source(
                Generic::new(poll_fd, Interest::READ, Mode::Level),
                move |_, _, agent: &mut Agent| {
                    if let Err(err) = dispatch.borrow_mut().dispatch_clients(agent) {
                        tracing::error!(%err, "dispatching clients failed");
                    }
                    Ok(PostAction::Continue)
                },
            )
            .map_err(|err| ServerError::Source(err.to_string()))?;

        tracing::info!(socket = %socket_name, "wayland socket ready");
        Ok(Server {
            event_loop,
            display,
            agent,
            socket_name,
        })
    }

    /// The Wayland socket's name (for `WAYLAND_DISPLAY`).
    pub fn socket_name(&self) -> &str {
        &self.socket_name
    }

    /// The loop handle, for adding the dom0 link's event source.
    pub fn handle(&self) -> LoopHandle<'static, Agent> {
        self.event_loop.handle()
    }

    /// Delivers dom0 events from an in-process channel (tests, standalone mode). The agent
    /// stops when the channel's sender is dropped, as it does when dom0 hangs up.
    pub fn add_event_channel(&self, events: Channel<Dom0Event>) -> Result<(), ServerError> {
        self.event_loop
            .handle()
            .insert_source(events, |event, _, agent: &mut Agent| match event {
                channel::Event::Msg(event) => agent.handle_dom0(event),
                channel::Event::Closed => {
                    tracing::info!("dom0 hung up");
                    agent.loop_signal.stop();
                }
            })
            .map(|_| ())
            .map_err(|err| ServerError::Source(err.to_string()))
    }

    /// Runs until dom0 hangs up or the link fails.
    pub fn run(mut self) -> Result<(), ServerError> {
        let display = Rc::clone(&self.display);
        self.event_loop.run(None, &mut self.agent, |agent| {
            agent.flush_frames();
            if let Err(err) = display.borrow_mut().flush_clients() {
                tracing::warn!(%err, "flushing clients failed");
            }
        })?;
        Ok(())
    }
}
