//! `bulkhead-guest-agent`: the qube's Wayland compositor, forwarding windows to dom0.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Parser;

use bulkhead_guest_agent::{Config, Server};

/// Runs the qube's Wayland compositor and forwards its windows to dom0.
#[derive(Debug, Parser)]
#[command(version)]
struct Args {
    /// Wayland socket name in $XDG_RUNTIME_DIR (default: the first free wayland-N).
    #[arg(long, value_name = "NAME")]
    wayland_display: Option<String>,
    /// Host mode: the Unix socket where dom0 hands over the shared memory.
    #[arg(long, value_name = "PATH", conflicts_with = "standalone")]
    connect: Option<PathBuf>,
    /// Development mode without dom0: frames are acknowledged at once and dropped.
    #[arg(long)]
    standalone: bool,
}

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let config = Config {
        wayland_display: args.wayland_display,
    };
    if let Some(path) = args.connect {
        bail!(
            "--connect {}: the shared-memory transport is not wired in yet",
            path.display()
        );
    }
    if !args.standalone {
        bail!("give --connect PATH (or --standalone for development without dom0)");
    }
    let (link, events, dom0) = bulkhead_guest_agent::link::memory::pair(256 << 20);
    let server = Server::new(&config, Box::new(link)).context("starting the agent")?;
    server.add_event_channel(events)?;
    std::thread::spawn(move || bulkhead_guest_agent::link::memory::acknowledge_frames(&dom0));
    server.run().context("agent stopped")
}
