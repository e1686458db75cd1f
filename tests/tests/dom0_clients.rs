//! dom0's own Wayland clients (trusted): they connect to a local agent that dom0 runs for
//! itself, registered as the qube `dom0` with the black label, and show in black frames
//! titled `[dom0]` like any other window — through the same checked path as a qube's.

use bulkhead_tests::desktop::{Desktop, QubeSpec, UNTRUSTED};
use bulkhead_tests::screen::{RED, Rgb, check_frame};

const DOM0: QubeSpec = QubeSpec {
    name: "dom0",
    label: "black",
};
const BLACK: Rgb = Rgb::new(0, 0, 0);

#[test]
fn a_dom0_client_shows_in_a_black_frame_beside_a_qubes_window() {
    let mut desktop = Desktop::start("dom0-clients", &[DOM0, UNTRUSTED]);
    desktop.spawn(DOM0.name, "simple-shm", "weston-simple-shm", &[]);
    let own = desktop.wait_for_window(DOM0.name, "simple-shm");
    desktop.spawn(UNTRUSTED.name, "simple-shm", "weston-simple-shm", &[]);
    let guest = desktop.wait_for_window(UNTRUSTED.name, "simple-shm");
    assert_eq!((own.label.as_str(), guest.label.as_str()), ("black", "red"));
    desktop.wait_for("dom0's window framed black, the qube's red", |d| {
        let windows = d.windows();
        let screen = d.screenshot("dom0-and-untrusted");
        check_frame(&screen, &windows, own.id, BLACK)?;
        check_frame(&screen, &windows, guest.id, RED)
    });
}
