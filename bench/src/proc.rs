//! Processes the benchmark starts, and their CPU time from `/proc/<pid>/stat`.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

/// A process the benchmark started (in its own process group), killed and reaped on drop.
#[derive(Debug)]
pub struct Proc {
    pub name: String,
    child: Child,
    pub stdin: Option<ChildStdin>,
    lines: Option<Receiver<String>>,
    log: PathBuf,
}

impl Proc {
    /// Starts `command`; stderr goes to `<dir>/<name>.log`; stdout too, unless `piped`
    /// (then its lines are read with [`Proc::expect_line`]) .
    pub fn start(name: &str, mut command: Command, dir: &Path, piped: bool) -> Result<Proc> {
        let log = dir.join(format!("{name}.log"));
        let err = File::create(&log)?;
        command.stderr(err.try_clone()?).process_group(0);
        if piped {
            command.stdin(Stdio::piped()).stdout(Stdio::piped());
        } else {
            command.stdin(Stdio::null()).stdout(err);
        }
        let program = command.get_program().to_string_lossy().into_owned();
        let mut child = command
            .spawn()
            .with_context(|| format!("cannot run {program}"))?;
        let stdin = child.stdin.take();
        let lines = child.stdout.take().map(reader);
        Ok(Proc {
            name: name.to_owned(),
            child,
            stdin,
            lines,
            log,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Where its stderr goes.
    pub fn log(&self) -> &Path {
        &self.log
    }

    /// Waits up to `timeout` for a stdout line starting with `prefix` and returns it.
    pub fn expect_line(&mut self, prefix: &str, timeout: Duration) -> Result<String> {
        let lines = self.lines.as_ref().context("stdout is not piped")?;
        let end = Instant::now() + timeout;
        loop {
            let left = end.saturating_duration_since(Instant::now());
            match lines.recv_timeout(left) {
                Ok(line) if line.starts_with(prefix) => return Ok(line),
                Ok(_) => {}
                Err(_) => bail!(
                    "{}: no {prefix:?} line within {timeout:?}; its log {}:\n{}",
                    self.name,
                    self.log.display(),
                    tail(&self.log)
                ),
            }
        }
    }

    /// The newest stdout line starting with `prefix` among those already printed, or the
    /// next one (waiting up to `timeout`) if none is.
    pub fn latest_line(&mut self, prefix: &str, timeout: Duration) -> Result<String> {
        let lines = self.lines.as_ref().context("stdout is not piped")?;
        let mut latest = None;
        while let Ok(line) = lines.try_recv() {
            if line.starts_with(prefix) {
                latest = Some(line);
            }
        }
        match latest {
            Some(line) => Ok(line),
            None => self.expect_line(prefix, timeout),
        }
    }

    /// Writes one line to its stdin.
    pub fn send_line(&mut self, line: &str) -> Result<()> {
        let stdin = self.stdin.as_mut().context("stdin is not piped")?;
        stdin.write_all(line.as_bytes())?;
        stdin.write_all(b"\n")?;
        stdin.flush()?;
        Ok(())
    }

    /// Fails if it has exited.
    pub fn check_alive(&mut self) -> Result<()> {
        if let Some(status) = self.child.try_wait()? {
            bail!(
                "{} exited ({status}); its log {}:\n{}",
                self.name,
                self.log.display(),
                tail(&self.log)
            );
        }
        Ok(())
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        // The whole group: waypipe forks helpers, the agent none.
        let pid = rustix::process::Pid::from_child(&self.child);
        let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn reader(stdout: ChildStdout) -> Receiver<String> {
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

fn tail(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(12)..].join("\n")
}

/// `(pid, parent pid, comm, CPU ticks (user + system))` of every process.
fn all_processes() -> Vec<(u32, u32, String, u64)> {
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| {
        let pid: u32 = e.ok()?.file_name().to_str()?.parse().ok()?;
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        // comm is in parentheses and may hold spaces: split after the last ')'.
        let open = stat.find('(')?;
        let close = stat.rfind(')')?;
        let comm = stat[open + 1..close].to_owned();
        let fields: Vec<&str> = stat[close + 2..].split_whitespace().collect();
        // After comm: state(0) ppid(1) … utime(11) stime(12).
        let ppid = fields.get(1)?.parse().ok()?;
        let utime: u64 = fields.get(11)?.parse().ok()?;
        let stime: u64 = fields.get(12)?.parse().ok()?;
        Some((pid, ppid, comm, utime + stime))
    })
    .collect()
}

/// CPU seconds used so far by `roots` and all their descendants, except processes named
/// `exclude` (the benchmark client, which waypipe runs as its child).
pub fn cpu_seconds(roots: &[u32], exclude: &str) -> f64 {
    let procs = all_processes();
    let mut tree: Vec<u32> = roots.to_vec();
    let mut i = 0;
    while i < tree.len() {
        let parent = tree[i];
        let children: Vec<u32> = procs
            .iter()
            .filter(|(pid, ppid, _, _)| *ppid == parent && !tree.contains(pid))
            .map(|(pid, ..)| *pid)
            .collect();
        tree.extend(children);
        i += 1;
    }
    let ticks: u64 = procs
        .iter()
        .filter(|(pid, _, comm, _)| tree.contains(pid) && comm != exclude)
        .map(|(.., t)| *t)
        .sum();
    ticks as f64 / clock_ticks() as f64
}

fn clock_ticks() -> u64 {
    rustix::param::clock_ticks_per_second()
}
