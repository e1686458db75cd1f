//! The compositor process against stand-in agents: `bulkhead-compositor` (headless, 800×600)
//! with qubes `good` (blue) and `bad` (red), and agents that speak the protocol directly over
//! the real shared-memory transport, so a test can send anything and see every message dom0
//! sends back. Used by the hostile-agent tests.

use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::FileExt;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bulkhead_compositor::backend::Screenshot;
use bulkhead_compositor::control::{ClipboardInfo, Request, Response, WindowInfo, send_requests};
use bulkhead_protocol::{
    AgentMessage, BufferDesc, Capabilities, Dom0Message, PROTOCOL_VERSION, PixelFormat, Rect, Size,
    WindowId, WindowKind,
};
use bulkhead_shm_transport::{Config, Endpoint, ImageLayout, Rect as ArenaRect, receive_handoff};

/// How long anything may take.
pub const TIMEOUT: Duration = Duration::from_secs(20);
/// The output size of the compositor under test.
pub const OUTPUT: (i32, i32) = (800, 600);

/// A compositor process in a private runtime directory; killed on drop.
pub struct Compositor {
    child: Child,
    dir: tempfile::TempDir,
}

impl Compositor {
    /// Starts it with qubes `good:blue` and `bad:red` and `extra` arguments (a policy file,
    /// …). `BH_LOG` overrides the log filter (default `info`).
    pub fn start(extra: &[&str]) -> Compositor {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = File::create(dir.path().join("compositor.log")).unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_bulkhead-compositor"))
            .args([
                "--qube",
                "good:blue",
                "--qube",
                "bad:red",
                "--size",
                &format!("{}x{}", OUTPUT.0, OUTPUT.1),
            ])
            .arg("--control-socket")
            .arg(dir.path().join("control.sock"))
            .arg("--qube-socket-dir")
            .arg(dir.path().join("qubes"))
            .args(extra)
            .env("RUST_LOG", std::env::var("BH_LOG").unwrap_or("info".into()))
            .env("XKB_DEFAULT_LAYOUT", "us")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start the compositor");
        let c = Compositor { child, dir };
        c.wait_for("the compositor", || {
            c.socket("bad").exists() && c.control(Request::Qubes).ok
        });
        c
    }

    /// Its private directory (policy files may go there).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Where qube `qube`'s agent connects.
    pub fn socket(&self, qube: &str) -> PathBuf {
        self.dir.path().join(format!("qubes/qube-{qube}.sock"))
    }

    /// One control request (an error response if the socket does not answer).
    pub fn control(&self, request: Request) -> Response {
        send_requests(&self.dir.path().join("control.sock"), &[request])
            .map(|mut r| r.remove(0))
            .unwrap_or_else(|e| Response::error(e.to_string()))
    }

    /// Every window, bottom to top.
    pub fn windows(&self) -> Vec<WindowInfo> {
        self.control(Request::ListWindows)
            .windows
            .unwrap_or_default()
    }

    /// The visible windows of `qube`, bottom to top.
    pub fn windows_of(&self, qube: &str) -> Vec<WindowInfo> {
        self.windows()
            .into_iter()
            .filter(|w| w.qube == qube && w.visible)
            .collect()
    }

    /// What dom0's clipboard holds.
    pub fn clipboard(&self) -> ClipboardInfo {
        *self.control(Request::Clipboard).clipboard.unwrap()
    }

    /// The notices on screen.
    pub fn notices(&self) -> Vec<String> {
        self.control(Request::Notices).notices.unwrap_or_default()
    }

    /// Injects key presses and releases (evdev codes).
    pub fn keys(&self, keys: &[(u32, bool)]) {
        for (keycode, pressed) in keys {
            assert!(
                self.control(Request::Key {
                    keycode: *keycode,
                    pressed: *pressed
                })
                .ok
            );
        }
    }

    /// Clicks `x`, `y` on the output.
    pub fn click(&self, x: i32, y: i32) {
        assert!(self.control(Request::Click { x, y, button: None }).ok);
    }

    /// Clicks the qube's first window near its top-left (`false`) or bottom-right corner
    /// and checks that it got the focus.
    pub fn click_qube(&self, qube: &str, bottom_right: bool) {
        let windows = self.windows();
        let w = windows.iter().find(|w| w.qube == qube).expect("window");
        let g = w.geometry;
        let (x, y) = if bottom_right {
            (g.x + g.w - 2, g.y + g.h - 2)
        } else {
            (g.x + 2, g.y + 2)
        };
        self.click(x, y);
        let windows = self.windows();
        assert!(
            windows.iter().any(|w| w.qube == qube && w.focused),
            "{qube} focused: {windows:#?}"
        );
    }

    /// A screenshot through the control socket, also kept in the test artifacts.
    pub fn screenshot(&self, name: &str) -> Screenshot {
        let path = self.dir.path().join(name);
        let r = self.control(Request::Screenshot { path: path.clone() });
        assert!(r.ok, "screenshot: {r:?}");
        let _ = std::fs::copy(&path, super::artifacts().join(name));
        super::read_png(&path)
    }

    /// The compositor's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("compositor.log")).unwrap_or_default()
    }

    /// Waits until `done`, or fails with the log.
    pub fn wait_for(&self, what: &str, mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + TIMEOUT;
        while !done() {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; compositor log:\n{}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Whether the process still runs.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Compositor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A stand-in agent speaking the protocol directly.
pub struct StandIn {
    /// The setup socket: dom0 closes it when it drops the connection.
    pub stream: UnixStream,
    /// The shared-memory endpoint.
    pub ep: Endpoint,
    /// The byte every pixel of its frames is filled with (XRGB: a grey).
    pub fill: u8,
    /// Messages from dom0 read while waiting for something else, oldest first.
    pub seen: Vec<Dom0Message>,
    /// The region's memfd, for raw writes a peer with write access can make.
    region: File,
    /// dom0's doorbell (what the agent rings after publishing).
    bell: File,
}

impl StandIn {
    /// Connects to a qube's socket and maps the region dom0 hands over.
    pub fn connect(socket: &Path) -> StandIn {
        let stream = UnixStream::connect(socket).expect("connect");
        let handoff = receive_handoff(&stream).expect("handoff");
        let region = File::from(handoff.memfd.try_clone().expect("dup the memfd"));
        let bell = File::from(handoff.dom0_bell.try_clone().expect("dup the doorbell"));
        let ep = Endpoint::open_agent(handoff, &Config::default()).expect("open region");
        StandIn {
            stream,
            ep,
            fill: 0x80,
            seen: Vec::new(),
            region,
            bell,
        }
    }

    /// Writes `bytes` at `offset` of the shared region, behind the endpoint's back.
    pub fn poke(&self, offset: usize, bytes: &[u8]) {
        self.region
            .write_all_at(bytes, offset as u64)
            .expect("write the region");
    }

    /// Reads the little-endian word at `offset` of the shared region.
    pub fn peek_u32(&self, offset: usize) -> u32 {
        let mut word = [0; 4];
        self.region
            .read_exact_at(&mut word, offset as u64)
            .expect("read the region");
        u32::from_le_bytes(word)
    }

    /// Handles on the region and dom0's doorbell for another thread of the qube.
    pub fn raw_handles(&self) -> (File, File) {
        (
            self.region.try_clone().expect("dup the memfd"),
            self.bell.try_clone().expect("dup the doorbell"),
        )
    }

    /// Rings dom0's doorbell without sending anything.
    pub fn ring_bell(&self) {
        (&self.bell)
            .write_all(&1u64.to_ne_bytes())
            .expect("ring dom0's doorbell");
    }

    /// Sends a message (blocking while the ring is full, up to a timeout).
    pub fn send(&mut self, message: &AgentMessage) {
        let wire = message.encode_to_vec().expect("encodable");
        self.send_raw(&wire);
    }

    /// Sends raw bytes as one transport message.
    pub fn send_raw(&mut self, bytes: &[u8]) {
        // A disconnected peer stops reading: sending may then time out, which is fine.
        let _ = self.ep.send_blocking(bytes, Duration::from_secs(2));
    }

    /// Sends `Hello` with `capabilities` (without waiting for the answer).
    pub fn send_hello(&mut self, capabilities: Capabilities) {
        self.send(&AgentMessage::Hello {
            version: PROTOCOL_VERSION,
            capabilities,
        });
    }

    /// Says hello and waits for `HelloAck`.
    pub fn hello(&mut self) {
        self.send_hello(Capabilities::empty());
        match self.recv() {
            Some(Dom0Message::HelloAck { .. }) => {}
            other => panic!("expected HelloAck, got {other:?}"),
        }
    }

    /// The next message from dom0, or `None` within the timeout.
    pub fn recv(&mut self) -> Option<Dom0Message> {
        self.recv_within(TIMEOUT)
    }

    fn recv_within(&mut self, wait: Duration) -> Option<Dom0Message> {
        let bytes = self.ep.recv_blocking(wait).ok()??;
        Some(
            Dom0Message::decode(&bytes)
                .expect("dom0 sends valid messages")
                .0,
        )
    }

    /// Everything dom0 sent until it is quiet for `quiet` (and what waited in `seen`).
    pub fn drain(&mut self, quiet: Duration) -> Vec<Dom0Message> {
        let mut out = std::mem::take(&mut self.seen);
        while let Some(m) = self.recv_within(quiet) {
            out.push(m);
        }
        out
    }

    /// Waits for the first message `want` picks, keeping the others in `seen`.
    pub fn wait_for<T>(
        &mut self,
        what: &str,
        mut want: impl FnMut(&Dom0Message) -> Option<T>,
    ) -> T {
        if let Some(i) = self.seen.iter().position(|m| want(m).is_some()) {
            let m = self.seen.remove(i);
            return want(&m).expect("picked");
        }
        let deadline = Instant::now() + TIMEOUT;
        while Instant::now() < deadline {
            if let Some(m) = self.recv_within(Duration::from_millis(200)) {
                if let Some(t) = want(&m) {
                    return t;
                }
                self.seen.push(m);
            }
        }
        panic!("no {what} from dom0 (saw {:?})", self.seen);
    }

    /// Waits for `FrameDone` of `serial`.
    pub fn frame_done(&mut self, serial: u32) {
        self.wait_for(&format!("FrameDone {serial}"), |m| match m {
            Dom0Message::FrameDone { serial: s, .. } if *s == serial => Some(()),
            _ => None,
        });
    }

    /// Creates toplevel `id` of `w`×`h` whose frames live at `offset`, shows frame 0.
    pub fn window(&mut self, id: u32, w: u32, h: u32, offset: u64) -> WindowId {
        let window = WindowId::new(id).unwrap();
        self.send(&AgentMessage::CreateWindow {
            window,
            kind: WindowKind::Toplevel,
            size: Size {
                width: w,
                height: h,
            },
        });
        self.frame(window, 0, w, h, offset);
        self.send(&AgentMessage::Map { window });
        window
    }

    /// Creates popup `id` of `parent` at (`x`, `y`), `w`×`h`, frames at `offset`, shows
    /// frame 0.
    #[allow(
        clippy::too_many_arguments,
        reason = "a test helper naming every field"
    )]
    pub fn popup(
        &mut self,
        id: u32,
        parent: WindowId,
        (x, y): (i32, i32),
        (w, h): (u32, u32),
        offset: u64,
    ) -> WindowId {
        let window = WindowId::new(id).unwrap();
        self.send(&AgentMessage::CreateWindow {
            window,
            kind: WindowKind::Popup { parent, x, y },
            size: Size {
                width: w,
                height: h,
            },
        });
        self.frame(window, 0, w, h, offset);
        self.send(&AgentMessage::Map { window });
        window
    }

    /// Writes a `w`×`h` frame filled with [`StandIn::fill`] at `offset` and sends its
    /// damage.
    pub fn frame(&mut self, window: WindowId, serial: u32, w: u32, h: u32, offset: u64) {
        let buffer = buffer(offset, w, h);
        let layout = ImageLayout {
            width: w,
            height: h,
            stride: w * 4,
            bytes_per_pixel: 4,
        };
        let pixels = vec![self.fill; (w * h * 4) as usize];
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
        self.send(&AgentMessage::Damage {
            window,
            serial,
            buffer,
            rects: vec![Rect { x: 0, y: 0, w, h }],
        });
    }

    /// Whether dom0 closed our setup socket within the timeout (it does on disconnect).
    pub fn was_disconnected(&mut self) -> bool {
        self.was_disconnected_within(TIMEOUT)
    }

    /// Whether dom0 closed our setup socket within `wait`.
    pub fn was_disconnected_within(&mut self, wait: Duration) -> bool {
        self.stream.set_read_timeout(Some(wait)).unwrap();
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

/// An XRGB buffer of `w`×`h` at `offset`, tightly packed.
pub fn buffer(offset: u64, w: u32, h: u32) -> BufferDesc {
    BufferDesc {
        offset,
        width: w,
        height: h,
        stride: w * 4,
        format: PixelFormat::Xrgb8888,
    }
}
