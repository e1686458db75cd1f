//! The qube's side of dom0's clipboard, with Debian's wl-clipboard as the qube's apps.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bulkhead_guest_agent::link::{AgentMessage, Dom0Message, WindowId};
use common::Fixture;
use common::client::{Client, Input, RED};

/// Kills the child when the test ends.
struct Reaper(Child);

impl Drop for Reaper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn installed(program: &str) -> bool {
    let found = Command::new(program)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok();
    if !found {
        common::skip(&format!(
            "{program} is not installed (Debian's wl-clipboard)"
        ));
    }
    found
}

#[test]
fn dom0_reads_the_selection_a_qube_app_copied() {
    if !installed("wl-copy") {
        return;
    }
    let mut fixture = Fixture::start();
    // In the foreground wl-copy keeps serving the selection until it is killed.
    let copy = fixture
        .command("wl-copy")
        .arg("--foreground")
        .arg("secret from the qube")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("wl-copy");
    let _copy = Reaper(copy);
    let mut answer = None;
    let mut serial = 0;
    // wl-copy uses the data-control protocol: no window, no focus needed.
    let deadline = Instant::now() + common::TIMEOUT;
    while answer.is_none() {
        assert!(
            Instant::now() < deadline,
            "no clipboard answer: {:#?}",
            fixture.log
        );
        serial += 1;
        fixture.send(Dom0Message::ClipboardRequest { serial });
        fixture.settle(Duration::from_millis(200));
        answer = fixture.log.iter().find_map(|m| match m {
            AgentMessage::ClipboardData { mime, data, .. } => Some((mime.clone(), data.clone())),
            _ => None,
        });
    }
    let (mime, data) = answer.expect("an answer");
    assert!(
        !fixture
            .log
            .iter()
            .any(|m| matches!(m, AgentMessage::Map { .. })),
        "wl-copy needed a window: {:#?}",
        fixture.log
    );
    assert!(mime.starts_with("text/plain"), "text: {mime}");
    assert_eq!(
        String::from_utf8_lossy(&data).trim_end(),
        "secret from the qube"
    );
    let _ = Command::new("pkill")
        .arg("-f")
        .arg("^wl-copy secret from the qube$")
        .status();
}

/// A windowed app copies the way browsers and editors do: `wl_data_device.set_selection`
/// with the serial of the keyboard focus dom0 gave its window. dom0's request reads it.
#[test]
fn dom0_reads_the_selection_a_windowed_app_set() {
    let mut fixture = Fixture::start();
    let mut client = Client::connect(&fixture.socket_path());
    let _toplevel = client.toplevel("copies", 64, 64, RED);
    fixture.wait_for("the window mapped", |f| {
        f.windows.values().any(|w| w.mapped)
    });
    let id = fixture.live(true)[0];
    fixture.send(Dom0Message::FocusIn {
        window: WindowId::new(id).expect("non-zero"),
    });
    client.wait_input("keyboard focus", |i| matches!(i, Input::KeyboardEnter(_)));
    let _source = client.copy("text/plain;charset=utf-8", b"copied in a window");
    fixture.send(Dom0Message::ClipboardRequest { serial: 4 });
    let deadline = Instant::now() + common::TIMEOUT;
    // The agent asks the source for its data; the client answers on its next dispatch.
    while client.seen.selection_sent == 0 {
        assert!(
            Instant::now() < deadline,
            "the agent never asked for the data"
        );
        client.roundtrip();
        fixture.settle(Duration::from_millis(20));
    }
    fixture.wait_for("the data", |f| {
        f.log.iter().any(|m| {
            matches!(m, AgentMessage::ClipboardData { serial: 4, mime, data }
                if mime == "text/plain;charset=utf-8" && data == b"copied in a window")
        })
    });
}

#[test]
fn an_empty_qube_clipboard_answers_empty() {
    let mut fixture = Fixture::start();
    fixture.send(Dom0Message::ClipboardRequest { serial: 9 });
    fixture.wait_for("the answer", |f| {
        f.log.contains(&AgentMessage::ClipboardEmpty { serial: 9 })
    });
}

#[test]
fn a_qube_app_pastes_what_dom0_pasted() {
    if !installed("wl-paste") {
        return;
    }
    let mut fixture = Fixture::start();
    fixture.send(Dom0Message::ClipboardPaste {
        mime: "text/plain;charset=utf-8".to_owned(),
        data: b"hello from another qube".to_vec(),
    });
    // dom0's own answer to a request is what it pasted.
    fixture.send(Dom0Message::ClipboardRequest { serial: 1 });
    fixture.wait_for("the pasted data back", |f| {
        f.log.iter().any(|m| {
            matches!(m, AgentMessage::ClipboardData { serial: 1, data, .. }
                if data == b"hello from another qube")
        })
    });
    let paste = fixture
        .command("wl-paste")
        .arg("--no-newline")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("wl-paste");
    // Through data control: wl-paste needs no window and no focus.
    let output = paste.wait_with_output().expect("wl-paste finishes");
    assert!(
        !fixture
            .log
            .iter()
            .any(|m| matches!(m, AgentMessage::Map { .. })),
        "wl-paste needed a window"
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "hello from another qube"
    );
}
