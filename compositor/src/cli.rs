//! Command-line arguments of `bulkhead-compositor`.

use std::path::PathBuf;
use std::str::FromStr;

use bulkhead_border_theme::{Label, QubeName};
use clap::{Parser, ValueEnum};

use crate::desktop::{MIN_OUTPUT_SIDE, Size};

/// The dom0 compositor of Bulkhead.
#[derive(Debug, Parser)]
#[command(name = "bulkhead-compositor", version)]
pub struct Args {
    /// Where to draw: an offscreen image, a window in the current X11/Wayland session, or the
    /// displays of this machine (from a text console).
    #[arg(long, value_enum, default_value_t = BackendKind::Headless)]
    pub backend: BackendKind,
    /// Output size of the headless backend, WIDTHxHEIGHT.
    #[arg(long, default_value = "1280x800")]
    pub size: OutputSize,
    /// The control socket [default: $XDG_RUNTIME_DIR/bulkhead/control.sock].
    #[arg(long, value_name = "PATH")]
    pub control_socket: Option<PathBuf>,
    /// A border-theme TOML file (colours, border widths, title height).
    #[arg(long, value_name = "FILE")]
    pub theme: Option<PathBuf>,
    /// The title font [default: DejaVu Sans from fonts-dejavu-core].
    #[arg(long, value_name = "FILE")]
    pub font: Option<PathBuf>,
    /// A qube dom0 knows, NAME:LABEL (label: red, orange, yellow, green, gray, blue, purple,
    /// black). Repeatable.
    #[arg(long = "qube", value_name = "NAME:LABEL")]
    pub qubes: Vec<QubeSpec>,
    /// Agents run as host processes, not in VMs: every title bar says this isolates nothing.
    #[arg(long)]
    pub host_agents: bool,
    /// Directory of the qubes' sockets, `qube-<name>.sock` each (default:
    /// `$XDG_RUNTIME_DIR/bulkhead`). An agent connects to its qube's socket; in host mode that
    /// socket is the only thing that says which qube an agent serves.
    #[arg(long, value_name = "DIR")]
    pub qube_socket_dir: Option<PathBuf>,
    /// The clipboard policy (TOML: which source → target pastes are allowed, size limit)
    /// [default: any qube to any qube, never into dom0, up to 4 MiB].
    #[arg(long, value_name = "FILE")]
    pub clipboard_policy: Option<PathBuf>,
    /// The window policy (TOML: `[qube.NAME] allow_fullscreen = true` lets that qube's
    /// windows go fullscreen, still below dom0's notice bar and with a label strip; it
    /// applies to qubes declared with `--qube` and to those added later with `add-qube`)
    /// [default: no qube may; a fullscreen request makes the window maximized].
    #[arg(long, value_name = "FILE")]
    pub window_policy: Option<PathBuf>,
    /// How often qubes' frames are acknowledged (their clients' frame callbacks), per
    /// second, as a display's refresh paces them. 0: acknowledge each frame as soon as it is
    /// drawn (for benchmarks of the frame path; clients then draw as fast as they can).
    #[arg(long, value_name = "HZ", default_value_t = 60, value_parser = clap::value_parser!(u32).range(0..=1000))]
    pub refresh_hz: u32,
}

impl Args {
    /// The time between two frame acknowledgements (`--refresh-hz`).
    pub fn refresh_interval(&self) -> std::time::Duration {
        match self.refresh_hz {
            0 => std::time::Duration::ZERO,
            hz => std::time::Duration::from_secs(1) / hz,
        }
    }
}

/// `--backend`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BackendKind {
    /// Offscreen (pixman), for tests and screenshots.
    Headless,
    /// A nested window (winit, GLES through EGL).
    Winit,
    /// The real desktop session, from a text console: DRM/KMS outputs, libinput input, the
    /// seat from libseat (logind or seatd).
    Drm,
}

/// `--size WxH`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutputSize(pub Size);

/// Largest output side accepted on the command line.
pub const MAX_OUTPUT_SIDE: i32 = 16384;

impl FromStr for OutputSize {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad =
            || format!("{s:?} is not WIDTHxHEIGHT (each {MIN_OUTPUT_SIDE}..={MAX_OUTPUT_SIDE})");
        let (w, h) = s.split_once('x').ok_or_else(bad)?;
        let side = |v: &str| {
            v.parse::<i32>()
                .ok()
                .filter(|v| (MIN_OUTPUT_SIDE..=MAX_OUTPUT_SIDE).contains(v))
        };
        Ok(OutputSize(Size::new(
            side(w).ok_or_else(bad)?,
            side(h).ok_or_else(bad)?,
        )))
    }
}

/// `--qube NAME:LABEL`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QubeSpec {
    /// The qube's name.
    pub name: QubeName,
    /// Its label.
    pub label: Label,
}

impl FromStr for QubeSpec {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (name, label) = s
            .split_once(':')
            .ok_or_else(|| format!("{s:?} is not NAME:LABEL"))?;
        let name = QubeName::new(name).map_err(|e| e.to_string())?;
        let label = label.parse::<Label>().map_err(|e| e.to_string())?;
        Ok(QubeSpec { name, label })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_full_command_line() {
        let a = Args::try_parse_from([
            "bulkhead-compositor",
            "--size",
            "800x600",
            "--qube",
            "work:blue",
            "--qube",
            "untrusted:red",
            "--host-agents",
            "--control-socket",
            "/tmp/c.sock",
        ])
        .unwrap();
        assert_eq!(a.backend, BackendKind::Headless);
        assert_eq!(a.size, OutputSize(Size::new(800, 600)));
        assert_eq!(a.qubes.len(), 2);
        assert_eq!(a.qubes[1].label, Label::Red);
        assert!(a.host_agents);
        assert_eq!(a.refresh_hz, 60);
        let unpaced = Args::try_parse_from(["bulkhead-compositor", "--refresh-hz", "0"]).unwrap();
        assert_eq!(unpaced.refresh_interval(), std::time::Duration::ZERO);
    }

    #[test]
    fn refuses_bad_values() {
        for bad in [
            &["--size", "0x10"][..],
            &["--size", "319x800"],
            &["--size", "10"],
            &["--size", "99999x10"],
            &["--qube", "work"],
            &["--qube", "work:Blue"],
            &["--qube", "1work:blue"],
            &["--backend", "kms"],
            &["--refresh-hz", "1001"],
        ] {
            let args = std::iter::once("bulkhead-compositor").chain(bad.iter().copied());
            assert!(Args::try_parse_from(args).is_err(), "{bad:?}");
        }
    }
}
