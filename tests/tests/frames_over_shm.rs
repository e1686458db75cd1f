//! The foundation end to end: a stand-in guest agent in a second process talks the real
//! protocol over the real shared-memory channel; dom0's side validates every message and
//! every buffer reference, reads the damaged pixels straight from the arena and checks them.
//!
//! The child role runs when `BULKHEAD_TEST_ROLE=agent` is set: the test binary re-executes
//! itself with only the `agent_child` test selected.

use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::time::Duration;

use bulkhead_protocol::{
    AgentMessage, BufferDesc, Capabilities, Dom0Message, MalformedReason, OutputInfo,
    PROTOCOL_VERSION, PixelFormat, Rect, Size, WindowId, WindowKind, negotiate,
};
use bulkhead_shm_transport::{
    ArenaError, Config, Endpoint, ImageLayout, Rect as ArenaRect, receive_handoff, send_handoff,
};

const TIMEOUT: Duration = Duration::from_secs(20);
const WIDTH: u32 = 320;
const HEIGHT: u32 = 200;
const STRIDE: u32 = WIDTH * 4;
const FRAMES: u32 = 40;

/// The pixel the agent writes at (x, y) in frame `n`: every frame differs everywhere.
fn pattern(x: u32, y: u32, n: u32) -> u32 {
    0xff00_0000 | (x.wrapping_mul(7) ^ y.wrapping_mul(13) ^ n.wrapping_mul(0x01_0101)) & 0xff_ffff
}

/// Frame `n` damages a moving 64×48 square, clamped inside the window.
fn damage_of(n: u32) -> Rect {
    Rect {
        x: (n * 17) % (WIDTH - 64),
        y: (n * 11) % (HEIGHT - 48),
        w: 64,
        h: 48,
    }
}

fn buffer_of(n: u32) -> BufferDesc {
    // Double buffering: even frames in buffer 0, odd frames in buffer 1.
    let size = u64::from(STRIDE) * u64::from(HEIGHT);
    let slot = size.div_ceil(4096) * 4096;
    BufferDesc {
        offset: u64::from(n % 2) * slot,
        width: WIDTH,
        height: HEIGHT,
        stride: STRIDE,
        format: PixelFormat::Argb8888,
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

fn send(ep: &mut Endpoint, msg: &AgentMessage) {
    let mut wire = Vec::new();
    msg.encode(&mut wire).expect("encodable");
    ep.send_blocking(&wire, TIMEOUT).expect("send");
}

fn recv_agent_message(dom0: &mut Endpoint) -> AgentMessage {
    let bytes = dom0
        .recv_blocking(TIMEOUT)
        .expect("recv")
        .expect("a message in time");
    let (msg, rest) = AgentMessage::decode(&bytes).expect("well-formed message");
    assert!(
        rest.is_empty(),
        "one transport message carries one protocol message"
    );
    msg
}

fn recv_dom0_message(agent: &mut Endpoint) -> Dom0Message {
    let bytes = agent
        .recv_blocking(TIMEOUT)
        .expect("recv")
        .expect("a message in time");
    let (msg, rest) = Dom0Message::decode(&bytes).expect("well-formed message");
    assert!(rest.is_empty());
    msg
}

/// The stand-in agent: hello, one window, `FRAMES` damaged frames paced by `FrameDone`.
fn run_agent(socket: &Path) {
    let stream = UnixStream::connect(socket).expect("connect to dom0");
    let handoff = receive_handoff(&stream).expect("handoff");
    let mut ep = Endpoint::open_agent(handoff, &Config::default()).expect("open region");
    send(
        &mut ep,
        &AgentMessage::Hello {
            version: PROTOCOL_VERSION,
            capabilities: Capabilities::CLIPBOARD,
        },
    );
    let Dom0Message::HelloAck { .. } = recv_dom0_message(&mut ep) else {
        panic!("expected HelloAck first");
    };
    let window = WindowId::new(7).expect("non-zero");
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
    );
    send(
        &mut ep,
        &AgentMessage::SetTitle {
            window,
            title: "frames".into(),
        },
    );
    let mut pixels = vec![0u8; (STRIDE * HEIGHT) as usize];
    for n in 0..FRAMES {
        let buffer = buffer_of(n);
        // The first frame of each buffer is complete; later ones carry only their damage
        // (this buffer also misses the other buffer's last damage: buffer age 2).
        let rects = if n < 2 {
            vec![Rect {
                x: 0,
                y: 0,
                w: WIDTH,
                h: HEIGHT,
            }]
        } else {
            vec![damage_of(n - 1), damage_of(n)]
        };
        for y in 0..HEIGHT {
            for x in 0..WIDTH {
                let at = (y * STRIDE + x * 4) as usize;
                pixels[at..at + 4].copy_from_slice(&pattern(x, y, n).to_le_bytes());
            }
        }
        let region = ep
            .arena()
            .region(buffer.offset, buffer.byte_len())
            .expect("buffer inside arena");
        for r in &rects {
            region
                .write_rect(&image(), arena_rect(*r), &pixels, STRIDE as usize)
                .expect("write");
        }
        send(
            &mut ep,
            &AgentMessage::Damage {
                window,
                serial: n,
                buffer,
                rects,
            },
        );
        if n == 0 {
            send(&mut ep, &AgentMessage::Map { window });
        }
        match recv_dom0_message(&mut ep) {
            Dom0Message::FrameDone { window: w, serial } => {
                assert_eq!((w, serial), (window, n), "frames are acknowledged in order");
            }
            other => panic!("expected FrameDone, got {other:?}"),
        }
    }
    send(&mut ep, &AgentMessage::Destroy { window });
}

#[test]
fn agent_child() {
    if std::env::var("BULKHEAD_TEST_ROLE").as_deref() != Ok("agent") {
        return; // only meaningful as the child process of `frames_cross_the_vm_boundary`
    }
    let socket = PathBuf::from(std::env::var("BULKHEAD_TEST_SOCKET").expect("socket path"));
    run_agent(&socket);
}

fn spawn_agent(socket: &Path) -> Child {
    Command::new(std::env::current_exe().expect("test binary"))
        .args(["agent_child", "--exact", "--nocapture", "--test-threads=1"])
        .env("BULKHEAD_TEST_ROLE", "agent")
        .env("BULKHEAD_TEST_SOCKET", socket)
        // The child's own harness summary would read like a second test run; its panics
        // (stderr) still show.
        .stdout(std::process::Stdio::null())
        .spawn()
        .expect("spawn the agent process")
}

fn socket_path(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("bulkhead-test-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.join("qube.sock")
}

/// dom0's side of one connection: create the region, hand it over, return the endpoint.
fn accept_agent(listener: &UnixListener) -> Endpoint {
    let (stream, _) = listener.accept().expect("agent connects");
    let (ep, handoff) = Endpoint::create_dom0(&Config::default()).expect("create region");
    send_handoff(&stream, &handoff).expect("hand over the region");
    ep
}

#[test]
fn frames_cross_the_vm_boundary() {
    let path = socket_path("frames");
    let listener = UnixListener::bind(&path).expect("bind");
    let mut child = spawn_agent(&path);
    let mut dom0 = accept_agent(&listener);

    let AgentMessage::Hello { version, .. } = recv_agent_message(&mut dom0) else {
        panic!("expected Hello first");
    };
    let version = negotiate(PROTOCOL_VERSION, version).expect("same major version");
    let ack = Dom0Message::HelloAck {
        version,
        capabilities: Capabilities::CLIPBOARD,
        output: OutputInfo {
            width: 1280,
            height: 800,
            scale_120: 120,
            refresh_mhz: 60_000,
        },
    };
    let mut wire = Vec::new();
    ack.encode(&mut wire).expect("encodable");
    dom0.send_blocking(&wire, TIMEOUT).expect("send ack");

    // dom0's copy of the window: what it would composite.
    let mut screen = vec![0u8; (STRIDE * HEIGHT) as usize];
    let mut frames = 0;
    let mut mapped = false;
    loop {
        match recv_agent_message(&mut dom0) {
            AgentMessage::CreateWindow { size, .. } => {
                assert_eq!(
                    size,
                    Size {
                        width: WIDTH,
                        height: HEIGHT
                    }
                );
            }
            AgentMessage::SetTitle { title, .. } => assert_eq!(title, "frames"),
            AgentMessage::Map { .. } => mapped = true,
            AgentMessage::Damage {
                window,
                serial,
                buffer,
                rects,
            } => {
                assert_eq!(serial, frames, "no frame lost, duplicated or reordered");
                // Validate the buffer reference against dom0's own idea of the arena.
                let region = dom0
                    .arena()
                    .region(buffer.offset, buffer.byte_len())
                    .expect("in the arena");
                for r in &rects {
                    region
                        .read_rect(&image(), arena_rect(*r), &mut screen, STRIDE as usize)
                        .expect("read");
                }
                // Every pixel dom0 now holds must be this frame's, inside and outside the
                // damage (outside, the buffer-age-2 damage kept it current).
                for y in 0..HEIGHT {
                    for x in 0..WIDTH {
                        let at = (y * STRIDE + x * 4) as usize;
                        let got = u32::from_le_bytes(screen[at..at + 4].try_into().unwrap());
                        let want = if rects
                            .iter()
                            .any(|r| x >= r.x && x < r.x + r.w && y >= r.y && y < r.y + r.h)
                        {
                            pattern(x, y, serial)
                        } else {
                            got // not damaged: unchanged, checked by the frames that damaged it
                        };
                        assert_eq!(got, want, "pixel ({x},{y}) of frame {serial}");
                    }
                }
                let done = Dom0Message::FrameDone { window, serial };
                wire.clear();
                done.encode(&mut wire).expect("encodable");
                dom0.send_blocking(&wire, TIMEOUT).expect("frame done");
                frames += 1;
            }
            AgentMessage::Destroy { .. } => break,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(mapped);
    assert_eq!(frames, FRAMES);
    assert!(
        child.wait().expect("agent exits").success(),
        "the agent saw what it expected"
    );
    let _ = std::fs::remove_dir_all(path.parent().unwrap());
}

#[test]
fn hostile_references_are_refused_by_dom0() {
    // A buffer the decoder accepts (aligned, sane size) that points past the arena: only
    // dom0's own arena check can catch it, and it does, before any pixel is read.
    let (dom0, _agent) = bulkhead_shm_transport::channel_pair(&Config {
        arena_size: 1 << 20,
        ..Config::default()
    })
    .expect("pair");
    let buffer = BufferDesc {
        offset: 1 << 20,
        width: 64,
        height: 64,
        stride: 256,
        format: PixelFormat::Xrgb8888,
    };
    let msg = AgentMessage::Damage {
        window: WindowId::new(1).unwrap(),
        serial: 0,
        buffer,
        rects: vec![Rect {
            x: 0,
            y: 0,
            w: 64,
            h: 64,
        }],
    };
    let mut wire = Vec::new();
    msg.encode(&mut wire).unwrap();
    let (AgentMessage::Damage { buffer, .. }, _) = AgentMessage::decode(&wire).unwrap() else {
        unreachable!()
    };
    assert!(matches!(
        dom0.arena().region(buffer.offset, buffer.byte_len()),
        Err(ArenaError::RegionOutOfBounds { .. })
    ));

    // A damage rectangle outside its buffer never gets past the decoder.
    let mut bad = wire.clone();
    let rect_x = bad.len() - 16; // the last rectangle's x
    bad[rect_x..rect_x + 4].copy_from_slice(&60u32.to_le_bytes());
    assert!(matches!(
        AgentMessage::decode(&bad),
        Err(bulkhead_protocol::DecodeError::Malformed(
            MalformedReason::RectOutsideBuffer
        ))
    ));
}
