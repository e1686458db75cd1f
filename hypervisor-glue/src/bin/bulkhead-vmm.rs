//! `bulkhead-vmm`: boots one qube's VM and reports how it ended.
//!
//! Prints one `BULKHEAD-RESULT {json}` line (a [`VmReport`]) on stdout when the VM is over.
//! Exit status: 0 shutdown, 3 reset, 4 guest panic, 5 killed, 6 timeout, 7 KVM failure,
//! 8 halted, 1 setup error, 2 usage error.
#![allow(clippy::print_stdout)]

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use bulkhead_hypervisor_glue::vm::{self, Console, VmConfig, VmExit};
use clap::Parser;

/// The kernel command line a qube gets unless told otherwise.
const DEFAULT_CMDLINE: &str = "console=ttyS0 reboot=k panic=-1 pci=off";

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
    };
    vm::install_termination_handlers().context("cannot install signal handlers")?;
    let report = vm::run(&config, started)?;
    println!("BULKHEAD-RESULT {}", serde_json::to_string(&report)?);
    Ok(exit_code(&report.exit))
}
