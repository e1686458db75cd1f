//! Windows coming, changing and going, as dom0 shows them: a client that resizes, one with
//! an xdg_popup, ones with subsurfaces (the agent's test client and weston-subsurfaces),
//! clients that close, and a qube whose agent dies. Each is checked in list-windows and in
//! the pixels of dom0's screenshot.
//!
//! The small client is the guest agent's own test client (`guest-agent/tests/common/
//! client.rs`), shared by path.

mod common;

use bulkhead_tests::desktop::{Desktop, UNTRUSTED, WORK};
use bulkhead_tests::screen::{BLUE, RED, Rgb, check_frame, content_pixels, find, points};
use common::client::{self, Client};

/// The client's ARGB colour as the screenshot shows it.
fn rgb(argb: u32) -> Rgb {
    let [b, g, r, _] = argb.to_le_bytes();
    Rgb::new(r, g, b)
}

/// Every visible content pixel of window `id` is `colour`, and there are some.
fn content_is(
    screen: &bulkhead_tests::screen::Screen,
    windows: &[bulkhead_compositor::control::WindowInfo],
    id: u64,
    colour: Rgb,
) -> Result<(), String> {
    let pixels = content_pixels(screen, windows, id)?;
    if pixels.is_empty() {
        return Err(format!("window {id} shows no content"));
    }
    match pixels.iter().find(|p| p.2 != colour) {
        Some(p) => Err(format!("window {id}: content pixel {p:?} is not {colour}")),
        None => Ok(()),
    }
}

#[test]
fn a_resized_window_keeps_its_frame_around_the_new_size() {
    let mut desktop = Desktop::start("resize", &[WORK]);
    let mut client = Client::connect(&desktop.wayland_socket(WORK.name));
    let window = client.toplevel("resizer", 240, 160, client::GREEN);
    let info = desktop.wait_for_window(WORK.name, "resizer");
    // Larger, then narrower than the narrowest title bar (dom0 adds a filler beside it).
    for (step, (w, h, colour)) in [
        (240, 160, client::GREEN),
        (400, 300, client::BLUE),
        (120, 90, client::RED),
    ]
    .into_iter()
    .enumerate()
    {
        if step > 0 {
            client.redraw(&window.surface, w, h, colour);
        }
        desktop.wait_for(&format!("the window at {w}x{h}"), |d| {
            let windows = d.windows();
            let now = find(&windows, info.id)?;
            if (now.geometry.w, now.geometry.h) != (w, h) {
                return Err(format!("geometry {:?}", now.geometry));
            }
            let screen = d.screenshot(&format!("resize-{w}x{h}"));
            check_frame(&screen, &windows, info.id, BLUE)?;
            content_is(&screen, &windows, info.id, rgb(colour))
        });
    }
    // It stays one window, placed where it was.
    let windows = desktop.windows();
    assert_eq!(windows.len(), 1);
    assert_eq!(
        (windows[0].geometry.x, windows[0].geometry.y),
        (info.geometry.x, info.geometry.y)
    );
}

#[test]
fn a_popup_is_its_own_window_with_a_thin_frame_until_dismissed() {
    let mut desktop = Desktop::start("popup", &[WORK]);
    let mut client = Client::connect(&desktop.wayland_socket(WORK.name));
    let parent = client.toplevel("with a menu", 300, 200, client::WHITE);
    let parent_info = desktop.wait_for_window(WORK.name, "with a menu");
    // Anchored inside the parent, reaching past its bottom-right corner.
    let popup = client.popup(&parent.xdg_surface, (240, 160), (120, 80), client::RED);
    let popup_info = desktop.wait_for_windows("the popup", |windows| {
        let popups: Vec<_> = windows.iter().filter(|w| w.kind == "popup").collect();
        match popups.as_slice() {
            [p] if p.visible => Ok((*p).clone()),
            _ => Err(format!("{} popups in {windows:#?}", popups.len())),
        }
    });
    assert_eq!(popup_info.parent, Some(parent_info.id));
    assert_eq!(
        (popup_info.qube.as_str(), popup_info.label.as_str()),
        ("work", "blue")
    );
    assert_eq!(
        popup_info.geometry,
        bulkhead_compositor::desktop::Rect::new(
            parent_info.geometry.x + 240,
            parent_info.geometry.y + 160,
            120,
            80
        )
    );
    desktop.wait_for("the popup's pixels above its parent", |d| {
        let windows = d.windows();
        let screen = d.screenshot("popup-open");
        // The popup is on top: stacked last, and its 2 px frame covers the parent's.
        if windows.last().map(|w| w.id) != Some(popup_info.id) {
            return Err(format!("popup not on top: {windows:#?}"));
        }
        check_frame(&screen, &windows, popup_info.id, BLUE)?;
        content_is(&screen, &windows, popup_info.id, rgb(client::RED))?;
        check_frame(&screen, &windows, parent_info.id, BLUE)?;
        content_is(&screen, &windows, parent_info.id, rgb(client::WHITE))
    });

    popup.popup.destroy();
    popup.xdg_surface.destroy();
    popup.surface.destroy();
    client.roundtrip();
    desktop.wait_for("the popup gone, its parent whole again", |d| {
        let windows = d.windows();
        if windows.len() != 1 {
            return Err(format!("{} windows: {windows:#?}", windows.len()));
        }
        let screen = d.screenshot("popup-closed");
        check_frame(&screen, &windows, parent_info.id, BLUE)?;
        content_is(&screen, &windows, parent_info.id, rgb(client::WHITE))?;
        // Where the popup reached past its parent is background again.
        let outside = (popup_info.geometry.x + 110, popup_info.geometry.y + 70);
        match screen.pixel(outside.0, outside.1) {
            Some(p) if p == rgb(client::RED) || p == BLUE => {
                Err(format!("the popup is still drawn at {outside:?}"))
            }
            _ => Ok(()),
        }
    });
}

#[test]
fn a_subsurface_is_flattened_into_its_toplevel() {
    let mut desktop = Desktop::start("subsurface", &[WORK]);
    let mut client = Client::connect(&desktop.wayland_socket(WORK.name));
    let parent = client.toplevel("with a subsurface", 300, 200, client::WHITE);
    client.subsurface(&parent.surface, (40, 30), (100, 50), client::GREEN);
    let info = desktop.wait_for_window(WORK.name, "with a subsurface");
    desktop.wait_for("the subsurface inside its toplevel", |d| {
        let windows = d.windows();
        if windows.len() != 1 {
            return Err(format!(
                "a subsurface is no window of its own: {windows:#?}"
            ));
        }
        let screen = d.screenshot("subsurface");
        check_frame(&screen, &windows, info.id, BLUE)?;
        for (x, y, p) in content_pixels(&screen, &windows, info.id)? {
            let in_sub = (40..140).contains(&x) && (30..80).contains(&y);
            let want = rgb(if in_sub { client::GREEN } else { client::WHITE });
            if p != want {
                return Err(format!("content ({x}, {y}) is {p}, not {want}"));
            }
        }
        Ok(())
    });
}

#[test]
fn weston_subsurfaces_is_one_window_with_its_subsurfaces_inside() {
    let mut desktop = Desktop::start("weston-subsurfaces", &[WORK]);
    // A real client with two subsurfaces: one drawn with cairo, one with EGL (Mesa's
    // software renderer over wl_shm, as the agent offers no GPU buffers).
    desktop.spawn_with_env(
        WORK.name,
        "weston-subsurfaces",
        "weston-subsurfaces",
        &[],
        &[("LIBGL_ALWAYS_SOFTWARE", "1")],
    );
    let info = desktop.wait_for_window(WORK.name, "Wayland Sub-surface Demo");
    assert_eq!(
        info.app_id,
        "org.freedesktop.weston.wayland-sub-surface-demo"
    );
    desktop.wait_for("the subsurfaces' pixels inside the toplevel", |d| {
        let windows = d.windows();
        if windows.len() != 1 {
            return Err(format!(
                "subsurfaces are no windows of their own: {windows:#?}"
            ));
        }
        let screen = d.screenshot("weston-subsurfaces");
        check_frame(&screen, &windows, info.id, BLUE)?;
        // The main surface is green (#00a300), the cairo subsurface red (#a32100 with
        // its spinning circle) and the EGL subsurface dark green (#005100 behind its
        // triangle): each must be there in quantity.
        let pixels = content_pixels(&screen, &windows, info.id)?;
        let count = |f: &dyn Fn(Rgb) -> bool| pixels.iter().filter(|p| f(p.2)).count();
        let main = count(&|p| p.g > 140 && p.r < 20 && p.b < 20);
        let cairo = count(&|p| p.r > 120 && p.g < 60 && p.b < 30);
        let egl = count(&|p| (60..110).contains(&p.g) && p.r < 20 && p.b < 20);
        if main < 10_000 || cairo < 3000 || egl < 3000 {
            return Err(format!(
                "main {main}, cairo subsurface {cairo}, EGL subsurface {egl} pixels"
            ));
        }
        Ok(())
    });
}

#[test]
fn closed_windows_disappear() {
    let mut desktop = Desktop::start("close", &[WORK, UNTRUSTED]);
    // foot whose shell ends when a file appears: the real app closes by itself.
    let flag = desktop.artifacts().join("foot-may-exit");
    let script = format!("while [ ! -e '{}' ]; do sleep 0.1; done", flag.display());
    let foot = desktop.spawn(UNTRUSTED.name, "foot", "foot", &["sh", "-c", &script]);
    let foot_info = desktop.wait_for_window(UNTRUSTED.name, "foot");
    let mut client = Client::connect(&desktop.wayland_socket(WORK.name));
    let toplevel = client.toplevel("short-lived", 200, 120, client::GREEN);
    let info = desktop.wait_for_window(WORK.name, "short-lived");
    desktop.wait_for("both windows drawn", |d| {
        let windows = d.windows();
        let screen = d.screenshot("close-before");
        check_frame(&screen, &windows, foot_info.id, RED)?;
        check_frame(&screen, &windows, info.id, BLUE)?;
        content_is(&screen, &windows, info.id, rgb(client::GREEN))
    });

    // The test client destroys its toplevel but stays connected.
    toplevel.toplevel.destroy();
    toplevel.xdg_surface.destroy();
    toplevel.surface.destroy();
    client.roundtrip();
    desktop.wait_for("the destroyed toplevel gone", |d| {
        let windows = d.windows();
        if windows.iter().any(|w| w.id == info.id) {
            return Err(format!("still listed: {windows:#?}"));
        }
        let screen = d.screenshot("close-toplevel");
        // Where it was (above foot), foot shows again: no green, no blue left.
        for (x, y) in points(info.frame) {
            let p = screen.pixel(x, y);
            if p == Some(BLUE) || p == Some(rgb(client::GREEN)) {
                return Err(format!("({x}, {y}) still shows the closed window"));
            }
        }
        check_frame(&screen, &windows, foot_info.id, RED).map(|_| ())
    });

    // foot's shell ends, foot closes its window and exits.
    std::fs::write(&flag, b"").expect("create the flag file");
    assert!(
        desktop.wait_exit(foot),
        "foot exits cleanly when its shell ends"
    );
    desktop.wait_for("no window left", |d| {
        let windows = d.windows();
        if !windows.is_empty() {
            return Err(format!("still listed: {windows:#?}"));
        }
        let screen = d.screenshot("close-all");
        for (x, y) in points(foot_info.frame) {
            let p = screen.pixel(x, y);
            if p == Some(RED) {
                return Err(format!("({x}, {y}) still shows foot's frame"));
            }
        }
        Ok(())
    });
}

#[test]
fn a_dead_agent_takes_only_its_own_windows() {
    let mut desktop = Desktop::start("agent-death", &[WORK, UNTRUSTED]);
    desktop.spawn(
        UNTRUSTED.name,
        "foot",
        "foot",
        &["sh", "-c", "exec sleep 600"],
    );
    desktop.wait_for_window(UNTRUSTED.name, "foot");
    let mut client = Client::connect(&desktop.wayland_socket(UNTRUSTED.name));
    client.toplevel("also untrusted", 200, 120, client::GREEN);
    desktop.wait_for_window(UNTRUSTED.name, "also untrusted");
    desktop.spawn(WORK.name, "simple-shm", "weston-simple-shm", &[]);
    let shm = desktop.wait_for_window(WORK.name, "simple-shm");

    desktop.kill_agent(UNTRUSTED.name);
    let before = desktop.wait_for("untrusted's windows gone, work's still drawn", |d| {
        let windows = d.windows();
        if windows.iter().any(|w| w.qube == UNTRUSTED.name) {
            return Err(format!("untrusted windows still listed: {windows:#?}"));
        }
        let screen = d.screenshot("agent-death");
        let red = (0..screen.height)
            .flat_map(|y| (0..screen.width).map(move |x| (x, y)))
            .filter(|&(x, y)| screen.pixel(x, y) == Some(RED))
            .count();
        if red > 0 {
            return Err(format!("{red} pixels of untrusted's red frame remain"));
        }
        check_frame(&screen, &windows, shm.id, BLUE)?;
        content_pixels(&screen, &windows, shm.id)
    });
    // dom0 still knows the qube (it may reconnect), with no windows.
    let qubes = desktop.qubes();
    let untrusted = qubes
        .iter()
        .find(|q| q.name == UNTRUSTED.name)
        .expect("untrusted is still a qube");
    assert_eq!(untrusted.windows, 0);
    assert_eq!(desktop.windows().len(), 1);

    // The other qube keeps rendering: simple-shm's animation still reaches the screen.
    desktop.wait_for("simple-shm still animating", |d| {
        let windows = d.windows();
        let screen = d.screenshot("agent-death-later");
        let changed = content_pixels(&screen, &windows, shm.id)?
            .iter()
            .zip(&before)
            .filter(|(a, b)| a.2 != b.2)
            .count();
        if changed > 1000 {
            Ok(())
        } else {
            Err(format!("only {changed} pixels changed"))
        }
    });
}
