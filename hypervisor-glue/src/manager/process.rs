//! The processes the manager starts (one VMM, or in host mode one guest agent, per qube):
//! started detached in their own process group, recognised later by pid *and* start time
//! (a pid alone may have been reused since), signalled, and waited for.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

/// Which process runs a qube, as recorded in its `running.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessRecord {
    /// Its pid (also its process group id).
    pub pid: u32,
    /// Its start time in clock ticks after boot (`/proc/<pid>/stat` field 22): tells the
    /// process from a later one that got the same pid.
    pub start_ticks: u64,
}

/// Field 22 of `/proc/<pid>/stat`, and whether the process is a zombie.
fn stat(pid: u32) -> Option<(u64, bool)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may contain anything: parse after
    // the last ')'. Then: state (3), …, starttime (22).
    let rest = &text[text.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?;
    let start = fields.nth(18)?.parse().ok()?;
    Some((start, state == "Z" || state == "X"))
}

impl ProcessRecord {
    /// The record of a process running now.
    pub fn of(pid: u32) -> Option<ProcessRecord> {
        let (start_ticks, _) = stat(pid)?;
        Some(ProcessRecord { pid, start_ticks })
    }

    /// Whether this very process still runs (not exited, not a zombie, pid not reused).
    pub fn is_alive(&self) -> bool {
        matches!(stat(self.pid), Some((start, false)) if start == self.start_ticks)
    }

    /// Sends `signal` to the process, or to its whole process group.
    pub fn signal(&self, signal: libc::c_int, group: bool) {
        if !self.is_alive() {
            return;
        }
        let Ok(pid) = libc::pid_t::try_from(self.pid) else {
            return;
        };
        let target = if group { -pid } else { pid };
        // SAFETY: kill(2) has no memory effects; the target was checked to be this very
        // process a moment ago (pid reuse in between would need the pid space to wrap).
        unsafe {
            libc::kill(target, signal);
        }
    }

    /// Sends SIGKILL to the process group even when its leader is gone (what it started may
    /// outlive it). A process group id is not handed out again while any member lives.
    pub fn kill_group(&self) {
        if let Ok(pid) = libc::pid_t::try_from(self.pid) {
            // SAFETY: kill(2) has no memory effects; an empty group gives ESRCH.
            unsafe {
                libc::kill(-pid, libc::SIGKILL);
            }
        }
    }

    /// Waits until the process is gone; `false` if it still runs after `timeout`.
    /// `child`, when this process started it, is reaped on the way.
    pub fn wait_gone(&self, timeout: Duration, mut child: Option<&mut Child>) -> bool {
        let end = Instant::now() + timeout;
        loop {
            if let Some(c) = child.as_deref_mut() {
                let _ = c.try_wait();
            }
            if !self.is_alive() {
                return true;
            }
            if Instant::now() >= end {
                return false;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

/// Starts `command` detached: its own process group (a Ctrl-C at the terminal does not
/// reach it), stdin from `/dev/null`, stdout and stderr appended to `log`.
pub fn spawn_detached(mut command: Command, log: &Path) -> std::io::Result<(Child, ProcessRecord)> {
    use std::os::unix::process::CommandExt;
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)?;
    let err = out.try_clone()?;
    command
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0);
    let mut child = command.spawn()?;
    let pid = child.id();
    match ProcessRecord::of(pid) {
        Some(record) => Ok((child, record)),
        None => {
            // It died before we could look at it: report how.
            let status = child.wait()?;
            Err(std::io::Error::other(format!("exited at once ({status})")))
        }
    }
}

/// The last `lines` lines of a log file, for error messages.
pub fn log_tail(path: &Path, lines: usize) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_process_is_known_by_pid_and_start_time() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo started; exec sleep 30"]);
        let (mut child, record) = spawn_detached(cmd, &log).unwrap();
        assert!(record.is_alive());
        let end = Instant::now() + Duration::from_secs(10);
        while log_tail(&log, 5) != "started" && Instant::now() < end {
            std::thread::sleep(Duration::from_millis(10));
        }
        let reused = ProcessRecord {
            start_ticks: record.start_ticks + 1,
            ..record.clone()
        };
        assert!(
            !reused.is_alive(),
            "same pid, other start time: another process"
        );
        record.signal(libc::SIGTERM, true);
        assert!(record.wait_gone(Duration::from_secs(10), Some(&mut child)));
        assert!(!record.is_alive());
        assert_eq!(log_tail(&log, 5), "started");
        assert!(ProcessRecord::of(u32::MAX).is_none());
    }
}
