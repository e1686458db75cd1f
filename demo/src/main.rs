//! `bulkhead-demo`: what Bulkhead does today, in one command.
//!
//! Until the compositor and the guest agent land, this runs the foundation on its own: a
//! stand-in guest agent in a second process sends window frames through the real
//! shared-memory channel with the real protocol; the stand-in dom0 validates every message
//! and buffer reference, reads the damaged pixels from the arena and acknowledges each frame.
//! Then it shows the trust labels dom0 draws. Nothing here runs in a virtual machine.
#![forbid(unsafe_code)]
// A command-line program: its output is for the user. Its test pattern wraps colour
// channels on purpose.
#![allow(
    clippy::print_stdout,
    clippy::print_stderr,
    clippy::cast_possible_truncation
)]

use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::process::{Command, ExitCode};
use std::time::Duration;

use anyhow::{Context, Result, bail};
use bulkhead_border_theme::{Label, QubeName, Theme, format_title};
use bulkhead_protocol::{
    AgentMessage, BufferDesc, Capabilities, Dom0Message, OutputInfo, PROTOCOL_VERSION, PixelFormat,
    Rect, Size, WindowId, WindowKind, negotiate,
};
use bulkhead_shm_transport::{
    Config, Endpoint, ImageLayout, Rect as ArenaRect, receive_handoff, send_handoff,
};

const TIMEOUT: Duration = Duration::from_secs(10);
const WIDTH: u32 = 1920;
const HEIGHT: u32 = 1080;
const STRIDE: u32 = WIDTH * 4;
const FRAMES: u32 = 300;
const AGENT_ARG: &str = "--stand-in-agent";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let result = match args.get(1).map(String::as_str) {
        Some(AGENT_ARG) => args
            .get(2)
            .context("socket path")
            .and_then(|p| agent(Path::new(p))),
        Some(other) => Err(anyhow::anyhow!(
            "unknown argument {other:?} (the demo takes none)"
        )),
        None => dom0(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bulkhead-demo: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn image() -> ImageLayout {
    ImageLayout {
        width: WIDTH,
        height: HEIGHT,
        stride: STRIDE,
        bytes_per_pixel: 4,
    }
}

fn arena_rect(r: Rect) -> ArenaRect {
    ArenaRect {
        x: r.x,
        y: r.y,
        width: r.w,
        height: r.h,
    }
}

/// Frame `n`: even frames repaint the whole window, odd ones a 64×64 square.
fn damage_of(n: u32) -> Rect {
    if n % 2 == 0 {
        Rect {
            x: 0,
            y: 0,
            w: WIDTH,
            h: HEIGHT,
        }
    } else {
        Rect {
            x: (n * 37) % (WIDTH - 64),
            y: (n * 23) % (HEIGHT - 64),
            w: 64,
            h: 64,
        }
    }
}

fn send(ep: &mut Endpoint, msg: &impl Encode) -> Result<()> {
    let wire = msg.to_wire()?;
    ep.send_blocking(&wire, TIMEOUT)
        .context("sending over the shared-memory ring")
}

trait Encode {
    fn to_wire(&self) -> Result<Vec<u8>>;
}
impl Encode for AgentMessage {
    fn to_wire(&self) -> Result<Vec<u8>> {
        Ok(self.encode_to_vec()?)
    }
}
impl Encode for Dom0Message {
    fn to_wire(&self) -> Result<Vec<u8>> {
        Ok(self.encode_to_vec()?)
    }
}

/// The stand-in agent (second process): one window, `FRAMES` frames paced by `FrameDone`.
fn agent(socket: &Path) -> Result<()> {
    let stream = UnixStream::connect(socket).context("connecting to dom0")?;
    let handoff = receive_handoff(&stream)?;
    let mut ep = Endpoint::open_agent(handoff, &Config::default())?;
    send(
        &mut ep,
        &AgentMessage::Hello {
            version: PROTOCOL_VERSION,
            capabilities: Capabilities::CLIPBOARD,
        },
    )?;
    let window = WindowId::new(1).context("window id")?;
    send(
        &mut ep,
        &AgentMessage::CreateWindow {
            window,
            kind: WindowKind::Toplevel,
            size: Size {
                width: WIDTH,
                height: HEIGHT,
            },
        },
    )?;
    send(
        &mut ep,
        &AgentMessage::SetTitle {
            window,
            title: "gradient".into(),
        },
    )?;
    let slot = (u64::from(STRIDE) * u64::from(HEIGHT)).div_ceil(4096) * 4096;
    let mut pixels = vec![0u8; (STRIDE * HEIGHT) as usize];
    for n in 0..FRAMES {
        let rect = damage_of(n);
        for y in rect.y..rect.y + rect.h {
            let row = (y * STRIDE) as usize;
            for x in rect.x..rect.x + rect.w {
                let at = row + (x * 4) as usize;
                pixels[at..at + 4].copy_from_slice(&[(x + n) as u8, (y + n) as u8, n as u8, 0xff]);
            }
        }
        let buffer = BufferDesc {
            offset: u64::from(n % 2) * slot,
            width: WIDTH,
            height: HEIGHT,
            stride: STRIDE,
            format: PixelFormat::Xrgb8888,
        };
        ep.arena()
            .region(buffer.offset, buffer.byte_len())?
            .write_rect(&image(), arena_rect(rect), &pixels, STRIDE as usize)?;
        send(
            &mut ep,
            &AgentMessage::Damage {
                window,
                serial: n,
                buffer,
                rects: vec![rect],
            },
        )?;
        loop {
            let bytes = ep.recv_blocking(TIMEOUT)?.context("dom0 went quiet")?;
            match Dom0Message::decode(&bytes)?.0 {
                Dom0Message::FrameDone { serial, .. } if serial == n => break,
                Dom0Message::HelloAck { .. } => {}
                other => bail!("unexpected {other:?}"),
            }
        }
    }
    send(&mut ep, &AgentMessage::Destroy { window })
}

/// The stand-in dom0: validates everything, reads pixels, measures.
fn dom0() -> Result<()> {
    println!("Bulkhead demo — the foundation (protocol, shared-memory transport, labels).");
    println!("The compositor and the guest agent (real apps in bordered windows) are the next");
    println!("milestone. NOTHING HERE RUNS IN A VIRTUAL MACHINE: this isolates nothing.\n");

    let dir = std::env::temp_dir().join(format!("bulkhead-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let socket = dir.join("qube-work.sock");
    let listener = UnixListener::bind(&socket).context("binding the qube socket")?;
    let exe = std::env::current_exe()?;
    let mut child = Command::new(exe).arg(AGENT_ARG).arg(&socket).spawn()?;
    let (stream, _) = listener.accept()?;
    let (mut ep, handoff) = Endpoint::create_dom0(&Config::default())?;
    send_handoff(&stream, &handoff)?;
    drop(handoff);
    println!(
        "qube 'work' (stand-in agent, pid {}): shared region with a {} MiB pixel arena",
        child.id(),
        ep.arena().size() >> 20
    );

    let mut screen = vec![0u8; (STRIDE * HEIGHT) as usize];
    let (mut frames, mut bytes_read) = (0u32, 0u64);
    loop {
        let raw = ep.recv_blocking(TIMEOUT)?.context("the agent went quiet")?;
        match AgentMessage::decode(&raw)?.0 {
            AgentMessage::Hello { version, .. } => {
                let version = negotiate(PROTOCOL_VERSION, version)?;
                println!(
                    "hello: protocol {}.{} negotiated",
                    version.major, version.minor
                );
                send(
                    &mut ep,
                    &Dom0Message::HelloAck {
                        version,
                        capabilities: Capabilities::CLIPBOARD,
                        output: OutputInfo {
                            width: 1920,
                            height: 1080,
                            scale_120: 120,
                            refresh_mhz: 0,
                        },
                    },
                )?;
            }
            AgentMessage::CreateWindow { size, .. } => {
                println!("window: {}×{} toplevel", size.width, size.height);
            }
            AgentMessage::SetTitle { title, .. } => {
                let qube = QubeName::new("work")?;
                println!("title as dom0 draws it: {}", format_title(&qube, &title));
            }
            AgentMessage::Damage {
                window,
                serial,
                buffer,
                rects,
            } => {
                let region = ep.arena().region(buffer.offset, buffer.byte_len())?;
                for r in &rects {
                    region.read_rect(&image(), arena_rect(*r), &mut screen, STRIDE as usize)?;
                    bytes_read += u64::from(r.w) * u64::from(r.h) * 4;
                }
                send(&mut ep, &Dom0Message::FrameDone { window, serial })?;
                frames += 1;
            }
            AgentMessage::Destroy { .. } => break,
            other => bail!("unexpected {other:?}"),
        }
    }
    if !child.wait()?.success() {
        bail!("the stand-in agent failed");
    }
    let _ = std::fs::remove_dir_all(&dir);
    println!(
        "{frames} frames (1920×1080 full repaints and 64×64 squares, double-buffered, one in \
         flight) validated and read from the arena: {} MiB of damaged pixels, each read once",
        bytes_read >> 20
    );
    println!("(throughput figures: cargo bench -p bulkhead-shm-transport)");

    println!("\nThe labels dom0 frames windows with (default theme):");
    let theme = Theme::default();
    for label in Label::ALL {
        let (bg, fg) = (theme.color(label), theme.text_color(label));
        println!(
            "  \x1b[48;2;{};{};{}m\x1b[38;2;{};{};{}m  [{label}] a window title  \x1b[0m  {bg}",
            bg.r, bg.g, bg.b, fg.r, fg.g, fg.b
        );
    }
    Ok(())
}
