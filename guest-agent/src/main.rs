//! `bulkhead-guest-agent`: the qube's Wayland compositor, forwarding windows to dom0.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use clap::Parser;

use bulkhead_guest_agent::link::transport::TransportLink;
use bulkhead_guest_agent::{Config, Server};

/// How long dom0 may take to answer `Hello`.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

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
    /// VM mode: dom0's channel is the GUI PCI device (b1c4:0010) of Bulkhead's VMM, bound to
    /// uio_pci_generic. Chosen by itself when neither --connect nor --standalone is given
    /// and the device exists.
    #[arg(long, conflicts_with_all = ["connect", "standalone"])]
    pci: bool,
    /// Development mode without dom0: frames are acknowledged at once and dropped.
    #[arg(long)]
    standalone: bool,
}

/// Where sysfs and the device nodes are.
const SYSFS: &str = "/sys";
const DEV: &str = "/dev";

fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
    let args = Args::parse();
    let config = Config {
        wayland_display: args.wayland_display,
    };
    if let Some(path) = args.connect {
        let connected = TransportLink::connect(&path, HANDSHAKE_TIMEOUT)
            .with_context(|| format!("connecting to dom0 at {}", path.display()))?;
        let server = Server::connect_transport(&config, connected).context("starting the agent")?;
        return server.run().context("agent stopped");
    }
    let auto_pci =
        !args.standalone && bulkhead_guest_agent::link::pci::find_device(Path::new(SYSFS)).is_ok();
    if args.pci || auto_pci {
        let connected =
            TransportLink::open_pci(Path::new(SYSFS), Path::new(DEV), HANDSHAKE_TIMEOUT)
                .context("connecting to dom0 through the GUI channel PCI device")?;
        let server = Server::connect_transport(&config, connected).context("starting the agent")?;
        return server.run().context("agent stopped");
    }
    if !args.standalone {
        bail!(
            "no dom0 to connect to: give --connect PATH (host mode), --pci (in a Bulkhead VM), \
             or --standalone for development without dom0"
        );
    }
    let (link, events, dom0) =
        bulkhead_guest_agent::link::memory::pair(256 << 20).context("standalone arena")?;
    let server = Server::new(&config, Box::new(link)).context("starting the agent")?;
    server.add_event_channel(events)?;
    std::thread::spawn(move || bulkhead_guest_agent::link::memory::acknowledge_frames(&dom0));
    server.run().context("agent stopped")
}
