//! Why a manager command failed: one variant per situation, each message saying what to do.

use std::path::PathBuf;

use bulkhead_border_theme::{QubeNameError, UnknownLabel};

use super::dom0::Dom0Error;
use super::store::StoreError;

/// Why a command failed. Every message says what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum ManagerError {
    /// Not a valid qube or template name.
    #[error("invalid name {name:?}: {reason}")]
    InvalidName {
        /// The name given.
        name: String,
        /// The rule it breaks.
        reason: QubeNameError,
    },
    /// A name the manager keeps for itself.
    #[error(
        "{0:?} is reserved (dom0 is the compositor's own, dispN are disposable qubes): choose another name"
    )]
    ReservedName(String),
    /// Not a label.
    #[error("{0}")]
    InvalidLabel(UnknownLabel),
    /// A number outside its range.
    #[error("{what} {value} is out of range {min}..={max}")]
    OutOfRange {
        /// What it is.
        what: &'static str,
        /// The value given.
        value: u64,
        /// Smallest allowed.
        min: u64,
        /// Largest allowed.
        max: u64,
    },
    /// The name is taken.
    #[error(
        "a qube named {0} exists already: choose another name, or remove it first with `bulkhead qube remove {0}`"
    )]
    NameTaken(String),
    /// No such qube.
    #[error(
        "no qube named {name} ({}); create it with `bulkhead qube create {name} --label LABEL`",
        known_list("qubes", known)
    )]
    UnknownQube {
        /// The name given.
        name: String,
        /// The qubes there are.
        known: Vec<String>,
    },
    /// No such template.
    #[error(
        "no template named {name} ({}); build it with `bulkhead template build {name}` (as root)",
        known_list("templates", known)
    )]
    UnknownTemplate {
        /// The name given.
        name: String,
        /// The templates there are.
        known: Vec<String>,
    },
    /// A template with a file missing.
    #[error(
        "template {name} has no {missing}: rebuild it with `bulkhead template build {name} --replace`"
    )]
    IncompleteTemplate {
        /// The template.
        name: String,
        /// The missing file.
        missing: &'static str,
    },
    /// The qube runs already.
    #[error("qube {name} is already running (pid {pid}); stop it with `bulkhead qube stop {name}`")]
    AlreadyRunning {
        /// The qube.
        name: String,
        /// Its VMM's pid.
        pid: u32,
    },
    /// The qube does not run.
    #[error("qube {0} is not running; start it with `bulkhead qube start {0}`")]
    NotRunning(String),
    /// `remove` of a running qube.
    #[error(
        "qube {0} is running: stop it first with `bulkhead qube stop {0}` (or `bulkhead qube kill {0}`)"
    )]
    StillRunning(String),
    /// A state file breaks a rule.
    #[error("{}: {reason}; fix or delete it", path.display())]
    BadState {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A state file could not be read or written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The compositor could not be reached or refused.
    #[error(transparent)]
    Dom0(#[from] Dom0Error),
    /// The qube runs, but the compositor does not know it (it was restarted).
    #[error(
        "qube {0} runs, but the compositor does not know it (was the compositor restarted?): restart the qube with `bulkhead qube stop {0}`, then try again"
    )]
    UnknownToDom0(String),
    /// A program could not be started.
    #[error("cannot start {}: {source}; build it (`cargo build -p bulkhead-hypervisor-glue -p bulkhead-guest-agent`) or give its path", program.display())]
    Spawn {
        /// The program.
        program: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The VMM (or host agent) ended before the qube was up.
    #[error("qube {name} stopped while starting; the end of {}:\n{tail}", log.display())]
    StartFailed {
        /// The qube.
        name: String,
        /// Its log.
        log: PathBuf,
        /// The log's last lines.
        tail: String,
    },
    /// The agent did not connect in time.
    #[error("qube {name}'s agent did not connect to the compositor within {secs} s, so it was stopped again; {} shows how far it got (a slow machine needs a longer --timeout)", log.display())]
    BootTimeout {
        /// The qube.
        name: String,
        /// The wait.
        secs: u64,
        /// The console or agent log.
        log: PathBuf,
    },
    /// The process would not go away.
    #[error(
        "qube {name}'s process {pid} is still there after SIGKILL; look at it with `ps -p {pid}`"
    )]
    WontDie {
        /// The qube.
        name: String,
        /// Its pid.
        pid: u32,
    },
    /// A command line `run` cannot send.
    #[error("cannot run that command line: {0}")]
    BadCommand(String),
    /// The disposable's program showed no window.
    #[error(
        "{program} showed no window within {secs} s in disposable qube {name}, which is gone again"
    )]
    NoWindow {
        /// The program.
        program: String,
        /// The qube.
        name: String,
        /// The wait.
        secs: u64,
    },
    /// A template name in use.
    #[error("template {0} exists already: pass --replace to build it anew")]
    TemplateExists(String),
    /// Replacing a template qubes run on would corrupt their overlays.
    #[error("template {name} is used by {}: their copy-on-write layers belong to this build, so it cannot be replaced; remove those qubes first", qubes.join(", "))]
    TemplateInUse {
        /// The template.
        name: String,
        /// The qubes on it.
        qubes: Vec<String>,
    },
    /// A template build step failed.
    #[error("{0}")]
    Build(String),
}

fn known_list(what: &str, known: &[String]) -> String {
    if known.is_empty() {
        format!("there are no {what} yet")
    } else {
        format!("{what}: {}", known.join(", "))
    }
}
