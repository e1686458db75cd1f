//! `bulkhead-bench`: whole-process benchmarks of Bulkhead against the alternatives, all in
//! one run on one machine, printed as markdown tables (see the crate README for what each
//! number means and why the paths are comparable).
//!
//! 1. Frame path: `bench-client` commits 1920×1080 frames of random pixels (whole frame, or
//!    one 64×64 square), each waiting for its frame callback, on three paths:
//!    direct (the client on `bench-direct-compositor`), Bulkhead (client → guest agent →
//!    shared-memory arena → `bulkhead-compositor`), and waypipe (`--compress none` and
//!    `lz4`, client → waypipe server → Unix socket → waypipe client → the direct
//!    compositor). A frame callback means on every path: the damage is composited into the
//!    receiving compositor's output image.
//! 2. Input: a key injected into the compositor until the client's `wl_keyboard.key`.
//! 3. Many windows: dom0's CPU with 1, 10, 30 animating windows at its 60 Hz pacing.
//! 4. Qube boot (`--with-boot`): hypervisor-glue's test-host comparison with QEMU.
#![forbid(unsafe_code)]
#![allow(clippy::print_stdout, reason = "a CLI printing its report")]

mod proc;
mod run;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::Parser;

#[derive(Debug, Parser)]
#[command(name = "bulkhead-bench")]
pub struct Args {
    /// Measured whole frames per frame-path case (after 20 warm-up frames); the 64×64
    /// cases run ten times as many.
    #[arg(long, default_value_t = 300)]
    pub frames: usize,
    /// Key presses (and releases) per input case.
    #[arg(long, default_value_t = 200)]
    pub keys: usize,
    /// Seconds of measurement per many-windows case.
    #[arg(long, default_value_t = 5)]
    pub seconds: u64,
    /// Window counts of the many-windows section.
    #[arg(long, value_delimiter = ',', default_value = "1,10,30")]
    pub windows: Vec<usize>,
    /// Also run the qube-boot comparison in the QEMU test host (about 10 minutes in TCG).
    #[arg(long)]
    pub with_boot: bool,
    /// Only these sections (frames, input, windows); all when empty.
    #[arg(long, value_delimiter = ',')]
    pub only: Vec<String>,
    /// Where logs go [default: <target>/bench-artifacts].
    #[arg(long)]
    pub out: Option<PathBuf>,
}

impl Args {
    fn wants(&self, section: &str) -> bool {
        self.only.is_empty() || self.only.iter().any(|s| s == section)
    }
}

fn main() -> Result<()> {
    let args = Args::parse();
    let bin = std::env::current_exe()?
        .parent()
        .context("the executable's directory")?
        .to_path_buf();
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| bin.join("..").join("bench-artifacts"));
    let mut bench = run::Bench::new(bin, out)?;
    println!("# Bulkhead benchmarks\n");
    println!(
        "Machine: {} logical CPUs, load average at start {}. Compare ratios within this run; \
         absolute times depend on the machine and its load.\n",
        std::thread::available_parallelism().map_or(0, usize::from),
        std::fs::read_to_string("/proc/loadavg")
            .unwrap_or_default()
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ")
    );
    if args.wants("frames") {
        bench.frame_path(args.frames)?;
    }
    if args.wants("input") {
        bench.input(args.keys)?;
    }
    if args.wants("windows") {
        bench.many_windows(&args.windows, Duration::from_secs(args.seconds))?;
    }
    if args.with_boot {
        bench.boot()?;
    }
    println!("\nLogs: {}", bench.out().display());
    Ok(())
}
