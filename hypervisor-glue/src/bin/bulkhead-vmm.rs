//! `bulkhead-vmm`: boots one qube's VM and reports how it ended.
//!
//! Prints one `BULKHEAD-RESULT {json}` line (a [`VmReport`]) on stdout when the VM is over.
//! Exit status: 0 shutdown, 3 reset, 4 guest panic, 5 killed, 6 timeout, 7 KVM failure,
//! 8 halted, 1 setup error, 2 usage error.
#![allow(clippy::print_stdout)]

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use std::os::unix::net::UnixStream;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use anyhow::Context;
use bulkhead_hypervisor_glue::devices::virtio_blk::OverlayKind;
use bulkhead_hypervisor_glue::seccomp::SeccompLevel;
use bulkhead_hypervisor_glue::vm::{self, Console, DiskConfig, VmConfig, VmExit};
use bulkhead_shm_transport::{Config as ShmConfig, Endpoint, Handoff, receive_handoff};
use clap::Parser;

/// The kernel command line a qube gets unless told otherwise.
const DEFAULT_CMDLINE: &str = "console=ttyS0 reboot=k panic=-1";

#[derive(Debug, Parser)]
#[command(version, about = "Boot one Bulkhead qube on KVM")]
struct Args {
    /// Linux bzImage to boot.
    #[arg(long)]
    kernel: PathBuf,
    /// Initramfs (cpio, optionally compressed).
    #[arg(long)]
    initramfs: Option<PathBuf>,
    /// Kernel command line.
    #[arg(long, default_value = DEFAULT_CMDLINE)]
    cmdline: String,
    /// Number of vCPUs.
    #[arg(long, default_value_t = 1)]
    vcpus: u8,
    /// Guest memory in MiB.
    #[arg(long, default_value_t = 256)]
    mem_mib: u64,
    /// Serial console: `stdout`, `none`, or a file to append to.
    #[arg(long, default_value = "stdout")]
    console: String,
    /// Stop the VM after this many seconds.
    #[arg(long)]
    timeout_secs: Option<f64>,
    /// Receive the GUI channel (shm-transport region and doorbells) from the compositor
    /// over this Unix socket, and expose it as the GUI PCI device.
    #[arg(long, conflicts_with = "gui_selftest")]
    gui_socket: Option<PathBuf>,
    /// Make a GUI channel here and play a minimal dom0: every doorbell from the guest is
    /// answered with an interrupt. For testing the device without a compositor.
    #[arg(long)]
    gui_selftest: bool,
    /// No ACPI tables: the guest cannot power off (it stops by reset) and a stop request
    /// kills it at once.
    #[arg(long)]
    no_acpi: bool,
    /// Seconds the guest has to power off after the first SIGTERM/SIGINT pressed its power
    /// button; then (or at a second signal) it is killed.
    #[arg(long, default_value_t = 10.0)]
    stop_grace_secs: f64,
    /// Seccomp filter once the VM runs: `enforce` (kill on anything else), `log`, `off`.
    #[arg(long, value_enum, default_value_t = SeccompLevel::Enforce)]
    seccomp: SeccompLevel,
    /// A virtio-blk disk. Repeat for more (vda, vdb, …). `PATH`: a raw image, read-write
    /// (a qube's private volume); `PATH,ro`: read-only; `TEMPLATE,cow=OVERLAY`: the template
    /// read-only under a copy-on-write overlay file (made when missing, kept across runs);
    /// `TEMPLATE,disposable=DIR`: the same with an unnamed overlay in DIR that vanishes
    /// with the VMM.
    #[arg(long = "disk", value_parser = parse_disk)]
    disks: Vec<DiskConfig>,
}

/// `--disk PATH[,ro|,rw|,cow=OVERLAY|,disposable=DIR]`.
fn parse_disk(s: &str) -> Result<DiskConfig, String> {
    let mut parts = s.split(',');
    let path = parts.next().unwrap_or_default();
    if path.is_empty() {
        return Err("empty disk path".into());
    }
    let mut disk = DiskConfig {
        path: PathBuf::from(path),
        read_only: false,
        overlay: None,
    };
    for option in parts {
        let overlay = match option.split_once('=') {
            None if option == "ro" => {
                disk.read_only = true;
                None
            }
            None if option == "rw" => None,
            Some(("cow", p)) if !p.is_empty() => Some(OverlayKind::Persistent(PathBuf::from(p))),
            Some(("disposable", d)) if !d.is_empty() => {
                Some(OverlayKind::Disposable(PathBuf::from(d)))
            }
            _ => {
                return Err(format!(
                    "unknown disk option {option:?} (ro, rw, cow=OVERLAY or disposable=DIR)"
                ));
            }
        };
        if overlay.is_some() {
            if disk.overlay.is_some() {
                return Err("one overlay per disk (cow= or disposable=)".into());
            }
            disk.overlay = overlay;
        }
    }
    if disk.read_only && disk.overlay.is_some() {
        return Err(
            "a disk with an overlay is writable (the template is never written): drop ro".into(),
        );
    }
    Ok(disk)
}

fn exit_code(exit: &VmExit) -> u8 {
    match exit {
        VmExit::Shutdown => 0,
        VmExit::Reset => 3,
        VmExit::GuestPanic => 4,
        VmExit::Killed => 5,
        VmExit::Timeout => 6,
        VmExit::Failed(_) => 7,
        VmExit::Halted => 8,
    }
}

fn main() -> ExitCode {
    let started = Instant::now();
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    match run(args, started) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln_error(&e);
            ExitCode::from(1)
        }
    }
}

#[allow(clippy::print_stderr)]
fn eprintln_error(e: &anyhow::Error) {
    eprintln!("bulkhead-vmm: {e:#}");
}

/// A stand-in dom0 for `--gui-selftest`: owns the dom0 end of a fresh channel and answers
/// each guest doorbell by ringing the guest's.
struct GuiSelftest {
    doorbells: Arc<AtomicU64>,
}

impl GuiSelftest {
    fn start() -> anyhow::Result<(Handoff, Self)> {
        let config = ShmConfig {
            arena_size: 4 << 20,
            ..ShmConfig::default()
        };
        let (endpoint, handoff) =
            Endpoint::create_dom0(&config).context("cannot create the GUI channel")?;
        let agent_bell = std::fs::File::from(
            handoff
                .agent_bell
                .try_clone()
                .context("cannot duplicate the agent doorbell")?,
        );
        let doorbells = Arc::new(AtomicU64::new(0));
        let count = doorbells.clone();
        std::thread::Builder::new()
            .name("gui-selftest".into())
            .spawn(move || {
                use std::io::Write;
                let mut bell = &agent_bell;
                loop {
                    match bulkhead_shm_transport::wait_readable(
                        endpoint.doorbell_fd(),
                        Some(Duration::from_secs(3600)),
                    ) {
                        Ok(true) => {
                            let _ = endpoint.acknowledge_doorbell();
                            count.fetch_add(1, Ordering::AcqRel);
                            if bell.write_all(&1u64.to_ne_bytes()).is_err() {
                                break;
                            }
                        }
                        Ok(false) => {}
                        Err(_) => break,
                    }
                }
            })
            .context("cannot start the GUI self-test thread")?;
        Ok((handoff, Self { doorbells }))
    }
}

fn run(args: Args, started: Instant) -> anyhow::Result<u8> {
    let console = match args.console.as_str() {
        "stdout" => Console::Stdout,
        "none" => Console::Discard,
        path => Console::File(PathBuf::from(path)),
    };
    let timeout = args
        .timeout_secs
        .map(Duration::try_from_secs_f64)
        .transpose()
        .context("--timeout-secs must be a positive number of seconds")?;
    let config = VmConfig {
        kernel: args.kernel,
        initramfs: args.initramfs,
        cmdline: args.cmdline,
        vcpus: args.vcpus,
        mem_mib: args.mem_mib,
        console,
        timeout,
        disks: args.disks,
        seccomp: args.seccomp,
        acpi: !args.no_acpi,
        stop_grace: Duration::try_from_secs_f64(args.stop_grace_secs)
            .context("--stop-grace-secs must be a positive number of seconds")?,
    };
    vm::install_termination_handlers().context("cannot install signal handlers")?;
    let mut selftest = None;
    // Held open for the VM's whole life: the compositor takes its closing (this process
    // ending) as the qube's agent being gone.
    let mut _gui_socket = None;
    let gui = if let Some(path) = &args.gui_socket {
        let socket = UnixStream::connect(path)
            .with_context(|| format!("cannot connect to the GUI socket {}", path.display()))?;
        let handoff = receive_handoff(&socket).context("cannot receive the GUI channel")?;
        _gui_socket = Some(socket);
        Some(handoff)
    } else if args.gui_selftest {
        let (handoff, echo) = GuiSelftest::start()?;
        selftest = Some(echo);
        Some(handoff)
    } else {
        None
    };
    let report = vm::run(&config, gui, started)?;
    if let Some(echo) = selftest {
        println!(
            "BULKHEAD-GUI-SELFTEST {{\"doorbells\":{}}}",
            echo.doorbells.load(Ordering::Acquire)
        );
    }
    println!("BULKHEAD-RESULT {}", serde_json::to_string(&report)?);
    Ok(exit_code(&report.exit))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disk_options_parse() {
        let d = parse_disk("/a.img").unwrap();
        assert_eq!((d.read_only, d.overlay), (false, None));
        assert!(parse_disk("/a.img,ro").unwrap().read_only);
        assert_eq!(
            parse_disk("/t.img,cow=/q/root.cow").unwrap().overlay,
            Some(OverlayKind::Persistent(PathBuf::from("/q/root.cow")))
        );
        assert_eq!(
            parse_disk("/t.img,disposable=/run/q").unwrap().overlay,
            Some(OverlayKind::Disposable(PathBuf::from("/run/q")))
        );
        for bad in [
            "",
            ",ro",
            "/a.img,xx",
            "/a.img,cow=",
            "/a.img,cow=/x,disposable=/y",
            "/a.img,ro,cow=/x",
        ] {
            assert!(parse_disk(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn exit_codes_are_stable() {
        assert_eq!(exit_code(&VmExit::Shutdown), 0);
        assert_eq!(exit_code(&VmExit::Reset), 3);
        assert_eq!(exit_code(&VmExit::Killed), 5);
        assert_eq!(exit_code(&VmExit::Timeout), 6);
    }
}
