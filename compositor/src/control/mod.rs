//! The dom0 control socket: line-delimited JSON for dom0's own tools and the tests.
//!
//! One request per line, one response line per request:
//!
//! ```text
//! → {"cmd":"list-windows"}
//! ← {"ok":true,"windows":[{"id":1,"qube":"work","label":"blue","title":"…",…}]}
//! → {"cmd":"screenshot","path":"/abs/shot.png"}
//! ← {"ok":true,"screenshot":{"path":"/abs/shot.png","width":1280,"height":800}}
//! → {"cmd":"qubes"}
//! ← {"ok":true,"qubes":[{"name":"work","label":"blue","windows":1}]}
//! → {"cmd":"click","x":300,"y":200}                 (also "pointer", "button", "scroll")
//! ← {"ok":true}
//! → {"cmd":"type","text":"hello"}                    (also "key" with an evdev keycode)
//! ← {"ok":true}
//! → {"cmd":"pointer-info"}
//! ← {"ok":true,"pointer":{"x":300,"y":200,"qube":"work","window":1,"cursor":"text"}}
//! → {"cmd":"clipboard"}
//! ← {"ok":true,"clipboard":{"pending":null,"source":"work","mime":"text/plain","bytes":5}}
//! → {"cmd":"notices"}
//! ← {"ok":true,"notices":["Copied from [work]: 5 bytes text/plain"]}
//! → {"cmd":"add-qube","name":"work","label":"blue"}   (the qube manager, on start)
//! ← {"ok":true,"socket":"/run/user/1000/bulkhead/qube-work.sock"}
//! → {"cmd":"run","qube":"work","argv":["foot"]}      (bulkhead run)
//! ← {"ok":true}                                      (once the agent said foot started)
//! → {"cmd":"run","qube":"work","argv":["foo"]}
//! ← {"ok":false,"error":"qube work could not start `foo`: No such file or directory (os error 2)","errno":2}
//! → {"cmd":"remove-qube","name":"work"}              (the qube manager, on stop)
//! ← {"ok":true}
//! → nonsense
//! ← {"ok":false,"error":"bad request: …"}
//! ```
//!
//! The socket is created with mode 0600 in a 0700 directory: only dom0's user may connect.
//! Requests never crash the compositor; a bad one gets an error response. Injected input
//! (`key`, `type`, `pointer`, `button`, `click`, `scroll`) goes through exactly the decisions
//! real input goes through ([`crate::input::route`]).
//!
//! `pointer-info` says where dom0's pointer is, which qube's window has it (`null` over a
//! frame, the background, another qube's window, or during a move) and the pointer's shape
//! as a CSS cursor name: `"default"` when it is dom0's arrow, else the named shape that
//! window's qube asked for (`"none"`: hidden over that window).
//!
//! A qube's name and label come only from here (`add-qube`, from the qube manager) or from
//! the command line, never from a guest: the socket an agent connects to says which qube
//! it serves. `run` sends `Launch` to the qube's agent if it offered that capability and
//! answers once the agent's `LaunchResult` says whether the program started: `ok`, or the
//! error dom0 words from its own `argv[0]` and the error number the agent sent (never text
//! from the qube), or after 5 s that the qube did not confirm
//! ([`crate::qube::LAUNCH_CONFIRM_TIMEOUT`]). The event loop does not wait meanwhile; a
//! client's later requests are answered in order after it.

pub mod server;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::desktop::{Desktop, Rect, WindowKind};

/// Longest request line, in bytes.
pub const MAX_REQUEST_LINE: usize = 64 * 1024;

/// A request to the compositor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "kebab-case", deny_unknown_fields)]
pub enum Request {
    /// Every window, bottom to top.
    ListWindows,
    /// Renders now and writes a PNG to an absolute `path`.
    Screenshot {
        /// Absolute path of the PNG to write.
        path: PathBuf,
    },
    /// The qubes dom0 knows.
    Qubes,
    /// A key press or release, by evdev code (`KEY_A` is 30). Goes through the same
    /// decisions as a real key: to the focused qube only, dom0's shortcuts to none.
    Key {
        /// evdev key code.
        keycode: u32,
        /// Pressed or released.
        pressed: bool,
    },
    /// Types text through dom0's keymap: press and release per character, Shift where the
    /// keymap needs it. Characters the keymap cannot type are refused (nothing is typed).
    Type {
        /// At most [`MAX_TYPE_CHARS`] characters.
        text: String,
    },
    /// Moves the pointer to an absolute output position.
    Pointer {
        /// Output x.
        x: i32,
        /// Output y.
        y: i32,
    },
    /// A pointer button press or release (evdev `BTN_*`, `BTN_LEFT` is 272).
    Button {
        /// evdev button code.
        button: u32,
        /// Pressed or released.
        pressed: bool,
    },
    /// Moves the pointer to (x, y), then presses and releases a button there
    /// (`BTN_LEFT` unless given).
    Click {
        /// Output x.
        x: i32,
        /// Output y.
        y: i32,
        /// evdev button code.
        #[serde(default)]
        button: Option<u32>,
    },
    /// Where the pointer is, which window has it, and its shape.
    PointerInfo,
    /// A vertical wheel scroll of `detents` clicks (positive: down).
    Scroll {
        /// Wheel clicks.
        detents: i32,
    },
    /// Switches dom0's keymap (xkb layout and variant names); every qube gets the new
    /// keymap at once.
    Keymap {
        /// xkb layout, e.g. `us`, `de`.
        layout: String,
        /// xkb variant (empty for the default).
        #[serde(default)]
        variant: String,
    },
    /// What dom0's clipboard buffer holds (source, MIME type, size; never the bytes).
    Clipboard,
    /// The notices on screen now, oldest first.
    Notices,
    /// Declares a qube and opens its socket (`qube-<name>.sock` in the qube socket
    /// directory); the answer's `socket` is where its agent (or its VMM) connects.
    AddQube {
        /// The qube's name (border-theme's rules: a letter, then letters, digits, `-`,
        /// `_`; at most 31).
        name: String,
        /// Its label: red, orange, yellow, green, gray, blue, purple or black.
        label: String,
    },
    /// Forgets a qube: its connection is closed, its windows go, its socket is removed.
    RemoveQube {
        /// The qube's name.
        name: String,
    },
    /// Starts a program in a connected qube (the agent runs it against its own Wayland
    /// socket). Answered once the agent says whether it started (`ok`, or `error` and
    /// `errno`), or after [`crate::qube::LAUNCH_CONFIRM_TIMEOUT`].
    Run {
        /// The qube's name.
        qube: String,
        /// The program and its arguments (the protocol's `Launch` limits).
        argv: Vec<String>,
    },
}

/// Longest text one `type` request may carry, in characters.
pub const MAX_TYPE_CHARS: usize = 4096;

/// dom0's clipboard as the control socket reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClipboardInfo {
    /// The qube a copy request is waiting for.
    pub pending: Option<String>,
    /// The qube the held data came from (`None`: the buffer is empty).
    pub source: Option<String>,
    /// Its MIME type.
    pub mime: Option<String>,
    /// How many bytes are held.
    pub bytes: usize,
}

/// One window as the control socket reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WindowInfo {
    /// dom0's window handle.
    pub id: u64,
    /// The owning qube's name.
    pub qube: String,
    /// Its label (`"blue"`, …): the frame colour.
    pub label: String,
    /// `"toplevel"` or `"popup"`.
    pub kind: String,
    /// A popup's parent.
    pub parent: Option<u64>,
    /// The sanitised title.
    pub title: String,
    /// The sanitised app id.
    pub app_id: String,
    /// Where the guest's pixels are.
    pub geometry: Rect,
    /// The whole window with dom0's frame.
    pub frame: Rect,
    /// Mapped by its qube.
    pub mapped: bool,
    /// Mapped and every ancestor mapped: on screen.
    pub visible: bool,
    /// Has the keyboard focus.
    pub focused: bool,
    /// `"normal"`, `"maximized"` or `"fullscreen"`, as dom0 decided.
    #[serde(default)]
    pub mode: String,
}

/// One qube as the control socket reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QubeInfo {
    /// Its name.
    pub name: String,
    /// Its label.
    pub label: String,
    /// How many windows it has.
    pub windows: usize,
    /// Whether its agent is connected now (and has said hello).
    #[serde(default)]
    pub connected: bool,
}

/// dom0's pointer as the control socket reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PointerInfo {
    /// Output x.
    pub x: i32,
    /// Output y.
    pub y: i32,
    /// The qube whose window has the pointer (told `PointerEnter`), if any.
    pub qube: Option<String>,
    /// That window (dom0's handle).
    pub window: Option<u64>,
    /// The shape, as a CSS cursor name: `"default"` for dom0's arrow, `"none"` hidden.
    pub cursor: String,
}

/// Where a screenshot went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScreenshotInfo {
    /// The PNG written.
    pub path: PathBuf,
    /// Its width.
    pub width: i32,
    /// Its height.
    pub height: i32,
}

/// The answer to one request: `ok` plus the field for that request, or `error`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Response {
    /// Whether the request succeeded.
    pub ok: bool,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// For `list-windows`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub windows: Option<Vec<WindowInfo>>,
    /// For `qubes`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qubes: Option<Vec<QubeInfo>>,
    /// For `screenshot`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub screenshot: Option<ScreenshotInfo>,
    /// For `clipboard`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clipboard: Option<Box<ClipboardInfo>>,
    /// For `notices`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notices: Option<Vec<String>>,
    /// For `pointer-info`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pointer: Option<PointerInfo>,
    /// For `add-qube`: the socket the qube's agent connects to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub socket: Option<PathBuf>,
    /// For a `run` whose program did not start: the error number the qube's agent
    /// reported (1..=4095 a Linux errno; `error` says what it means).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errno: Option<u32>,
}

impl Response {
    /// A failure.
    pub fn error(msg: impl Into<String>) -> Response {
        Response {
            ok: false,
            error: Some(msg.into()),
            ..Response::default()
        }
    }
}

/// Sends requests to a running compositor and reads one response for each (a blocking
/// client for dom0 tools and tests).
pub fn send_requests(
    socket: &std::path::Path,
    requests: &[Request],
) -> std::io::Result<Vec<Response>> {
    use std::io::{BufRead, BufReader, Write};
    let mut stream = std::os::unix::net::UnixStream::connect(socket)?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut out = Vec::with_capacity(requests.len());
    for request in requests {
        let mut line = serde_json::to_vec(request).map_err(std::io::Error::other)?;
        line.push(b'\n');
        stream.write_all(&line)?;
        let mut answer = String::new();
        if reader.read_line(&mut answer)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        out.push(serde_json::from_str(&answer).map_err(std::io::Error::other)?);
    }
    Ok(out)
}

/// Parses one request line (without its newline).
#[allow(
    clippy::result_large_err,
    reason = "the error is the response line itself, made once per bad request"
)]
pub fn parse_request(line: &[u8]) -> Result<Request, Response> {
    let text = std::str::from_utf8(line).map_err(|_| Response::error("bad request: not UTF-8"))?;
    serde_json::from_str(text.trim()).map_err(|e| Response::error(format!("bad request: {e}")))
}

/// Every window, bottom to top.
pub fn list_windows(desktop: &Desktop) -> Vec<WindowInfo> {
    desktop
        .stack()
        .filter_map(|w| {
            let q = desktop.qube(w.qube())?;
            let frame = desktop.frame(w.id())?;
            let (kind, parent) = match w.kind() {
                WindowKind::Toplevel => ("toplevel", None),
                WindowKind::Popup { parent, .. } => ("popup", Some(parent.0)),
            };
            Some(WindowInfo {
                id: w.id().0,
                qube: q.name.to_string(),
                label: q.label.to_string(),
                kind: kind.to_owned(),
                parent,
                title: w.title().to_owned(),
                app_id: w.app_id().to_owned(),
                geometry: frame.content,
                frame: frame.outer,
                mapped: w.is_mapped(),
                visible: desktop.is_visible(w.id()),
                focused: desktop.focused() == Some(w.id()),
                mode: w.mode().to_string(),
            })
        })
        .collect()
}

/// What the clipboard holds, without the bytes.
pub fn clipboard_info(dom0: &crate::state::Dom0) -> ClipboardInfo {
    let held = dom0.clipboard.held();
    ClipboardInfo {
        pending: dom0.clipboard.pending().map(|(q, _)| dom0.qube_name(q)),
        source: held.map(|h| dom0.qube_name(h.source)),
        mime: held.map(|h| h.mime.clone()),
        bytes: held.map_or(0, crate::clipboard::Held::len),
    }
}

/// dom0's pointer: position, the window that has it, its shape.
pub fn pointer_info(dom0: &crate::state::Dom0) -> PointerInfo {
    let input = &dom0.input;
    let pointer_in = input.pointer_in();
    PointerInfo {
        x: input.pointer.x,
        y: input.pointer.y,
        qube: pointer_in.map(|(q, _)| dom0.qube_name(q)),
        window: pointer_in.map(|(_, w)| w.0),
        cursor: input.cursor().css_name().to_owned(),
    }
}

/// The qubes dom0 knows, and whether each is connected now.
pub fn list_qubes(desktop: &Desktop, links: &crate::qube::QubeLinks) -> Vec<QubeInfo> {
    desktop
        .qubes()
        .map(|(id, q)| QubeInfo {
            name: q.name.to_string(),
            label: q.label.to_string(),
            windows: q.window_count(),
            connected: links.is_ready(id),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_parse() {
        assert_eq!(
            parse_request(br#"{"cmd":"list-windows"}"#),
            Ok(Request::ListWindows)
        );
        assert_eq!(parse_request(br#" {"cmd":"qubes"} "#), Ok(Request::Qubes));
        assert_eq!(
            parse_request(br#"{"cmd":"key","keycode":30,"pressed":true}"#),
            Ok(Request::Key {
                keycode: 30,
                pressed: true
            })
        );
        assert_eq!(
            parse_request(br#"{"cmd":"click","x":1,"y":2}"#),
            Ok(Request::Click {
                x: 1,
                y: 2,
                button: None
            })
        );
        assert_eq!(
            parse_request(br#"{"cmd":"type","text":"hi"}"#),
            Ok(Request::Type { text: "hi".into() })
        );
        assert_eq!(
            parse_request(br#"{"cmd":"screenshot","path":"/tmp/x.png"}"#),
            Ok(Request::Screenshot {
                path: "/tmp/x.png".into()
            })
        );
        assert_eq!(
            parse_request(br#"{"cmd":"add-qube","name":"work","label":"blue"}"#),
            Ok(Request::AddQube {
                name: "work".into(),
                label: "blue".into()
            })
        );
        assert_eq!(
            parse_request(br#"{"cmd":"run","qube":"work","argv":["foot","-e","top"]}"#),
            Ok(Request::Run {
                qube: "work".into(),
                argv: vec!["foot".into(), "-e".into(), "top".into()]
            })
        );
        assert_eq!(
            parse_request(br#"{"cmd":"pointer-info"}"#),
            Ok(Request::PointerInfo)
        );
        for bad in [
            &br#"{"cmd":"add-qube","name":"work"}"#[..],
            br#"{"cmd":"run","qube":"work","argv":"foot"}"#,
            br#"{"cmd":"remove-qube"}"#,
            br#"{"cmd":"add-qube","name":"w","label":"red","socket":"/tmp/x"}"#,
            &b"nonsense"[..],
            b"",
            b"{}",
            br#"{"cmd":"reboot"}"#,
            br#"{"cmd":"key","keycode":-1,"pressed":true}"#,
            br#"{"cmd":"pointer","x":1}"#,
            b"\xff",
        ] {
            let r = parse_request(bad).unwrap_err();
            assert!(!r.ok && r.error.is_some());
        }
    }

    #[test]
    fn responses_serialise_compactly() {
        let r = serde_json::to_string(&Response::error("nope")).unwrap();
        assert_eq!(r, r#"{"ok":false,"error":"nope"}"#);
        let r = Response {
            ok: true,
            pointer: Some(PointerInfo {
                x: 3,
                y: 4,
                qube: None,
                window: None,
                cursor: "default".into(),
            }),
            ..Response::default()
        };
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"ok":true,"pointer":{"x":3,"y":4,"qube":null,"window":null,"cursor":"default"}}"#
        );
    }
}
