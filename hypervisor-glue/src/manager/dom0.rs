//! The manager's side of the compositor's control socket (JSON lines; the compositor's
//! `control` module documents the requests). The manager declares each qube there before
//! its VMM starts, so dom0 learns the qube's name and label from the manager, never from
//! the guest.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use serde_json::json;

/// How long the compositor may take to answer one request. `run` is answered when the
/// qube's agent says whether the program started, or after the compositor's own 5 s bound:
/// this is longer.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);

/// Talking to the compositor failed.
#[derive(Debug, thiserror::Error)]
pub enum Dom0Error {
    /// Nobody answers on the socket.
    #[error("cannot reach the compositor at {}: {source}; start bulkhead-compositor first (or pass --control-socket)", path.display())]
    Unreachable {
        /// The control socket.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// No socket path was given and none could be found.
    #[error("no compositor socket: set XDG_RUNTIME_DIR or pass --control-socket")]
    NoSocket,
    /// The compositor refused the request.
    #[error("the compositor refused: {0}")]
    Refused(String),
    /// `run` failed: the program did not start in the qube (`errno` is the number the
    /// qube's agent reported), the qube did not confirm in time, or the compositor could
    /// not ask it. The message is the compositor's own wording (never text from the qube),
    /// e.g. "qube work could not start `foo`: No such file or directory (os error 2)".
    #[error("{message}")]
    Run {
        /// The compositor's message.
        message: String,
        /// The error number the qube's agent reported, if it answered.
        errno: Option<u32>,
    },
    /// The answer was not what the compositor sends.
    #[error("the compositor's answer makes no sense: {0}")]
    BadAnswer(String),
}

/// One qube as the compositor reports it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Dom0Qube {
    /// Its name.
    pub name: String,
    /// Its label.
    pub label: String,
    /// How many windows it shows.
    pub windows: usize,
    /// Whether its agent is connected.
    #[serde(default)]
    pub connected: bool,
}

#[derive(Debug, Deserialize)]
struct Answer {
    ok: bool,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    socket: Option<PathBuf>,
    #[serde(default)]
    qubes: Option<Vec<Dom0Qube>>,
    #[serde(default)]
    errno: Option<u32>,
}

/// A client of the compositor's control socket.
#[derive(Debug, Clone)]
pub struct Dom0 {
    control: Option<PathBuf>,
}

/// `$XDG_RUNTIME_DIR/bulkhead/control.sock`, where the compositor listens by default.
pub fn default_control_socket() -> Option<PathBuf> {
    std::env::var_os("XDG_RUNTIME_DIR")
        .filter(|d| !d.is_empty())
        .map(|d| PathBuf::from(d).join("bulkhead").join("control.sock"))
}

impl Dom0 {
    /// A client of the compositor listening on `control` (`None`: every request fails with
    /// [`Dom0Error::NoSocket`]; commands that need no compositor still work).
    pub fn new(control: Option<PathBuf>) -> Dom0 {
        Dom0 { control }
    }

    /// The control socket's path.
    pub fn control(&self) -> Option<&Path> {
        self.control.as_deref()
    }

    fn request(&self, request: &serde_json::Value) -> Result<Answer, Dom0Error> {
        let answer = self.exchange(request)?;
        if answer.ok {
            Ok(answer)
        } else {
            Err(Dom0Error::Refused(answer.error.unwrap_or_default()))
        }
    }

    /// Sends one request and reads its answer, whether it says ok or not.
    fn exchange(&self, request: &serde_json::Value) -> Result<Answer, Dom0Error> {
        let control = self.control.as_ref().ok_or(Dom0Error::NoSocket)?;
        let unreachable = |source| Dom0Error::Unreachable {
            path: control.clone(),
            source,
        };
        let mut stream = UnixStream::connect(control).map_err(unreachable)?;
        stream
            .set_read_timeout(Some(ANSWER_TIMEOUT))
            .and_then(|()| stream.set_write_timeout(Some(ANSWER_TIMEOUT)))
            .map_err(unreachable)?;
        let mut line = request.to_string();
        line.push('\n');
        stream.write_all(line.as_bytes()).map_err(unreachable)?;
        let mut answer = String::new();
        BufReader::new(stream)
            .read_line(&mut answer)
            .map_err(unreachable)?;
        serde_json::from_str(&answer).map_err(|e| Dom0Error::BadAnswer(format!("{e}: {answer:?}")))
    }

    /// Declares a qube; returns the socket its VMM (or host agent) connects to.
    pub fn add_qube(&self, name: &str, label: &str) -> Result<PathBuf, Dom0Error> {
        self.request(&json!({"cmd": "add-qube", "name": name, "label": label}))?
            .socket
            .ok_or_else(|| Dom0Error::BadAnswer("add-qube answered without a socket".into()))
    }

    /// Forgets a qube (its windows go, its socket is removed).
    pub fn remove_qube(&self, name: &str) -> Result<(), Dom0Error> {
        self.request(&json!({"cmd": "remove-qube", "name": name}))
            .map(drop)
    }

    /// Starts `argv` in a connected qube; `Ok` once its agent said the program started.
    pub fn run(&self, qube: &str, argv: &[String]) -> Result<(), Dom0Error> {
        let answer = self.exchange(&json!({"cmd": "run", "qube": qube, "argv": argv}))?;
        if answer.ok {
            return Ok(());
        }
        Err(Dom0Error::Run {
            message: answer
                .error
                .unwrap_or_else(|| format!("the compositor could not run that in qube {qube}")),
            errno: answer.errno,
        })
    }

    /// The qubes the compositor knows.
    pub fn qubes(&self) -> Result<Vec<Dom0Qube>, Dom0Error> {
        self.request(&json!({"cmd": "qubes"}))?
            .qubes
            .ok_or_else(|| Dom0Error::BadAnswer("qubes answered without qubes".into()))
    }

    /// One qube, if the compositor knows it.
    pub fn qube(&self, name: &str) -> Result<Option<Dom0Qube>, Dom0Error> {
        Ok(self.qubes()?.into_iter().find(|q| q.name == name))
    }
}
