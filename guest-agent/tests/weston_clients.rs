//! Real clients nobody here wrote (Debian's `weston` package) against the agent.

mod common;

use std::process::{Child, Stdio};

use bulkhead_guest_agent::link::WindowKind;
use common::Fixture;

/// Starts `program` against the agent, or says why the test is skipped.
fn spawn(fixture: &Fixture, program: &str) -> Option<Child> {
    match fixture
        .command(program)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
    {
        Ok(child) => Some(child),
        Err(err) => {
            common::skip(&format!(
                "cannot run {program} ({err}); install Debian's weston"
            ));
            None
        }
    }
}

/// Kills the child when the test ends, however it ends.
struct Reaper(Child);

impl Drop for Reaper {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn weston_simple_shm_becomes_a_window_with_its_pixels() {
    let mut fixture = Fixture::start();
    let Some(child) = spawn(&fixture, "weston-simple-shm") else {
        return;
    };
    let mut child = Reaper(child);
    fixture.wait_for("a few frames of simple-shm", |f| {
        f.windows.values().any(|w| w.mapped && w.frames >= 3)
    });
    let ids = fixture.live(true);
    assert_eq!(ids.len(), 1);
    let window = &fixture.windows[&ids[0]];
    assert_eq!(window.kind, Some(WindowKind::Toplevel));
    assert_eq!(window.title.as_deref(), Some("simple-shm"));
    assert_eq!(window.size(), (250, 250));
    // simple-shm fills its XRGB buffer with 0xff, then paints a pattern inside a 20 px
    // border: the border is white, and every pixel is opaque (its diagonal cross would
    // show if the agent took the X byte of XRGB for alpha: the frame must say XRGB, or
    // carry alpha 0xff).
    assert_eq!(window.pixel(5, 5), 0xffff_ffff);
    assert_eq!(window.pixel(249, 249), 0xffff_ffff);
    assert!(
        window.pixels.iter().all(|p| p >> 24 == 0xff),
        "XRGB is opaque"
    );
    assert_eq!(
        window.pixel(100, 100) >> 24,
        0xff,
        "the diagonal cross is opaque"
    );
    let inside: std::collections::HashSet<u32> = (20..230).map(|i| window.pixel(i, 125)).collect();
    assert!(inside.len() > 10, "the pattern is drawn: {inside:?}");
    // Animation: frames keep coming, paced by frame-done.
    let frames = window.frames;
    fixture.wait_for("more frames", |f| f.windows[&ids[0]].frames > frames + 5);

    child.0.kill().expect("kill simple-shm");
    let _ = child.0.wait();
    fixture.wait_for("Destroy after the client died", |f| {
        f.windows[&ids[0]].destroyed
    });
}

#[test]
fn several_animated_clients_share_the_arena_without_overlap() {
    let mut fixture = Fixture::start();
    let mut children = Vec::new();
    for _ in 0..3 {
        let Some(child) = spawn(&fixture, "weston-simple-shm") else {
            return;
        };
        children.push(Reaper(child));
    }
    // The model dom0 checks on every frame that no buffer overlaps one dom0 may read.
    fixture.wait_for("three animated windows", |f| {
        f.windows
            .values()
            .filter(|w| w.mapped && w.frames >= 20)
            .count()
            == 3
    });
    drop(children);
    fixture.wait_for("all destroyed", |f| f.windows.values().all(|w| w.destroyed));
}

#[test]
fn weston_resizor_grows_when_dom0_types_arrow_keys() {
    use bulkhead_guest_agent::link::{Dom0Message, WindowId};
    let mut fixture = Fixture::start();
    let Some(child) = spawn(&fixture, "weston-resizor") else {
        return;
    };
    let _child = Reaper(child);
    fixture.wait_for("resizor's window", |f| f.windows.values().any(|w| w.mapped));
    let id = fixture.live(true)[0];
    let (width, height) = fixture.windows[&id].size();
    let window = WindowId::new(id).expect("non-zero");
    fixture.send(Dom0Message::FocusIn { window });
    // KEY_RIGHT and KEY_DOWN make resizor's spring grow the window.
    for key in [106, 108] {
        for pressed in [true, false] {
            fixture.send(Dom0Message::Key {
                time_ms: 0,
                keycode: key,
                pressed,
            });
        }
    }
    fixture.wait_for("a larger window", |f| {
        let (w, h) = f.windows[&id].size();
        w > width && h > height
    });
}

/// A terminal (foot, weston-terminal) shows up as one toplevel with drawn content.
fn terminal_becomes_a_window(program: &str, args: &[&str]) {
    let mut fixture = Fixture::start();
    let mut command = fixture.command(program);
    command
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let child = match command.spawn() {
        Ok(child) => Reaper(child),
        Err(err) => {
            common::skip(&format!("cannot run {program} ({err})"));
            return;
        }
    };
    fixture.wait_for("the terminal's window", |f| {
        f.windows.values().any(|w| w.mapped && w.frames > 0)
    });
    let ids = fixture.live(true);
    assert_eq!(ids.len(), 1);
    let window = &fixture.windows[&ids[0]];
    let (width, height) = window.size();
    assert!(
        width >= 100 && height >= 50,
        "a terminal-sized window: {width}x{height}"
    );
    let colours: std::collections::HashSet<u32> = window.pixels.iter().copied().collect();
    assert!(colours.len() > 1, "something is drawn");
    // The pointer enters: the terminal sets its pointer, which reaches dom0 as a shape.
    let window_id = bulkhead_guest_agent::link::WindowId::new(ids[0]).expect("non-zero");
    fixture.send(bulkhead_guest_agent::link::Dom0Message::PointerEnter {
        window: window_id,
        x: 40 * 256,
        y: 20 * 256,
    });
    fixture.wait_for("a pointer shape", |f| {
        f.log.iter().any(|m| {
            matches!(m, bulkhead_guest_agent::link::AgentMessage::SetCursor { window, .. }
                if *window == window_id)
        })
    });
    drop(child);
    fixture.wait_for("Destroy", |f| f.windows[&ids[0]].destroyed);
}

#[test]
fn foot_becomes_a_window() {
    terminal_becomes_a_window("foot", &["sh", "-c", "echo bulkhead; sleep 30"]);
}

#[test]
fn weston_terminal_becomes_a_window() {
    terminal_becomes_a_window("weston-terminal", &["--shell=/bin/sh"]);
}
