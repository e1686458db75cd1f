//! A hostile qube against the real compositor process, over the real shared-memory
//! connection: it pushes clipboard data nobody asked for (even at the size limit), races
//! to answer another qube's request with a guessed serial, and watches for input meant for
//! others. Stand-in agents speak the protocol directly, so every message is observed.
//! Afterwards: nothing crossed without the gesture, the gesture's C and V never reached a
//! qube, keys went only to the focused qube, and the paste arrived byte for byte.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bulkhead_compositor::control::{ClipboardInfo, Request, Response, send_requests};
use bulkhead_protocol::{
    AgentMessage, BufferDesc, Capabilities, Dom0Message, MAX_CLIPBOARD_BYTES, PROTOCOL_VERSION,
    PixelFormat, Rect, Size, WindowId, WindowKind,
};
use bulkhead_shm_transport::{Config, Endpoint, receive_handoff};

const TIMEOUT: Duration = Duration::from_secs(20);

struct Compositor {
    child: Child,
    dir: tempfile::TempDir,
}

impl Compositor {
    fn start() -> Compositor {
        let dir = tempfile::tempdir().unwrap();
        let log = std::fs::File::create(dir.path().join("compositor.log")).unwrap();
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
            .arg(dir.path().join("control.sock"))
            .arg("--qube-socket-dir")
            .arg(dir.path().join("qubes"))
            .env("RUST_LOG", "info")
            .env("XKB_DEFAULT_LAYOUT", "us")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("compositor");
        let c = Compositor { child, dir };
        let deadline = Instant::now() + TIMEOUT;
        while !c.socket("bad").exists() || !c.control(Request::Qubes).ok {
            assert!(Instant::now() < deadline, "no compositor");
            std::thread::sleep(Duration::from_millis(20));
        }
        c
    }

    fn socket(&self, qube: &str) -> PathBuf {
        self.dir.path().join(format!("qubes/qube-{qube}.sock"))
    }

    fn control(&self, request: Request) -> Response {
        send_requests(&self.dir.path().join("control.sock"), &[request])
            .map(|mut r| r.remove(0))
            .unwrap_or_else(|e| Response::error(e.to_string()))
    }

    fn clipboard(&self) -> ClipboardInfo {
        *self.control(Request::Clipboard).clipboard.unwrap()
    }

    fn keys(&self, keys: &[(u32, bool)]) {
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

    /// Clicks the qube's only window near its top-left (`false`) or bottom-right corner
    /// (the cascaded windows overlap in the middle).
    fn click(&self, qube: &str, bottom_right: bool) {
        let windows = self.control(Request::ListWindows).windows.unwrap();
        let w = windows.iter().find(|w| w.qube == qube).expect("window");
        let g = w.geometry;
        let (x, y) = if bottom_right {
            (g.x + g.w - 2, g.y + g.h - 2)
        } else {
            (g.x + 2, g.y + 2)
        };
        assert!(self.control(Request::Click { x, y, button: None }).ok);
        let windows = self.control(Request::ListWindows).windows.unwrap();
        assert!(
            windows.iter().any(|w| w.qube == qube && w.focused),
            "{qube} focused: {windows:#?}"
        );
    }
}

impl Drop for Compositor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct StandIn {
    _stream: std::os::unix::net::UnixStream,
    ep: Endpoint,
}

impl StandIn {
    /// Connects, says hello, and shows one 64×48 window.
    fn connect(socket: &Path) -> StandIn {
        let stream = std::os::unix::net::UnixStream::connect(socket).expect("connect");
        let handoff = receive_handoff(&stream).expect("handoff");
        let ep = Endpoint::open_agent(handoff, &Config::default()).expect("region");
        let mut s = StandIn {
            _stream: stream,
            ep,
        };
        s.send(&AgentMessage::Hello {
            version: PROTOCOL_VERSION,
            capabilities: Capabilities::CLIPBOARD,
        });
        let window = WindowId::new(1).unwrap();
        s.send(&AgentMessage::CreateWindow {
            window,
            kind: WindowKind::Toplevel,
            size: Size {
                width: 64,
                height: 48,
            },
        });
        s.send(&AgentMessage::Damage {
            window,
            serial: 0,
            buffer: BufferDesc {
                offset: 0,
                width: 64,
                height: 48,
                stride: 256,
                format: PixelFormat::Xrgb8888,
            },
            rects: vec![Rect {
                x: 0,
                y: 0,
                w: 64,
                h: 48,
            }],
        });
        s.send(&AgentMessage::Map { window });
        s
    }

    fn send(&mut self, message: &AgentMessage) {
        let wire = message.encode_to_vec().expect("encodable");
        self.ep.send_blocking(&wire, TIMEOUT).expect("send");
    }

    /// Everything dom0 sent within `quiet` of the last message.
    fn drain(&mut self, quiet: Duration) -> Vec<Dom0Message> {
        let mut out = Vec::new();
        while let Ok(Some(bytes)) = self.ep.recv_blocking(quiet) {
            out.push(Dom0Message::decode(&bytes).expect("valid").0);
        }
        out
    }
}

fn keys_of(messages: &[Dom0Message]) -> Vec<(u32, bool)> {
    messages
        .iter()
        .filter_map(|m| match m {
            Dom0Message::Key {
                keycode, pressed, ..
            } => Some((*keycode, *pressed)),
            _ => None,
        })
        .collect()
}

fn is_input(m: &Dom0Message) -> bool {
    matches!(
        m,
        Dom0Message::Key { .. }
            | Dom0Message::Modifiers { .. }
            | Dom0Message::PointerEnter { .. }
            | Dom0Message::PointerMotion { .. }
            | Dom0Message::PointerButton { .. }
            | Dom0Message::PointerAxis { .. }
            | Dom0Message::ClipboardRequest { .. }
            | Dom0Message::ClipboardPaste { .. }
            | Dom0Message::FocusIn { .. }
    )
}

#[test]
fn a_hostile_qube_gets_no_data_and_no_input_without_the_gesture() {
    let c = Compositor::start();
    let mut good = StandIn::connect(&c.socket("good"));
    let mut bad = StandIn::connect(&c.socket("bad"));
    let quiet = Duration::from_millis(300);
    let hello = good.drain(quiet);
    assert!(matches!(hello[0], Dom0Message::HelloAck { .. }));
    assert!(
        matches!(&hello[1], Dom0Message::Keymap { xkb_text } if xkb_text.starts_with("xkb_keymap")),
        "dom0's keymap follows HelloAck: {:?}",
        hello.get(1).map(Dom0Message::message_type)
    );
    bad.drain(quiet);

    // Unasked data, up to the limit: dropped, the qube stays connected, no notice.
    for serial in [0, 1, 2, u32::MAX] {
        bad.send(&AgentMessage::ClipboardData {
            serial,
            mime: "text/plain".into(),
            data: b"pushed".to_vec(),
        });
    }
    let big = AgentMessage::ClipboardData {
        serial: 1,
        mime: "text/plain".into(),
        data: vec![7; MAX_CLIPBOARD_BYTES],
    };
    let _ = bad.ep.send_blocking(&big.encode_to_vec().unwrap(), TIMEOUT);
    bad.drain(quiet);
    assert_eq!(c.clipboard().source, None);
    assert_eq!(
        c.control(Request::Notices).notices.unwrap(),
        Vec::<String>::new()
    );

    // The user copies in good's window.
    c.click("good", false);
    c.keys(&[
        (29, true),
        (42, true),
        (46, true),
        (46, false),
        (42, false),
        (29, false),
    ]);
    let to_good = good.drain(quiet);
    let serial = to_good
        .iter()
        .find_map(|m| match m {
            Dom0Message::ClipboardRequest { serial } => Some(*serial),
            _ => None,
        })
        .expect("a clipboard request for good");
    assert_eq!(
        keys_of(&to_good),
        [(29, true), (42, true), (42, false), (29, false)],
        "C of the gesture never reached the qube"
    );
    assert!(
        to_good
            .iter()
            .any(|m| matches!(m, Dom0Message::Modifiers { depressed: 5, .. })),
        "Ctrl+Shift held"
    );
    let to_bad = bad.drain(quiet);
    assert!(
        !to_bad.iter().any(is_input),
        "input or a request for the unfocused qube: {to_bad:?}"
    );

    // bad races with the serial it guesses; then good answers (twice).
    bad.send(&AgentMessage::ClipboardData {
        serial,
        mime: "text/plain".into(),
        data: b"forged".to_vec(),
    });
    bad.drain(quiet);
    assert_eq!(
        c.clipboard().source,
        None,
        "another qube's answer was taken"
    );
    let image: Vec<u8> = (0..=255u8).cycle().take(70_000).collect();
    good.send(&AgentMessage::ClipboardData {
        serial,
        mime: "image/png".into(),
        data: image.clone(),
    });
    good.send(&AgentMessage::ClipboardData {
        serial,
        mime: "text/plain".into(),
        data: b"second answer".to_vec(),
    });
    good.drain(quiet);
    let info = c.clipboard();
    assert_eq!(info.source.as_deref(), Some("good"));
    assert_eq!(
        (info.mime.as_deref(), info.bytes),
        (Some("image/png"), image.len())
    );

    // The user pastes in bad's window: bad gets exactly the bytes, good nothing.
    c.click("bad", true);
    c.keys(&[
        (29, true),
        (42, true),
        (47, true),
        (47, false),
        (42, false),
        (29, false),
    ]);
    let to_bad = bad.drain(quiet);
    let pasted: Vec<_> = to_bad
        .iter()
        .filter_map(|m| match m {
            Dom0Message::ClipboardPaste { mime, data } => Some((mime.clone(), data.clone())),
            _ => None,
        })
        .collect();
    assert_eq!(pasted, [("image/png".to_owned(), image)]);
    assert_eq!(
        keys_of(&to_bad),
        [(29, true), (42, true), (42, false), (29, false)]
    );
    let to_good = good.drain(quiet);
    assert!(
        !to_good.iter().any(|m| matches!(
            m,
            Dom0Message::Key { .. } | Dom0Message::ClipboardPaste { .. }
        )),
        "{to_good:?}"
    );
    assert_eq!(
        c.clipboard().bytes,
        0,
        "dom0's buffer is empty after the paste"
    );
    assert_eq!(
        c.control(Request::ListWindows).windows.unwrap().len(),
        2,
        "both connected"
    );
}
