//! Windows end to end: a real Wayland client (tests/common/client.rs) against the agent,
//! with the model dom0 of tests/common checking what reaches it.

mod common;

use std::time::Duration;

use bulkhead_guest_agent::link::{AgentMessage, Dom0Message, Rect, WindowId, WindowKind};
use common::Fixture;
use common::client::{BLUE, Client, GREEN, RED, WHITE};

fn only_toplevel(fixture: &Fixture) -> u32 {
    let ids = fixture.live(true);
    assert_eq!(ids.len(), 1, "exactly one toplevel: {:?}", fixture.windows);
    ids[0]
}

#[test]
fn toplevel_with_subsurface_is_one_flattened_window() {
    let mut fixture = Fixture::start();
    let mut client = Client::connect(&fixture.socket_path());
    let toplevel = client.toplevel("flat", 200, 100, RED);
    let _sub = client.subsurface(&toplevel.surface, (20, 20), (50, 50), BLUE);
    fixture.wait_for("the subsurface in the toplevel's image", |f| {
        f.windows
            .values()
            .any(|w| w.mapped && w.frames > 0 && w.pixel(30, 30) == BLUE)
    });
    let id = only_toplevel(&fixture);
    let window = &fixture.windows[&id];
    assert!(
        fixture.live(false).is_empty(),
        "a subsurface is not a window"
    );
    assert_eq!(window.kind, Some(WindowKind::Toplevel));
    assert_eq!(window.title.as_deref(), Some("flat"));
    assert_eq!(window.app_id.as_deref(), Some("bulkhead.test"));
    assert_eq!(window.size(), (200, 100));
    assert_eq!(window.pixel(5, 5), RED);
    assert_eq!(window.pixel(20, 20), BLUE);
    assert_eq!(window.pixel(69, 69), BLUE);
    assert_eq!(window.pixel(70, 70), RED);
    assert_eq!(window.pixel(199, 99), RED);
}

#[test]
fn popup_is_its_own_window_placed_relative_to_its_parent() {
    let mut fixture = Fixture::start();
    let mut client = Client::connect(&fixture.socket_path());
    let toplevel = client.toplevel("menu owner", 300, 200, WHITE);
    let popup = client.popup(&toplevel.xdg_surface, (10, 20), (40, 30), GREEN);
    fixture.wait_for("the popup's first frame", |f| {
        f.live(false).iter().any(|id| f.windows[id].frames > 0)
    });
    let parent = only_toplevel(&fixture);
    let popups = fixture.live(false);
    assert_eq!(popups.len(), 1);
    let window = &fixture.windows[&popups[0]];
    assert_eq!(
        window.kind,
        Some(WindowKind::Popup {
            parent: WindowId::new(parent).unwrap(),
            x: 10,
            y: 20,
        })
    );
    assert_eq!(window.size(), (40, 30));
    assert!(window.pixels.iter().all(|&p| p == GREEN));
    fixture.wait_for("the popup mapped", |f| f.windows[&popups[0]].mapped);

    popup.popup.destroy();
    popup.xdg_surface.destroy();
    popup.surface.destroy();
    client.roundtrip();
    fixture.wait_for("the popup destroyed", |f| f.windows[&popups[0]].destroyed);
    assert!(!fixture.windows[&parent].destroyed);
}

#[test]
fn a_resize_sends_a_whole_frame_of_the_new_size() {
    let mut fixture = Fixture::start();
    let mut client = Client::connect(&fixture.socket_path());
    let toplevel = client.toplevel("resizer", 100, 80, RED);
    fixture.wait_for("the first frame", |f| {
        f.windows.values().any(|w| w.frames > 0)
    });
    client.redraw(&toplevel.surface, 320, 240, BLUE);
    fixture.wait_for("a 320x240 frame", |f| {
        f.windows
            .values()
            .any(|w| w.frames > 0 && w.size() == (320, 240))
    });
    let id = only_toplevel(&fixture);
    let window = &fixture.windows[&id];
    assert!(window.pixels.iter().all(|&p| p == BLUE));
    assert_eq!(
        window.rects,
        vec![Rect {
            x: 0,
            y: 0,
            w: 320,
            h: 240
        }]
    );
    let creates = fixture
        .log
        .iter()
        .filter(|m| matches!(m, AgentMessage::CreateWindow { .. }))
        .count();
    assert_eq!(creates, 1, "a resize is not a new window");

    // Smaller again: dom0 sees the new size too.
    client.redraw(&toplevel.surface, 50, 40, GREEN);
    fixture.wait_for("a 50x40 frame", |f| f.windows[&id].size() == (50, 40));
    assert!(fixture.windows[&id].pixels.iter().all(|&p| p == GREEN));
}

#[test]
fn close_from_dom0_reaches_the_client_and_destroy_follows() {
    let mut fixture = Fixture::start();
    let mut client = Client::connect(&fixture.socket_path());
    let toplevel = client.toplevel("closable", 64, 64, RED);
    fixture.wait_for("the window mapped", |f| {
        f.windows.values().any(|w| w.mapped)
    });
    let id = only_toplevel(&fixture);
    fixture.send(Dom0Message::Close {
        window: WindowId::new(id).unwrap(),
    });
    for _ in 0..100 {
        client.roundtrip();
        if client.seen.closed {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(client.seen.closed, "the client got xdg_toplevel.close");
    toplevel.toplevel.destroy();
    toplevel.xdg_surface.destroy();
    toplevel.surface.destroy();
    client.roundtrip();
    fixture.wait_for("Destroy", |f| f.windows[&id].destroyed);
}

#[test]
fn a_client_that_disconnects_loses_its_windows() {
    let mut fixture = Fixture::start();
    let mut client = Client::connect(&fixture.socket_path());
    let toplevel = client.toplevel("leaving", 64, 64, RED);
    let _popup = client.popup(&toplevel.xdg_surface, (5, 5), (20, 20), GREEN);
    fixture.wait_for("both windows", |f| {
        f.windows.values().filter(|w| w.mapped).count() == 2
    });
    drop(client);
    fixture.wait_for("both destroyed", |f| {
        f.windows.values().all(|w| w.destroyed)
    });
}

#[test]
fn frames_and_frame_callbacks_wait_for_frame_done() {
    let mut fixture = Fixture::start();
    fixture.auto_ack = false;
    let mut client = Client::connect(&fixture.socket_path());
    let toplevel = client.toplevel("paced", 64, 64, RED);
    fixture.wait_for("the first frame", |f| {
        f.windows.values().any(|w| w.frames == 1)
    });
    let id = only_toplevel(&fixture);

    // The client draws twice more, asking for frame callbacks; dom0 has not answered.
    toplevel.surface.frame(&client_qh(&client), ());
    client.redraw(&toplevel.surface, 64, 64, GREEN);
    client.redraw(&toplevel.surface, 64, 64, BLUE);
    fixture.settle(Duration::from_millis(300));
    assert_eq!(fixture.windows[&id].frames, 1, "no frame before frame-done");
    client.roundtrip();
    assert_eq!(
        client.seen.frames_done, 0,
        "no frame callback before frame-done"
    );

    // dom0 shows frame 1: the newest content follows as frame 2.
    fixture.ack(id);
    fixture.wait_for("frame 2", |f| f.windows[&id].frames == 2);
    assert!(fixture.windows[&id].pixels.iter().all(|&p| p == BLUE));
    client.roundtrip();
    assert_eq!(
        client.seen.frames_done, 0,
        "the callback belongs to frame 2"
    );

    fixture.ack(id);
    for _ in 0..100 {
        client.roundtrip();
        if client.seen.frames_done > 0 {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(
        client.seen.frames_done, 1,
        "frame-done answers the frame callback"
    );
}

fn client_qh(client: &Client) -> wayland_client::QueueHandle<common::client::Seen> {
    client.queue_handle()
}

/// Attaches a `size`² buffer that is blue in its 16×16 top-left corner, red in `square`
/// and green elsewhere, and damages only the corner: green must never reach dom0.
fn redraw_corner(
    client: &mut Client,
    surface: &wayland_client::protocol::wl_surface::WlSurface,
    size: i32,
    square: impl Fn(i32, i32) -> bool,
) {
    client.partial_redraw(surface, (size, size), (0, 0, 16, 16), |x, y| {
        if x < 16 && y < 16 {
            BLUE
        } else if square(x, y) {
            RED
        } else {
            GREEN
        }
    });
}

#[test]
fn only_damaged_pixels_are_drawn_and_announced() {
    let mut fixture = Fixture::start();
    let mut client = Client::connect(&fixture.socket_path());
    let toplevel = client.toplevel("damage", 256, 256, WHITE);
    fixture.wait_for("frame 1", |f| f.windows.values().any(|w| w.frames == 1));
    let id = only_toplevel(&fixture);
    // Frame 2 fills the window's second buffer: both buffers are white now.
    client.redraw(&toplevel.surface, 256, 256, WHITE);
    fixture.wait_for("frame 2", |f| f.windows[&id].frames == 2);

    // From now on every buffer the client attaches is green everywhere except what it
    // declares damaged: only declared damage may reach dom0's buffers.
    let square = |x: i32, y: i32| (64..128).contains(&x) && (64..128).contains(&y);
    client.partial_redraw(&toplevel.surface, (256, 256), (64, 64, 64, 64), |x, y| {
        if square(x, y) { RED } else { GREEN }
    });
    fixture.wait_for("frame 3", |f| f.windows[&id].frames == 3);
    assert_eq!(fixture.windows[&id].pixel(100, 100), RED);

    // Frame 4 goes into the buffer of frame 2 (two frames old): it gets frame 3's square
    // and its own, nothing else.
    redraw_corner(&mut client, &toplevel.surface, 256, square);
    fixture.wait_for("frame 4", |f| f.windows[&id].frames == 4);
    let window = &fixture.windows[&id];
    assert_eq!(window.pixel(0, 0), BLUE);
    assert_eq!(window.pixel(100, 100), RED, "frame 3's square caught up");
    assert_eq!(
        window.pixel(200, 200),
        WHITE,
        "undamaged pixels are not redrawn"
    );
    assert_eq!(window.pixel(63, 100), WHITE);
    let area: u32 = window.rects.iter().map(|r| r.w * r.h).sum();
    assert_eq!(area, 64 * 64 + 16 * 16, "announced: {:?}", window.rects);
}

#[test]
fn switching_between_copying_and_flattening_redraws_whole_frames() {
    let mut fixture = Fixture::start();
    let mut client = Client::connect(&fixture.socket_path());
    let toplevel = client.toplevel("switch", 128, 128, WHITE);
    fixture.wait_for("frame 1", |f| f.windows.values().any(|w| w.frames == 1));
    let id = only_toplevel(&fixture);
    let area = |f: &Fixture| f.windows[&id].rects.iter().map(|r| r.w * r.h).sum::<u32>();

    // A subsurface: the window is flattened from now on, whole at first.
    let (sub, subsurface) = client.subsurface(&toplevel.surface, (0, 0), (32, 32), BLUE);
    fixture.wait_for("frame 2", |f| f.windows[&id].frames == 2);
    assert_eq!(fixture.windows[&id].pixel(0, 0), BLUE);
    assert_eq!(fixture.windows[&id].pixel(64, 64), WHITE);
    assert_eq!(area(&fixture), 128 * 128);

    // Without it the window is one plain surface again: copied, and whole at first.
    subsurface.destroy();
    sub.destroy();
    client.redraw(&toplevel.surface, 128, 128, WHITE);
    fixture.wait_for("frame 3", |f| f.windows[&id].frames == 3);
    assert_eq!(
        fixture.windows[&id].pixel(0, 0),
        WHITE,
        "the subsurface is gone"
    );
    assert_eq!(area(&fixture), 128 * 128);

    // Frame 4 goes into frame 2's buffer, which the copies never wrote: whole again.
    let square = |x: i32, y: i32| (64..80).contains(&x) && (64..80).contains(&y);
    client.partial_redraw(&toplevel.surface, (128, 128), (64, 64, 16, 16), |x, y| {
        if square(x, y) { RED } else { WHITE }
    });
    fixture.wait_for("frame 4", |f| f.windows[&id].frames == 4);
    assert_eq!(fixture.windows[&id].pixel(70, 70), RED);
    assert_eq!(area(&fixture), 128 * 128);

    // Frame 5 goes into frame 3's buffer: frame 4's square and its own, nothing else
    // (everything the client did not declare damaged is green and must not show).
    redraw_corner(&mut client, &toplevel.surface, 128, square);
    fixture.wait_for("frame 5", |f| f.windows[&id].frames == 5);
    let window = &fixture.windows[&id];
    assert_eq!(window.pixel(0, 0), BLUE);
    assert_eq!(window.pixel(70, 70), RED, "frame 4's square caught up");
    assert_eq!(
        window.pixel(100, 100),
        WHITE,
        "undamaged pixels are not copied"
    );
    assert_eq!(area(&fixture), 2 * 16 * 16, "announced: {:?}", window.rects);
}

#[test]
fn an_oversized_surface_is_cropped_to_the_wire_limit() {
    let mut fixture = Fixture::start();
    let mut client = Client::connect(&fixture.socket_path());
    let width = i32::try_from(bulkhead_protocol::MAX_WINDOW_WIDTH).unwrap() + 1000;
    let _toplevel = client.toplevel("too wide", width, 4, RED);
    fixture.wait_for("a frame", |f| f.windows.values().any(|w| w.frames > 0));
    let id = only_toplevel(&fixture);
    assert_eq!(
        fixture.windows[&id].size(),
        (bulkhead_protocol::MAX_WINDOW_WIDTH, 4)
    );
    assert_eq!(
        fixture.windows[&id].initial_size.map(|s| s.width),
        Some(bulkhead_protocol::MAX_WINDOW_WIDTH)
    );
}

#[test]
fn windows_of_several_clients_get_distinct_ids_and_buffers() {
    let mut fixture = Fixture::start();
    let mut clients: Vec<Client> = (0..3)
        .map(|_| Client::connect(&fixture.socket_path()))
        .collect();
    let colors = [RED, GREEN, BLUE];
    let toplevels: Vec<_> = clients
        .iter_mut()
        .zip(colors)
        .map(|(client, color)| client.toplevel("many", 300, 200, color))
        .collect();
    fixture.wait_for("three windows", |f| {
        f.windows.values().filter(|w| w.mapped).count() == 3
    });
    let mut seen: Vec<u32> = fixture
        .live(true)
        .iter()
        .map(|id| fixture.windows[id].pixel(0, 0))
        .collect();
    seen.sort_unstable();
    let mut want = colors.to_vec();
    want.sort_unstable();
    assert_eq!(seen, want, "each window shows its own client's pixels");
    // Resizes churn the allocator; the fixture checks for overlaps on every frame.
    for round in 0..5 {
        for (client, toplevel) in clients.iter_mut().zip(&toplevels) {
            client.redraw(&toplevel.surface, 300 + round * 37, 200 + round * 23, WHITE);
        }
    }
    fixture.wait_for("the last size everywhere", |f| {
        f.live(true).iter().all(|id| {
            f.windows[id]
                .buffer
                .is_some_and(|b| b.width == 300 + 4 * 37)
        })
    });
}

#[test]
fn popups_are_kept_on_the_output() {
    use wayland_protocols::xdg::shell::client::xdg_positioner::ConstraintAdjustment;
    let mut fixture = Fixture::start();
    fixture.send(Dom0Message::OutputChange {
        output: bulkhead_guest_agent::link::OutputInfo {
            width: 400,
            height: 300,
            scale_120: 120,
            refresh_mhz: 0,
        },
    });
    let mut client = Client::connect(&fixture.socket_path());
    let toplevel = client.toplevel("edge", 300, 200, WHITE);
    // Anchored at x = 290, 150 wide: it would end at 440, past the 400 px output.
    let _popup = client.popup_adjusted(
        &toplevel.xdg_surface,
        (290, 10),
        (150, 40),
        GREEN,
        ConstraintAdjustment::SlideX,
    );
    fixture.wait_for("the popup", |f| !f.live(false).is_empty());
    let popup = &fixture.windows[&fixture.live(false)[0]];
    let Some(WindowKind::Popup { x, y, .. }) = popup.kind else {
        panic!("a popup: {popup:?}");
    };
    assert_eq!((x, y), (250, 10), "slid back onto the output");
}
