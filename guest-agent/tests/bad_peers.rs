//! Clients and dom0 messages the agent must survive: stale or wrong frame-done, events
//! for windows that are gone, windows that die with a frame in flight, the window limit.

mod common;

use std::time::Duration;

use bulkhead_guest_agent::link::{Dom0Message, WindowId, WindowStates};
use common::Fixture;
use common::client::{BLUE, Client, GREEN, RED};

fn window(id: u32) -> WindowId {
    WindowId::new(id).expect("non-zero")
}

#[test]
fn wrong_and_stale_dom0_messages_are_ignored() {
    let mut fixture = Fixture::start();
    fixture.auto_ack = false;
    let mut client = Client::connect(&fixture.socket_path());
    let toplevel = client.toplevel("target", 64, 64, RED);
    fixture.wait_for("frame 1", |f| f.windows.values().any(|w| w.frames == 1));
    let id = fixture.live(true)[0];
    // A frame-done with the wrong serial does not release anything.
    fixture.send(Dom0Message::FrameDone {
        window: window(id),
        serial: 77,
    });
    client.redraw(&toplevel.surface, 64, 64, GREEN);
    fixture.settle(Duration::from_millis(200));
    assert_eq!(
        fixture.windows[&id].frames, 1,
        "still waiting for the right frame-done"
    );
    // Messages about windows that never existed change nothing.
    for message in [
        Dom0Message::FrameDone {
            window: window(999),
            serial: 1,
        },
        Dom0Message::Close {
            window: window(999),
        },
        Dom0Message::FocusIn {
            window: window(999),
        },
        Dom0Message::PointerEnter {
            window: window(999),
            x: 0,
            y: 0,
        },
        Dom0Message::PointerButton {
            window: window(999),
            time_ms: 0,
            button: 0x110,
            pressed: true,
        },
        Dom0Message::Configure {
            window: window(999),
            serial: 1,
            width: 10,
            height: 10,
            states: WindowStates::empty(),
        },
        Dom0Message::Keymap {
            xkb_text: "not a keymap".to_owned(),
        },
        Dom0Message::Key {
            time_ms: 0,
            keycode: 30,
            pressed: true,
        },
    ] {
        fixture.send(message);
    }
    fixture.ack(id);
    fixture.wait_for("frame 2 after the right frame-done", |f| {
        f.windows[&id].frames == 2
    });
    assert_eq!(fixture.windows[&id].pixel(0, 0), GREEN);
}

#[test]
fn a_window_that_dies_with_a_frame_in_flight_is_destroyed_cleanly() {
    let mut fixture = Fixture::start();
    fixture.auto_ack = false;
    let mut client = Client::connect(&fixture.socket_path());
    let toplevel = client.toplevel("short-lived", 64, 64, RED);
    fixture.wait_for("frame 1", |f| f.windows.values().any(|w| w.frames == 1));
    let id = fixture.live(true)[0];
    toplevel.toplevel.destroy();
    toplevel.xdg_surface.destroy();
    toplevel.surface.destroy();
    client.roundtrip();
    fixture.wait_for("Destroy", |f| f.windows[&id].destroyed);
    // dom0's late frame-done for the dead window is harmless.
    fixture.send(Dom0Message::FrameDone {
        window: window(id),
        serial: 1,
    });
    // The agent still works: a new window gets a new id and frames.
    fixture.auto_ack = true;
    let _again = client.toplevel("next", 32, 32, BLUE);
    fixture.wait_for("the next window", |f| {
        f.live(true)
            .iter()
            .any(|other| *other != id && f.windows[other].frames > 0)
    });
    assert!(
        !fixture.live(true).contains(&id),
        "ids are not reused at once"
    );
}

#[test]
fn a_popup_outliving_its_parent_does_not_upset_the_agent() {
    let mut fixture = Fixture::start();
    let mut client = Client::connect(&fixture.socket_path());
    let toplevel = client.toplevel("parent", 100, 100, RED);
    let _popup = client.popup(&toplevel.xdg_surface, (10, 10), (20, 20), GREEN);
    fixture.wait_for("both windows", |f| {
        f.windows.values().filter(|w| w.mapped).count() == 2
    });
    // The parent goes first: its popup is dismissed and leaves dom0 with it.
    toplevel.toplevel.destroy();
    toplevel.xdg_surface.destroy();
    toplevel.surface.destroy();
    let _ = client.try_roundtrip();
    fixture.wait_for("all gone", |f| f.windows.values().all(|w| w.destroyed));
    let _ = client.try_roundtrip();
    assert!(
        client.seen.popup_done,
        "the client learns its popup is gone"
    );
    // Another client is still served.
    let mut other = Client::connect(&fixture.socket_path());
    let _t = other.toplevel("survivor", 16, 16, BLUE);
    fixture.wait_for("the survivor", |f| f.live(true).len() == 1);
}

#[test]
fn the_window_limit_refuses_windows_beyond_it() {
    let mut fixture = Fixture::start();
    let mut client = Client::connect(&fixture.socket_path());
    let limit = bulkhead_protocol::MAX_WINDOWS_PER_QUBE;
    let _toplevels = client.many_toplevels(limit + 3);
    // CreateWindow, Damage and Map per window (a cheap condition: 4096 windows).
    fixture.wait_for("the limit reached", |f| f.log.len() >= 3 * limit);
    fixture.settle(Duration::from_millis(300));
    assert_eq!(fixture.live(true).len(), limit, "never more than the limit");
}
