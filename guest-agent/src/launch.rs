//! Starting the programs dom0 asks for (`Dom0Message::Launch`, from `bulkhead run`).
//!
//! dom0 is the trusted side, so the agent runs what it is told, as itself, with
//! `WAYLAND_DISPLAY` set to its own socket (so the program's windows come back through this
//! agent) and `DISPLAY` removed. The program stays in the agent's process group and session:
//! stopping the agent's unit (or, in host mode, the agent's group) stops it too. Each child
//! is reaped by a small thread that logs how it ended.
//!
//! Every `Launch` gets exactly one `LaunchResult` back with dom0's launch id: 0 once
//! `execve` succeeded (`Command::spawn` returns after it), else an error number
//! ([`LaunchError::errno`]): the `errno` of the failed start (`ENOENT` for a program the
//! qube does not have, `EACCES` for one it may not run), `EAGAIN` while [`MAX_CHILDREN`]
//! programs run. Only the number goes back, never text: dom0 words the message itself.
//! No agent message can make dom0 run anything.

use std::process::{Command, Stdio};

use rustix::io::Errno;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Most programs started by dom0 that may run at once.
pub const MAX_CHILDREN: usize = 256;

/// Why a launch did not happen.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    /// The agent has no Wayland socket yet (cannot happen once the server runs).
    #[error("no Wayland socket to give the program")]
    NoDisplay,
    /// [`MAX_CHILDREN`] programs are running.
    #[error("{MAX_CHILDREN} programs started from dom0 are still running")]
    TooMany,
    /// An empty command line (the protocol refuses these; kept for direct callers).
    #[error("empty command line")]
    Empty,
    /// `execve` failed (no such program, not executable, …).
    #[error("cannot start {program:?}")]
    Spawn {
        /// The program.
        program: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

impl LaunchError {
    /// The error number a `LaunchResult` carries for this failure (never 0, at most the
    /// protocol's `MAX_LAUNCH_ERRNO`): the start's own `errno`, `EAGAIN` for "try again
    /// later" (too many programs, no socket yet), `EINVAL` for an empty command line, `EIO`
    /// for a failure without an OS error number.
    pub fn errno(&self) -> u32 {
        let number = |e: Errno| e.raw_os_error().unsigned_abs();
        match self {
            LaunchError::NoDisplay | LaunchError::TooMany => number(Errno::AGAIN),
            LaunchError::Empty => number(Errno::INVAL),
            LaunchError::Spawn { source, .. } => source
                .raw_os_error()
                .and_then(|e| u32::try_from(e).ok())
                .filter(|e| (1..=bulkhead_protocol::MAX_LAUNCH_ERRNO).contains(e))
                .unwrap_or_else(|| match source.kind() {
                    std::io::ErrorKind::InvalidInput => number(Errno::INVAL),
                    _ => number(Errno::IO),
                }),
        }
    }
}

/// Starts dom0's programs against the agent's Wayland socket.
#[derive(Debug, Default)]
pub struct Launcher {
    wayland_display: Option<String>,
    running: Arc<AtomicUsize>,
}

impl Launcher {
    /// Programs will connect to `wayland_display` (a name in `$XDG_RUNTIME_DIR` or an
    /// absolute path).
    pub fn new(wayland_display: String) -> Launcher {
        Launcher {
            wayland_display: Some(wayland_display),
            running: Arc::default(),
        }
    }

    /// How many launched programs are still running.
    pub fn running(&self) -> usize {
        self.running.load(Ordering::Acquire)
    }

    /// Starts `argv` and returns its pid.
    pub fn launch(&self, argv: &[String]) -> Result<u32, LaunchError> {
        let display = self
            .wayland_display
            .as_ref()
            .ok_or(LaunchError::NoDisplay)?;
        let (program, args) = argv.split_first().ok_or(LaunchError::Empty)?;
        if self.running.fetch_add(1, Ordering::AcqRel) >= MAX_CHILDREN {
            self.running.fetch_sub(1, Ordering::AcqRel);
            return Err(LaunchError::TooMany);
        }
        let spawned = Command::new(program)
            .args(args)
            .env("WAYLAND_DISPLAY", display)
            .env_remove("DISPLAY")
            .stdin(Stdio::null())
            .spawn();
        let mut child = match spawned {
            Ok(child) => child,
            Err(source) => {
                self.running.fetch_sub(1, Ordering::AcqRel);
                return Err(LaunchError::Spawn {
                    program: program.clone(),
                    source,
                });
            }
        };
        let pid = child.id();
        let running = Arc::clone(&self.running);
        let name = program.clone();
        let reaper = std::thread::Builder::new()
            .name(format!("reap-{pid}"))
            .spawn(move || {
                match child.wait() {
                    Ok(status) => tracing::info!(program = %name, pid, %status, "program ended"),
                    Err(err) => tracing::warn!(program = %name, pid, %err, "cannot wait"),
                }
                running.fetch_sub(1, Ordering::AcqRel);
            });
        if let Err(err) = reaper {
            // The child runs on; it is reaped when the agent exits.
            tracing::error!(pid, %err, "cannot start a reaper thread");
        }
        Ok(pid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn wait_until_idle(launcher: &Launcher) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while launcher.running() > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert_eq!(launcher.running(), 0, "the child was reaped");
    }

    #[test]
    fn runs_the_program_with_the_agents_display() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("env");
        let launcher = Launcher::new("wayland-test-7".into());
        let script = format!(
            "printf '%s|%s|%s' \"$WAYLAND_DISPLAY\" \"${{DISPLAY-unset}}\" \"$1\" > {}",
            out.display()
        );
        launcher
            .launch(&["sh".into(), "-c".into(), script, "sh".into(), "a b".into()])
            .unwrap();
        wait_until_idle(&launcher);
        assert_eq!(
            std::fs::read_to_string(&out).unwrap(),
            "wayland-test-7|unset|a b"
        );
    }

    #[test]
    fn reports_a_missing_program() {
        let launcher = Launcher::new("wayland-1".into());
        let err = launcher
            .launch(&["/nonexistent/bulkhead-no-such-program".into()])
            .unwrap_err();
        assert!(matches!(err, LaunchError::Spawn { .. }), "{err}");
        assert_eq!(err.errno(), 2, "ENOENT");
        assert_eq!(launcher.running(), 0);
        let err = Launcher::default().launch(&["true".into()]).unwrap_err();
        assert!(matches!(err, LaunchError::NoDisplay));
        assert_eq!(err.errno(), 11, "EAGAIN");
        let err = launcher.launch(&[]).unwrap_err();
        assert!(matches!(err, LaunchError::Empty));
        assert_eq!(err.errno(), 22, "EINVAL");
    }

    #[test]
    fn error_numbers_stay_inside_the_protocols_range() {
        assert_eq!(LaunchError::TooMany.errno(), 11, "EAGAIN");
        let spawn = |source| LaunchError::Spawn {
            program: "x".into(),
            source,
        };
        assert_eq!(
            spawn(std::io::Error::from_raw_os_error(13)).errno(),
            13,
            "EACCES"
        );
        // Not an OS error: no number to pass on.
        assert_eq!(
            spawn(std::io::Error::new(std::io::ErrorKind::InvalidInput, "nul")).errno(),
            22
        );
        assert_eq!(spawn(std::io::Error::other("odd")).errno(), 5, "EIO");
        // Out of range numbers are not passed on either.
        assert_eq!(
            spawn(std::io::Error::from_raw_os_error(-3)).errno(),
            5,
            "EIO"
        );
        assert_eq!(
            spawn(std::io::Error::from_raw_os_error(70_000)).errno(),
            5,
            "EIO"
        );
    }
}
