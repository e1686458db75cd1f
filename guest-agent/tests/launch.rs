//! dom0's `Launch` against the real agent: every launch is answered with one `LaunchResult`
//! carrying dom0's launch id and only a number (0: started, else the errno).

mod common;

use std::os::unix::fs::PermissionsExt;

use bulkhead_guest_agent::link::{AgentMessage, Dom0Message};
use common::Fixture;

/// Sends `Launch { launch, argv }` and returns the error number of its answer.
fn launch(fixture: &mut Fixture, launch: u32, argv: &[&str]) -> u32 {
    fixture.send(Dom0Message::Launch {
        launch,
        argv: argv.iter().map(|a| (*a).to_owned()).collect(),
    });
    let answered = |f: &Fixture| {
        f.log.iter().find_map(|m| match m {
            AgentMessage::LaunchResult { launch: l, errno } if *l == launch => Some(*errno),
            _ => None,
        })
    };
    fixture.wait_for("the launch result", |f| answered(f).is_some());
    let answers = fixture
        .log
        .iter()
        .filter(|m| matches!(m, AgentMessage::LaunchResult { launch: l, .. } if *l == launch))
        .count();
    assert_eq!(answers, 1, "exactly one answer per launch");
    answered(fixture).expect("answered")
}

#[test]
fn each_launch_is_answered_with_its_id_and_errno() {
    let mut fixture = Fixture::start();
    let dir = tempfile::tempdir().unwrap();

    // A program the qube does not have: ENOENT, and nothing else happens.
    assert_eq!(
        launch(&mut fixture, 7, &["/nonexistent/bulkhead-no-such-program"]),
        2
    );
    assert_eq!(
        launch(&mut fixture, 8, &["bulkhead-no-such-program-in-path"]),
        2
    );

    // A file it may not execute: EACCES.
    let not_executable = dir.path().join("not-executable");
    std::fs::write(&not_executable, "#!/bin/sh\n").unwrap();
    std::fs::set_permissions(&not_executable, std::fs::Permissions::from_mode(0o644)).unwrap();
    assert_eq!(
        launch(&mut fixture, 9, &[not_executable.to_str().unwrap()]),
        13
    );

    // A real program: 0, and it really runs, with the agent's display.
    let out = dir.path().join("ran");
    let script = format!("printf %s \"$WAYLAND_DISPLAY\" > {}", out.display());
    assert_eq!(launch(&mut fixture, u32::MAX, &["sh", "-c", &script]), 0);
    let display = fixture.display.clone();
    fixture.wait_for("the program's output", |_| {
        std::fs::read_to_string(&out).is_ok_and(|s| s == display)
    });
}
