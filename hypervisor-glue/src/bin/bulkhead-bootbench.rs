//! `bulkhead-bootbench`: times any VMM command from spawn to a marker line on its standard
//! output (the guest init's console message), and measures its memory overhead at that moment
//! (resident memory minus the guest-RAM mapping). The same rule for every VMM, so their
//! figures compare.
//!
//! ```text
//! bulkhead-bootbench --label qemu-microvm --runs 5 --guest-mib 256 -- qemu-system-x86_64 …
//! ```
//! Prints one `BULKHEAD-RESULT {json}` line.
#![allow(clippy::print_stdout)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bulkhead_hypervisor_glue::metrics::{self, MemoryUsage};
use clap::Parser;
use serde::Serialize;

#[derive(Debug, Parser)]
#[command(about = "Time a VMM command from spawn to a console marker")]
struct Args {
    /// Name for this set-up in the result.
    #[arg(long)]
    label: String,
    /// How many boots.
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// The console line that means "init started".
    #[arg(long, default_value = "BULKHEAD-INIT")]
    marker: String,
    /// The guest's memory in MiB (to tell its RAM mapping from the VMM's own memory).
    #[arg(long, default_value_t = 256)]
    guest_mib: u64,
    /// Give up on one boot after this many seconds.
    #[arg(long, default_value_t = 120)]
    timeout_secs: u64,
    /// The VMM command.
    #[arg(last = true, required = true)]
    command: Vec<String>,
}

#[derive(Debug, Serialize)]
struct BenchResult {
    label: String,
    runs_ms: Vec<f64>,
    median_ms: Option<f64>,
    overhead_kib: Vec<u64>,
    median_overhead_kib: Option<f64>,
    memory: Vec<MemoryUsage>,
}

fn one_boot(args: &Args) -> anyhow::Result<(f64, MemoryUsage)> {
    let started = Instant::now();
    let mut child = Command::new(&args.command[0])
        .args(&args.command[1..])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("cannot start {}", args.command[0]))?;
    let stdout = child.stdout.take().context("no stdout")?;
    let marker = args.marker.clone();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut line = Vec::new();
        loop {
            line.clear();
            match reader.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => break,
                Ok(_) => {
                    if String::from_utf8_lossy(&line).contains(&marker) {
                        let _ = tx.send(Instant::now());
                        // Keep draining so the VMM never blocks on a full pipe.
                    }
                }
            }
        }
    });
    let seen = rx.recv_timeout(Duration::from_secs(args.timeout_secs));
    let usage = metrics::memory_usage(Some(child.id()), &[args.guest_mib << 20]);
    let _ = child.kill();
    let _ = child.wait();
    let at = match seen {
        Ok(at) => at,
        Err(_) => bail!("{}: no {:?} on the console", args.label, args.marker),
    };
    Ok((
        at.duration_since(started).as_secs_f64() * 1e3,
        usage.context("cannot read the VMM's memory use")?,
    ))
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut runs_ms = Vec::new();
    let mut memory = Vec::new();
    for _ in 0..args.runs {
        let (ms, usage) = one_boot(&args)?;
        runs_ms.push(ms);
        memory.push(usage);
    }
    let overhead_kib: Vec<u64> = memory.iter().map(|m| m.overhead_kib).collect();
    #[allow(clippy::cast_precision_loss)]
    let overhead_f: Vec<f64> = overhead_kib.iter().map(|k| *k as f64).collect();
    let result = BenchResult {
        label: args.label,
        median_ms: metrics::median(&runs_ms),
        median_overhead_kib: metrics::median(&overhead_f),
        runs_ms,
        overhead_kib,
        memory,
    };
    println!("BULKHEAD-RESULT {}", serde_json::to_string(&result)?);
    Ok(())
}
