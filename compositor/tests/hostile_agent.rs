//! Hostile agents against the real compositor process (DESIGN.md: "a malformed message
//! closes that qube's connection, never the compositor").
//!
//! Each test starts `bulkhead-compositor` with two qubes. A well-behaved stand-in agent for
//! `good` shows a window and keeps sending frames; a stand-in for `bad` breaks one rule.
//! Afterwards: `bad` is disconnected (its setup socket closes, its windows are gone, the
//! reason is in the log), `good` still gets its frames acknowledged, and the compositor
//! still answers.

use std::io::Read;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bulkhead_compositor::control::{Request, Response, WindowInfo, send_requests};
use bulkhead_protocol::{
    AgentMessage, BufferDesc, Capabilities, Dom0Message, PROTOCOL_VERSION, PixelFormat, Rect, Size,
    WindowId, WindowKind,
};
use bulkhead_shm_transport::{Config, Endpoint, ImageLayout, Rect as ArenaRect, receive_handoff};

const TIMEOUT: Duration = Duration::from_secs(20);
/// Where the good qube's second buffer starts (after its first, 64×48×4 bytes, page-aligned).
const SECOND_BUFFER: u64 = 16384;

/// A compositor process in a private runtime directory; killed on drop.
struct Compositor {
    child: Child,
    dir: PathBuf,
}

impl Compositor {
    fn start(name: &str) -> Compositor {
        let dir = std::env::temp_dir().join(format!("bh-hostile-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let log = std::fs::File::create(dir.join("compositor.log")).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_bulkhead-compositor"))
            .args([
                "--qube",
                "good:blue",
                "--qube",
                "bad:red",
                "--size",
                "800x600",
            ])
            .arg("--control-socket")
            .arg(dir.join("control.sock"))
            .arg("--qube-socket-dir")
            .arg(dir.join("qubes"))
            .env("RUST_LOG", std::env::var("BH_LOG").unwrap_or("info".into()))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start the compositor");
        let c = Compositor { child, dir };
        c.wait_for(|| c.dir.join("qubes/qube-bad.sock").exists() && c.control(&Request::Qubes).ok);
        c
    }

    fn control(&self, request: &Request) -> Response {
        send_requests(
            &self.dir.join("control.sock"),
            std::slice::from_ref(request),
        )
        .map(|mut r| r.remove(0))
        .unwrap_or_else(|e| Response::error(e.to_string()))
    }

    fn windows(&self) -> Vec<WindowInfo> {
        self.control(&Request::ListWindows)
            .windows
            .unwrap_or_default()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("compositor.log")).unwrap_or_default()
    }

    fn wait_for(&self, mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + TIMEOUT;
        while !done() {
            assert!(
                Instant::now() < deadline,
                "timed out; compositor log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn socket(&self, qube: &str) -> PathBuf {
        self.dir.join(format!("qubes/qube-{qube}.sock"))
    }
}

impl Drop for Compositor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A stand-in agent speaking the protocol directly.
struct StandIn {
    stream: UnixStream,
    ep: Endpoint,
}

impl StandIn {
    fn connect(socket: &Path) -> StandIn {
        let stream = UnixStream::connect(socket).expect("connect");
        let handoff = receive_handoff(&stream).expect("handoff");
        let ep = Endpoint::open_agent(handoff, &Config::default()).expect("open region");
        StandIn { stream, ep }
    }

    fn send(&mut self, message: &AgentMessage) {
        let wire = message.encode_to_vec().expect("encodable");
        self.send_raw(&wire);
    }

    fn send_raw(&mut self, bytes: &[u8]) {
        // A disconnected peer stops reading: sending may then time out, which is fine.
        let _ = self.ep.send_blocking(bytes, Duration::from_secs(2));
    }

    fn hello(&mut self) {
        self.send(&AgentMessage::Hello {
            version: PROTOCOL_VERSION,
            capabilities: Capabilities::empty(),
        });
        match self.recv() {
            Some(Dom0Message::HelloAck { .. }) => {}
            other => panic!("expected HelloAck, got {other:?}"),
        }
    }

    fn recv(&mut self) -> Option<Dom0Message> {
        let bytes = self.ep.recv_blocking(TIMEOUT).ok()??;
        Some(
            Dom0Message::decode(&bytes)
                .expect("dom0 sends valid messages")
                .0,
        )
    }

    /// Waits for `FrameDone` of `serial`, skipping other messages.
    fn frame_done(&mut self, serial: u32) {
        let deadline = Instant::now() + TIMEOUT;
        while Instant::now() < deadline {
            if let Some(Dom0Message::FrameDone { serial: s, .. }) = self.recv() {
                if s == serial {
                    return;
                }
            }
        }
        panic!("no FrameDone for frame {serial}");
    }

    /// Creates toplevel `id` of `w`×`h` whose frames live at `offset`, shows frame 0.
    fn window(&mut self, id: u32, w: u32, h: u32, offset: u64) -> WindowId {
        let window = WindowId::new(id).unwrap();
        let size = Size {
            width: w,
            height: h,
        };
        self.send(&AgentMessage::CreateWindow {
            window,
            kind: WindowKind::Toplevel,
            size,
        });
        self.frame(window, 0, w, h, offset);
        self.send(&AgentMessage::Map { window });
        window
    }

    fn frame(&mut self, window: WindowId, serial: u32, w: u32, h: u32, offset: u64) {
        let buffer = buffer(offset, w, h);
        let layout = ImageLayout {
            width: w,
            height: h,
            stride: w * 4,
            bytes_per_pixel: 4,
        };
        let pixels = vec![0x80u8; (w * h * 4) as usize];
        let region = self.ep.arena().region(offset, buffer.byte_len()).unwrap();
        let all = ArenaRect {
            x: 0,
            y: 0,
            width: w,
            height: h,
        };
        region
            .write_rect(&layout, all, &pixels, (w * 4) as usize)
            .unwrap();
        let rects = vec![Rect { x: 0, y: 0, w, h }];
        self.send(&AgentMessage::Damage {
            window,
            serial,
            buffer,
            rects,
        });
    }

    /// Whether dom0 closed our setup socket within the timeout (it does on disconnect).
    fn was_disconnected(&mut self) -> bool {
        self.stream.set_read_timeout(Some(TIMEOUT)).unwrap();
        match self.stream.read(&mut [0u8; 1]) {
            Ok(0) => true,
            Ok(_) => false,
            Err(e) => !matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ),
        }
    }
}

fn buffer(offset: u64, w: u32, h: u32) -> BufferDesc {
    BufferDesc {
        offset,
        width: w,
        height: h,
        stride: w * 4,
        format: PixelFormat::Xrgb8888,
    }
}

/// Runs one hostile scenario and checks the outcome every scenario must have.
fn survive(name: &str, reason: &str, attack: impl FnOnce(&mut StandIn)) {
    let comp = Compositor::start(name);
    let mut good = StandIn::connect(&comp.socket("good"));
    good.hello();
    let gw = good.window(1, 64, 48, 0);
    good.frame_done(0);

    let mut bad = StandIn::connect(&comp.socket("bad"));
    attack(&mut bad);
    assert!(
        bad.was_disconnected(),
        "{name}: the hostile qube stays connected; log:\n{}",
        comp.log()
    );
    comp.wait_for(|| comp.windows().iter().all(|w| w.qube != "bad"));
    assert!(
        comp.log().contains(reason),
        "{name}: the log does not give the reason {reason:?}:\n{}",
        comp.log()
    );

    // The good qube keeps rendering: its next frame is taken and acknowledged.
    good.frame(gw, 1, 64, 48, SECOND_BUFFER);
    good.frame_done(1);
    let windows = comp.windows();
    assert!(
        windows.iter().any(|w| w.qube == "good" && w.visible),
        "{windows:?}"
    );

    // And the bad qube may connect again (a restarted agent) and work.
    drop(bad);
    let mut again = StandIn::connect(&comp.socket("bad"));
    again.hello();
    again.window(1, 32, 32, 0);
    again.frame_done(0);
}

#[test]
fn garbage_bytes() {
    survive("garbage", "malformed message", |bad| {
        bad.send_raw(b"\xff\xffthis is not a message")
    });
}

#[test]
fn message_before_hello() {
    survive("before-hello", "message before hello", |bad| {
        bad.send(&AgentMessage::Map {
            window: WindowId::new(1).unwrap(),
        });
    });
}

#[test]
fn hello_twice() {
    survive("hello-twice", "hello sent twice", |bad| {
        bad.hello();
        bad.send(&AgentMessage::Hello {
            version: PROTOCOL_VERSION,
            capabilities: Capabilities::empty(),
        });
    });
}

#[test]
fn window_it_does_not_own() {
    // Window 1 exists in the good qube; from the bad qube it is unknown.
    survive("foreign-window", "no window 1", |bad| {
        bad.hello();
        bad.send(&AgentMessage::SetTitle {
            window: WindowId::new(1).unwrap(),
            title: "x".into(),
        });
    });
}

#[test]
fn buffer_outside_the_arena() {
    survive("outside-arena", "frame buffer", |bad| {
        bad.hello();
        let window = WindowId::new(5).unwrap();
        let size = Size {
            width: 64,
            height: 64,
        };
        bad.send(&AgentMessage::CreateWindow {
            window,
            kind: WindowKind::Toplevel,
            size,
        });
        let arena = bad.ep.arena().size();
        let rects = vec![Rect {
            x: 0,
            y: 0,
            w: 64,
            h: 64,
        }];
        bad.send(&AgentMessage::Damage {
            window,
            serial: 0,
            buffer: buffer(arena, 64, 64),
            rects,
        });
    });
}

#[test]
fn frames_without_waiting() {
    survive(
        "in-flight",
        "before the previous one was acknowledged",
        |bad| {
            bad.hello();
            let window = bad.window(2, 32, 32, 0);
            bad.frame(window, 1, 32, 32, 0);
            bad.frame(window, 2, 32, 32, 0);
        },
    );
}

#[test]
fn windows_sharing_one_big_buffer() {
    // Every window points at the same 16 MiB of arena: dom0 would hold a copy each.
    survive("pixel-budget", "over the qube's budget", |bad| {
        bad.hello();
        for id in 1..=8 {
            bad.window(id, 2048, 2048, 0);
        }
    });
}

#[test]
fn popup_of_an_unknown_parent() {
    survive("orphan-popup", "no window 9", |bad| {
        bad.hello();
        let kind = WindowKind::Popup {
            parent: WindowId::new(9).unwrap(),
            x: 0,
            y: 0,
        };
        let size = Size {
            width: 10,
            height: 10,
        };
        bad.send(&AgentMessage::CreateWindow {
            window: WindowId::new(3).unwrap(),
            kind,
            size,
        });
    });
}

#[test]
fn message_flood() {
    survive("flood", "messages per second", |bad| {
        bad.hello();
        let window = WindowId::new(4).unwrap();
        let size = Size {
            width: 10,
            height: 10,
        };
        bad.send(&AgentMessage::CreateWindow {
            window,
            kind: WindowKind::Toplevel,
            size,
        });
        let title = AgentMessage::SetTitle {
            window,
            title: "spam".into(),
        }
        .encode_to_vec()
        .unwrap();
        // Flood until dom0 hangs up (checked every thousand messages) or refuses more.
        bad.stream.set_nonblocking(true).unwrap();
        'flood: for _ in 0..200 {
            for _ in 0..1000 {
                if bad.ep.send(&title).is_err() {
                    break 'flood;
                }
            }
            let _ = bad.ep.flush();
            if matches!(bad.stream.read(&mut [0u8; 1]), Ok(0)) {
                break;
            }
        }
        bad.stream.set_nonblocking(false).unwrap();
    });
}
