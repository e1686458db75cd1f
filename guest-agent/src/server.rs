//! The agent's event loop: the Wayland socket, the clients, dom0's events, and a frame
//! flush after every batch.

use std::cell::RefCell;
use std::io::Read;
use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::rc::Rc;

use smithay::backend::renderer::pixman::{PixmanError, PixmanRenderer};
use smithay::reexports::calloop::channel::{self, Channel};
use smithay::reexports::calloop::generic::Generic;
use smithay::reexports::calloop::{EventLoop, Interest, LoopHandle, Mode, PostAction};
use smithay::reexports::wayland_server::{Display, ListeningSocket};

use crate::clipboard::ClipboardState;
use crate::link::transport::Connected;
use crate::link::{Dom0Message, DomLink, OutputMode};
use crate::state::{Agent, client_data};

/// How the agent runs.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// Socket name in `$XDG_RUNTIME_DIR`, or an absolute path (as `WAYLAND_DISPLAY`
    /// allows); `None` picks a free `wayland-N`.
    pub wayland_display: Option<String>,
}

/// Binds the Wayland socket `config` asks for; returns it and its `WAYLAND_DISPLAY`.
fn bind(config: &Config) -> Result<(ListeningSocket, String), ServerError> {
    let socket = match &config.wayland_display {
        Some(path) if path.starts_with('/') => {
            let socket = ListeningSocket::bind_absolute(PathBuf::from(path))?;
            return Ok((socket, path.clone()));
        }
        Some(name) => ListeningSocket::bind(name)?,
        None => ListeningSocket::bind_auto("wayland", 1..33)?,
    };
    let name = socket
        .socket_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok((socket, name))
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
        let (replies, clipboard_replies) = channel::channel();
        let mut agent = Agent::new(
            display.handle(),
            link,
            renderer,
            event_loop.handle(),
            event_loop.get_signal(),
            ClipboardState::new(replies),
        )?;
        event_loop
            .handle()
            .insert_source(clipboard_replies, |event, _, agent: &mut Agent| {
                if let channel::Event::Msg(reply) = event {
                    agent.clipboard_reply(reply);
                }
            })
            .map_err(|err| ServerError::Source(err.to_string()))?;

        let (socket, socket_name) = bind(config)?;
        agent.launcher = crate::launch::Launcher::new(socket_name.clone());
        let handle = event_loop.handle();
        handle
            .insert_source(
                Generic::new(socket, Interest::READ, Mode::Level),
                |_, socket, agent: &mut Agent| {
                    loop {
                        match socket.accept() {
                            Ok(Some(stream)) => {
                                if let Err(err) =
                                    agent.wayland.display.insert_client(stream, client_data())
                                {
                                    tracing::warn!(%err, "cannot accept a client");
                                }
                            }
                            Ok(None) => break,
                            Err(err) => {
                                tracing::warn!(%err, "accepting a client failed");
                                break;
                            }
                        }
                    }
                    Ok(PostAction::Continue)
                },
            )
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

    /// The Wayland socket's name or absolute path (for `WAYLAND_DISPLAY`).
    pub fn socket_name(&self) -> &str {
        &self.socket_name
    }

    /// The loop handle, for adding the dom0 link's event source.
    pub fn handle(&self) -> LoopHandle<'static, Agent> {
        self.event_loop.handle()
    }

    /// Delivers dom0 events from an in-process channel (tests, standalone mode). The agent
    /// stops when the channel's sender is dropped, as it does when dom0 hangs up.
    pub fn add_event_channel(&self, events: Channel<Dom0Message>) -> Result<(), ServerError> {
        self.event_loop
            .handle()
            .insert_source(events, |event, _, agent: &mut Agent| match event {
                channel::Event::Msg(event) => agent.handle_dom0(event),
                channel::Event::Closed => {
                    tracing::info!("dom0 hung up");
                    agent.runtime.signal.stop();
                }
            })
            .map(|_| ())
            .map_err(|err| ServerError::Source(err.to_string()))
    }

    /// Wires the agent to a connected shared-memory link: applies the handshake's output
    /// and early messages, polls the link when dom0 rings, and stops when dom0 hangs up.
    pub fn connect_transport(config: &Config, connected: Connected) -> Result<Self, ServerError> {
        let Connected {
            link,
            output,
            early,
            socket,
        } = connected;
        let doorbell = link.doorbell()?;
        let mut server = Server::new(config, Box::new(link))?;
        server.agent.set_output(OutputMode::from(output));
        for message in early {
            server.agent.handle_dom0(message);
        }
        server.add_doorbell(doorbell)?;
        // Drains what came after the handshake and tells dom0 we wait for its doorbell
        // (dom0 rings only a peer that said so).
        server.agent.poll_link();
        if let Some(socket) = socket {
            server.add_hangup_watch(socket)?;
        }
        Ok(server)
    }

    /// Polls the link whenever `doorbell` becomes readable.
    fn add_doorbell(&self, doorbell: OwnedFd) -> Result<(), ServerError> {
        self.event_loop
            .handle()
            .insert_source(
                Generic::new(doorbell, Interest::READ, Mode::Level),
                |_, _, agent: &mut Agent| {
                    agent.poll_link();
                    Ok(PostAction::Continue)
                },
            )
            .map(|_| ())
            .map_err(|err| ServerError::Source(err.to_string()))
    }

    /// Stops the agent when dom0 closes the setup socket.
    fn add_hangup_watch(&self, socket: UnixStream) -> Result<(), ServerError> {
        self.event_loop
            .handle()
            .insert_source(
                Generic::new(socket, Interest::READ, Mode::Level),
                |_, socket, agent: &mut Agent| {
                    let mut byte = [0u8; 1];
                    match (&**socket).read(&mut byte) {
                        Ok(1) => Ok(PostAction::Continue),
                        _ => {
                            tracing::info!("dom0 hung up");
                            agent.runtime.signal.stop();
                            Ok(PostAction::Remove)
                        }
                    }
                },
            )
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
