//! The agent binary in host mode over the real shared-memory transport: a stand-in dom0
//! hands over the region on a Unix socket, answers Hello, reads weston-simple-shm's frames
//! from the arena and paces them; hanging up stops the agent.

mod common;

use std::os::unix::net::UnixListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bulkhead_protocol::{
    AgentMessage, Capabilities, Dom0Message, OutputInfo, PROTOCOL_VERSION, WindowKind,
};
use bulkhead_shm_transport::{Config, Endpoint, ImageLayout, Rect, send_handoff};

const TIMEOUT: Duration = Duration::from_secs(60);

struct Reaper(Child);

impl Drop for Reaper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn send(endpoint: &mut Endpoint, message: &Dom0Message) {
    let mut wire = Vec::new();
    message.encode(&mut wire).expect("valid message");
    endpoint
        .send_blocking(&wire, TIMEOUT)
        .expect("send to the agent");
}

fn recv(endpoint: &mut Endpoint) -> AgentMessage {
    let bytes = endpoint
        .recv_blocking(TIMEOUT)
        .expect("ring healthy")
        .expect("the agent went quiet");
    let (message, rest) = AgentMessage::decode(&bytes).expect("a valid message");
    assert!(rest.is_empty(), "one message per ring message");
    message
}

fn wait_exit(child: &mut Child) -> Option<std::process::ExitStatus> {
    let deadline = Instant::now() + TIMEOUT;
    while Instant::now() < deadline {
        if let Some(status) = child.try_wait().expect("wait") {
            return Some(status);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

#[test]
fn weston_simple_shm_through_the_shared_memory_transport() {
    if Command::new("weston-simple-shm")
        .arg("--help")
        .output()
        .is_err()
    {
        common::skip("weston-simple-shm is not installed (Debian's weston)");
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let socket = dir.path().join("dom0.sock");
    let display = dir.path().join("wayland-agent");
    let listener = UnixListener::bind(&socket).expect("bind dom0 socket");
    let agent = Command::new(env!("CARGO_BIN_EXE_bulkhead-guest-agent"))
        .arg("--connect")
        .arg(&socket)
        .arg("--wayland-display")
        .arg(&display)
        .env("XDG_RUNTIME_DIR", dir.path())
        .env("RUST_LOG", "warn")
        .spawn()
        .expect("agent binary");
    let mut agent = Reaper(agent);
    let (stream, _) = listener.accept().expect("the agent connects");
    let (mut dom0, handoff) = Endpoint::create_dom0(&Config::default()).expect("region");
    send_handoff(&stream, &handoff).expect("handoff");
    drop(handoff);

    let AgentMessage::Hello { version, .. } = recv(&mut dom0) else {
        panic!("Hello comes first");
    };
    assert_eq!(version, PROTOCOL_VERSION);
    send(
        &mut dom0,
        &Dom0Message::HelloAck {
            version: PROTOCOL_VERSION,
            capabilities: Capabilities::empty(),
            output: OutputInfo {
                width: 1280,
                height: 720,
                scale_120: 120,
                refresh_mhz: 60_000,
            },
        },
    );

    let deadline = Instant::now() + TIMEOUT;
    while !display.exists() {
        assert!(
            Instant::now() < deadline,
            "the agent's Wayland socket appears"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    let client = Command::new("weston-simple-shm")
        .env("WAYLAND_DISPLAY", &display)
        .env("XDG_RUNTIME_DIR", dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("weston-simple-shm");
    let mut client = Reaper(client);

    let mut window = None;
    let mut frames = 0;
    let mut mapped = false;
    while frames < 10 || !mapped {
        match recv(&mut dom0) {
            AgentMessage::CreateWindow {
                window: id,
                kind,
                size,
            } => {
                assert_eq!(kind, WindowKind::Toplevel);
                assert_eq!((size.width, size.height), (250, 250));
                window = Some(id);
            }
            AgentMessage::Map { window: id } => {
                assert_eq!(Some(id), window);
                mapped = true;
            }
            AgentMessage::Damage {
                window: id,
                serial,
                buffer,
                rects,
            } => {
                assert_eq!(Some(id), window, "damage for the created window");
                assert!(!rects.is_empty());
                let layout = ImageLayout {
                    width: buffer.width,
                    height: buffer.height,
                    stride: buffer.stride,
                    bytes_per_pixel: 4,
                };
                let region = dom0
                    .arena()
                    .region(buffer.offset, buffer.byte_len())
                    .expect("buffer inside the arena");
                let mut pixels = vec![0u8; (buffer.stride * buffer.height) as usize];
                let whole = Rect {
                    x: 0,
                    y: 0,
                    width: buffer.width,
                    height: buffer.height,
                };
                region
                    .read_rect(&layout, whole, &mut pixels, buffer.stride as usize)
                    .expect("read the frame");
                // The white border simple-shm leaves around its pattern.
                assert_eq!(&pixels[..4], &[0xff; 4], "top-left pixel is opaque white");
                frames += 1;
                send(&mut dom0, &Dom0Message::FrameDone { window: id, serial });
            }
            AgentMessage::SetTitle { title, .. } => assert_eq!(title, "simple-shm"),
            _ => {}
        }
    }

    client.0.kill().expect("kill the client");
    let _ = client.0.wait();
    loop {
        match recv(&mut dom0) {
            AgentMessage::Destroy { window: id } => {
                assert_eq!(Some(id), window);
                break;
            }
            AgentMessage::Damage { window, serial, .. } => {
                send(&mut dom0, &Dom0Message::FrameDone { window, serial });
            }
            _ => {}
        }
    }

    // dom0 hangs up: the agent stops on its own.
    drop(stream);
    drop(dom0);
    let status = wait_exit(&mut agent.0).expect("the agent exits after dom0 hangs up");
    assert!(status.success(), "clean exit: {status}");
}
