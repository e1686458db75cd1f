//! Qubes declared at run time over the control socket (`add-qube`, `remove-qube`) and
//! programs started in them (`run` → `Launch`), against the real compositor process and
//! stand-in agents that speak the protocol directly.

use std::io::Read;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bulkhead_compositor::control::{QubeInfo, Request, Response, send_requests};
use bulkhead_protocol::{AgentMessage, Capabilities, Dom0Message, PROTOCOL_VERSION};
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
            .args(["--size", "640x480"])
            .arg("--control-socket")
            .arg(dir.path().join("control.sock"))
            .arg("--qube-socket-dir")
            .arg(dir.path().join("qubes"))
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("start the compositor");
        let c = Compositor { child, dir };
        c.wait_for("the control socket", || c.control(&Request::Qubes).ok);
        c
    }

    fn control(&self, request: &Request) -> Response {
        send_requests(
            &self.dir.path().join("control.sock"),
            std::slice::from_ref(request),
        )
        .map(|mut r| r.remove(0))
        .unwrap_or_else(|e| Response::error(e.to_string()))
    }

    fn raw(&self, line: &str) -> Response {
        use std::io::{BufRead, BufReader, Write};
        let mut s = UnixStream::connect(self.dir.path().join("control.sock")).unwrap();
        s.write_all(line.as_bytes()).unwrap();
        s.write_all(b"\n").unwrap();
        let mut answer = String::new();
        BufReader::new(s).read_line(&mut answer).unwrap();
        serde_json::from_str(&answer).unwrap()
    }

    fn qubes(&self) -> Vec<QubeInfo> {
        self.control(&Request::Qubes).qubes.unwrap_or_default()
    }

    fn wait_for(&self, what: &str, mut done: impl FnMut() -> bool) {
        let deadline = Instant::now() + TIMEOUT;
        while !done() {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; compositor log:\n{}",
                std::fs::read_to_string(self.dir.path().join("compositor.log")).unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn socket(&self, qube: &str) -> PathBuf {
        self.dir.path().join(format!("qubes/qube-{qube}.sock"))
    }
}

impl Drop for Compositor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn add(name: &str, label: &str) -> Request {
    Request::AddQube {
        name: name.into(),
        label: label.into(),
    }
}

fn run(qube: &str, argv: &[&str]) -> Request {
    Request::Run {
        qube: qube.into(),
        argv: argv.iter().map(|a| (*a).to_owned()).collect(),
    }
}

fn error(r: &Response) -> &str {
    assert!(!r.ok, "expected an error, got {r:?}");
    r.error.as_deref().unwrap_or_default()
}

/// A stand-in agent that says hello with `capabilities`.
struct StandIn {
    stream: UnixStream,
    ep: Endpoint,
}

impl StandIn {
    fn connect(socket: &Path, capabilities: Capabilities) -> StandIn {
        let stream = UnixStream::connect(socket).expect("connect");
        let handoff = receive_handoff(&stream).expect("handoff");
        let mut ep = Endpoint::open_agent(handoff, &Config::default()).expect("open region");
        let hello = AgentMessage::Hello {
            version: PROTOCOL_VERSION,
            capabilities,
        };
        ep.send_blocking(&hello.encode_to_vec().unwrap(), TIMEOUT)
            .unwrap();
        let mut s = StandIn { stream, ep };
        match s.recv() {
            Some(Dom0Message::HelloAck {
                capabilities: c, ..
            }) => {
                assert_eq!(
                    c.contains(Capabilities::LAUNCH),
                    capabilities.contains(Capabilities::LAUNCH)
                );
            }
            other => panic!("expected HelloAck, got {other:?}"),
        }
        s
    }

    fn recv(&mut self) -> Option<Dom0Message> {
        let bytes = self.ep.recv_blocking(TIMEOUT).ok()??;
        Some(
            Dom0Message::decode(&bytes)
                .expect("dom0 sends valid messages")
                .0,
        )
    }

    /// The next `Launch`, skipping the keymap and the like.
    fn launch(&mut self) -> Vec<String> {
        let deadline = Instant::now() + TIMEOUT;
        while Instant::now() < deadline {
            if let Some(Dom0Message::Launch { argv }) = self.recv() {
                return argv;
            }
        }
        panic!("no Launch arrived");
    }
}

#[test]
fn qubes_come_and_go_at_run_time_and_run_programs() {
    let c = Compositor::start();
    assert!(c.qubes().is_empty());

    // Declared by the manager: the socket appears, private to dom0's user.
    let added = c.control(&add("work", "blue"));
    assert!(added.ok, "{added:?}");
    assert_eq!(added.socket.as_deref(), Some(c.socket("work").as_path()));
    let meta = std::fs::metadata(c.socket("work")).unwrap();
    assert!(meta.file_type().is_socket());
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);

    // Bad or duplicate declarations change nothing and say why.
    assert!(error(&c.control(&add("work", "red"))).contains("already knows a qube named work"));
    assert!(error(&c.control(&add("1work", "red"))).contains("must start with an ASCII letter"));
    assert!(error(&c.control(&add("wörk", "red"))).contains("only ASCII letters"));
    assert!(error(&c.control(&add("mail", "pink"))).contains("not a label"));
    assert!(!c.socket("mail").exists());
    let qubes = c.qubes();
    assert_eq!(qubes.len(), 1);
    assert_eq!(
        (qubes[0].name.as_str(), qubes[0].label.as_str()),
        ("work", "blue")
    );
    assert!(!qubes[0].connected);

    // No agent yet.
    assert!(error(&c.control(&run("work", &["foot"]))).contains("no agent connected"));
    assert!(error(&c.control(&run("mail", &["foot"]))).contains("knows no qube named"));

    let mut agent = StandIn::connect(&c.socket("work"), Capabilities::LAUNCH);
    c.wait_for("work to be connected", || {
        c.qubes().iter().any(|q| q.connected)
    });

    // Command lines the protocol refuses never reach the agent.
    assert!(error(&c.control(&run("work", &[]))).contains("no program"));
    assert!(error(&c.control(&run("work", &[""]))).contains("no program"));
    assert!(error(&c.raw(r#"{"cmd":"run","qube":"work","argv":["a\u0000b"]}"#)).contains("NUL"));
    let many = vec!["x"; bulkhead_protocol::MAX_LAUNCH_ARGS + 1];
    assert!(error(&c.control(&run("work", &many))).contains("arguments"));

    let ran = c.control(&run("work", &["weston-simple-shm", "--", "a b"]));
    assert!(ran.ok, "{ran:?}");
    assert_eq!(agent.launch(), ["weston-simple-shm", "--", "a b"]);

    // An agent that did not offer LAUNCH is never sent one.
    assert!(c.control(&add("plain", "green")).ok);
    let _plain = StandIn::connect(&c.socket("plain"), Capabilities::empty());
    c.wait_for("plain to be connected", || {
        c.qubes().iter().filter(|q| q.connected).count() == 2
    });
    assert!(error(&c.control(&run("plain", &["foot"]))).contains("does not start programs"));

    // Removing closes the connection and the socket.
    assert!(
        c.control(&Request::RemoveQube {
            name: "work".into()
        })
        .ok
    );
    assert!(!c.socket("work").exists());
    agent.stream.set_read_timeout(Some(TIMEOUT)).unwrap();
    let mut byte = [0u8; 1];
    assert_eq!(
        agent.stream.read(&mut byte).unwrap(),
        0,
        "dom0 hung up on the removed qube"
    );
    assert_eq!(
        c.qubes()
            .iter()
            .map(|q| q.name.as_str())
            .collect::<Vec<_>>(),
        ["plain"]
    );
    assert!(
        error(&c.control(&Request::RemoveQube {
            name: "work".into()
        }))
        .contains("no qube")
    );

    // The name is free again, with another label.
    assert!(c.control(&add("work", "red")).ok);
    let _again = StandIn::connect(&c.socket("work"), Capabilities::LAUNCH);
    c.wait_for("work to connect again", || {
        c.qubes()
            .iter()
            .any(|q| q.name == "work" && q.label == "red" && q.connected)
    });
}
