//! `bulkhead-bootbench`: times VMM commands from spawn to a marker line on their standard
//! output (the guest init's console message), and measures each one's memory overhead at that
//! moment (resident memory minus the guest-RAM mapping). The same rule for every VMM, so their
//! figures compare. Cases run interleaved (ours, theirs, ours, …), so a change in the
//! machine's load hits all of them alike.
//!
//! ```text
//! bulkhead-bootbench --runs 5 --guest-mib 256 \
//!     --case 'bulkhead=bulkhead-vmm --kernel …' --case 'qemu=qemu-system-x86_64 …'
//! ```
//! Each case is a shell command, run as `sh -c "exec CMD"` (so the measured process is the
//! VMM itself). Prints one `BULKHEAD-RESULT {json}` line per case, then one with the ratios of
//! every case's median to the first case's.
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
#[command(about = "Time VMM commands from spawn to a console marker")]
struct Args {
    /// How many boots of each case.
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// The console line that means "init started".
    #[arg(long, default_value = "BULKHEAD-INIT")]
    marker: String,
    /// The guest's memory in MiB (to tell its RAM mapping from the VMM's own memory).
    #[arg(long, default_value_t = 256)]
    guest_mib: u64,
    /// Give up on one boot after this many seconds.
    #[arg(long, default_value_t = 300)]
    timeout_secs: u64,
    /// `LABEL=SHELL COMMAND`; repeat. The first case is the reference for the ratios.
    #[arg(long = "case", required = true, value_parser = parse_case)]
    cases: Vec<(String, String)>,
}

fn parse_case(s: &str) -> Result<(String, String), String> {
    let (label, cmd) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?}: expected LABEL=COMMAND"))?;
    if label.is_empty() || cmd.trim().is_empty() {
        return Err(format!("{s:?}: empty label or command"));
    }
    Ok((label.to_owned(), cmd.to_owned()))
}

#[derive(Debug, Default, Serialize)]
struct CaseResult {
    label: String,
    runs_ms: Vec<f64>,
    median_ms: Option<f64>,
    overhead_kib: Vec<u64>,
    median_overhead_kib: Option<f64>,
    memory: Vec<MemoryUsage>,
    /// Boots that never showed the marker (their reasons are printed as they happen).
    failures: Vec<String>,
}

#[derive(Debug, Serialize)]
struct Ratios {
    reference: String,
    /// `(label, median boot-to-init / reference's, median overhead / reference's)`.
    ratios: Vec<(String, Option<f64>, Option<f64>)>,
}

fn one_boot(args: &Args, label: &str, cmd: &str) -> anyhow::Result<(f64, MemoryUsage)> {
    let started = Instant::now();
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!("exec {cmd}"))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("cannot start {label}"))?;
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
    let Ok(at) = seen else {
        bail!("{label}: no {:?} on the console", args.marker);
    };
    Ok((
        at.duration_since(started).as_secs_f64() * 1e3,
        usage.context("cannot read the VMM's memory use")?,
    ))
}

#[allow(clippy::cast_precision_loss)]
fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut results: Vec<CaseResult> = args
        .cases
        .iter()
        .map(|(label, _)| CaseResult {
            label: label.clone(),
            ..CaseResult::default()
        })
        .collect();
    for run in 0..args.runs {
        // Rotate the order too, so no case always follows the same one.
        for k in 0..args.cases.len() {
            let i = (k + run) % args.cases.len();
            let (label, cmd) = &args.cases[i];
            match one_boot(&args, label, cmd) {
                Ok((ms, usage)) => {
                    results[i].runs_ms.push(ms);
                    results[i].overhead_kib.push(usage.overhead_kib);
                    results[i].memory.push(usage);
                }
                Err(e) => {
                    println!("BULKHEAD-BENCH-FAILURE {label}: {e:#}");
                    results[i].failures.push(format!("{e:#}"));
                }
            }
        }
    }
    for r in &mut results {
        r.median_ms = metrics::median(&r.runs_ms);
        let kib: Vec<f64> = r.overhead_kib.iter().map(|k| *k as f64).collect();
        r.median_overhead_kib = metrics::median(&kib);
        println!("BULKHEAD-RESULT {}", serde_json::to_string(r)?);
    }
    let reference = &results[0];
    let ratio = |a: Option<f64>, b: Option<f64>| a.zip(b).map(|(a, b)| a / b);
    let ratios = Ratios {
        reference: reference.label.clone(),
        ratios: results
            .iter()
            .map(|r| {
                (
                    r.label.clone(),
                    ratio(r.median_ms, reference.median_ms),
                    ratio(r.median_overhead_kib, reference.median_overhead_kib),
                )
            })
            .collect(),
    };
    println!("BULKHEAD-RESULT {}", serde_json::to_string(&ratios)?);
    Ok(())
}
