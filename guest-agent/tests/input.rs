//! dom0's input reaches the right surface: keyboard to the window dom0 focuses, pointer to
//! the surface under it (subsurfaces and popups included), window geometry respected.

mod common;

use bulkhead_guest_agent::link::{AgentMessage, Dom0Message, WindowId};
use bulkhead_protocol::CursorShape;
use common::Fixture;
use common::client::{BLUE, Client, GREEN, Input, RED};
use smithay::input::keyboard::xkb;
use wayland_client::Proxy;

/// `px` pixels in the wire's 1/256 px.
fn fixed(px: i32) -> i32 {
    px * 256
}

fn window(id: u32) -> WindowId {
    WindowId::new(id).expect("non-zero")
}

#[test]
fn keys_go_to_the_window_dom0_focuses() {
    let mut fixture = Fixture::start();
    let mut client = Client::connect(&fixture.socket_path());
    let toplevel = client.toplevel("typing", 100, 100, RED);
    fixture.wait_for("the window mapped", |f| {
        f.windows.values().any(|w| w.mapped)
    });
    let id = fixture.live(true)[0];

    // Keys before any focus go nowhere.
    fixture.send(Dom0Message::Key {
        time_ms: 1,
        keycode: 16,
        pressed: true,
    });
    fixture.send(Dom0Message::FocusIn { window: window(id) });
    fixture.send(Dom0Message::Key {
        time_ms: 2,
        keycode: 30,
        pressed: true,
    });
    fixture.send(Dom0Message::Key {
        time_ms: 3,
        keycode: 30,
        pressed: false,
    });
    let surface = toplevel.surface.id().protocol_id();
    client.wait_input("the key release", |e| *e == Input::Key(30, false));
    let keys: Vec<&Input> = client
        .seen
        .input
        .iter()
        .filter(|e| matches!(e, Input::KeyboardEnter(_) | Input::Key(..)))
        .collect();
    assert_eq!(
        keys,
        vec![
            &Input::KeyboardEnter(surface),
            &Input::Key(30, true),
            &Input::Key(30, false)
        ]
    );

    // Modifier state from dom0 (Shift held, Caps Lock on) reaches the client.
    fixture.send(Dom0Message::Modifiers {
        depressed: 1,
        latched: 0,
        locked: 2,
        group: 0,
    });
    client.wait_input("Shift and Caps Lock", |e| *e == Input::Modifiers(1, 2, 0));

    fixture.send(Dom0Message::FocusOut { window: window(id) });
    client.wait_input("keyboard leave", |e| *e == Input::KeyboardLeave);
}

#[test]
fn a_keymap_from_dom0_reaches_the_client() {
    let mut fixture = Fixture::start();
    let mut client = Client::connect(&fixture.socket_path());
    let _toplevel = client.toplevel("layout", 50, 50, RED);
    fixture.wait_for("the window mapped", |f| {
        f.windows.values().any(|w| w.mapped)
    });
    let id = fixture.live(true)[0];
    client.wait_input("the default keymap", |e| matches!(e, Input::Keymap(_)));
    // dom0 sends its layout (German here) in xkb's text form.
    let context = xkb::Context::new(xkb::CONTEXT_NO_FLAGS);
    let keymap = xkb::Keymap::new_from_names(&context, "", "", "de", "", None, 0)
        .expect("the de layout compiles");
    let text = keymap.get_as_string(xkb::KEYMAP_FORMAT_TEXT_V1);
    fixture.send(Dom0Message::Keymap { xkb_text: text });
    fixture.send(Dom0Message::FocusIn { window: window(id) });
    for _ in 0..200 {
        client.roundtrip();
        let keymaps = client
            .seen
            .input
            .iter()
            .filter(|e| matches!(e, Input::Keymap(_)))
            .count();
        if keymaps >= 2 {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!(
        "dom0's keymap never reached the client: {:?}",
        client.seen.input
    );
}

#[test]
fn pointer_reaches_the_subsurface_under_it() {
    let mut fixture = Fixture::start();
    let mut client = Client::connect(&fixture.socket_path());
    let toplevel = client.toplevel("pointing", 200, 100, RED);
    let (sub, _subsurface) = client.subsurface(&toplevel.surface, (20, 20), (50, 50), BLUE);
    fixture.wait_for("the subsurface drawn", |f| {
        f.windows
            .values()
            .any(|w| w.frames > 0 && w.pixel(30, 30) == BLUE)
    });
    let id = fixture.live(true)[0];

    fixture.send(Dom0Message::PointerEnter {
        window: window(id),
        x: fixed(30),
        y: fixed(35),
    });
    let sub_id = sub.id().protocol_id();
    client.wait_input("enter on the subsurface", |e| {
        *e == Input::PointerEnter(sub_id, 10.0, 15.0)
    });

    fixture.send(Dom0Message::PointerMotion {
        window: window(id),
        time_ms: 5,
        x: fixed(150),
        y: fixed(80),
    });
    let top_id = toplevel.surface.id().protocol_id();
    client.wait_input("enter on the toplevel", |e| {
        *e == Input::PointerEnter(top_id, 150.0, 80.0)
    });

    fixture.send(Dom0Message::PointerButton {
        window: window(id),
        time_ms: 6,
        button: 0x110,
        pressed: true,
    });
    client.wait_input("the button", |e| *e == Input::Button(0x110, true));

    fixture.send(Dom0Message::PointerLeave { window: window(id) });
    client.wait_input("leave", |e| *e == Input::PointerLeave);
}

#[test]
fn window_geometry_crops_shadows_and_shifts_the_pointer() {
    let mut fixture = Fixture::start();
    let mut client = Client::connect(&fixture.socket_path());
    // A 120x120 buffer whose outer 10 px are a green "shadow"; the window is the middle.
    let toplevel =
        client.toplevel_with("shadowed", (120, 120), Some((10, 10, 100, 100)), |x, y| {
            if (10..110).contains(&x) && (10..110).contains(&y) {
                RED
            } else {
                GREEN
            }
        });
    fixture.wait_for("the first frame", |f| {
        f.windows.values().any(|w| w.frames > 0)
    });
    let id = fixture.live(true)[0];
    let model = &fixture.windows[&id];
    assert_eq!(model.size(), (100, 100));
    assert!(
        model.pixels.iter().all(|&p| p == RED),
        "no shadow in dom0's window"
    );

    fixture.send(Dom0Message::PointerEnter {
        window: window(id),
        x: fixed(0),
        y: fixed(0),
    });
    let top_id = toplevel.surface.id().protocol_id();
    client.wait_input("enter at the geometry's origin", |e| {
        *e == Input::PointerEnter(top_id, 10.0, 10.0)
    });
}

#[test]
fn pointer_on_a_popup_window_reaches_the_popup() {
    let mut fixture = Fixture::start();
    let mut client = Client::connect(&fixture.socket_path());
    let toplevel = client.toplevel("menus", 200, 200, RED);
    let popup = client.popup(&toplevel.xdg_surface, (50, 50), (60, 40), GREEN);
    fixture.wait_for("the popup drawn", |f| {
        f.live(false).iter().any(|id| f.windows[id].frames > 0)
    });
    let popup_window = fixture.live(false)[0];
    fixture.send(Dom0Message::PointerEnter {
        window: window(popup_window),
        x: fixed(5),
        y: fixed(6),
    });
    let popup_id = popup.surface.id().protocol_id();
    client.wait_input("enter on the popup", |e| {
        *e == Input::PointerEnter(popup_id, 5.0, 6.0)
    });
    fixture.send(Dom0Message::PointerAxis {
        window: window(popup_window),
        time_ms: 9,
        axis: bulkhead_protocol::Axis::Vertical,
        value: fixed(15),
        discrete_120: 120,
    });
    client.wait_input("a scroll", |e| *e == Input::Axis(true, 15.0));
}

#[test]
fn a_click_outside_a_menu_dismisses_it() {
    let mut fixture = Fixture::start();
    let mut client = Client::connect(&fixture.socket_path());
    let toplevel = client.toplevel("menu bar", 200, 200, RED);
    fixture.wait_for("the window mapped", |f| {
        f.windows.values().any(|w| w.mapped)
    });
    let id = fixture.live(true)[0];
    // The user clicks the menu bar: the client opens a menu with a grab.
    fixture.send(Dom0Message::PointerEnter {
        window: window(id),
        x: fixed(10),
        y: fixed(10),
    });
    fixture.send(Dom0Message::PointerButton {
        window: window(id),
        time_ms: 1,
        button: 0x110,
        pressed: true,
    });
    client.wait_input("the press", |e| *e == Input::Button(0x110, true));
    let _menu = client.grabbing_popup(&toplevel.xdg_surface, (10, 10), (80, 60), GREEN);
    fixture.wait_for("the menu shown", |f| {
        f.live(false).iter().any(|p| f.windows[p].mapped)
    });
    let menu = fixture.live(false)[0];

    // A click inside the menu keeps it.
    fixture.send(Dom0Message::PointerEnter {
        window: window(menu),
        x: fixed(5),
        y: fixed(5),
    });
    fixture.send(Dom0Message::PointerButton {
        window: window(menu),
        time_ms: 2,
        button: 0x110,
        pressed: true,
    });
    client.wait_input("the press in the menu", |e| {
        *e == Input::Button(0x110, true)
    });
    client.roundtrip();
    assert!(!client.seen.popup_done);

    // A click back in the toplevel, outside the menu, dismisses it.
    fixture.send(Dom0Message::PointerEnter {
        window: window(id),
        x: fixed(150),
        y: fixed(150),
    });
    fixture.send(Dom0Message::PointerButton {
        window: window(id),
        time_ms: 3,
        button: 0x110,
        pressed: true,
    });
    for _ in 0..200 {
        client.roundtrip();
        if client.seen.popup_done {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    panic!("the menu was not dismissed");
}

#[test]
fn the_pointer_shape_reaches_dom0_again_after_every_enter() {
    // dom0 forgets a window's shape when the pointer leaves it: the agent must not keep
    // the same shape back as "already sent" on the next enter.
    let mut fixture = Fixture::start();
    let mut client = Client::connect(&fixture.socket_path());
    let _toplevel = client.toplevel("shapes", 100, 100, RED);
    fixture.wait_for("the window mapped", |f| {
        f.windows.values().any(|w| w.mapped)
    });
    let id = window(fixture.live(true)[0]);
    let hidden = |f: &Fixture| {
        f.log
            .iter()
            .filter(|m| {
                matches!(m, AgentMessage::SetCursor { window, shape: CursorShape::Hidden } if *window == id)
            })
            .count()
    };
    for round in 1..=2 {
        client.seen.input.clear();
        fixture.send(Dom0Message::PointerEnter {
            window: id,
            x: fixed(10),
            y: fixed(10),
        });
        client.wait_input("the pointer enter", |e| {
            matches!(e, Input::PointerEnter(..))
        });
        client.hide_cursor();
        fixture.wait_for("the hidden shape sent to dom0", |f| hidden(f) == round);
        fixture.send(Dom0Message::PointerLeave { window: id });
        client.wait_input("the pointer leave", |e| *e == Input::PointerLeave);
    }
}
