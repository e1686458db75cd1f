//! The control socket in-process: a headless compositor on its event loop answers a client
//! thread's requests (good and bad), and the windows it reports come from the connection
//! handler's entry points (`Dom0::apply`, `Dom0::commit_frame`).

use bulkhead_compositor::qube::QubeLinks;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::{Duration, Instant};

use bulkhead_border_theme::{Label, QubeName, Theme};
use bulkhead_compositor::backend::{Backend, Headless};
use bulkhead_compositor::control::server::ControlSocket;
use bulkhead_compositor::control::{Request, Response, send_requests};
use bulkhead_compositor::desktop::{QubeRequest, Rect, RequestOutcome, Size};
use bulkhead_compositor::render::content::{PixelFormat, PixelsRef};
use bulkhead_compositor::render::text::TitleFont;
use bulkhead_compositor::state::{Dom0, FrameError, State};
use smithay::reexports::calloop::EventLoop;

fn state() -> State {
    let backend = Backend::Headless(Box::new(Headless::new(Size::new(640, 480)).unwrap()));
    let font = TitleFont::load_default().expect("fonts-dejavu-core must be installed");
    let mut dom0 = Dom0::new(&backend, Theme::default(), font, true);
    let work = dom0
        .desktop
        .add_qube(QubeName::new("work").unwrap(), Label::Blue)
        .unwrap();
    let bad = dom0
        .desktop
        .add_qube(QubeName::new("untrusted").unwrap(), Label::Red)
        .unwrap();
    let RequestOutcome::Created(w) = dom0
        .apply(
            work,
            QubeRequest::CreateToplevel {
                size: Size::new(200, 100),
            },
        )
        .unwrap()
    else {
        panic!("no window")
    };
    dom0.apply(
        work,
        QubeRequest::SetTitle {
            window: w,
            title: "Mail".into(),
        },
    )
    .unwrap();
    dom0.apply(work, QubeRequest::Map { window: w }).unwrap();
    let size = Size::new(200, 100);
    let pixels = vec![0x80u8; 200 * 100 * 4];
    let px = PixelsRef {
        data: &pixels,
        size,
        stride: 800,
        format: PixelFormat::Xrgb8888,
    };
    // Another qube cannot draw into the window; a short buffer is refused.
    assert!(matches!(
        dom0.commit_frame(bad, w, px, &[Rect::new(0, 0, 200, 100)]),
        Err(FrameError::Request(_))
    ));
    let short = PixelsRef {
        data: &pixels[..100],
        ..px
    };
    assert!(matches!(
        dom0.commit_frame(work, w, short, &[]),
        Err(FrameError::Content(_))
    ));
    assert_eq!(
        dom0.commit_frame(work, w, px, &[Rect::new(0, 0, 200, 100)])
            .unwrap(),
        size
    );
    State {
        backend,
        dom0,
        qubes: QubeLinks::default(),
    }
}

fn client(path: &Path, lines: &[&str]) -> Vec<Response> {
    let mut stream = UnixStream::connect(path).unwrap();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    lines
        .iter()
        .map(|l| {
            stream.write_all(l.as_bytes()).unwrap();
            stream.write_all(b"\n").unwrap();
            let mut answer = String::new();
            reader.read_line(&mut answer).unwrap();
            serde_json::from_str(&answer).unwrap()
        })
        .collect()
}

#[test]
fn answers_requests_and_survives_bad_ones() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("run").join("control.sock");
    let shot = dir.path().join("shot.png");
    let mut event_loop: EventLoop<'static, State> = EventLoop::try_new().unwrap();
    let mut control = ControlSocket::bind(&sock).unwrap();
    control.insert(&event_loop.handle()).unwrap();
    let mode = std::fs::metadata(&sock).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert!(
        ControlSocket::bind(&sock).is_err(),
        "a second compositor must not steal it"
    );
    let file = dir.path().join("not-a-socket");
    std::fs::write(&file, b"precious").unwrap();
    assert!(ControlSocket::bind(&file).is_err());
    assert_eq!(
        std::fs::read(&file).unwrap(),
        b"precious",
        "a mistyped path is not deleted"
    );

    let mut state = state();
    let (p, s) = (sock.clone(), shot.clone());
    let thread = std::thread::spawn(move || {
        let shot_req = format!(r#"{{"cmd":"screenshot","path":"{}"}}"#, s.display());
        let answers = client(
            &p,
            &[
                r#"{"cmd":"list-windows"}"#,
                r#"{"cmd":"qubes"}"#,
                "this is not json",
                r#"{"cmd":"format-disk"}"#,
                r#"{"cmd":"screenshot","path":"relative.png"}"#,
                r#"{"cmd":"screenshot","path":"/nonexistent-dir/x.png"}"#,
                &shot_req,
            ],
        );
        // A client that sends an endless line is cut off; the compositor carries on.
        let mut hog = UnixStream::connect(&p).unwrap();
        let _ = hog.write_all(&vec![b'x'; 200 * 1024]);
        let again = send_requests(&p, &[Request::Qubes]).unwrap();
        (answers, again)
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    while !thread.is_finished() && Instant::now() < deadline {
        event_loop
            .dispatch(Some(Duration::from_millis(20)), &mut state)
            .unwrap();
    }
    let (answers, again) = thread.join().unwrap();

    let windows = answers[0].windows.as_ref().unwrap();
    assert_eq!(windows.len(), 1);
    let w = &windows[0];
    assert_eq!(
        (w.qube.as_str(), w.label.as_str(), w.title.as_str()),
        ("work", "blue", "Mail")
    );
    assert_eq!((w.geometry.w, w.geometry.h), (200, 100));
    assert!(w.mapped && w.visible && !w.focused);
    let qubes = answers[1].qubes.as_ref().unwrap();
    assert_eq!(qubes.len(), 2);
    for bad in &answers[2..6] {
        assert!(!bad.ok && bad.error.is_some(), "{bad:?}");
    }
    assert!(answers[6].ok, "{:?}", answers[6]);
    assert_eq!(answers[6].screenshot.as_ref().unwrap().width, 640);
    let png = std::fs::read(&shot).unwrap();
    assert_eq!(&png[1..4], b"PNG");
    assert!(again[0].ok);

    drop(control);
    assert!(!sock.exists(), "socket file removed on shutdown");
}
