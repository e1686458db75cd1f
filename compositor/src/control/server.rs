//! The control socket on the calloop event loop.
//!
//! Each request gets a [`Reply`]; the handler answers through it at once or keeps it and
//! answers later (`run` waits for the qube's `LaunchResult`) without blocking the event
//! loop. A client gets its answers in the order of its requests: an answer given early
//! waits behind an earlier one still pending.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::fmt;
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::time::Duration;

use smithay::reexports::calloop::generic::Generic;
use smithay::reexports::calloop::{Interest, LoopHandle, Mode, PostAction};

use super::{MAX_REQUEST_LINE, Request, Response, parse_request};

/// Whoever answers control requests (the compositor's `State`).
pub trait ControlHandler {
    /// Answers one request through `reply`, now or later (keeping `reply` until then).
    /// Must not panic on any input.
    fn handle_control(&mut self, request: Request, reply: Reply);
}

/// One answer slot in a client's queue: `None` while the answer is pending.
type Slot = Rc<RefCell<Option<Response>>>;

/// The writing side of one control client: its answers in request order.
struct ClientOut {
    stream: UnixStream,
    queue: VecDeque<Slot>,
    /// A write failed: the client is gone; later answers are dropped.
    broken: bool,
}

impl ClientOut {
    /// Writes every answer at the head of the queue that is ready.
    fn flush(&mut self) {
        while let Some(response) = self.queue.front().and_then(|slot| slot.borrow_mut().take()) {
            self.queue.pop_front();
            if !self.broken && !send(&self.stream, &response) {
                self.broken = true;
            }
        }
    }
}

/// Where the answer to one control request goes. [`Reply::send`] answers; a `Reply`
/// dropped unanswered answers with an error (and logs the bug), so a client never waits
/// forever.
pub struct Reply {
    slot: Slot,
    /// Kept alive by its replies: a client that stopped sending (closed its writing side)
    /// still gets the answers it waits for.
    client: Option<Rc<RefCell<ClientOut>>>,
    sent: bool,
}

impl fmt::Debug for Reply {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reply")
            .field("client", &self.client.is_some())
            .finish_non_exhaustive()
    }
}

impl Reply {
    /// A reply whose answer goes nowhere (a client that is gone; tests of handlers).
    pub fn detached() -> Reply {
        Reply {
            slot: Slot::default(),
            client: None,
            sent: false,
        }
    }

    /// A new slot at the end of `client`'s queue.
    fn queued(client: &Rc<RefCell<ClientOut>>) -> Reply {
        let slot = Slot::default();
        client.borrow_mut().queue.push_back(Rc::clone(&slot));
        Reply {
            slot,
            client: Some(Rc::clone(client)),
            sent: false,
        }
    }

    /// Answers the request (written once every earlier answer of this client is).
    pub fn send(mut self, response: Response) {
        self.deliver(response);
    }

    fn deliver(&mut self, response: Response) {
        self.sent = true;
        *self.slot.borrow_mut() = Some(response);
        if let Some(client) = &self.client {
            // Free here: `flush` and `queued` hold their borrow only briefly and give no
            // answer meanwhile. Were it busy, the answer would wait in its slot for the
            // next flush.
            if let Ok(mut out) = client.try_borrow_mut() {
                out.flush();
            } else {
                tracing::error!("control answer given while its client was busy");
            }
        }
    }
}

impl Drop for Reply {
    fn drop(&mut self) {
        if !self.sent {
            tracing::error!("a control request was dropped without an answer");
            self.deliver(Response::error(
                "the compositor dropped this request without an answer (a bug: see its log)",
            ));
        }
    }
}

/// The control socket could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum ControlError {
    /// No path given and `$XDG_RUNTIME_DIR` is not set.
    #[error("no control socket path: pass --control-socket or set XDG_RUNTIME_DIR")]
    NoRuntimeDir,
    /// Something other than a socket is in the way.
    #[error("{0} exists and is not a socket")]
    NotASocket(PathBuf),
    /// Another compositor answers on this path.
    #[error("a compositor is already listening on {0}")]
    InUse(PathBuf),
    /// A filesystem or socket call failed.
    #[error("control socket {path}: {what}")]
    Io {
        /// The socket path.
        path: PathBuf,
        /// What was being done.
        what: &'static str,
        /// Why it failed.
        #[source]
        source: std::io::Error,
    },
    /// The event loop refused the source.
    #[error("cannot add the control socket to the event loop")]
    EventLoop,
}

/// `$XDG_RUNTIME_DIR/bulkhead/control.sock`.
pub fn default_socket_path() -> Result<PathBuf, ControlError> {
    let dir = std::env::var_os("XDG_RUNTIME_DIR")
        .filter(|d| !d.is_empty())
        .ok_or(ControlError::NoRuntimeDir)?;
    Ok(PathBuf::from(dir).join("bulkhead").join("control.sock"))
}

/// Binds a non-blocking Unix socket at `path` that only this user can use: mode 0600, its
/// directory created 0700 if needed, a stale socket file nobody answers on replaced, and
/// anything that is not a socket left alone (a mistyped path).
pub fn bind_private_socket(path: &Path) -> Result<UnixListener, ControlError> {
    let io = |what| {
        move |source| ControlError::Io {
            path: path.to_owned(),
            what,
            source,
        }
    };
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if !dir.exists() {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(dir)
                .map_err(io("creating its directory"))?;
        }
    }
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if !meta.file_type().is_socket() {
            // Never delete something that is not a socket (a mistyped path).
            return Err(ControlError::NotASocket(path.to_owned()));
        }
        if UnixStream::connect(path).is_ok() {
            return Err(ControlError::InUse(path.to_owned()));
        }
        std::fs::remove_file(path).map_err(io("removing a stale socket"))?;
    }
    let listener = UnixListener::bind(path).map_err(io("binding"))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .map_err(io("setting mode 0600"))?;
    listener
        .set_nonblocking(true)
        .map_err(io("setting non-blocking"))?;
    Ok(listener)
}

/// The listening socket; removes its file when dropped.
#[derive(Debug)]
pub struct ControlSocket {
    path: PathBuf,
    listener: Option<UnixListener>,
}

impl ControlSocket {
    /// Binds `path` with mode 0600, creating its directory (0700) if needed and replacing a
    /// stale socket file that nobody answers on.
    pub fn bind(path: &Path) -> Result<ControlSocket, ControlError> {
        let listener = bind_private_socket(path)?;
        tracing::info!(path = %path.display(), "control socket listening");
        Ok(ControlSocket {
            path: path.to_owned(),
            listener: Some(listener),
        })
    }

    /// The socket's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Starts answering requests on the event loop.
    pub fn insert<D: ControlHandler + 'static>(
        &mut self,
        handle: &LoopHandle<'static, D>,
    ) -> Result<(), ControlError> {
        let listener = self.listener.take().ok_or(ControlError::EventLoop)?;
        let clients = handle.clone();
        handle
            .insert_source(
                Generic::new(listener, Interest::READ, Mode::Level),
                move |_, listener, _data| {
                    loop {
                        match listener.accept() {
                            Ok((stream, _)) => add_client(&clients, stream),
                            Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                            Err(e) => {
                                tracing::warn!(error = %e, "control socket accept failed");
                                break;
                            }
                        }
                    }
                    Ok(PostAction::Continue)
                },
            )
            .map_err(|_| ControlError::EventLoop)?;
        Ok(())
    }
}

impl Drop for ControlSocket {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Reads requests from one client. Reads happen only when the socket is readable; writes
/// block for at most a second (the peer is one of dom0's own tools).
fn add_client<D: ControlHandler + 'static>(handle: &LoopHandle<'static, D>, stream: UnixStream) {
    if stream.set_nonblocking(false).is_err()
        || stream
            .set_write_timeout(Some(Duration::from_secs(1)))
            .is_err()
    {
        return;
    }
    let Ok(writer) = stream.try_clone() else {
        return;
    };
    let out = Rc::new(RefCell::new(ClientOut {
        stream: writer,
        queue: VecDeque::new(),
        broken: false,
    }));
    let mut pending: Vec<u8> = Vec::new();
    let source = Generic::new(stream, Interest::READ, Mode::Level);
    let inserted = handle.insert_source(source, move |_, stream, data| {
        let stream: &UnixStream = stream;
        let mut buf = [0u8; 4096];
        let n = match (&*stream).read(&mut buf) {
            Ok(0) => return Ok(PostAction::Remove),
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted || e.kind() == ErrorKind::WouldBlock => {
                return Ok(PostAction::Continue);
            }
            Err(_) => return Ok(PostAction::Remove),
        };
        pending.extend_from_slice(&buf[..n]);
        while let Some(end) = pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            let reply = Reply::queued(&out);
            match parse_request(&line[..end]) {
                Ok(request) => {
                    tracing::debug!(?request, "control request");
                    data.handle_control(request, reply);
                }
                Err(response) => reply.send(response),
            }
            if out.borrow().broken {
                return Ok(PostAction::Remove);
            }
        }
        if pending.len() > MAX_REQUEST_LINE {
            Reply::queued(&out).send(Response::error(format!(
                "request line longer than {MAX_REQUEST_LINE} bytes"
            )));
            return Ok(PostAction::Remove);
        }
        Ok(PostAction::Continue)
    });
    if inserted.is_err() {
        tracing::error!("cannot add a control client to the event loop");
    }
}

fn send(mut stream: &UnixStream, response: &Response) -> bool {
    let mut line = serde_json::to_vec(response)
        .unwrap_or_else(|_| br#"{"ok":false,"error":"internal"}"#.to_vec());
    line.push(b'\n');
    stream.write_all(&line).is_ok()
}
