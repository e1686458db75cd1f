//! The control socket on the calloop event loop.

use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use smithay::reexports::calloop::generic::Generic;
use smithay::reexports::calloop::{Interest, LoopHandle, Mode, PostAction};

use super::{MAX_REQUEST_LINE, Request, Response, parse_request};

/// Whoever answers control requests (the compositor's `State`).
pub trait ControlHandler {
    /// Answers one request. Must not panic on any input.
    fn handle_control(&mut self, request: Request) -> Response;
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
            let response = match parse_request(&line[..end]) {
                Ok(request) => {
                    tracing::debug!(?request, "control request");
                    data.handle_control(request)
                }
                Err(response) => response,
            };
            if !send(stream, &response) {
                return Ok(PostAction::Remove);
            }
        }
        if pending.len() > MAX_REQUEST_LINE {
            send(
                stream,
                &Response::error(format!("request line longer than {MAX_REQUEST_LINE} bytes")),
            );
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
