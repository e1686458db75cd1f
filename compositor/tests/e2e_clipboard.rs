//! The mediated clipboard end to end: `wl-copy` in work, the dom0 gesture (injected
//! Ctrl+Shift+C in work's window, Ctrl+Shift+V in untrusted's), `wl-paste` in untrusted.
//! Without the gesture, or when the policy denies the pair, nothing arrives.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use bulkhead_compositor::control::{ClipboardInfo, Request};
use common::session::{Session, available};

const KEY_LEFTCTRL: u32 = 29;
const KEY_LEFTSHIFT: u32 = 42;
const KEY_C: u32 = 46;
const KEY_V: u32 = 47;

fn clipboard(s: &Session) -> ClipboardInfo {
    *s.control(&[Request::Clipboard])[0]
        .clipboard
        .clone()
        .unwrap()
}

fn notices(s: &Session) -> Vec<String> {
    s.control(&[Request::Notices])[0].notices.clone().unwrap()
}

/// Runs a wl-clipboard tool in `qube`. The agent offers the data-control protocol to its
/// own clients, so the tool needs no window and no focus.
fn run_tool(mut c: Command, input: Option<&[u8]>) -> std::process::Child {
    let mut child = c
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("wl-clipboard");
    if let Some(bytes) = input {
        child.stdin.take().unwrap().write_all(bytes).unwrap();
    }
    child
}

/// `wl-paste ARGS` in `qube`: its stdout, or `None` if it failed (nothing to paste).
fn paste_in(s: &Session, qube: &str, args: &[&str]) -> Option<Vec<u8>> {
    let mut c = s.command(qube, "wl-paste");
    c.args(args);
    let out = wait_output(run_tool(c, None));
    out.status.success().then_some(out.stdout)
}

/// `wl-paste ARGS` in untrusted.
fn paste(s: &Session, args: &[&str]) -> Option<Vec<u8>> {
    paste_in(s, "untrusted", args)
}

fn wait_output(mut child: std::process::Child) -> std::process::Output {
    let deadline = std::time::Instant::now() + common::session::TIMEOUT;
    loop {
        if child.try_wait().unwrap().is_some() {
            return child.wait_with_output().unwrap();
        }
        assert!(std::time::Instant::now() < deadline, "wl-paste hangs");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// `wl-copy ARGS` in work, serving until the session ends; waits until work's own
/// `wl-paste` reads the data back (the selection is set), without a window.
fn copy_in_work(s: &mut Session, args: &[&str], data: &[u8]) {
    let known = s.windows().len();
    let mut c = s.command("work", "wl-copy");
    c.arg("--foreground").args(args);
    let child = run_tool(c, Some(data));
    let read_back: Vec<&str> = match args {
        ["--type", mime] => vec!["--type", mime],
        _ => vec!["--no-newline"],
    };
    s.wait("wl-copy to set work's selection", |s| {
        paste_in(s, "work", &read_back).as_deref() == Some(data)
    });
    assert_eq!(s.windows().len(), known, "wl-copy needed a window");
    s.keep(child);
}

/// Two terminals to make the gestures in.
fn terminals(s: &mut Session) -> (u64, u64) {
    let dir = s.dir.path().to_owned();
    s.foot("work", &dir);
    let work = s.new_window("work", &[]).id;
    s.foot("untrusted", &dir);
    let bad = s.new_window("untrusted", &[work]).id;
    (work, bad)
}

fn gesture(s: &Session, window: u64, key: u32) {
    s.focus(window);
    s.chord(&[KEY_LEFTCTRL, KEY_LEFTSHIFT, key]);
}

fn png_image() -> Vec<u8> {
    let mut out = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut out, 37, 23);
        enc.set_color(png::ColorType::Rgba);
        enc.set_depth(png::BitDepth::Eight);
        let mut w = enc.write_header().unwrap();
        let px: Vec<u8> = (0..37 * 23 * 4u32)
            .map(|i| u8::try_from(i * 7 % 256).unwrap())
            .collect();
        w.write_image_data(&px).unwrap();
    }
    out
}

#[test]
fn text_and_png_cross_only_by_the_gesture() {
    if !available(&["foot", "wl-copy", "wl-paste"]) {
        return;
    }
    let mut s = Session::start(&[]);
    let (work, bad) = terminals(&mut s);
    let secret = "secret from work: ünïcode ✓";
    copy_in_work(&mut s, &[], secret.as_bytes());

    // No gesture: untrusted has nothing.
    assert_eq!(
        paste(&s, &["--no-newline"]),
        None,
        "data crossed without a gesture"
    );
    assert_eq!(clipboard(&s).source, None);

    // Copy in work's window: dom0 holds the bytes and says so.
    gesture(&s, work, KEY_C);
    s.wait("dom0's buffer", |s| clipboard(s).bytes == secret.len());
    let info = clipboard(&s);
    assert_eq!(info.source.as_deref(), Some("work"));
    assert_eq!(info.mime.as_deref(), Some("text/plain;charset=utf-8"));
    assert!(
        notices(&s)
            .iter()
            .any(|n| n.starts_with("Copied from [work]: "))
    );

    // Paste in untrusted's window: the qube gets exactly the bytes, dom0 keeps nothing.
    gesture(&s, bad, KEY_V);
    s.wait("the paste", |s| clipboard(s).source.is_none());
    assert_eq!(
        clipboard(&s).bytes,
        0,
        "dom0's buffer is empty after the paste"
    );
    assert!(
        notices(&s)
            .iter()
            .any(|n| n.starts_with("Pasted [work] → [untrusted]: "))
    );
    let types = paste(&s, &["--list-types"]).expect("types");
    assert!(
        String::from_utf8_lossy(&types)
            .lines()
            .any(|t| t == "text/plain;charset=utf-8"),
        "{}",
        String::from_utf8_lossy(&types)
    );
    assert_eq!(
        paste(&s, &["--no-newline"]).as_deref(),
        Some(secret.as_bytes())
    );
    // The notice is drawn by dom0 at the top of the output, above the windows.
    let shot = s.dir.path().join("clipboard-notice.png");
    s.control(&[Request::Screenshot { path: shot.clone() }]);
    let _ = std::fs::copy(&shot, common::artifacts().join("clipboard-notice.png"));

    // A PNG image, byte for byte, with its MIME type.
    let image = png_image();
    copy_in_work(&mut s, &["--type", "image/png"], &image);
    gesture(&s, work, KEY_C);
    s.wait("the image in dom0", |s| clipboard(s).bytes == image.len());
    assert_eq!(clipboard(&s).mime.as_deref(), Some("image/png"));
    gesture(&s, bad, KEY_V);
    s.wait("the paste", |s| clipboard(s).source.is_none());
    let types = paste(&s, &["--list-types"]).expect("types");
    assert_eq!(String::from_utf8_lossy(&types).trim(), "image/png");
    assert_eq!(paste(&s, &["--type", "image/png"]), Some(image));
}

#[test]
fn a_denied_pair_gets_nothing() {
    if !available(&["foot", "wl-copy", "wl-paste"]) {
        return;
    }
    let policy = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        policy.path(),
        "[[rule]]\nfrom = \"work\"\nto = \"untrusted\"\naction = \"deny\"\n",
    )
    .unwrap();
    let mut s = Session::start(&["--clipboard-policy", policy.path().to_str().unwrap()]);
    let (work, bad) = terminals(&mut s);
    copy_in_work(&mut s, &[], b"not for untrusted");
    gesture(&s, work, KEY_C);
    s.wait("dom0's buffer", |s| clipboard(s).bytes == 17);
    gesture(&s, bad, KEY_V);
    s.wait("the refusal", |s| {
        notices(s)
            .iter()
            .any(|n| n == "Paste from [work] into [untrusted] refused by policy")
    });
    assert_eq!(paste(&s, &["--no-newline"]), None, "a denied paste arrived");
    assert_eq!(
        clipboard(&s).source.as_deref(),
        Some("work"),
        "a refusal keeps the buffer"
    );
}
