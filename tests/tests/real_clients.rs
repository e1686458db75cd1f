//! Real Wayland clients nobody here wrote (Debian's `weston` and `foot`) in two qubes'
//! agents, shown by a headless dom0 compositor, checked pixel by pixel in its screenshot
//! (DESIGN.md, test tier 2).

use bulkhead_tests::desktop::{Desktop, UNTRUSTED, WORK};
use bulkhead_tests::screen::{BLUE, RED, Rgb, check_frame, content_pixel, content_pixels};

/// foot's default background (`/etc/xdg/foot/foot.ini`, foot 1.13; foreground #dcdccc).
const FOOT_BACKGROUND: Rgb = Rgb::new(0x11, 0x11, 0x11);
/// weston-terminal's default background.
const WESTON_TERMINAL_BACKGROUND: Rgb = Rgb::new(0, 0, 0);
/// The grey of the client-side frame weston's toolkit draws around weston-terminal.
const TOYTOOLKIT_FRAME: Rgb = Rgb::new(0xbf, 0xbf, 0xbf);
const WHITE: Rgb = Rgb::new(0xff, 0xff, 0xff);

#[test]
fn foot_weston_terminal_and_simple_shm_show_in_their_qubes_frames() {
    let mut desktop = Desktop::start("real-clients", &[WORK, UNTRUSTED]);
    // Biggest first: each new toplevel cascades 32 px down and right over the last, so
    // every title bar and a strip of every window stays visible.
    desktop.spawn(
        WORK.name,
        "weston-terminal",
        "weston-terminal",
        &["--shell=/bin/sh"],
    );
    let terminal = desktop.wait_for_window(WORK.name, "Wayland Terminal");
    // foot prints full lines of text, most of them visible beside the window above it.
    let lines = format!(
        "for i in $(seq 20); do echo '{}'; done; exec sleep 600",
        "#".repeat(70)
    );
    desktop.spawn(
        UNTRUSTED.name,
        "foot",
        "foot",
        &["--window-size-pixels=560x360", "sh", "-c", &lines],
    );
    let foot = desktop.wait_for_window(UNTRUSTED.name, "foot");
    desktop.spawn(WORK.name, "simple-shm", "weston-simple-shm", &[]);
    let shm = desktop.wait_for_window(WORK.name, "simple-shm");

    assert_eq!(
        (
            terminal.label.as_str(),
            foot.label.as_str(),
            shm.label.as_str()
        ),
        ("blue", "red", "blue")
    );
    assert_eq!(shm.app_id, "org.freedesktop.weston.simple-shm");
    assert_eq!((shm.geometry.w, shm.geometry.h), (250, 250));
    assert_eq!(foot.app_id, "foot");
    assert_eq!((foot.geometry.w, foot.geometry.h), (560, 360));

    let first = desktop.wait_for("every app's pixels inside its qube's frame", |d| {
        let windows = d.windows();
        let screen = d.screenshot("three-apps");
        check_frame(&screen, &windows, terminal.id, BLUE)?;
        check_frame(&screen, &windows, foot.id, RED)?;
        check_frame(&screen, &windows, shm.id, BLUE)?;

        // weston-terminal: its black terminal area fills most of what is visible, inside
        // the grey frame its toolkit draws itself (it does not use xdg-decoration).
        let pixels = content_pixels(&screen, &windows, terminal.id)?;
        let black = pixels
            .iter()
            .filter(|p| p.2 == WESTON_TERMINAL_BACKGROUND)
            .count();
        let grey = pixels.iter().filter(|p| p.2 == TOYTOOLKIT_FRAME).count();
        if black * 2 < pixels.len() || grey < 1000 {
            return Err(format!(
                "weston-terminal: {black} background and {grey} frame pixels of {}",
                pixels.len()
            ));
        }

        // foot: its default background, and its text in its default foreground (glyphs are
        // anti-aliased: shades of #dcdccc over #111111, grey with a yellow tint).
        let pixels = content_pixels(&screen, &windows, foot.id)?;
        let background = pixels.iter().filter(|p| p.2 == FOOT_BACKGROUND).count();
        let text = pixels
            .iter()
            .filter(|(_, _, p)| p.r == p.g && p.b < p.r && p.r >= 0x40)
            .count();
        if background * 2 < pixels.len() || text < 1000 {
            return Err(format!(
                "foot: {background} background and {text} text pixels of {}",
                pixels.len()
            ));
        }

        // simple-shm: a white 20 px margin around its animated pattern.
        for corner in [(2, 2), (247, 2), (2, 247), (247, 247), (10, 125)] {
            let p = content_pixel(&screen, &windows, shm.id, corner)?;
            if p != Some(WHITE) {
                return Err(format!("simple-shm's margin at {corner:?} is {p:?}"));
            }
        }
        let row: std::collections::HashSet<Rgb> = (20..230)
            .filter_map(|x| content_pixel(&screen, &windows, shm.id, (x, 125)).ok()?)
            .collect();
        if row.len() < 10 {
            return Err(format!("simple-shm's pattern has {} colours", row.len()));
        }
        content_pixels(&screen, &windows, shm.id)
    });

    // simple-shm animates: later frames reach dom0 and show different pixels.
    desktop.wait_for("simple-shm's next frames", |d| {
        let windows = d.windows();
        let screen = d.screenshot("three-apps-later");
        let later = content_pixels(&screen, &windows, shm.id)?;
        let changed = later.iter().zip(&first).filter(|(a, b)| a.2 != b.2).count();
        if changed > 1000 {
            Ok(())
        } else {
            Err(format!("only {changed} pixels of simple-shm changed"))
        }
    });
}
