//! The qubes' connections to dom0: one listening socket per qube dom0 knows, one
//! [`Connection`] per connected agent, and the event-loop glue between them.
//!
//! Which qube a connection belongs to is decided by dom0 alone: by the socket the agent
//! connected to (`qube-<name>.sock`, mode 0600, in a 0700 directory), later by the VM the
//! VMM booted. An agent never names its qube. A qube has at most one live connection.
//!
//! When an agent connects, dom0 creates its shared-memory region and hands the memfd and
//! both doorbells over the socket; from then on the socket is no longer used. A connection
//! that breaks any rule (malformed message, limit, hostile ring indices, a panic in its
//! handler) is closed with the reason logged; its windows disappear, the qube may connect
//! again, and the compositor and the other qubes carry on.

mod connection;
mod launch;
mod manage;

use std::collections::HashMap;
use std::io::ErrorKind;
use std::os::unix::net::{UnixListener, UnixStream};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};

use bulkhead_border_theme::QubeName;
use bulkhead_shm_transport::{Config, Endpoint, send_handoff};
use smithay::reexports::calloop::generic::Generic;
use smithay::reexports::calloop::ping::{Ping, make_ping};
use smithay::reexports::calloop::{Interest, LoopHandle, Mode, PostAction, RegistrationToken};

pub use launch::{LAUNCH_CONFIRM_TIMEOUT, MAX_UNCONFIRMED_LAUNCHES, describe_errno};

pub use connection::{
    BATCH, Connection, RATE_BURST, RATE_PER_SECOND, STATE_BURST, STATE_CHANGES_PER_SECOND,
    STATE_REFUSALS_BURST, STATE_REFUSALS_PER_SECOND, Violation,
};

use crate::control::server::{ControlError, bind_private_socket};
use bulkhead_protocol::Dom0Message;

use crate::desktop::{ModelEvent, QubeId};
use crate::input::route::QubeInput;
use crate::state::State;

/// How often dom0 acknowledges frames by default: a 60 Hz refresh.
pub const REFRESH_INTERVAL: std::time::Duration = std::time::Duration::from_micros(16_667);

/// `qube-<name>.sock` in `dir`: where the agent of qube `name` connects.
pub fn socket_path(dir: &Path, name: &QubeName) -> PathBuf {
    dir.join(format!("qube-{name}.sock"))
}

/// A connected qube: its connection and the event sources of its doorbell and of its
/// setup socket (kept open as the liveness signal both ways: each side sees the other go).
#[derive(Debug)]
struct Link {
    connection: Connection,
    doorbell: RegistrationToken,
    socket: RegistrationToken,
}

/// Every qube connection, and the sockets agents connect to.
#[derive(Debug)]
pub struct QubeLinks {
    config: Config,
    links: HashMap<QubeId, Link>,
    sockets: Vec<(QubeId, PathBuf, RegistrationToken)>,
    /// Where the qubes' sockets are (set by [`QubeLinks::listen`]).
    dir: Option<PathBuf>,
    pub(crate) handle: Option<LoopHandle<'static, State>>,
    /// Qubes with work left over from their last turn (more than a batch of messages), and
    /// the ping that wakes the loop to serve them: their doorbell will not ring for it.
    unfinished: Vec<QubeId>,
    wake: Option<Ping>,
    /// When frames were last acknowledged, and whether a timer will acknowledge the next.
    pub(crate) last_present: Option<std::time::Instant>,
    pub(crate) present_armed: bool,
    /// Shortest time between two acknowledgements ([`REFRESH_INTERVAL`] unless set with
    /// [`QubeLinks::set_refresh_interval`]; zero: as soon as the frame is drawn).
    pub(crate) refresh_interval: std::time::Duration,
    /// The id of the next `Launch` (one counter for every qube and connection).
    next_launch: u32,
}

impl Default for QubeLinks {
    fn default() -> Self {
        QubeLinks::new(Config::default())
    }
}

impl QubeLinks {
    /// No sockets yet; shared regions made with `config`.
    pub fn new(config: Config) -> QubeLinks {
        QubeLinks {
            config,
            links: HashMap::new(),
            sockets: Vec::new(),
            dir: None,
            handle: None,
            unfinished: Vec::new(),
            wake: None,
            last_present: None,
            present_armed: false,
            refresh_interval: REFRESH_INTERVAL,
            next_launch: 1,
        }
    }

    /// A fresh id for a `Launch`.
    fn launch_id(&mut self) -> u32 {
        let id = self.next_launch;
        self.next_launch = id.wrapping_add(1).max(1);
        id
    }

    /// Acknowledges frames at most once per `interval` (zero: each as soon as it is drawn,
    /// for benchmarks measuring the frame path rather than a display's refresh).
    pub fn set_refresh_interval(&mut self, interval: std::time::Duration) {
        self.refresh_interval = interval;
    }

    /// Whether `qube` has a live connection.
    pub fn is_connected(&self, qube: QubeId) -> bool {
        self.links.contains_key(&qube)
    }

    /// Opens one socket per qube in `dir` and starts accepting agents on the event loop.
    pub fn listen(
        &mut self,
        handle: &LoopHandle<'static, State>,
        dir: &Path,
        qubes: &[(QubeId, QubeName)],
    ) -> Result<(), ControlError> {
        self.handle = Some(handle.clone());
        let (wake, woken) = make_ping().map_err(|_| ControlError::EventLoop)?;
        handle
            .insert_source(woken, |(), (), state: &mut State| {
                for qube in std::mem::take(&mut state.qubes.unfinished) {
                    state.service_qube(qube);
                }
            })
            .map_err(|_| ControlError::EventLoop)?;
        self.wake = Some(wake);
        self.dir = Some(dir.to_owned());
        for (qube, name) in qubes {
            self.open_socket(*qube, name)?;
        }
        Ok(())
    }

    /// Opens `qube`'s socket, `qube-<name>.sock` in the directory [`QubeLinks::listen`] was
    /// given, and starts accepting its agent. Returns the socket's path.
    pub fn open_socket(&mut self, qube: QubeId, name: &QubeName) -> Result<PathBuf, ControlError> {
        let (Some(handle), Some(dir)) = (&self.handle, &self.dir) else {
            return Err(ControlError::EventLoop);
        };
        let path = socket_path(dir, name);
        let listener = bind_private_socket(&path)?;
        let token = handle
            .insert_source(
                Generic::new(listener, Interest::READ, Mode::Level),
                move |_, listener, state: &mut State| {
                    accept_all(listener, qube, state);
                    Ok(PostAction::Continue)
                },
            )
            .map_err(|_| ControlError::EventLoop)?;
        tracing::info!(?qube, path = %path.display(), "qube socket listening");
        self.sockets.push((qube, path.clone(), token));
        Ok(path)
    }

    /// Stops accepting agents for `qube` and removes its socket file.
    pub fn close_socket(&mut self, qube: QubeId) {
        let (gone, kept) = std::mem::take(&mut self.sockets)
            .into_iter()
            .partition(|(q, _, _)| *q == qube);
        self.sockets = kept;
        for (_, path, token) in gone {
            if let Some(handle) = &self.handle {
                handle.remove(token);
            }
            let _ = std::fs::remove_file(&path);
            tracing::info!(?qube, path = %path.display(), "qube socket closed");
        }
    }

    /// What `qube`'s connection agreed to in its handshake (`None`: not connected, or the
    /// handshake is not done yet).
    pub fn capabilities(&self, qube: QubeId) -> Option<bulkhead_protocol::Capabilities> {
        self.links
            .get(&qube)
            .filter(|l| l.connection.is_ready())
            .map(|l| l.connection.capabilities())
    }

    /// `qube`'s live connection.
    pub(crate) fn connection(&mut self, qube: QubeId) -> Option<&mut Connection> {
        self.links.get_mut(&qube).map(|l| &mut l.connection)
    }

    /// Whether `qube`'s agent is connected and its handshake done.
    pub fn is_ready(&self, qube: QubeId) -> bool {
        self.links
            .get(&qube)
            .is_some_and(|l| l.connection.is_ready())
    }

    /// The event loop the qubes are served on (none before [`QubeLinks::listen`]).
    pub fn loop_handle(&self) -> Option<LoopHandle<'static, State>> {
        self.handle.clone()
    }

    /// Sends one message to `qube`, if it is connected (otherwise nothing happens: a qube
    /// without a connection has no windows to get input or gestures in).
    pub fn send(&mut self, qube: QubeId, message: &Dom0Message) -> Result<(), Violation> {
        match self.links.get_mut(&qube) {
            Some(link) => link.connection.send(message),
            None => Ok(()),
        }
    }

    /// Like [`QubeLinks::send`], and the encoded copy is wiped after it was queued.
    pub fn send_secret(&mut self, qube: QubeId, message: &Dom0Message) -> Result<(), Violation> {
        match self.links.get_mut(&qube) {
            Some(link) => link.connection.send_secret(message),
            None => Ok(()),
        }
    }

    /// Sends the same messages to every connected qube (dom0-wide news such as a new
    /// keymap).
    pub fn broadcast(&mut self, messages: &[Dom0Message]) -> Vec<(QubeId, Violation)> {
        let mut broken = Vec::new();
        for (qube, link) in &mut self.links {
            if let Err(v) = messages.iter().try_for_each(|m| link.connection.send(m)) {
                broken.push((*qube, v));
            }
        }
        broken
    }

    /// Sends one input event dom0 decided `qube` gets.
    pub fn send_input(
        &mut self,
        qube: QubeId,
        input: &QubeInput,
        time_ms: u32,
    ) -> Result<(), Violation> {
        match self.links.get_mut(&qube) {
            Some(link) => link.connection.send_input(input, time_ms),
            None => Ok(()),
        }
    }

    /// Hands the model's events to the qubes they concern.
    pub fn deliver(&mut self, events: &[ModelEvent]) -> Vec<(QubeId, Violation)> {
        let mut broken = Vec::new();
        for event in events {
            for (qube, link) in &mut self.links {
                if let Err(v) = link.connection.deliver(event) {
                    broken.push((*qube, v));
                }
            }
        }
        broken
    }

    /// Whether any qube has a drawn frame not yet acknowledged.
    pub fn has_pending_frames(&self) -> bool {
        self.links
            .values()
            .any(|l| l.connection.has_pending_frames())
    }

    /// After a frame was drawn: acknowledge every frame the qubes sent since.
    pub fn frames_presented(&mut self) -> Vec<(QubeId, Violation)> {
        let mut broken = Vec::new();
        for (qube, link) in &mut self.links {
            if let Err(v) = link.connection.frames_presented() {
                broken.push((*qube, v));
            }
        }
        broken
    }
}

impl Drop for QubeLinks {
    fn drop(&mut self) {
        for (_, path, _) in &self.sockets {
            let _ = std::fs::remove_file(path);
        }
    }
}

fn accept_all(listener: &UnixListener, qube: QubeId, state: &mut State) {
    loop {
        match listener.accept() {
            Ok((stream, _)) => state.qube_connected(qube, stream),
            Err(e) if e.kind() == ErrorKind::WouldBlock => return,
            Err(e) => {
                tracing::warn!(?qube, error = %e, "accepting a qube connection failed");
                return;
            }
        }
    }
}

impl State {
    /// An agent connected to `qube`'s socket: create its region, hand it over, and start
    /// serving its doorbell.
    pub fn qube_connected(&mut self, qube: QubeId, stream: UnixStream) {
        if self.qubes.is_connected(qube) {
            tracing::warn!(?qube, "second connection for a connected qube refused");
            return;
        }
        let Some(handle) = self.qubes.handle.clone() else {
            tracing::error!(?qube, "qube connection without an event loop");
            return;
        };
        let (endpoint, handoff) = match Endpoint::create_dom0(&self.qubes.config) {
            Ok(pair) => pair,
            Err(e) => {
                tracing::error!(?qube, error = %e, "cannot create a shared region");
                return;
            }
        };
        // The socket is blocking for this one message; the peer is waiting for it.
        if let Err(e) = stream
            .set_nonblocking(false)
            .map_err(|e| e.to_string())
            .and_then(|()| send_handoff(&stream, &handoff).map_err(|e| e.to_string()))
        {
            tracing::warn!(?qube, error = %e, "handing the region to the agent failed");
            return;
        }
        drop(handoff);
        let connection = Connection::new(qube, endpoint);
        let doorbell = match connection.doorbell_fd().try_clone_to_owned() {
            Ok(fd) => fd,
            Err(e) => {
                tracing::error!(?qube, error = %e, "cannot watch the doorbell");
                return;
            }
        };
        let Ok(doorbell) = handle.insert_source(
            Generic::new(doorbell, Interest::READ, Mode::Level),
            move |_, _, state: &mut State| {
                state.service_qube(qube);
                Ok(PostAction::Continue)
            },
        ) else {
            tracing::error!(?qube, "cannot add the doorbell to the event loop");
            return;
        };
        let socket = stream.set_nonblocking(true).ok().and_then(|()| {
            handle
                .insert_source(
                    Generic::new(stream, Interest::READ, Mode::Level),
                    move |_, stream, state: &mut State| {
                        state.qube_socket_readable(qube, stream);
                        Ok(PostAction::Continue)
                    },
                )
                .ok()
        });
        let Some(socket) = socket else {
            handle.remove(doorbell);
            tracing::error!(?qube, "cannot watch the qube's setup socket");
            return;
        };
        tracing::info!(?qube, "qube connected");
        self.qubes.links.insert(
            qube,
            Link {
                connection,
                doorbell,
                socket,
            },
        );
        // Messages may already wait (the agent sends hello right after the handoff).
        self.service_qube(qube);
    }

    /// The setup socket has something: the agent hung up (it exited or crashed), or it
    /// wrote to a socket dom0 no longer reads (a violation).
    fn qube_socket_readable(&mut self, qube: QubeId, mut stream: &UnixStream) {
        let mut byte = [0u8; 1];
        match std::io::Read::read(&mut stream, &mut byte) {
            Ok(0) => self.disconnect(qube, &Violation::HungUp),
            Ok(_) => self.disconnect(qube, &Violation::Handshake("data on the setup socket")),
            Err(e) if e.kind() == ErrorKind::WouldBlock => {}
            Err(_) => self.disconnect(qube, &Violation::HungUp),
        }
    }

    /// The qube's doorbell rang (or work was left from the last turn): serve it. A broken
    /// rule or a panic closes that qube's connection only.
    pub fn service_qube(&mut self, qube: QubeId) {
        let Some(link) = self.qubes.links.get_mut(&qube) else {
            return;
        };
        let dom0 = &mut self.dom0;
        let result = catch_unwind(AssertUnwindSafe(|| link.connection.service(dom0)))
            .unwrap_or_else(|panic| {
                let what = panic
                    .downcast_ref::<&str>()
                    .map(ToString::to_string)
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                Err(Violation::Dom0(format!("handler panicked: {what}")))
            });
        match result {
            Ok(false) => {}
            Ok(true) => {
                if !self.qubes.unfinished.contains(&qube) {
                    self.qubes.unfinished.push(qube);
                }
                if let Some(wake) = &self.qubes.wake {
                    wake.ping();
                }
            }
            Err(v) => self.disconnect(qube, &v),
        }
    }

    /// Closes `qube`'s connection: its windows go, the qube stays known and may reconnect.
    pub fn disconnect(&mut self, qube: QubeId, reason: &Violation) {
        let Some(mut link) = self.qubes.links.remove(&qube) else {
            return;
        };
        match reason {
            Violation::Dom0(_) => tracing::error!(?qube, %reason, "qube connection closed"),
            Violation::HungUp | Violation::Removed => {
                tracing::info!(?qube, %reason, "qube disconnected");
            }
            _ => tracing::warn!(?qube, %reason, "qube connection closed"),
        }
        if let Some(handle) = &self.qubes.handle {
            handle.remove(link.doorbell);
            handle.remove(link.socket);
        }
        link.connection.launches().closed(reason);
        drop(link);
        self.dom0.clipboard.qube_gone(qube);
        self.dom0.input.qube_gone(qube);
        self.dom0.qube_disconnected(qube);
    }
}
