//! The real desktop session on a virtual KMS device (DESIGN.md, test tier 3): a QEMU TCG
//! guest with a virtio-gpu display runs the compositor's DRM backend (libseat's built-in
//! seat, udev, libinput, pixman into dumb buffers), qube `work` shows weston-simple-shm, and
//! QEMU's own `screendump` — what a user would see on the display — is checked pixel by
//! pixel for dom0's blue frame and title bar. Then the display is unplugged and plugged back
//! (its connector's status in sysfs: a real hotplug uevent through udev), and a second
//! display comes and goes (the desktop is re-laid out to fit both). Real input comes through
//! QEMU's virtio tablet and keyboard (evdev, libinput): a click focuses the window,
//! Ctrl+Alt+F2 and back pauses and resumes the session, Ctrl+Alt+Backspace ends it.
//!
//! The guest also runs the compositor where it must refuse to start, and the test checks the
//! errors say what to do: no seat, no DRM device, no connected display.
//!
//! Needs the guest's initramfs (`compositor/tests/drm-testhost/build.sh`, which uses
//! `$BULKHEAD_CACHE`, default `~/.cache/bulkhead/testhost`); ignored by default:
//!
//! ```text
//! compositor/tests/drm-testhost/build.sh
//! cargo test -p bulkhead-tests --test drm_session -- --ignored
//! ```
//!
//! Screendumps land in `<target>/test-artifacts/drm_session/`; the test prints its figures
//! (guest boot time, time to a running session) on stderr.
#![allow(
    clippy::print_stderr,
    reason = "the figures of a VM run are reported, not asserted"
)]

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use bulkhead_compositor::control::{Response, WindowInfo};
use bulkhead_tests::desktop::artifact_dir;
use bulkhead_tests::screen::{BLUE, Screen, check_frame};

/// Longest wait for one step of the guest (TCG is slow, CI machines are shared).
const STEP: Duration = Duration::from_secs(300);

/// The QEMU guest, killed when dropped.
struct Guest {
    qemu: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
    qmp: PathBuf,
    dir: PathBuf,
    started: Instant,
}

impl Drop for Guest {
    fn drop(&mut self) {
        let _ = self.qemu.kill();
        let _ = self.qemu.wait();
    }
}

impl Guest {
    fn boot(dir: &Path) -> Guest {
        let out = bulkhead_tests::testhost_cache().join("out");
        let (kernel, initrd) = (out.join("vmlinuz"), out.join("drm-guest.cpio"));
        assert!(
            kernel.exists() && initrd.exists(),
            "the DRM test guest is not built ({} missing): run compositor/tests/drm-testhost/build.sh",
            initrd.display()
        );
        let qmp = dir.join("qmp.sock");
        let started = Instant::now();
        let mut qemu = Command::new("qemu-system-x86_64")
            .args(["-accel", "tcg", "-cpu", "max", "-smp", "2", "-m", "1024"])
            .args(["-display", "none", "-vga", "none", "-no-reboot"])
            .args(["-serial", "stdio", "-monitor", "none"])
            .arg("-qmp")
            .arg(format!("unix:{},server=on,wait=off", qmp.display()))
            .args([
                "-device",
                "virtio-gpu-pci,id=gpu,max_outputs=2,xres=1280,yres=800",
            ])
            .args([
                "-device",
                "virtio-keyboard-pci",
                "-device",
                "virtio-tablet-pci",
            ])
            .arg("-kernel")
            .arg(&kernel)
            .arg("-initrd")
            .arg(&initrd)
            // The second display, when forced on, runs 1024x768 (it has no EDID to prefer a
            // mode): smaller than the first, so the desktop is laid out anew.
            .args([
                "-append",
                "console=ttyS0 quiet panic=-1 video=Virtual-2:1024x768",
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(
                std::fs::File::create(dir.join("qemu.stderr")).expect("qemu log"),
            ))
            .spawn()
            .expect("qemu-system-x86_64 starts (Debian: qemu-system-x86)");
        let stdin = qemu.stdin.take().expect("stdin");
        let stdout = qemu.stdout.take().expect("stdout");
        let (tx, lines) = channel();
        let mut log = std::fs::File::create(dir.join("guest.log")).expect("guest log");
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let line = line.trim_end_matches('\r').to_owned();
                let _ = writeln!(log, "{line}");
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Guest {
            qemu,
            stdin,
            lines,
            qmp,
            dir: dir.to_owned(),
            started,
        }
    }

    /// Waits for the next line starting with `prefix`; returns the rest of it.
    fn expect(&self, prefix: &str) -> String {
        let deadline = Instant::now() + STEP;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    if let Some(rest) = line.strip_prefix(prefix) {
                        return rest.trim().to_owned();
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    panic!(
                        "no {prefix:?} from the guest in {STEP:?}; see {}",
                        self.log()
                    )
                }
                Err(RecvTimeoutError::Disconnected) => {
                    panic!("the guest stopped before {prefix:?}; see {}", self.log())
                }
            }
        }
    }

    fn log(&self) -> String {
        self.dir.join("guest.log").display().to_string()
    }

    /// Sends a hotplug command to the guest's init and waits until it is done. Returns
    /// what happened, the compositor's new layout and the windows.
    fn command(&mut self, cmd: &str) -> (String, String, Vec<WindowInfo>) {
        writeln!(self.stdin, "{cmd}").expect("write to the guest console");
        self.stdin.flush().expect("flush");
        let hotplug = self.expect("BULKHEAD-DRM-HOTPLUG");
        let layout = self.expect("BULKHEAD-DRM-LAYOUT");
        let windows = windows(&self.expect("BULKHEAD-DRM-WINDOWS"));
        self.expect("BULKHEAD-DRM-READY");
        (hotplug, layout, windows)
    }

    /// The windows, as the compositor lists them now.
    fn windows(&mut self) -> Vec<WindowInfo> {
        writeln!(self.stdin, "windows").expect("write to the guest console");
        let windows = windows(&self.expect("BULKHEAD-DRM-WINDOWS"));
        self.expect("BULKHEAD-DRM-READY");
        windows
    }

    /// Input through QEMU's virtual devices (virtio tablet and keyboard: evdev in the guest,
    /// read by libinput), as QMP `input-send-event` events.
    fn input(&self, events: &str) {
        Qmp::connect(&self.qmp).execute(&format!(
            r#"{{"execute":"input-send-event","arguments":{{"events":[{events}]}}}}"#
        ));
    }

    /// Presses `keys` (QEMU key names) in order on the virtual keyboard, then releases them
    /// in reverse.
    fn chord(&self, keys: &[&str]) {
        let event = |key: &str, down: bool| {
            format!(
                r#"{{"type":"key","data":{{"down":{down},"key":{{"type":"qcode","data":"{key}"}}}}}}"#
            )
        };
        let mut events: Vec<String> = keys.iter().map(|k| event(k, true)).collect();
        events.extend(keys.iter().rev().map(|k| event(k, false)));
        self.input(&events.join(","));
    }

    /// Waits until the compositor in the guest has logged `text` at least `n` times.
    fn await_log(&mut self, n: usize, text: &str) {
        writeln!(self.stdin, "await {n} {text}").expect("write to the guest console");
        let got = self.expect("BULKHEAD-DRM-AWAIT");
        assert_eq!(
            got,
            text,
            "the compositor never logged {text:?}; see {}",
            self.log()
        );
        self.expect("BULKHEAD-DRM-READY");
    }

    /// Moves the tablet to `(x, y)` of a `w`×`h` display.
    fn pointer_to(&self, x: i32, y: i32, w: i32, h: i32) {
        // QEMU's absolute axes run from 0 to 0x7fff over the display.
        let (ax, ay) = ((x * 0x8000 + w / 2) / w, (y * 0x8000 + h / 2) / h);
        self.input(&format!(
            r#"{{"type":"abs","data":{{"axis":"x","value":{ax}}}}},{{"type":"abs","data":{{"axis":"y","value":{ay}}}}}"#
        ));
    }

    /// QEMU's picture of display `head`, as a PNG in the artifacts.
    fn screendump(&self, name: &str, head: u32) -> Screen {
        let path = self.dir.join(format!("{name}.png"));
        let _ = std::fs::remove_file(&path);
        let mut qmp = Qmp::connect(&self.qmp);
        qmp.execute(&format!(
            r#"{{"execute":"screendump","arguments":{{"filename":"{}","format":"png","device":"gpu","head":{head}}}}}"#,
            path.display()
        ));
        Screen::load(&path).unwrap_or_else(|e| panic!("screendump {}: {e}", path.display()))
    }

    /// Screendumps until dom0's frame of `window` is right (the first frames may still be
    /// on their way to the display), at most a minute.
    fn frame_on_screen(&self, name: &str, head: u32, windows: &[WindowInfo], id: u64) -> Screen {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let screen = self.screendump(name, head);
            match check_frame(&screen, windows, id, BLUE) {
                Ok(_) => return screen,
                Err(e) if Instant::now() > deadline => {
                    panic!(
                        "{e}\nscreen {}, guest log {}",
                        screen.path.display(),
                        self.log()
                    )
                }
                Err(_) => std::thread::sleep(Duration::from_millis(500)),
            }
        }
    }
}

/// A minimal QMP client.
struct Qmp {
    stream: UnixStream,
    reader: BufReader<UnixStream>,
}

impl Qmp {
    fn connect(path: &Path) -> Qmp {
        let deadline = Instant::now() + Duration::from_secs(30);
        let stream = loop {
            match UnixStream::connect(path) {
                Ok(s) => break s,
                Err(e) if Instant::now() > deadline => panic!("QMP {}: {e}", path.display()),
                Err(_) => std::thread::sleep(Duration::from_millis(100)),
            }
        };
        let reader = BufReader::new(stream.try_clone().expect("clone"));
        let mut qmp = Qmp { stream, reader };
        qmp.read_line(); // the greeting
        qmp.execute(r#"{"execute":"qmp_capabilities"}"#);
        qmp
    }

    fn read_line(&mut self) -> String {
        let mut line = String::new();
        self.reader.read_line(&mut line).expect("QMP read");
        line
    }

    /// Runs a command; panics on an error answer. Events in between are skipped.
    fn execute(&mut self, command: &str) {
        writeln!(self.stream, "{command}").expect("QMP write");
        loop {
            let line = self.read_line();
            assert!(!line.is_empty(), "QMP closed during {command}");
            if line.contains("\"return\"") {
                return;
            }
            assert!(!line.contains("\"error\""), "QMP {command}: {line}");
        }
    }
}

/// Whether dom0's arrow (a black left edge 13 px high, white inside) has its tip within
/// 2 px of `(x, y)`.
fn arrow_near(screen: &Screen, x: i32, y: i32) -> bool {
    use bulkhead_tests::screen::Rgb;
    let (black, white) = (Rgb::new(0, 0, 0), Rgb::new(0xff, 0xff, 0xff));
    (x - 2..=x + 2).any(|tx| {
        (y - 2..=y + 2).any(|ty| {
            (0..13).all(|r| screen.pixel(tx, ty + r) == Some(black))
                && (4..10).all(|r| screen.pixel(tx + 1, ty + r) == Some(white))
        })
    })
}

/// How many pixels of `screen` are in work's label colour.
fn label_pixels(screen: &Screen) -> usize {
    (0..screen.height)
        .flat_map(|y| (0..screen.width).map(move |x| (x, y)))
        .filter(|(x, y)| screen.pixel(*x, *y) == Some(BLUE))
        .count()
}

fn windows(json: &str) -> Vec<WindowInfo> {
    let response: Response =
        serde_json::from_str(json).unwrap_or_else(|e| panic!("list-windows answer {json}: {e}"));
    response.windows.expect("windows in the answer")
}

/// `BULKHEAD-DRM-CASE name rc=N` and its error lines.
fn refusal(guest: &Guest, name: &str) -> String {
    let case = guest.expect(&format!("BULKHEAD-DRM-CASE {name}"));
    assert_ne!(
        case,
        "rc=0",
        "{name}: the compositor started; see {}",
        guest.log()
    );
    guest.expect(&format!("BULKHEAD-DRM-ERROR {name}:"))
}

#[test]
#[ignore = "boots a QEMU guest: compositor/tests/drm-testhost/build.sh, then --ignored"]
fn drm_session_on_a_virtual_display() {
    let dir = artifact_dir("drm_session");
    let mut guest = Guest::boot(&dir);
    let booted = guest.expect("BULKHEAD-DRM-BOOTED");
    let boot_host = guest.started.elapsed();
    eprintln!("guest booted: {booted} s guest uptime, {boot_host:.1?} after QEMU started");

    // The clear errors.
    let no_seat = refusal(&guest, "no-seat");
    assert!(
        no_seat.contains("no seat") && no_seat.contains("seatd") && no_seat.contains("(VT)"),
        "{no_seat}"
    );
    let no_device = refusal(&guest, "no-device");
    assert!(
        no_device.contains("/dev/dri") && no_device.contains("--backend headless"),
        "{no_device}"
    );
    let no_connector = refusal(&guest, "no-connector");
    assert!(
        no_connector.contains("no connected display") && no_connector.contains("Virtual"),
        "{no_connector}"
    );

    // The session: qube work's window in a blue frame, on the display.
    let windows = windows(&guest.expect("BULKHEAD-DRM-WINDOWS"));
    let up = guest.expect("BULKHEAD-DRM-UP");
    eprintln!(
        "session up: {up} ({:.1?} after QEMU started)",
        guest.started.elapsed()
    );
    let work = windows
        .iter()
        .find(|w| w.qube == "work" && w.visible)
        .unwrap_or_else(|| panic!("no visible window of work: {windows:?}"))
        .id;
    let screen = guest.frame_on_screen("session", 0, &windows, work);
    assert_eq!((screen.width, screen.height), (1280, 800));
    eprintln!("screendump: {}", screen.path.display());
    let info = windows
        .iter()
        .find(|w| w.id == work)
        .expect("work's window");
    assert!(!info.focused, "nothing has focused the window yet");

    // Real input devices: the virtual tablet moves dom0's pointer (libinput, then the same
    // routing as every input), a click on the window focuses it, and the arrow is drawn
    // where the tablet put it.
    let g = info.geometry;
    let (px, py) = (g.x + g.w / 2, g.y + g.h / 2);
    guest.pointer_to(px, py, 1280, 800);
    guest.input(r#"{"type":"btn","data":{"down":true,"button":"left"}}"#);
    guest.input(r#"{"type":"btn","data":{"down":false,"button":"left"}}"#);
    let deadline = Instant::now() + Duration::from_secs(60);
    while !guest.windows().iter().any(|w| w.id == work && w.focused) {
        assert!(
            Instant::now() < deadline,
            "a click of the virtual tablet did not focus the window; see {}",
            guest.log()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    writeln!(guest.stdin, "input-log").expect("input-log");
    let device = guest.expect("BULKHEAD-DRM-INPUT");
    eprintln!("libinput: {device}");
    guest.expect("BULKHEAD-DRM-READY");
    let pointed = guest.screendump("pointer", 0);
    assert!(
        arrow_near(&pointed, px, py),
        "no pointer arrow near ({px}, {py}) in {}",
        pointed.path.display()
    );

    // Ctrl+Alt+F2 on the virtual keyboard (libinput, dom0's shortcut, the seat): the session
    // pauses (dom0 lets go of the display) and VT 2's text console shows. Ctrl+Alt+F1 there
    // (the kernel's console keyboard now) brings the session back: it resumes and draws.
    guest.chord(&["ctrl", "alt", "f2"]);
    guest.await_log(1, "session paused");
    let console = guest.screendump("vt2", 0);
    assert_eq!(
        label_pixels(&console),
        0,
        "VT 2 still shows dom0's frame: {}",
        console.path.display()
    );
    guest.chord(&["ctrl", "alt", "f1"]);
    guest.await_log(1, "session resumed");
    guest.frame_on_screen("vt1", 0, &windows, work);

    // The display is unplugged: its output goes, the picture with it.
    let (hotplug, layout, _) = guest.command("unplug");
    assert!(hotplug.ends_with("output removed"), "{hotplug}");
    assert!(layout.contains("outputs=[]"), "{layout}");
    let dark = guest.screendump("unplugged", 0);
    assert_eq!(
        label_pixels(&dark),
        0,
        "the unplugged display still shows a frame: {}",
        dark.path.display()
    );

    // And plugged back: lit again, the frame is back.
    let (hotplug, layout, windows) = guest.command("plug");
    assert!(hotplug.ends_with("output added"), "{hotplug}");
    assert!(layout.ends_with("w=1280 h=800"), "{layout}");
    guest.frame_on_screen("replugged", 0, &windows, work);

    // A second display comes: both show the whole desktop, laid out to fit the smaller.
    let (hotplug, layout, windows) = guest.command("second-on");
    assert!(hotplug.ends_with("output added"), "{hotplug}");
    assert!(layout.ends_with("w=1024 h=768"), "{layout}");
    let first = guest.frame_on_screen("two-displays-0", 0, &windows, work);
    let second = guest.frame_on_screen("two-displays-1", 1, &windows, work);
    for w in &windows {
        let f = w.frame;
        for s in [&first, &second] {
            assert!(
                f.x >= 0 && f.y >= 0 && f.x + f.w <= s.width && f.y + f.h <= s.height,
                "frame {f:?} is not inside the {}x{} display",
                s.width,
                s.height
            );
        }
    }
    assert_eq!((second.width, second.height), (1024, 768));
    let (hotplug, layout, _) = guest.command("second-off");
    assert!(hotplug.ends_with("output removed"), "{hotplug}");
    assert!(layout.ends_with("w=1280 h=800"), "{layout}");

    // Ctrl+Alt+Backspace ends the session; the compositor exits cleanly.
    guest.chord(&["ctrl", "alt", "backspace"]);
    guest.await_log(1, "ending the session");
    writeln!(guest.stdin, "quit").expect("quit");
    let exit = guest.expect("BULKHEAD-DRM-EXIT");
    assert_eq!(
        exit,
        "rc=0",
        "the compositor did not end cleanly; see {}",
        guest.log()
    );
    guest.expect("BULKHEAD-DRM-DONE");
    eprintln!(
        "compositor {exit}; whole run {:.1?}",
        guest.started.elapsed()
    );
}
