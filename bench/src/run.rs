//! The benchmark sections: what is started, what is measured, the tables printed.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use bulkhead_compositor::control::{Request, send_requests};

use crate::proc::{Proc, cpu_seconds};

/// dom0's and the direct compositor's output: room for a 1920×1080 window and its frame.
const OUTPUT: &str = "2560x1440";
const FRAME: (u32, u32) = (1920, 1080);
const SQUARE: u32 = 64;
const CLIENT: &str = "bench-client";
const WAIT: Duration = Duration::from_secs(60);

/// One frame-path measurement.
#[derive(Debug, Clone)]
struct FrameResult {
    path: String,
    damage: &'static str,
    frames: usize,
    seconds: f64,
    cpu: f64,
    p50_us: f64,
    p99_us: f64,
    /// Commit → the receiving compositor has the frame's pixels (`frame usable` in its log).
    usable_p50_us: f64,
    usable_p99_us: f64,
}

impl FrameResult {
    fn updates_per_s(&self) -> f64 {
        self.frames as f64 / self.seconds
    }

    fn cpu_ms_per_update(&self) -> f64 {
        self.cpu * 1e3 / self.frames as f64
    }

    fn mean_ms(&self) -> f64 {
        self.seconds * 1e3 / self.frames as f64
    }
}

/// The whole run: binaries, a private runtime directory, the log directory.
#[derive(Debug)]
pub struct Bench {
    bin: PathBuf,
    out: PathBuf,
    runtime: tempfile::TempDir,
    serial: usize,
}

/// A compositor under test: the processes that count as "the receiving side" and the
/// socket clients connect to.
struct Target {
    procs: Vec<Proc>,
    display: PathBuf,
    control: Option<PathBuf>,
    /// The log with the receiving compositor's `frame usable monotonic_ns=N` lines.
    timing_log: PathBuf,
}

impl Target {
    fn pids(&self) -> Vec<u32> {
        self.procs.iter().map(Proc::pid).collect()
    }
}

impl Bench {
    pub fn new(bin: PathBuf, out: PathBuf) -> Result<Bench> {
        for name in [
            "bulkhead-compositor",
            "bulkhead-guest-agent",
            CLIENT,
            "bench-direct-compositor",
        ] {
            if !bin.join(name).is_file() {
                bail!(
                    "{} is missing: build with `cargo build --release -p bulkhead-compositor \
                     -p bulkhead-guest-agent -p bulkhead-bench` (scripts/run-bench does)",
                    bin.join(name).display()
                );
            }
        }
        std::fs::create_dir_all(&out)?;
        let runtime = tempfile::Builder::new()
            .prefix("bulkhead-bench-")
            .tempdir()?;
        std::fs::set_permissions(runtime.path(), std::fs::Permissions::from_mode(0o700))?;
        std::fs::create_dir(runtime.path().join("bulkhead"))?;
        Ok(Bench {
            bin,
            out: std::fs::canonicalize(out)?,
            runtime,
            serial: 0,
        })
    }

    pub fn out(&self) -> &Path {
        &self.out
    }

    fn command(&self, program: &str) -> Command {
        let path = if program.contains('/') || !self.bin.join(program).is_file() {
            PathBuf::from(program)
        } else {
            self.bin.join(program)
        };
        let mut c = Command::new(path);
        c.env("XDG_RUNTIME_DIR", self.runtime.path())
            .env_remove("WAYLAND_DISPLAY")
            .env_remove("WAYLAND_SOCKET")
            .env_remove("DISPLAY")
            .env("RUST_LOG", "warn");
        c
    }

    fn fresh(&mut self, what: &str) -> PathBuf {
        self.serial += 1;
        self.runtime.path().join(format!("{what}-{}", self.serial))
    }

    /// The direct baseline compositor.
    fn direct(&mut self) -> Result<Target> {
        let display = self.fresh("wl-direct");
        let mut c = self.command("bench-direct-compositor");
        c.arg("--socket").arg(&display).args(["--size", OUTPUT]);
        let mut p = Proc::start("direct-compositor", c, &self.out, true)?;
        p.expect_line("ready", WAIT)?;
        let timing_log = p.log().to_owned();
        Ok(Target {
            procs: vec![p],
            display,
            control: None,
            timing_log,
        })
    }

    /// dom0 and one qube's agent, as host processes over the real shared-memory channel.
    /// With `timing`, dom0 logs when each frame's pixels are usable (a log line per frame:
    /// only for the frame-path section).
    fn bulkhead(&mut self, refresh_hz: u32, timing: bool) -> Result<Target> {
        let control = self.fresh("control.sock");
        let qubes = self.fresh("qubes");
        std::fs::create_dir(&qubes)?;
        std::fs::set_permissions(&qubes, std::fs::Permissions::from_mode(0o700))?;
        let mut c = self.command("bulkhead-compositor");
        c.args(["--backend", "headless", "--host-agents", "--size", OUTPUT])
            .args(["--refresh-hz", &refresh_hz.to_string()])
            .arg("--control-socket")
            .arg(&control)
            .arg("--qube-socket-dir")
            .arg(&qubes)
            .args(["--qube", "bench:blue"]);
        if timing {
            c.env("RUST_LOG", "warn,frame_timing=debug");
        }
        let mut compositor = Proc::start("bulkhead-compositor", c, &self.out, false)?;
        wait_until("the control socket", || {
            send_requests(&control, &[Request::Qubes])
                .map(|_| ())
                .map_err(|e| e.to_string())
        })?;
        compositor.check_alive()?;
        let display = self.fresh("wl-bench");
        let mut c = self.command("bulkhead-guest-agent");
        c.arg("--connect")
            .arg(qubes.join("qube-bench.sock"))
            .arg("--wayland-display")
            .arg(&display);
        let agent = Proc::start("bulkhead-guest-agent", c, &self.out, false)?;
        wait_until("the agent's Wayland socket", || {
            if display.exists() {
                Ok(())
            } else {
                Err("not yet".into())
            }
        })?;
        let timing_log = compositor.log().to_owned();
        Ok(Target {
            procs: vec![compositor, agent],
            display,
            control: Some(control),
            timing_log,
        })
    }

    /// Runs the frames client against `target` (optionally through waypipe with
    /// `compress`) and measures it.
    fn frames_case(
        &mut self,
        target: &Target,
        path: &str,
        damage: &'static str,
        waypipe: Option<&str>,
        frames: usize,
    ) -> Result<FrameResult> {
        // Small updates are short: ten times as many, so CPU ticks (10 ms) resolve them.
        let frames = if damage == "square" {
            frames * 10
        } else {
            frames
        };
        let client_args = [
            "--mode".to_owned(),
            "frames".into(),
            "--damage".into(),
            damage.into(),
            "--size".into(),
            format!("{}x{}", FRAME.0, FRAME.1),
            "--frames".into(),
            frames.to_string(),
        ];
        let mut extra = Vec::new();
        let name = format!("client-{}-{damage}", path.replace([' ', '(', ')', '='], ""));
        let mut client = match waypipe {
            None => {
                let mut c = self.command(CLIENT);
                c.args(&client_args).env("WAYLAND_DISPLAY", &target.display);
                Proc::start(&name, c, &self.out, true)?
            }
            Some(compress) => {
                let socket = self.fresh("waypipe.sock");
                let mut c = self.command("waypipe");
                c.args(["--no-gpu", "--compress", compress, "--socket"])
                    .arg(&socket)
                    .arg("client")
                    .env("WAYLAND_DISPLAY", &target.display);
                extra.push(Proc::start(
                    &format!("waypipe-client-{compress}-{damage}"),
                    c,
                    &self.out,
                    false,
                )?);
                wait_until("waypipe's socket", || {
                    if socket.exists() {
                        Ok(())
                    } else {
                        Err("not yet".into())
                    }
                })?;
                let display = self.fresh("wl-waypipe");
                let mut c = self.command("waypipe");
                c.args(["--no-gpu", "--compress", compress, "--socket"])
                    .arg(&socket)
                    .arg("--display")
                    .arg(&display)
                    .args(["server", "--"])
                    .arg(self.bin.join(CLIENT))
                    .args(&client_args);
                Proc::start(&name, c, &self.out, true)?
            }
        };
        client.expect_line("ready", WAIT)?;
        let mut roots = target.pids();
        roots.extend(extra.iter().map(Proc::pid));
        if waypipe.is_some() {
            // waypipe server: the client's parent, counted without the client.
            roots.push(client.pid());
        }
        let cpu0 = cpu_seconds(&roots, CLIENT);
        client.send_line("go")?;
        let line = client.expect_line("result", WAIT * 5)?;
        let cpu1 = cpu_seconds(&roots, CLIENT);
        let commits = client.expect_line("commits", WAIT)?;
        let usable = usable_latencies(&commits, &target.timing_log)?;
        let field = |key: &str| -> Result<f64> {
            line.split_whitespace()
                .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
                .with_context(|| format!("no {key} in {line:?}"))?
                .parse::<f64>()
                .with_context(|| format!("bad {key} in {line:?}"))
        };
        let result = FrameResult {
            path: path.to_owned(),
            damage,
            frames: line
                .split_whitespace()
                .find_map(|kv| kv.strip_prefix("frames="))
                .and_then(|v| v.parse().ok())
                .with_context(|| format!("no frames in {line:?}"))?,
            seconds: field("seconds")?,
            cpu: cpu1 - cpu0,
            p50_us: field("p50_us")?,
            p99_us: field("p99_us")?,
            usable_p50_us: pct(&usable, 50),
            usable_p99_us: pct(&usable, 99),
        };
        drop(client);
        drop(extra);
        Ok(result)
    }

    /// Section 1: the frame path on every path, and the memcpy floor.
    pub fn frame_path(&mut self, frames: usize) -> Result<()> {
        let mut results = Vec::new();
        for damage in ["full", "square"] {
            let mut direct = self.direct()?;
            results.push(self.frames_case(&direct, "direct", damage, None, frames)?);
            for compress in ["none", "lz4"] {
                results.push(self.frames_case(
                    &direct,
                    &format!("waypipe ({compress})"),
                    damage,
                    Some(compress),
                    frames,
                )?);
            }
            check_alive(&mut direct)?;
            let mut ours = self.bulkhead(0, true)?;
            results.push(self.frames_case(&ours, "bulkhead", damage, None, frames)?);
            check_alive(&mut ours)?;
        }
        let floors = [
            ("full", memcpy_floor(FRAME.0, FRAME.1, FRAME.0 * 4, false)),
            ("square", memcpy_floor(SQUARE, SQUARE, FRAME.0 * 4, false)),
        ];
        print_frame_table(&results, &floors);
        println!(
            "- for comparison, one memcpy of the full frame from main memory to main memory \
             (the destination not cached either, as the agent's arena buffer is not): {:.4} ms",
            memcpy_floor(FRAME.0, FRAME.1, FRAME.0 * 4, true)
        );
        Ok(())
    }

    /// Section 2: key press → the client's `wl_keyboard.key`.
    pub fn input(&mut self, keys: usize) -> Result<()> {
        let mut rows = Vec::new();
        {
            let mut direct = self.direct()?;
            let mut client = self.keys_client(&direct)?;
            client.expect_line("focused", WAIT)?;
            let lat = measure_keys(keys, &mut client, |code, pressed| {
                direct.procs[0].send_line(&format!("key {code} {}", u8::from(pressed)))
            })?;
            rows.push(("direct (stdin → compositor → client)", lat));
        }
        {
            let ours = self.bulkhead(60, false)?;
            let mut client = self.keys_client(&ours)?;
            let control = ours.control.clone().context("dom0 has a control socket")?;
            // dom0 gives focus only on the user's click: click the window.
            let window = wait_until("the window in dom0", || {
                let answer =
                    send_requests(&control, &[Request::ListWindows]).map_err(|e| e.to_string())?;
                answer
                    .first()
                    .and_then(|a| a.windows.as_ref())
                    .and_then(|w| w.iter().find(|w| w.visible).cloned())
                    .ok_or_else(|| "no window yet".to_owned())
            })?;
            let (x, y) = (
                window.geometry.x + window.geometry.w / 2,
                window.geometry.y + window.geometry.h / 2,
            );
            send_requests(&control, &[Request::Click { x, y, button: None }])?;
            client.expect_line("focused", WAIT)?;
            let mut stream = UnixStream::connect(&control)?;
            let mut answers = BufReader::new(stream.try_clone()?);
            let lat = measure_keys(keys, &mut client, |code, pressed| {
                writeln!(
                    stream,
                    "{{\"cmd\":\"key\",\"keycode\":{code},\"pressed\":{pressed}}}"
                )?;
                let mut line = String::new();
                answers.read_line(&mut line)?;
                if !line.contains("\"ok\":true") {
                    bail!("dom0 refused the key: {line}");
                }
                Ok(())
            })?;
            rows.push(("bulkhead (control socket → dom0 → agent → client)", lat));
        }
        println!("\n## Input: key injected in the compositor → the client's wl_keyboard.key\n");
        println!("| path | presses+releases | p50 µs | p99 µs | p99 over direct |");
        println!("|---|---:|---:|---:|---:|");
        let base = rows[0].1.clone();
        for (name, lat) in &rows {
            println!(
                "| {name} | {} | {:.0} | {:.0} | {:+.0} µs |",
                lat.len(),
                pct(lat, 50),
                pct(lat, 99),
                pct(lat, 99) - pct(&base, 99)
            );
        }
        Ok(())
    }

    fn keys_client(&mut self, target: &Target) -> Result<Proc> {
        let mut c = self.command(CLIENT);
        c.args(["--mode", "keys", "--size", "400x300"])
            .env("WAYLAND_DISPLAY", &target.display);
        Proc::start("client-keys", c, &self.out, true)
    }

    /// Section 3: dom0's CPU with many animating windows at its 60 Hz pacing.
    pub fn many_windows(&mut self, counts: &[usize], seconds: Duration) -> Result<()> {
        println!(
            "\n## Many windows: animating 256×256 windows (whole-window damage), dom0 at 60 Hz\n"
        );
        println!(
            "| windows | dom0 CPU (% of one core) | dom0 CPU per refresh (ms) | agent CPU (% of one core) | frames/s per window (mean) | (slowest) |"
        );
        println!("|---:|---:|---:|---:|---:|---:|");
        for &n in counts {
            let mut ours = self.bulkhead(60, false)?;
            let control = ours.control.clone().context("control socket")?;
            let mut clients = Vec::new();
            for i in 0..n {
                let mut c = self.command(CLIENT);
                c.args(["--mode", "animate", "--size", "256x256", "--title"])
                    .arg(format!("anim{i}"))
                    .env("WAYLAND_DISPLAY", &ours.display);
                clients.push(Proc::start(
                    &format!("client-anim-{n}-{i}"),
                    c,
                    &self.out,
                    true,
                )?);
            }
            wait_until("every window visible", || {
                let answer =
                    send_requests(&control, &[Request::ListWindows]).map_err(|e| e.to_string())?;
                let visible = answer
                    .first()
                    .and_then(|a| a.windows.as_ref())
                    .map_or(0, |w| w.iter().filter(|w| w.visible).count());
                if visible == n {
                    Ok(())
                } else {
                    Err(format!("{visible} of {n}"))
                }
            })?;
            std::thread::sleep(Duration::from_secs(1));
            // Each client's newest `frames COUNT MONOTONIC_NS` line: the rate is the count's
            // change over the client's own clock between two lines (lines come about once a
            // second, so pairing the counts with the bench's sleep would lose up to a second).
            let frames_now = |clients: &mut Vec<Proc>| -> Result<Vec<(u64, u128)>> {
                clients
                    .iter_mut()
                    .map(|c| {
                        let line = c.latest_line("frames", Duration::from_secs(5))?;
                        parse_frames_line(&line).with_context(|| format!("bad line {line:?}"))
                    })
                    .collect()
            };
            let f0 = frames_now(&mut clients)?;
            let (dom0, agent) = (ours.procs[0].pid(), ours.procs[1].pid());
            let (c0, a0, t0) = (
                cpu_seconds(&[dom0], ""),
                cpu_seconds(&[agent], ""),
                Instant::now(),
            );
            std::thread::sleep(seconds);
            let (c1, a1, elapsed) = (
                cpu_seconds(&[dom0], ""),
                cpu_seconds(&[agent], ""),
                t0.elapsed().as_secs_f64(),
            );
            let f1 = frames_now(&mut clients)?;
            check_alive(&mut ours)?;
            let refreshes = elapsed * 60.0;
            let rates: Vec<f64> = f0
                .iter()
                .zip(&f1)
                .map(|(&(n0, t0), &(n1, t1))| {
                    let span = t1.saturating_sub(t0) as f64 / 1e9;
                    if span > 0.0 {
                        n1.saturating_sub(n0) as f64 / span
                    } else {
                        0.0
                    }
                })
                .collect();
            println!(
                "| {n} | {:.0}% | {:.2} | {:.0}% | {:.1} | {:.1} |",
                (c1 - c0) / elapsed * 100.0,
                (c1 - c0) * 1e3 / refreshes,
                (a1 - a0) / elapsed * 100.0,
                rates.iter().sum::<f64>() / rates.len().max(1) as f64,
                rates.iter().copied().fold(f64::INFINITY, f64::min),
            );
        }
        println!(
            "\n(frames/s per window: each client's frame count over its own CLOCK_MONOTONIC \
             between two of its once-a-second `frames` lines, about {seconds:?} apart.)"
        );
        Ok(())
    }

    /// Section 4: the qube boot comparison in the QEMU test host.
    pub fn boot(&mut self) -> Result<()> {
        let script = self
            .bin
            .join("../../hypervisor-glue/testhost/run.sh")
            .canonicalize()
            .or_else(|_| std::fs::canonicalize("hypervisor-glue/testhost/run.sh"))
            .context("hypervisor-glue/testhost/run.sh (run from the repository)")?;
        println!("\n## Qube boot: our VMM against QEMU microvm, inside the TCG test host\n");
        let log = self.out.join("boot.log");
        let output = Command::new(&script)
            .args(["--qemu", "--", "bulkhead-bench 5"])
            .stderr(std::process::Stdio::inherit())
            .output()
            .with_context(|| format!("cannot run {}", script.display()))?;
        std::fs::write(&log, &output.stdout)?;
        let text = String::from_utf8_lossy(&output.stdout);
        let cases = parse_boot(&text);
        if !output.status.success() || cases.is_empty() {
            bail!(
                "the boot benchmark failed ({}); its output is in {}",
                output.status,
                log.display()
            );
        }
        let fastest_qemu = cases
            .iter()
            .filter(|c| c.label.starts_with("qemu"))
            .map(|c| c.median_ms)
            .reduce(f64::min)
            .unwrap_or(f64::NAN);
        println!(
            "| set-up | runs | boot to init, median (ms) | vs fastest QEMU | VMM memory overhead, median (KiB) | failed runs |"
        );
        println!("|---|---:|---:|---:|---:|---:|");
        for c in &cases {
            println!(
                "| {} | {} | {:.0} | {:.2}× | {:.0} | {} |",
                c.label,
                c.runs_ms.len(),
                c.median_ms,
                c.median_ms / fastest_qemu,
                c.median_overhead_kib,
                c.failures.len()
            );
        }
        println!(
            "\n(TCG-emulated test host: absolute seconds mean nothing, ratios within this \
             boot do. Full output: {}.)",
            log.display()
        );
        // Start → first window has no QEMU counterpart (QEMU has no GUI channel): ours
        // only, the VMM spawned beside a headless dom0 until dom0 lists the guest's window.
        let log = self.out.join("boot-window.log");
        let output = Command::new(&script)
            .args(["--", "bulkhead-gui-e2e 600"])
            .stderr(std::process::Stdio::inherit())
            .output()
            .with_context(|| format!("cannot run {}", script.display()))?;
        std::fs::write(&log, &output.stdout)?;
        let text = String::from_utf8_lossy(&output.stdout);
        match first_window_ms(&text) {
            Some(ms) if output.status.success() => println!(
                "\nStart → first window (our VMM, 512 MiB, the agent and weston-simple-shm in \
                 the guest, a headless dom0; same test host): {:.1} s. Output: {}.",
                ms / 1e3,
                log.display()
            ),
            _ => bail!(
                "the first-window run failed ({}); its output is in {}",
                output.status,
                log.display()
            ),
        }
        Ok(())
    }
}

/// The `after_ms=` of the GUI end-to-end script's `BULKHEAD-E2E window=yes` line.
fn first_window_ms(text: &str) -> Option<f64> {
    let line = text
        .lines()
        .find(|l| l.starts_with("BULKHEAD-E2E window=yes"))?;
    line.split_whitespace()
        .find_map(|kv| kv.strip_prefix("after_ms="))?
        .parse()
        .ok()
}

/// The per-case result lines in the test host's output (others, and console noise, are
/// skipped).
fn parse_boot(text: &str) -> Vec<BootCase> {
    text.lines()
        .filter_map(|l| l.strip_prefix("BULKHEAD-RESULT "))
        .filter_map(|json| serde_json::from_str::<BootCase>(json).ok())
        .collect()
}

/// One `BULKHEAD-RESULT` case line of `bulkhead-bootbench`.
#[derive(Debug, serde::Deserialize)]
struct BootCase {
    label: String,
    runs_ms: Vec<f64>,
    median_ms: f64,
    median_overhead_kib: f64,
    #[serde(default)]
    failures: Vec<String>,
}

fn check_alive(target: &mut Target) -> Result<()> {
    for p in &mut target.procs {
        p.check_alive()?;
    }
    Ok(())
}

fn wait_until<T>(what: &str, mut f: impl FnMut() -> Result<T, String>) -> Result<T> {
    let end = Instant::now() + WAIT;
    loop {
        match f() {
            Ok(v) => return Ok(v),
            Err(e) if Instant::now() >= end => bail!("timed out waiting for {what}: {e}"),
            Err(_) => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

/// `frames COUNT MONOTONIC_NS` from `bench-client --mode animate`.
fn parse_frames_line(line: &str) -> Option<(u64, u128)> {
    let mut words = line.split_whitespace();
    if words.next()? != "frames" {
        return None;
    }
    let count = words.next()?.parse().ok()?;
    let ns = words.next()?.parse().ok()?;
    Some((count, ns))
}

fn monotonic_ns() -> u128 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    u128::try_from(t.tv_sec).unwrap_or(0) * 1_000_000_000 + u128::try_from(t.tv_nsec).unwrap_or(0)
}

/// Presses and releases KEY_A `keys` times through `inject`, and returns the latencies (µs)
/// from just before the injection to the client's report of the key.
fn measure_keys(
    keys: usize,
    client: &mut Proc,
    mut inject: impl FnMut(u32, bool) -> Result<()>,
) -> Result<Vec<f64>> {
    const KEY_A: u32 = 30;
    let mut lat = Vec::with_capacity(keys * 2);
    for i in 0..keys * 2 {
        let pressed = i % 2 == 0;
        let t0 = monotonic_ns();
        inject(KEY_A, pressed)?;
        let line = client.expect_line("key", WAIT)?;
        let ns: u128 = line
            .split_whitespace()
            .nth(3)
            .and_then(|v| v.parse().ok())
            .with_context(|| format!("bad key line {line:?}"))?;
        lat.push((ns.saturating_sub(t0)) as f64 / 1e3);
        std::thread::sleep(Duration::from_millis(3));
    }
    Ok(lat)
}

fn pct(values: &[f64], p: usize) -> f64 {
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    v.get((v.len() * p / 100).min(v.len().saturating_sub(1)))
        .copied()
        .unwrap_or(f64::NAN)
}

/// Median time (ms) of one copy of a `w`×`h` rectangle of 4-byte pixels between two
/// images of `stride`-byte rows, from main memory: the sources rotate through 64 MiB so
/// they are not in the cache. With `cold_destination` the destinations rotate too (a copy
/// from main memory to main memory, as the agent's is: its arena buffer was last written
/// two frames ago); without, one destination stays in the cache.
fn memcpy_floor(w: u32, h: u32, stride: u32, cold_destination: bool) -> f64 {
    let image = (stride * FRAME.1) as usize;
    let copies = (64 << 20) / image + 1;
    let src: Vec<Vec<u8>> = (0..copies)
        .map(|i| (0..image).map(|j| (j ^ i).to_le_bytes()[0]).collect())
        .collect();
    let mut dst: Vec<Vec<u8>> = (0..if cold_destination { copies } else { 1 })
        .map(|_| vec![1u8; image])
        .collect();
    let (row, rows) = ((w * 4) as usize, h as usize);
    let mut times = Vec::new();
    for round in 0..copies * 4 {
        let s = &src[round % copies];
        let count = dst.len();
        // Not the source's index: a destination is never the buffer just read.
        let d = &mut dst[(round + 1) % count];
        let t = Instant::now();
        for y in 0..rows {
            let at = y * stride as usize;
            d[at..at + row].copy_from_slice(&s[at..at + row]);
        }
        times.push(t.elapsed().as_secs_f64() * 1e3);
        std::hint::black_box(&d);
    }
    pct(&times, 50)
}

/// Commit → usable latencies (µs): each commit of the client's `commits NS …` line paired
/// with the first `frame usable monotonic_ns=N` line of `log` at or after it and before the
/// next commit (every frame waits for its callback, so frames do not overlap).
fn usable_latencies(commits: &str, log: &Path) -> Result<Vec<f64>> {
    let commits: Vec<u128> = commits
        .split_whitespace()
        .skip(1)
        .map(str::parse)
        .collect::<Result<_, _>>()
        .with_context(|| format!("bad commits line {commits:?}"))?;
    let text =
        std::fs::read_to_string(log).with_context(|| format!("reading {}", log.display()))?;
    let mut usable: Vec<u128> = text
        .lines()
        .filter(|l| l.contains("frame usable"))
        .filter_map(|l| {
            let plain = strip_ansi(l);
            let at = plain.find("monotonic_ns=")? + "monotonic_ns=".len();
            let digits: String = plain[at..]
                .chars()
                .take_while(char::is_ascii_digit)
                .collect();
            digits.parse().ok()
        })
        .collect();
    usable.sort_unstable();
    let mut latencies = Vec::with_capacity(commits.len());
    for (i, &commit) in commits.iter().enumerate() {
        let next = commits.get(i + 1).copied().unwrap_or(u128::MAX);
        let first = usable.partition_point(|&u| u < commit);
        match usable.get(first) {
            Some(&u) if u < next => latencies.push((u - commit) as f64 / 1e3),
            _ => bail!(
                "no `frame usable` line in {} for commit {i} of {}",
                log.display(),
                commits.len()
            ),
        }
    }
    Ok(latencies)
}

/// `line` without ANSI colour sequences (`ESC [ … m`).
fn strip_ansi(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

fn print_frame_table(results: &[FrameResult], floors: &[(&str, f64)]) {
    println!(
        "## Frame path: {}×{} ARGB frames of random pixels, each waiting for its frame callback\n",
        FRAME.0, FRAME.1
    );
    println!(
        "| damage | path | updates/s | ms per update | added over direct (ms) | CPU ms per update | commit→usable p50 ms | p99 ms | commit→frame done p50 ms | p99 ms |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in results {
        let direct = results
            .iter()
            .find(|d| d.damage == r.damage && d.path == "direct")
            .map_or(f64::NAN, FrameResult::mean_ms);
        println!(
            "| {} | {} | {:.0} | {:.3} | {:+.3} | {:.3} | {:.3} | {:.3} | {:.3} | {:.3} |",
            r.damage,
            r.path,
            r.updates_per_s(),
            r.mean_ms(),
            r.mean_ms() - direct,
            r.cpu_ms_per_update(),
            r.usable_p50_us / 1e3,
            r.usable_p99_us / 1e3,
            r.p50_us / 1e3,
            r.p99_us / 1e3,
        );
    }
    println!(
        "\n*usable*: the receiving compositor has the frame's pixels (the direct compositor \
         handles the commit; dom0 has checked the agent's damage against the arena). *frame \
         done*: the client's frame callback, after the compositor drew the frame.\n"
    );
    for (damage, ms) in floors {
        println!(
            "- floor, one memcpy of the damaged bytes from main memory ({damage}): {ms:.4} ms"
        );
    }
    println!();
    for damage in ["full", "square"] {
        let find = |path: &str| {
            results
                .iter()
                .find(|r| r.damage == damage && r.path == path)
        };
        let get = |path: &str| find(path).map(FrameResult::mean_ms);
        let cpu = |path: &str| find(path).map(FrameResult::cpu_ms_per_update);
        let (Some(direct), Some(ours), Some(wp)) = (
            get("direct"),
            get("bulkhead"),
            get("waypipe (none)")
                .into_iter()
                .chain(get("waypipe (lz4)"))
                .reduce(f64::min),
        ) else {
            continue;
        };
        let floor = floors
            .iter()
            .find(|(d, _)| *d == damage)
            .map_or(f64::NAN, |f| f.1);
        println!(
            "- {damage}: Bulkhead adds {:.3} ms per update over direct ({:.1}× the memcpy floor); \
             the faster waypipe adds {:.3} ms: {:.1}× more than Bulkhead.",
            ours - direct,
            (ours - direct) / floor,
            wp - direct,
            (wp - direct) / (ours - direct)
        );
        if let (Some(d), Some(o)) = (find("direct"), find("bulkhead")) {
            println!(
                "  Commit → usable: Bulkhead p50 {:.3} ms, p99 {:.3} ms (direct p50 {:.3}, p99 \
                 {:.3}; Bulkhead adds {:+.3} ms at p99).",
                o.usable_p50_us / 1e3,
                o.usable_p99_us / 1e3,
                d.usable_p50_us / 1e3,
                d.usable_p99_us / 1e3,
                (o.usable_p99_us - d.usable_p99_us) / 1e3
            );
        }
        if let (Some(d), Some(o), Some(w)) = (
            cpu("direct"),
            cpu("bulkhead"),
            cpu("waypipe (none)")
                .into_iter()
                .chain(cpu("waypipe (lz4)"))
                .reduce(f64::min),
        ) {
            println!(
                "  CPU: Bulkhead adds {:.3} ms per update over direct ({:.1}× the memcpy \
                 floor), the leaner waypipe {:.3} ms ({:.1}× Bulkhead's).",
                o - d,
                (o - d) / floor,
                w - d,
                (w - d) / (o - d)
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commits_pair_with_the_first_usable_frame_after_them() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = dir.path().join("compositor.log");
        std::fs::write(
            &log,
            "frame usable monotonic_ns=500\n\
             2026 \u{1b}[2mDEBUG\u{1b}[0m frame usable \u{1b}[3mmonotonic_ns\u{1b}[0m\u{1b}[2m=\u{1b}[0m1250\n\
             something else monotonic_ns=1300\n\
             frame usable monotonic_ns=2100\n",
        )
        .expect("log");
        let lat = usable_latencies("commits 1000 2000", &log).expect("paired");
        assert_eq!(lat, vec![0.25, 0.1]);
        // A commit whose frame never became usable before the next commit is an error.
        assert!(usable_latencies("commits 1000 1100 2000", &log).is_err());
        assert!(usable_latencies("commits 3000", &log).is_err());
    }

    #[test]
    fn the_first_window_time_is_read_from_the_gui_script() {
        let text =
            "noise\nBULKHEAD-E2E window=yes after=25s after_ms=24870\nBULKHEAD-E2E vmm-rc=0\n";
        assert_eq!(first_window_ms(text), Some(24870.0));
        assert_eq!(
            first_window_ms("BULKHEAD-E2E window=no after=600s after_ms=600000"),
            None
        );
    }

    #[test]
    fn boot_results_are_read_from_the_test_host_output() {
        let text = r#"[  170.6] kvm [117]: noise
BULKHEAD-RESULT {"exit":{"kind":"reset"},"boot_to_init_ms":23781.3,"total_ms":24209.3}
BULKHEAD-RESULT {"label":"bulkhead-bzimage","runs_ms":[45596.6,37503.0],"median_ms":37503.0,"overhead_kib":[3328,3384],"median_overhead_kib":3384.0,"memory":[],"failures":["no init"]}
BULKHEAD-RESULT {"label":"qemu-microvm-bzimage","runs_ms":[28374.9],"median_ms":28374.9,"overhead_kib":[44024],"median_overhead_kib":44120.0,"memory":[],"failures":[]}
BULKHEAD-RESULT {"reference":"bulkhead-bzimage","ratios":[["bulkhead-bzimage",1.0,1.0]]}"#;
        let cases = parse_boot(text);
        assert_eq!(cases.len(), 2);
        assert_eq!(cases[0].label, "bulkhead-bzimage");
        assert_eq!(cases[0].failures.len(), 1);
        assert_eq!(cases[1].median_overhead_kib, 44120.0);
        assert_eq!(cases[1].runs_ms.len(), 1);
    }

    #[test]
    fn frames_lines_carry_count_and_time() {
        assert_eq!(
            parse_frames_line("frames 120 5000000000"),
            Some((120, 5_000_000_000))
        );
        assert_eq!(parse_frames_line("frames 120"), None);
        assert_eq!(parse_frames_line("ready"), None);
    }

    #[test]
    fn percentiles_pick_from_the_sorted_values() {
        let v: Vec<f64> = (1..=100).rev().map(f64::from).collect();
        assert_eq!(pct(&v, 50), 51.0);
        assert_eq!(pct(&v, 99), 100.0);
        assert!(pct(&[], 50).is_nan());
    }
}
