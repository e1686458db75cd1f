//! The qube's side of dom0's clipboard, with Debian's wl-clipboard as the qube's apps.

mod common;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bulkhead_guest_agent::link::{AgentMessage, Dom0Message, WindowId};
use common::Fixture;

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

/// Gives keyboard focus to every window that appears until `done` (wl-clipboard needs
/// focus to touch the selection, as any client).
fn focus_new_windows(fixture: &mut Fixture, what: &str, done: impl Fn(&Fixture) -> bool) {
    let mut focused = Vec::new();
    let deadline = Instant::now() + common::TIMEOUT;
    while !done(fixture) {
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {:#?}",
            fixture.log
        );
        fixture.settle(Duration::from_millis(20));
        for id in fixture.live(true) {
            if !focused.contains(&id) {
                focused.push(id);
                fixture.send(Dom0Message::FocusIn {
                    window: WindowId::new(id).expect("non-zero"),
                });
            }
        }
    }
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
    focus_new_windows(&mut fixture, "the selection", |f| {
        f.log.iter().any(|m| matches!(m, AgentMessage::Map { .. }))
    });
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
    focus_new_windows(&mut fixture, "wl-paste's window", |f| {
        f.log.iter().any(|m| matches!(m, AgentMessage::Map { .. }))
    });
    let output = paste.wait_with_output().expect("wl-paste finishes");
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "hello from another qube"
    );
}
