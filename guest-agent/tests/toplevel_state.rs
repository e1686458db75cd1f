//! Toplevel state between client and dom0: titles, size hints, dom0's configure, unmap and
//! map again, requests dom0 decides, and dom0's output scale.

mod common;

use bulkhead_guest_agent::link::{
    AgentMessage, Dom0Message, OutputInfo, Size, WindowId, WindowStates,
};
use common::Fixture;
use common::client::{BLUE, Client, GREEN, RED};

fn window(id: u32) -> WindowId {
    WindowId::new(id).expect("non-zero")
}

#[test]
fn title_changes_and_size_hints_reach_dom0() {
    let mut fixture = Fixture::start();
    let mut client = Client::connect(&fixture.socket_path());
    let toplevel = client.toplevel("first", 120, 90, RED);
    fixture.wait_for("the window mapped", |f| {
        f.windows.values().any(|w| w.mapped)
    });
    let id = fixture.live(true)[0];

    toplevel.toplevel.set_title("second\ttitle".to_owned());
    toplevel.toplevel.set_min_size(100, 50);
    toplevel.toplevel.set_max_size(0, 400);
    toplevel.surface.commit();
    client.roundtrip();
    fixture.wait_for("the new title", |f| {
        f.windows[&id].title.as_deref() == Some("second title")
    });
    fixture.wait_for("size hints", |f| {
        f.log.iter().any(|m| {
            *m == AgentMessage::SizeHints {
                window: window(id),
                min: Some(Size::new(100, 50)),
                max: Some(Size::new(bulkhead_protocol::MAX_WINDOW_WIDTH, 400)),
            }
        })
    });
}

#[test]
fn dom0_configure_reaches_the_client() {
    let mut fixture = Fixture::start();
    let mut client = Client::connect(&fixture.socket_path());
    let _toplevel = client.toplevel("sized by dom0", 120, 90, RED);
    fixture.wait_for("the window mapped", |f| {
        f.windows.values().any(|w| w.mapped)
    });
    let id = fixture.live(true)[0];
    fixture.send(Dom0Message::Configure {
        window: window(id),
        serial: 1,
        width: 640,
        height: 480,
        states: WindowStates::ACTIVATED | WindowStates::MAXIMIZED,
    });
    for _ in 0..200 {
        client.roundtrip();
        if client.seen.toplevel_size == Some((640, 480)) {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("configure never arrived: {:?}", client.seen.toplevel_size);
}

#[test]
fn a_null_buffer_unmaps_and_a_new_one_maps_again() {
    let mut fixture = Fixture::start();
    let mut client = Client::connect(&fixture.socket_path());
    let toplevel = client.toplevel("blinking", 60, 60, RED);
    fixture.wait_for("mapped", |f| f.windows.values().any(|w| w.mapped));
    let id = fixture.live(true)[0];
    toplevel.surface.attach(None, 0, 0);
    toplevel.surface.commit();
    client.roundtrip();
    fixture.wait_for("unmapped", |f| !f.windows[&id].mapped);
    client.redraw(&toplevel.surface, 60, 60, GREEN);
    fixture.wait_for("mapped again, green", |f| {
        f.windows[&id].mapped && f.windows[&id].pixel(0, 0) == GREEN
    });
    let creates = fixture
        .log
        .iter()
        .filter(|m| matches!(m, AgentMessage::CreateWindow { .. }))
        .count();
    assert_eq!(creates, 1, "the same window comes back");
}

#[test]
fn maximize_fullscreen_and_minimize_are_requests_to_dom0() {
    let mut fixture = Fixture::start();
    let mut client = Client::connect(&fixture.socket_path());
    let toplevel = client.toplevel("wishes", 60, 60, RED);
    fixture.wait_for("mapped", |f| f.windows.values().any(|w| w.mapped));
    let id = window(fixture.live(true)[0]);
    toplevel.toplevel.set_maximized();
    toplevel.toplevel.set_fullscreen(None);
    toplevel.toplevel.unset_fullscreen();
    toplevel.toplevel.set_minimized();
    client.roundtrip();
    let expected = vec![
        AgentMessage::SetMaximized {
            window: id,
            on: true,
        },
        AgentMessage::SetFullscreen {
            window: id,
            on: true,
        },
        AgentMessage::SetFullscreen {
            window: id,
            on: false,
        },
        AgentMessage::Minimize { window: id },
    ];
    fixture.wait_for("the requests", |f| {
        let requests: Vec<&AgentMessage> = f
            .log
            .iter()
            .filter(|m| {
                matches!(
                    m,
                    AgentMessage::SetMaximized { .. }
                        | AgentMessage::SetFullscreen { .. }
                        | AgentMessage::Minimize { .. }
                )
            })
            .collect();
        requests.len() == expected.len()
    });
    let requests: Vec<AgentMessage> = fixture
        .log
        .iter()
        .filter(|m| {
            matches!(
                m,
                AgentMessage::SetMaximized { .. }
                    | AgentMessage::SetFullscreen { .. }
                    | AgentMessage::Minimize { .. }
            )
        })
        .cloned()
        .collect();
    assert_eq!(requests, expected);
}

#[test]
fn wishes_made_before_the_first_commit_reach_dom0_after_creation() {
    let mut fixture = Fixture::start();
    let mut client = Client::connect(&fixture.socket_path());
    let _toplevel = client.toplevel_prepared(
        "early",
        (60, 60),
        None,
        |_, _| RED,
        |t| {
            t.set_maximized();
            t.set_fullscreen(None);
        },
    );
    fixture.wait_for("mapped", |f| f.windows.values().any(|w| w.mapped));
    let id = window(fixture.live(true)[0]);
    let wishes = |f: &Fixture| -> Vec<AgentMessage> {
        f.log
            .iter()
            .filter(|m| {
                matches!(
                    m,
                    AgentMessage::SetMaximized { .. } | AgentMessage::SetFullscreen { .. }
                )
            })
            .cloned()
            .collect()
    };
    fixture.wait_for("the early wishes", |f| wishes(f).len() == 2);
    assert_eq!(
        wishes(&fixture),
        [
            AgentMessage::SetMaximized {
                window: id,
                on: true
            },
            AgentMessage::SetFullscreen {
                window: id,
                on: true
            },
        ]
    );
    // After CreateWindow, never before it.
    let created = fixture
        .log
        .iter()
        .position(|m| matches!(m, AgentMessage::CreateWindow { .. }))
        .unwrap();
    let first_wish = fixture
        .log
        .iter()
        .position(|m| matches!(m, AgentMessage::SetMaximized { .. }))
        .unwrap();
    assert!(created < first_wish);
}

#[test]
fn windows_are_rendered_at_dom0s_scale() {
    let mut fixture = Fixture::start();
    fixture.send(Dom0Message::OutputChange {
        output: OutputInfo {
            width: 3840,
            height: 2160,
            scale_120: 240,
            refresh_mhz: 60_000,
        },
    });
    let mut client = Client::connect(&fixture.socket_path());
    let toplevel = client.toplevel("hidpi", 100, 80, RED);
    // A 1x buffer is upscaled: 100x80 logical is 200x160 pixels at scale 2.
    fixture.wait_for("a 200x160 frame", |f| {
        f.windows
            .values()
            .any(|w| w.frames > 0 && w.size() == (200, 160))
    });
    // A client that follows wl_output.scale draws at 2x: same window, crisp pixels.
    toplevel.surface.set_buffer_scale(2);
    client.redraw(&toplevel.surface, 200, 160, BLUE);
    let id = fixture.live(true)[0];
    fixture.wait_for("the 2x buffer", |f| f.windows[&id].pixel(199, 159) == BLUE);
    assert_eq!(fixture.windows[&id].size(), (200, 160));
    assert!(fixture.windows[&id].pixels.iter().all(|&p| p == BLUE));
}
