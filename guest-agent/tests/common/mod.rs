//! Test fixture: the agent's Wayland server on a thread with an in-memory dom0 link, and
//! a model dom0 that records windows and frames, checks the frame-pacing rules and
//! acknowledges frames.
#![allow(dead_code, clippy::print_stderr)]

pub mod client;

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bulkhead_guest_agent::link::memory::{self, MemoryDom0};
use bulkhead_guest_agent::link::{
    AgentMessage, BufferDesc, Dom0Message, PixelFormat, Rect, Size, WindowId, WindowKind,
};
use bulkhead_guest_agent::{Config, Server};

/// A test that needs a program this machine lacks says why and passes, unless
/// `BULKHEAD_REQUIRE_TEST_TOOLS` is set (`scripts/run-tests`, which installs every
/// program, sets it): then a missing program fails the test instead of hiding it.
pub fn skip(why: &str) {
    assert!(
        std::env::var_os("BULKHEAD_REQUIRE_TEST_TOOLS").is_none(),
        "{why} (BULKHEAD_REQUIRE_TEST_TOOLS is set: every test program must be installed)"
    );
    eprintln!("skipped: {why}");
}

/// How long a test waits for something the agent should do.
pub const TIMEOUT: Duration = Duration::from_secs(60);

/// What the model dom0 knows about one window.
#[derive(Debug, Clone, Default)]
pub struct WindowModel {
    /// From `CreateWindow`.
    pub kind: Option<WindowKind>,
    /// From `CreateWindow`.
    pub initial_size: Option<Size>,
    /// Last title.
    pub title: Option<String>,
    /// Last app id.
    pub app_id: Option<String>,
    /// Shown.
    pub mapped: bool,
    /// `Destroy` received.
    pub destroyed: bool,
    /// Frames received.
    pub frames: u32,
    /// The buffer of the last frame.
    pub buffer: Option<BufferDesc>,
    /// The rectangles of the last frame.
    pub rects: Vec<Rect>,
    /// The last frame's pixels (ARGB, row by row), read when it arrived.
    pub pixels: Vec<u32>,
    /// Serial of the frame not yet acknowledged.
    pub unacked: Option<u32>,
    /// Serial of the frame shown.
    pub shown: Option<(u32, BufferDesc)>,
}

impl WindowModel {
    /// The pixel at `(x, y)` of the last frame.
    pub fn pixel(&self, x: u32, y: u32) -> u32 {
        let buffer = self.buffer.expect("a frame");
        self.pixels[(y * buffer.width + x) as usize]
    }

    /// Width and height of the last frame.
    pub fn size(&self) -> (u32, u32) {
        let buffer = self.buffer.expect("a frame");
        (buffer.width, buffer.height)
    }
}

/// The agent under test and the model dom0 it talks to.
#[derive(Debug)]
pub struct Fixture {
    dom0: Option<MemoryDom0>,
    thread: Option<JoinHandle<()>>,
    dir: tempfile::TempDir,
    /// Absolute socket path (`WAYLAND_DISPLAY`).
    pub display: String,
    /// Windows by id.
    pub windows: BTreeMap<u32, WindowModel>,
    /// Every message, in order.
    pub log: Vec<AgentMessage>,
    /// Answer every frame at once with `FrameDone`.
    pub auto_ack: bool,
}

fn overlaps(a: &BufferDesc, b: &BufferDesc) -> bool {
    a.offset < b.offset + b.byte_len() && b.offset < a.offset + a.byte_len()
}

impl Fixture {
    /// Starts the agent on a thread with a 64 MiB arena.
    pub fn start() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let display = dir
            .path()
            .join("wayland-test")
            .to_str()
            .expect("utf-8 path")
            .to_owned();
        let (link, events, dom0) = memory::pair(64 << 20).expect("in-memory link");
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let config = Config {
            wayland_display: Some(display.clone()),
        };
        let thread = std::thread::spawn(move || {
            let server = Server::new(&config, Box::new(link)).expect("agent starts");
            server.add_event_channel(events).expect("event channel");
            ready_tx.send(()).expect("test waits");
            server.run().expect("agent runs");
        });
        ready_rx.recv_timeout(TIMEOUT).expect("agent ready");
        Fixture {
            dom0: Some(dom0),
            thread: Some(thread),
            dir,
            display,
            windows: BTreeMap::new(),
            log: Vec::new(),
            auto_ack: true,
        }
    }

    /// A command for a Wayland client of the agent.
    pub fn command(&self, program: &str) -> Command {
        let mut command = Command::new(program);
        command
            .env("WAYLAND_DISPLAY", &self.display)
            .env("XDG_RUNTIME_DIR", self.dir.path())
            .env_remove("DISPLAY");
        command
    }

    /// The socket path for in-process clients.
    pub fn socket_path(&self) -> PathBuf {
        PathBuf::from(&self.display)
    }

    fn dom0(&self) -> &MemoryDom0 {
        self.dom0.as_ref().expect("dom0 link")
    }

    /// Sends a message to the agent as dom0.
    pub fn send(&self, message: Dom0Message) {
        assert!(self.dom0().send(message), "agent is gone");
    }

    /// Acknowledges window `id`'s outstanding frame.
    pub fn ack(&mut self, id: u32) {
        let window = self.windows.get_mut(&id).expect("window");
        let serial = window.unacked.take().expect("a frame to acknowledge");
        window.shown = window.buffer.map(|b| (serial, b));
        self.send(Dom0Message::FrameDone {
            window: WindowId::new(id).expect("non-zero"),
            serial,
        });
    }

    /// Applies one message to the model, checking the agent's rules.
    fn apply(&mut self, message: AgentMessage) {
        let mut ack = None;
        match &message {
            AgentMessage::CreateWindow { window, kind, size } => {
                let model = self.windows.entry(window.get()).or_default();
                assert!(
                    model.kind.is_none() || model.destroyed,
                    "window {window} created twice"
                );
                *model = WindowModel {
                    kind: Some(*kind),
                    initial_size: Some(*size),
                    ..WindowModel::default()
                };
            }
            AgentMessage::SetTitle { window, title } => {
                self.known(*window).title = Some(title.clone());
            }
            AgentMessage::SetAppId { window, app_id } => {
                self.known(*window).app_id = Some(app_id.clone());
            }
            AgentMessage::Map { window } => {
                let model = self.known(*window);
                assert!(
                    model.frames > 0,
                    "window {window} mapped before its first frame"
                );
                model.mapped = true;
            }
            AgentMessage::Unmap { window } => self.known(*window).mapped = false,
            AgentMessage::Destroy { window } => {
                let model = self.known(*window);
                model.destroyed = true;
                model.mapped = false;
                model.unacked = None;
                model.shown = None;
            }
            AgentMessage::Damage {
                window,
                serial,
                buffer,
                rects,
            } => {
                for (other_id, other) in &self.windows {
                    if *other_id == window.get() || other.destroyed {
                        continue;
                    }
                    let in_use = other
                        .shown
                        .iter()
                        .map(|(_, b)| b)
                        .chain(other.unacked.and(other.buffer.as_ref()));
                    for used in in_use {
                        assert!(
                            !overlaps(used, buffer),
                            "window {window}'s frame overlaps window {other_id}'s buffer"
                        );
                    }
                }
                for rect in rects {
                    assert!(
                        rect.w > 0
                            && rect.h > 0
                            && rect.x + rect.w <= buffer.width
                            && rect.y + rect.h <= buffer.height,
                        "damage {rect:?} inside the buffer"
                    );
                }
                let mut pixels = self.dom0().pixels(buffer);
                if buffer.format == PixelFormat::Xrgb8888 {
                    // As dom0 reads it: the high byte is unused, every pixel opaque.
                    pixels.iter_mut().for_each(|p| *p |= 0xff00_0000);
                }
                let model = self.known(*window);
                assert_eq!(
                    model.unacked, None,
                    "window {window}: frame {serial} sent before frame-done of the previous"
                );
                if let Some((_, shown)) = &model.shown {
                    assert!(
                        !overlaps(shown, buffer),
                        "window {window}: frame {serial} written over the buffer dom0 shows"
                    );
                }
                model.frames += 1;
                model.buffer = Some(*buffer);
                model.rects = rects.clone();
                model.pixels = pixels;
                model.unacked = Some(*serial);
                ack = Some(window.get());
            }
            _ => {}
        }
        self.log.push(message);
        if let Some(id) = ack {
            if self.auto_ack {
                self.ack(id);
            }
        }
    }

    fn known(&mut self, window: WindowId) -> &mut WindowModel {
        let model = self
            .windows
            .get_mut(&window.get())
            .unwrap_or_else(|| panic!("message for unknown window {window}"));
        assert!(!model.destroyed, "message for destroyed window {window}");
        model
    }

    /// Processes messages until `done` holds for the model (panics after [`TIMEOUT`]).
    pub fn wait_for(&mut self, what: &str, mut done: impl FnMut(&Fixture) -> bool) {
        let deadline = Instant::now() + TIMEOUT;
        while !done(self) {
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "timed out waiting for {what}; log: {:#?}",
                self.log
            );
            if let Some(message) = self.dom0().recv(left.min(Duration::from_millis(50))) {
                self.apply(message);
            }
        }
    }

    /// Processes whatever arrives during `period`.
    pub fn settle(&mut self, period: Duration) {
        let deadline = Instant::now() + period;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            if let Some(message) = self.dom0().recv(left) {
                self.apply(message);
            }
        }
    }

    /// Ids of windows of `kind` that are alive.
    pub fn live(&self, toplevel: bool) -> Vec<u32> {
        self.windows
            .iter()
            .filter(|(_, w)| !w.destroyed)
            .filter(|(_, w)| matches!(w.kind, Some(WindowKind::Toplevel)) == toplevel)
            .map(|(id, _)| *id)
            .collect()
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        // Hanging up stops the agent's loop.
        self.dom0.take();
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() && !std::thread::panicking() {
                panic!("agent thread panicked");
            }
        }
    }
}
