//! `bulkhead-demo`: the Bulkhead desktop with three coloured qubes running real apps.
//!
//! It starts the dom0 compositor (a nested window when a display is there, headless
//! otherwise) with three qubes — `work` (blue), `personal` (green), `untrusted` (red) — one
//! guest agent per qube, and one real app against each agent: foot, weston-flower and
//! weston-simple-shm. Then it shows the trust rules at work through dom0's control socket
//! ([`trust_in_practice`]: typing into the focused window, a copy in `work` and a paste into
//! `untrusted` by dom0's gestures). Headless, it writes a screenshot and prints where;
//! nested, it runs until the window is closed or Ctrl-C.
//!
//! Two modes, and the demo says which and why. VM mode, where this machine's KVM boots a
//! stock Linux guest (probed once and cached, see [`vm`]) and a template exists: the qubes
//! are VMs created and started through the `bulkhead` qube manager (`qube create`, `run`),
//! and stopped when the demo ends. Host mode otherwise: the agents are host processes, which
//! isolates nothing, and the demo and every window title say so. Every process runs in its
//! own process group and is killed when the demo ends, however it ends (error, Ctrl-C,
//! SIGTERM).
#![forbid(unsafe_code)]
// A command-line program: its output is for the user.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::fs::{self, File};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitCode, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, anyhow, bail};
use bulkhead_compositor::control::{Request, Response, WindowInfo, send_requests};
use clap::{Parser, ValueEnum};
use rustix::process::{Pid, Signal, kill_process_group};

mod vm;

/// How long the demo waits for a process to come up before giving up (host mode).
const DEADLINE: Duration = Duration::from_secs(30);
/// The same for an app in a VM qube (the qube has booted; the app starts inside it).
const VM_DEADLINE: Duration = Duration::from_secs(120);
const POLL: Duration = Duration::from_millis(50);

/// The Bulkhead demo: three coloured qubes running real apps.
#[derive(Debug, Parser)]
#[command(name = "bulkhead-demo", version)]
struct Args {
    /// Where dom0 draws: `auto` opens a nested window when $WAYLAND_DISPLAY or $DISPLAY is
    /// set, and falls back to headless when there is no display or the window cannot open.
    #[arg(long, value_enum, default_value_t = Backend::Auto)]
    backend: Backend,
    /// Headless: keep running after the screenshot, until Ctrl-C.
    #[arg(long)]
    keep: bool,
    /// Seconds the apps draw before the screenshot.
    #[arg(long, default_value_t = 3)]
    seconds: u64,
    /// Where screenshots and logs go [default: <target>/demo, beside the binary's profile].
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// `vm`: qubes as KVM virtual machines through `bulkhead` (needs a template); `host`:
    /// agents as host processes (isolates nothing); `auto`: VMs when this machine's KVM boots
    /// a stock Linux guest and the template exists.
    #[arg(long, value_enum, default_value_t = Mode::Auto)]
    mode: Mode,
    /// The template the VM qubes run on.
    #[arg(long, default_value = "debian-12", value_name = "NAME")]
    template: String,
    /// The kernel the KVM probe boots [default: the template's, else /boot/vmlinuz-$(uname -r)].
    #[arg(long, value_name = "PATH", env = "BULKHEAD_PROBE_KERNEL")]
    probe_kernel: Option<PathBuf>,
    /// Seconds a VM qube may take to boot.
    #[arg(long, default_value_t = 300, value_name = "SECS")]
    boot_timeout: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Mode {
    Auto,
    Vm,
    Host,
}

/// How this run isolates its qubes, and why.
enum Isolation {
    /// VMs through the qube manager.
    Vm { bulkhead: PathBuf, why: String },
    /// Host processes.
    Host { why: String },
}

/// Decides between VM and host mode (see [`Mode`]); a forced `--mode vm` that cannot work
/// is an error that says why.
fn choose_isolation(args: &Args, bin_dir: &Path) -> Result<Isolation> {
    let host = |why: String| -> Result<Isolation> {
        if args.mode == Mode::Vm {
            bail!("--mode vm: {why}");
        }
        Ok(Isolation::Host { why })
    };
    if args.mode == Mode::Host {
        return Ok(Isolation::Host {
            why: "--mode host".into(),
        });
    }
    let vmm = bin_dir.join("bulkhead-vmm");
    let bulkhead = bin_dir.join("bulkhead");
    for b in [&vmm, &bulkhead] {
        if !b.is_file() {
            return host(format!(
                "{} is not built (scripts/run-demo builds it)",
                b.display()
            ));
        }
    }
    let template = vm::state_dir().map(|d| d.join("templates").join(&args.template));
    let have_template = template
        .as_ref()
        .is_some_and(|t| t.join("template.json").is_file());
    let kernel = vm::probe_kernel(
        args.probe_kernel.as_deref(),
        template.as_deref().filter(|_| have_template),
    );
    let probed = match (args.mode, kernel) {
        (Mode::Vm, _) => "--mode vm (no KVM probe)".to_owned(),
        (_, None) => {
            return host(
                "there is no stock Linux kernel to test this machine's KVM with (no template \
                 yet, /boot/vmlinuz-$(uname -r) is not readable, no test-host kernel; \
                 --probe-kernel PATH names one)"
                    .into(),
            );
        }
        (_, Some(kernel)) => {
            let p = vm::probe(&vmm, &kernel, vm::cache_file().as_deref());
            let how = if p.cached { " (cached answer)" } else { "" };
            if !p.boots {
                return host(format!("{}{how}", p.why));
            }
            format!("{}{how}", p.why)
        }
    };
    if !have_template && args.mode == Mode::Vm {
        bail!(
            "--mode vm: there is no template {name:?} yet; build it (needs root, about 7 \
             minutes) with `sudo {bulkhead} template build {name}`",
            name = args.template,
            bulkhead = bulkhead.display()
        );
    }
    if !have_template {
        return host(format!(
            "KVM can run VMs here ({probed}), but there is no template {name:?} yet. Build it \
             (needs root, about 7 minutes): `sudo {bulkhead} template build {name}`, then run \
             the demo again",
            name = args.template,
            bulkhead = bulkhead.display()
        ));
    }
    Ok(Isolation::Vm {
        bulkhead,
        why: probed,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Backend {
    Auto,
    Headless,
    Nested,
}

/// A qube of the demo and the app it runs (`note`: foot's first words, by mode).
struct Qube {
    name: &'static str,
    label: &'static str,
    program: &'static str,
    args: &'static [&'static str],
    /// The mode's note goes after `args` (foot's shell prints it).
    note: bool,
}

/// In start order: dom0 puts each new window where it covers no other (beside the last
/// one, or in a row below), so all three show side by side.
const QUBES: [Qube; 3] = [
    Qube {
        name: "work",
        label: "blue",
        program: "foot",
        // The note first, then the user's shell.
        args: &[
            "--window-size-pixels=720x440",
            "sh",
            "-c",
            "printf '%s\\n\\n' \"$1\"; exec \"${SHELL:-/bin/sh}\"",
            "sh",
        ],
        note: true,
    },
    Qube {
        name: "untrusted",
        label: "red",
        program: "weston-simple-shm",
        args: &[],
        note: false,
    },
    Qube {
        name: "personal",
        label: "green",
        program: "weston-flower",
        args: &[],
        note: false,
    },
];

/// Why the demo stopped early on a signal (not a failure).
#[derive(Debug)]
struct Interrupted;

impl std::fmt::Display for Interrupted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("interrupted")
    }
}

impl std::error::Error for Interrupted {}

fn main() -> ExitCode {
    let args = Args::parse();
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [
        signal_hook::consts::SIGINT,
        signal_hook::consts::SIGTERM,
        signal_hook::consts::SIGHUP,
    ] {
        if let Err(e) = signal_hook::flag::register(signal, Arc::clone(&stop)) {
            eprintln!("bulkhead-demo: cannot handle signal {signal}: {e}");
            return ExitCode::FAILURE;
        }
    }
    let result = run(&args, &stop);
    // Every child is gone by now (`Processes` kills them when `run` returns).
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.is::<Interrupted>() => {
            println!("stopped; every process of the demo has ended");
            ExitCode::from(130)
        }
        Err(e) => {
            eprintln!("bulkhead-demo: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run(args: &Args, stop: &AtomicBool) -> Result<()> {
    let bin_dir = std::env::current_exe()
        .context("the demo's own path")?
        .parent()
        .map(Path::to_path_buf)
        .context("the demo's directory")?;
    let compositor = ours(&bin_dir, "bulkhead-compositor")?;
    let isolation = choose_isolation(args, &bin_dir)?;
    let agent = match isolation {
        Isolation::Host { .. } => Some(ours(&bin_dir, "bulkhead-guest-agent")?),
        Isolation::Vm { .. } => None,
    };
    if agent.is_some() {
        for qube in &QUBES {
            on_path(qube.program)?;
        }
    }
    let out = match &args.out {
        Some(out) => out.clone(),
        None => bin_dir
            .parent()
            .map_or_else(|| bin_dir.join("demo"), |t| t.join("demo")),
    };
    let logs = out.join("logs");
    if logs.is_dir() {
        // Only this run's logs: an old compositor-nested.log would mislead.
        fs::remove_dir_all(&logs).with_context(|| format!("remove old {}", logs.display()))?;
    }
    fs::create_dir_all(&logs).with_context(|| format!("create {}", logs.display()))?;
    let out = out.canonicalize().context("the output directory")?;
    let logs = out.join("logs");

    println!("Bulkhead demo: three qubes, each running a real app in its own guest agent.");
    println!(
        "  work (blue): foot    untrusted (red): weston-simple-shm    personal (green): \
         weston-flower"
    );
    println!();
    let note = match &isolation {
        Isolation::Vm { why, .. } => {
            println!("MODE: virtual machines. Each qube is a KVM virtual machine on template");
            println!(
                "      {:?}, made and started with `bulkhead`; the demo stops them at",
                args.template
            );
            println!("      the end.");
            println!("Why:  {why}.");
            "This is qube \"work\" (blue label), a KVM virtual machine."
        }
        Isolation::Host { why } => {
            println!("MODE: host processes. The qube agents run as ordinary host processes:");
            println!("      they isolate NOTHING (every window title says \"not isolated\").");
            println!("      The frame path is the same as with VMs.");
            println!("Why:  {why}.");
            "This is qube \"work\" (blue label). Its agent is a host process: it isolates nothing."
        }
    };
    println!();

    let runtime = tempfile::Builder::new()
        .prefix("bulkhead-demo-")
        .tempdir()
        .context("a private runtime directory")?;
    fs::set_permissions(runtime.path(), fs::Permissions::from_mode(0o700))?;
    let control = runtime.path().join("control.sock");
    let mut procs = Processes {
        logs: logs.clone(),
        list: Vec::new(),
        deadline: DEADLINE,
    };

    let has_display =
        std::env::var_os("WAYLAND_DISPLAY").is_some() || std::env::var_os("DISPLAY").is_some();
    let mut nested = match args.backend {
        Backend::Auto => has_display,
        Backend::Headless => false,
        Backend::Nested => true,
    };
    loop {
        let mut command = Command::new(&compositor);
        command
            .args(["--backend", if nested { "winit" } else { "headless" }])
            .args(["--size", "1280x800"])
            .arg("--control-socket")
            .arg(&control)
            .arg("--qube-socket-dir")
            .arg(runtime.path().join("qubes"));
        if agent.is_some() {
            // Host mode: dom0 knows the qubes from the start and marks them not isolated.
            // In VM mode the qube manager declares each qube when it starts it.
            command.arg("--host-agents");
            for q in &QUBES {
                command.arg("--qube").arg(format!("{}:{}", q.name, q.label));
            }
        }
        if std::env::var_os("RUST_LOG").is_none() {
            command.env("RUST_LOG", "info");
        }
        let name = if nested {
            "compositor-nested"
        } else {
            "compositor-headless"
        };
        let id = procs.spawn(name, command)?;
        match procs.wait_for(stop, "the compositor's control socket", |_| {
            send_requests(&control, &[Request::Qubes]).map_err(|e| e.to_string())
        }) {
            Ok(_) => break,
            Err(e) if nested && args.backend == Backend::Auto && !e.is::<Interrupted>() => {
                println!(
                    "The nested window did not open ({e:#}); running headless instead.\n\
                     (A nested window needs EGL: Debian's libegl1 libegl-mesa0 libgl1-mesa-dri.)\n"
                );
                procs.stop(id);
                nested = false;
            }
            Err(e) => return Err(e),
        }
    }
    println!(
        "dom0 compositor: {} (control socket {})",
        if nested {
            "a nested window in your session"
        } else {
            "headless (offscreen)"
        },
        control.display()
    );

    let argv = |q: &Qube| -> Vec<String> {
        let mut argv: Vec<String> = std::iter::once(q.program)
            .chain(q.args.iter().copied())
            .map(str::to_owned)
            .collect();
        if q.note {
            argv.push(note.to_owned());
        }
        argv
    };
    // Declared after `procs`, so dropped first: the qubes stop before the compositor goes.
    let mut manager = None;
    match (&isolation, &agent) {
        (Isolation::Host { .. }, Some(agent)) => {
            start_host_agents(&mut procs, stop, runtime.path(), agent)?;
        }
        (Isolation::Vm { bulkhead, .. }, _) => {
            procs.deadline = VM_DEADLINE;
            manager = Some(vm::Manager {
                bulkhead: bulkhead.clone(),
                control: control.clone(),
                template: args.template.clone(),
                boot_secs: args.boot_timeout,
                started: Vec::new(),
            });
        }
        (Isolation::Host { .. }, None) => bail!("host mode without a guest agent binary"),
    }

    // One app per qube, each started once the previous one's window is up, so that the
    // windows stack in a known order.
    for q in &QUBES {
        match manager.as_mut() {
            Some(m) => {
                println!("starting qube {} (a VM) and {} in it …", q.name, q.program);
                m.run(q.name, q.label, &argv(q)).map_err(|e| anyhow!(e))?;
            }
            None => {
                let dir = runtime.path().join(q.name);
                let argv = argv(q);
                let mut command = Command::new(&argv[0]);
                qube_env(&mut command, &dir);
                command.env("WAYLAND_DISPLAY", "wayland-0").args(&argv[1..]);
                procs.spawn(&format!("{}-{}", q.name, q.program), command)?;
            }
        }
        procs.wait_for(
            stop,
            &format!("{}'s window in {}", q.program, q.name),
            |_| {
                let windows = windows(&control)?;
                if windows.iter().any(|w| w.qube == q.name && w.visible) {
                    Ok(())
                } else {
                    Err("not shown yet".into())
                }
            },
        )?;
    }
    println!("\nWindows dom0 shows (bottom to top):");
    for w in windows(&control).map_err(|e| anyhow!(e))? {
        println!(
            "  [{}] {:<6} {:<28} {}x{} at ({}, {})",
            w.qube, w.label, w.title, w.geometry.w, w.geometry.h, w.geometry.x, w.geometry.y
        );
    }
    println!();

    sleep(stop, Duration::from_secs(args.seconds))?;
    // A walkthrough that cannot finish (say, a qube without wl-clipboard) is reported, the
    // windows are still shown, and a headless run then fails with its reason.
    let walkthrough = trust_in_practice(&mut procs, stop, &control);
    if let Err(e) = &walkthrough {
        if e.is::<Interrupted>() {
            return walkthrough;
        }
        println!("  The walkthrough did not finish: {e:#}\n");
    }
    if !nested {
        let shot = out.join("bulkhead-demo.png");
        screenshot(&control, &shot)?;
        println!("Screenshot: {}", shot.display());
        println!("Logs:       {}", logs.display());
        if !args.keep {
            return walkthrough;
        }
        println!("\nStill running (--keep); the control socket answers list-windows and");
        println!("screenshot requests. Ctrl-C stops everything.");
    } else {
        let shot = out.join("bulkhead-demo.png");
        match screenshot(&control, &shot) {
            Ok(()) => println!("Screenshot: {}", shot.display()),
            Err(e) => println!("(no screenshot of the nested window: {e:#})"),
        }
        println!("The three qubes' windows are in the nested window. Click to focus, Super+drag");
        println!("to move. Close the window or press Ctrl-C here to stop everything.");
        println!("Logs: {}", logs.display());
    }
    // Until Ctrl-C, or the compositor's window is closed.
    loop {
        if stop.load(Ordering::Relaxed) {
            return Err(Interrupted.into());
        }
        if let Some(name) = procs.exited_service() {
            if name == "compositor-nested" {
                println!("The compositor's window was closed; stopping.");
                return Ok(());
            }
            bail!("{name} exited; see {}", logs.display());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// evdev codes of the keys the walkthrough presses.
const KEY_CTRL: u32 = 29;
const KEY_SHIFT: u32 = 42;
const KEY_C: u32 = 46;
const KEY_V: u32 = 47;
/// What the walkthrough copies in `work`.
const COPIED: &str = "a line copied in work";

/// The trust rules at work, done through dom0's control socket the way a user would do them
/// (a click, typing, dom0's clipboard gestures), and reported: typing reaches only the
/// focused qube, and clipboard data crosses from `work` to `untrusted` only through dom0's
/// Ctrl+Shift+C and Ctrl+Shift+V, with a notice each and dom0's buffer empty afterwards.
/// The notices are still on screen for the screenshot taken right after.
fn trust_in_practice(procs: &mut Processes, stop: &AtomicBool, control: &Path) -> Result<()> {
    println!("Trust in practice (done through dom0's control socket, as a user would):");
    let click = |qube: &str| -> Result<()> {
        let w = windows(control)
            .map_err(|e| anyhow!(e))?
            .into_iter()
            .find(|w| w.qube == qube && w.kind == "toplevel")
            .with_context(|| format!("{qube}'s window"))?;
        let (x, y) = (
            w.geometry.x + w.geometry.w / 2,
            w.geometry.y + w.geometry.h / 2,
        );
        request(control, Request::Click { x, y, button: None }).map_err(|e| anyhow!(e))?;
        Ok(())
    };
    let chord = |key: u32| -> Result<()> {
        for (keycode, pressed) in [
            (KEY_CTRL, true),
            (KEY_SHIFT, true),
            (key, true),
            (key, false),
            (KEY_SHIFT, false),
            (KEY_CTRL, false),
        ] {
            request(control, Request::Key { keycode, pressed }).map_err(|e| anyhow!(e))?;
        }
        Ok(())
    };
    let held = || -> Result<bulkhead_compositor::control::ClipboardInfo, String> {
        request(control, Request::Clipboard)?
            .clipboard
            .map(|c| *c)
            .ok_or_else(|| "no clipboard in the answer".into())
    };

    click("work")?;
    let line = format!("printf '{COPIED}' | wl-copy");
    request(
        control,
        Request::Type {
            text: format!("{line}\n"),
        },
    )
    .map_err(|e| anyhow!(e))?;
    println!("  typed into work, the focused window:   {line}");
    // wl-copy takes a moment to own work's selection (dom0 cannot see it before asking):
    // copy after a moment, and again until dom0 gets it.
    let mut asked = Instant::now();
    let info = procs.wait_for(stop, "work's selection after Ctrl+Shift+C", |_| {
        let info = held()?;
        if info.bytes > 0 {
            return Ok(info);
        }
        if asked.elapsed() >= Duration::from_millis(700) {
            chord(KEY_C).map_err(|e| e.to_string())?;
            asked = Instant::now();
        }
        Err("dom0 holds nothing yet (is wl-clipboard installed in work?)".into())
    })?;
    println!(
        "  Ctrl+Shift+C in work:                  dom0 holds {} bytes {} from {}",
        info.bytes,
        info.mime.as_deref().unwrap_or("?"),
        info.source.as_deref().unwrap_or("?")
    );
    click("untrusted")?;
    chord(KEY_V)?;
    procs.wait_for(stop, "the paste into untrusted", |_| match held()? {
        info if info.source.is_none() => Ok(()),
        _ => Err("dom0 still holds the data".into()),
    })?;
    println!("  Ctrl+Shift+V in untrusted:             handed to untrusted's agent as its");
    println!("                                         selection; dom0's buffer is empty again");
    let notices = request(control, Request::Notices)
        .map_err(|e| anyhow!(e))?
        .notices
        .unwrap_or_default();
    for n in notices {
        println!("  dom0's notice: {n}");
    }
    println!();
    Ok(())
}

/// Host mode: one guest agent per qube as a host process, connected to the socket the
/// compositor opened for it; returns once every agent's Wayland socket is there.
fn start_host_agents(
    procs: &mut Processes,
    stop: &AtomicBool,
    runtime: &Path,
    agent: &Path,
) -> Result<()> {
    for q in &QUBES {
        let dir = runtime.join(q.name);
        fs::create_dir(&dir)?;
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o700))?;
        let mut command = Command::new(agent);
        qube_env(&mut command, &dir);
        command
            .arg("--connect")
            .arg(runtime.join("qubes").join(format!("qube-{}.sock", q.name)))
            .arg("--wayland-display")
            .arg(dir.join("wayland-0"));
        procs.spawn(&format!("agent-{}", q.name), command)?;
    }
    for q in &QUBES {
        let socket = runtime.join(q.name).join("wayland-0");
        procs.wait_for(stop, &format!("{}'s agent", q.name), |_| {
            if socket.exists() {
                Ok(())
            } else {
                Err("no Wayland socket yet".into())
            }
        })?;
    }
    Ok(())
}

/// One of the workspace's binaries, beside the demo's own.
fn ours(dir: &Path, name: &str) -> Result<PathBuf> {
    let path = dir.join(name);
    if !path.is_file() {
        bail!(
            "{} is missing: build it with `cargo build --release -p bulkhead-compositor -p \
             bulkhead-guest-agent -p bulkhead-demo` (scripts/run-demo does)",
            path.display()
        );
    }
    Ok(path)
}

/// Fails when `program` is not on `$PATH`.
fn on_path(program: &str) -> Result<()> {
    let found = std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|d| d.join(program).is_file()));
    if !found {
        bail!(
            "{program} is not installed: the demo needs Debian's `foot` and `weston` packages (scripts/run-demo installs them)"
        );
    }
    Ok(())
}

/// The environment of a qube's agent and apps: the qube's own runtime directory, and no
/// way to the session the demo runs in.
fn qube_env(command: &mut Command, dir: &Path) {
    command
        .env("XDG_RUNTIME_DIR", dir)
        .env_remove("WAYLAND_DISPLAY")
        .env_remove("WAYLAND_SOCKET")
        .env_remove("DISPLAY")
        .env_remove("DBUS_SESSION_BUS_ADDRESS");
    if std::env::var_os("RUST_LOG").is_none() {
        command.env("RUST_LOG", "info");
    }
}

fn request(control: &Path, request: Request) -> Result<Response, String> {
    let answer = send_requests(control, &[request])
        .map_err(|e| e.to_string())?
        .pop()
        .ok_or("no answer")?;
    if answer.ok {
        Ok(answer)
    } else {
        Err(answer.error.unwrap_or_else(|| "failed".into()))
    }
}

fn windows(control: &Path) -> Result<Vec<WindowInfo>, String> {
    request(control, Request::ListWindows)?
        .windows
        .ok_or_else(|| "no windows in the answer".into())
}

fn screenshot(control: &Path, path: &Path) -> Result<()> {
    request(
        control,
        Request::Screenshot {
            path: path.to_path_buf(),
        },
    )
    .map_err(|e| anyhow!("screenshot: {e}"))?;
    Ok(())
}

/// Sleeps for `time`, or until a signal.
fn sleep(stop: &AtomicBool, time: Duration) -> Result<()> {
    let end = Instant::now() + time;
    while Instant::now() < end {
        if stop.load(Ordering::Relaxed) {
            return Err(Interrupted.into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(())
}

/// Index of a process in [`Processes`].
#[derive(Debug, Clone, Copy)]
struct ProcessId(usize);

/// Every process the demo started, killed (whole process groups) when dropped: apps first,
/// then agents, then the compositor.
struct Processes {
    logs: PathBuf,
    list: Vec<(String, Child, bool)>,
    /// How long [`Processes::wait_for`] waits.
    deadline: Duration,
}

impl Processes {
    fn spawn(&mut self, name: &str, mut command: Command) -> Result<ProcessId> {
        let log = self.logs.join(format!("{name}.log"));
        let out = File::create(&log).with_context(|| format!("create {}", log.display()))?;
        let child = command
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            // Its own group: Ctrl-C reaches only the demo, which then stops everything in
            // order, and killing the group also ends what the app started (a shell).
            .process_group(0)
            .spawn()
            .with_context(|| format!("start {name} ({:?})", command.get_program()))?;
        self.list.push((name.to_owned(), child, false));
        Ok(ProcessId(self.list.len() - 1))
    }

    fn stop(&mut self, id: ProcessId) {
        let (_, child, stopped) = &mut self.list[id.0];
        if !*stopped {
            let _ = kill_process_group(Pid::from_child(child), Signal::TERM);
            let _ = child.kill();
            let _ = child.wait();
            *stopped = true;
        }
    }

    /// The compositor or an agent that has exited.
    fn exited_service(&mut self) -> Option<String> {
        self.list
            .iter_mut()
            .filter(|(name, _, stopped)| {
                !*stopped && (name.starts_with("compositor") || name.starts_with("agent-"))
            })
            .find_map(|(name, child, _)| match child.try_wait() {
                Ok(Some(_)) => Some(name.clone()),
                _ => None,
            })
    }

    /// Polls `check` until it succeeds; fails on a signal, when a service exits, or after
    /// `self.deadline`.
    fn wait_for<T>(
        &mut self,
        stop: &AtomicBool,
        what: &str,
        mut check: impl FnMut(&mut Self) -> Result<T, String>,
    ) -> Result<T> {
        let deadline = self.deadline;
        let end = Instant::now() + deadline;
        loop {
            let last = match check(self) {
                Ok(value) => return Ok(value),
                Err(e) => e,
            };
            if stop.load(Ordering::Relaxed) {
                return Err(Interrupted.into());
            }
            if let Some(name) = self.exited_service() {
                bail!(
                    "{name} exited while waiting for {what}; see {}",
                    self.logs.join(format!("{name}.log")).display()
                );
            }
            if Instant::now() >= end {
                bail!("gave up waiting for {what} after {deadline:?}: {last}");
            }
            std::thread::sleep(POLL);
        }
    }
}

impl Drop for Processes {
    fn drop(&mut self) {
        for i in (0..self.list.len()).rev() {
            self.stop(ProcessId(i));
        }
    }
}
