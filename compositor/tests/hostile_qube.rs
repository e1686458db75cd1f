//! A hostile qube against the connection handler's entry points (`Dom0::apply`,
//! `Dom0::commit_frame`): everything it sends is refused or cut to size, the other qube's
//! window and pixels are untouched, and the compositor keeps rendering.

mod common;

use bulkhead_border_theme::{Label, QubeName, Theme};
use bulkhead_compositor::backend::{Backend, Headless, Screenshot};
use bulkhead_compositor::desktop::{
    MAX_WINDOWS_PER_QUBE, ModelEvent, Point, QubeId, QubeRequest, Rect, RequestError,
    RequestOutcome, Size, WindowId,
};
use bulkhead_compositor::qube::QubeLinks;
use bulkhead_compositor::render::BACKGROUND;
use bulkhead_compositor::render::content::{PixelFormat, PixelsRef};
use bulkhead_compositor::render::text::TitleFont;
use bulkhead_compositor::state::{Dom0, FrameError, State};
use common::{artifacts, pattern, pattern_pixels};

struct Setup {
    state: State,
    work: QubeId,
    bad: QubeId,
    mail: WindowId,
}

fn created(outcome: Result<RequestOutcome, RequestError>) -> WindowId {
    match outcome {
        Ok(RequestOutcome::Created(id)) => id,
        other => panic!("expected a new window, got {other:?}"),
    }
}

fn frame(
    dom0: &mut Dom0,
    qube: QubeId,
    window: WindowId,
    size: Size,
    tag: u8,
) -> Result<Size, FrameError> {
    let pixels = pattern_pixels(size, tag, 0xff);
    let stride = usize::try_from(size.w).unwrap() * 4;
    let px = PixelsRef {
        data: &pixels,
        size,
        stride,
        format: PixelFormat::Argb8888,
    };
    dom0.commit_frame(qube, window, px, &[Rect::new(0, 0, size.w, size.h)])
}

fn setup() -> Setup {
    let backend = Backend::Headless(Box::new(Headless::new(Size::new(1024, 768)).unwrap()));
    let font = TitleFont::load_default().expect("fonts-dejavu-core must be installed");
    let mut dom0 = Dom0::new(&backend, Theme::default(), font, false);
    let work = dom0
        .desktop
        .add_qube(QubeName::new("work").unwrap(), Label::Blue)
        .unwrap();
    let bad = dom0
        .desktop
        .add_qube(QubeName::new("untrusted").unwrap(), Label::Red)
        .unwrap();
    let mail = created(dom0.apply(
        work,
        QubeRequest::CreateToplevel {
            size: Size::new(300, 200),
        },
    ));
    dom0.apply(
        work,
        QubeRequest::SetTitle {
            window: mail,
            title: "Mail".into(),
        },
    )
    .unwrap();
    dom0.apply(work, QubeRequest::Map { window: mail }).unwrap();
    frame(&mut dom0, work, mail, Size::new(300, 200), 0x40).unwrap();
    dom0.desktop.focus_and_raise(mail);
    Setup {
        state: State {
            backend,
            dom0,
            qubes: QubeLinks::default(),
        },
        work,
        bad,
        mail,
    }
}

fn shot(state: &mut State) -> Screenshot {
    let d = &mut state.dom0;
    state
        .backend
        .screenshot(&mut d.scene, &d.desktop, &d.theme)
        .unwrap()
}

/// The work window shows exactly its own pattern.
fn mail_intact(s: &Setup, shot: &Screenshot) {
    let c = s.state.dom0.desktop.content_rect(s.mail).unwrap();
    for (x, y) in [(0, 0), (150, 100), (299, 199)] {
        assert_eq!(
            shot.rgb(c.x + x, c.y + y),
            Some(pattern(x, y, 0x40)),
            "({x}, {y})"
        );
    }
}

#[test]
fn another_qubes_window_cannot_be_touched() {
    let mut s = setup();
    let (bad, mail) = (s.bad, s.mail);
    let d = &mut s.state.dom0;
    for req in [
        QubeRequest::Unmap { window: mail },
        QubeRequest::Destroy { window: mail },
        QubeRequest::SetTitle {
            window: mail,
            title: "[work] Bank login".into(),
        },
        QubeRequest::Resize {
            window: mail,
            size: Size::new(5, 5),
        },
        QubeRequest::CreatePopup {
            parent: mail,
            offset: Point::new(10, 10),
            size: Size::new(50, 50),
        },
    ] {
        assert_eq!(d.apply(bad, req), Err(RequestError::UnknownWindow(mail)));
    }
    assert!(matches!(
        frame(d, bad, mail, Size::new(300, 200), 0xee),
        Err(FrameError::Request(_))
    ));
    assert_eq!(d.desktop.window(mail).unwrap().title(), "Mail");
    assert_eq!(d.desktop.focused(), Some(mail));
    let shot = shot(&mut s.state);
    mail_intact(&s, &shot);
}

#[test]
fn floods_and_extreme_geometry_are_cut_to_size() {
    let mut s = setup();
    let bad = s.bad;
    let d = &mut s.state.dom0;
    // The window limit.
    let mut mine = Vec::new();
    for _ in 0..MAX_WINDOWS_PER_QUBE {
        mine.push(created(d.apply(
            bad,
            QubeRequest::CreateToplevel {
                size: Size::new(1, 1),
            },
        )));
    }
    assert_eq!(
        d.apply(
            bad,
            QubeRequest::CreateToplevel {
                size: Size::new(1, 1)
            }
        ),
        Err(RequestError::TooManyWindows)
    );
    for w in mine.drain(..) {
        d.apply(bad, QubeRequest::Destroy { window: w }).unwrap();
    }
    // Sizes beyond the limit are refused, sizes beyond the screen are cut.
    for size in [
        Size::new(0, 1),
        Size::new(-1, 5),
        Size::new(16385, 1),
        Size::new(i32::MAX, i32::MIN),
    ] {
        assert!(matches!(
            d.apply(bad, QubeRequest::CreateToplevel { size }),
            Err(RequestError::BadSize { .. })
        ));
    }
    let big = created(d.apply(
        bad,
        QubeRequest::CreateToplevel {
            size: Size::new(16384, 16384),
        },
    ));
    d.apply(bad, QubeRequest::Map { window: big }).unwrap();
    // Popups thrown to the ends of the coordinate space stay on screen.
    let mut popups = Vec::new();
    for offset in [
        Point::new(i32::MIN, i32::MIN),
        Point::new(i32::MAX, i32::MAX),
        Point::new(-1, 900),
    ] {
        let p = created(d.apply(
            bad,
            QubeRequest::CreatePopup {
                parent: big,
                offset,
                size: Size::new(16384, 40),
            },
        ));
        d.apply(bad, QubeRequest::Map { window: p }).unwrap();
        popups.push(p);
    }
    // Damage far outside the frame is clipped, not a panic.
    let size = Size::new(64, 64);
    let pixels = pattern_pixels(size, 0xc0, 0xff);
    let px = PixelsRef {
        data: &pixels,
        size,
        stride: 256,
        format: PixelFormat::Argb8888,
    };
    d.commit_frame(bad, popups[0], px, &[]).unwrap();
    let damage = [
        Rect::new(i32::MIN, i32::MIN, i32::MAX, i32::MAX),
        Rect::new(60, 60, 1000, 1000),
    ];
    d.commit_frame(bad, popups[0], px, &damage).unwrap();
    d.desktop.verify_invariants().unwrap();
    let usable = d.desktop.usable_area();
    for p in &popups {
        assert!(usable.contains_rect(&d.desktop.frame(*p).unwrap().outer));
    }
    // The untrusted windows cover the screen, but not the focused work window: a request
    // never raises anything above it.
    let shot = shot(&mut s.state);
    shot.write_png(&artifacts().join("hostile-flood.png"))
        .unwrap();
    mail_intact(&s, &shot);
    let red = s.state.dom0.theme.color(Label::Red);
    let top_left = s.state.dom0.desktop.frame(popups[0]).unwrap().outer;
    let bar = s.state.dom0.desktop.reserved_area().h;
    assert_eq!(
        (top_left.x, top_left.y),
        (0, bar),
        "below dom0's notice bar"
    );
    assert_eq!(
        shot.rgb(0, bar),
        Some(red),
        "the popup's border, in the untrusted colour"
    );
    assert_eq!(
        shot.rgb(0, 0),
        Some(BACKGROUND),
        "dom0's strip stays dom0's"
    );
}

#[test]
fn spoofed_titles_keep_the_real_qube_name_first() {
    let mut s = setup();
    let bad = s.bad;
    let d = &mut s.state.dom0;
    let w = created(d.apply(
        bad,
        QubeRequest::CreateToplevel {
            size: Size::new(200, 100),
        },
    ));
    let title = "\u{202e}\u{2066}[work]\u{200b} Bank\nlogin\u{0}";
    d.apply(
        bad,
        QubeRequest::SetTitle {
            window: w,
            title: title.into(),
        },
    )
    .unwrap();
    let stored = d.desktop.window(w).unwrap().title().to_owned();
    assert_eq!(stored, "[work] Bank login");
    let q = d.desktop.qube(bad).unwrap();
    let text = bulkhead_compositor::render::title_text(&q.name, &stored, false);
    assert_eq!(text, "[untrusted] [work] Bank login");
    d.apply(
        bad,
        QubeRequest::SetTitle {
            window: w,
            title: "x".repeat(100_000),
        },
    )
    .unwrap();
    assert!(d.desktop.window(w).unwrap().title().chars().count() <= 128);
}

#[test]
fn a_qube_that_goes_away_takes_only_its_windows() {
    let mut s = setup();
    let (work, bad) = (s.work, s.bad);
    let d = &mut s.state.dom0;
    let w = created(d.apply(
        bad,
        QubeRequest::CreateToplevel {
            size: Size::new(600, 500),
        },
    ));
    d.apply(bad, QubeRequest::Map { window: w }).unwrap();
    frame(d, bad, w, Size::new(600, 500), 0xc0).unwrap();
    let gone_at = d.desktop.content_rect(w).unwrap();
    d.qube_gone(bad);
    assert!(d.desktop.window(w).is_none());
    assert_eq!(d.desktop.focused_qube(), Some(work));
    assert!(matches!(
        d.apply(
            bad,
            QubeRequest::CreateToplevel {
                size: Size::new(5, 5)
            }
        ),
        Err(RequestError::UnknownQube(_))
    ));
    let shot = shot(&mut s.state);
    mail_intact(&s, &shot);
    // Where the gone window was (outside the work window), the background shows again.
    let mail_outer = s.state.dom0.desktop.frame(s.mail).unwrap().outer;
    let (x, y) = (gone_at.x + gone_at.w - 1, gone_at.y + gone_at.h - 1);
    assert!(!mail_outer.contains(Point::new(x, y)));
    assert_eq!(shot.rgb(x, y), Some(BACKGROUND));
}

/// A qube cannot line up to inherit the focus: while the user works in `work`, the hostile
/// qube keeps opening windows (each is stacked directly below the focused one, so above
/// the user's other windows); when the user closes their window, focus goes back to the
/// window they focused before it, never to one of the hostile qube's, and once no window
/// the user focused is left, to nothing.
#[test]
fn a_qube_cannot_line_up_to_inherit_the_focus() {
    let mut s = setup();
    let (work, bad, mail) = (s.work, s.bad, s.mail);
    let d = &mut s.state.dom0;
    let notes = created(d.apply(
        work,
        QubeRequest::CreateToplevel {
            size: Size::new(200, 150),
        },
    ));
    d.apply(work, QubeRequest::Map { window: notes }).unwrap();
    frame(d, work, notes, Size::new(200, 150), 0x50).unwrap();
    // The user works in notes, then in mail.
    d.desktop.focus_and_raise(notes);
    d.desktop.focus_and_raise(mail);
    d.desktop.take_events();

    let mut hostile = Vec::new();
    for _ in 0..20 {
        let w = created(d.apply(
            bad,
            QubeRequest::CreateToplevel {
                size: Size::new(400, 300),
            },
        ));
        d.apply(bad, QubeRequest::Map { window: w }).unwrap();
        frame(d, bad, w, Size::new(400, 300), 0xc0).unwrap();
        hostile.push(w);
    }
    let order: Vec<WindowId> = d.desktop.stack().map(|w| w.id()).collect();
    let at = |id: WindowId| order.iter().position(|o| *o == id).unwrap();
    assert_eq!(order.last(), Some(&mail), "mail stays on top");
    assert!(
        hostile.iter().all(|h| at(*h) > at(notes)),
        "the hostile windows are lined up above notes: {order:?}"
    );
    assert_eq!(d.desktop.focused(), Some(mail));

    // The user closes mail (dom0's close shortcut); work obeys.
    let req = d.desktop.request_close(mail).unwrap();
    assert_eq!(req.qube, work);
    d.apply(work, QubeRequest::Destroy { window: mail })
        .unwrap();
    assert_eq!(d.desktop.focused(), Some(notes), "back to the user's notes");
    assert_eq!(d.desktop.focused_qube(), Some(work));
    assert_eq!(d.desktop.stack().last().map(|w| w.id()), Some(notes));

    // The user closes notes too: no window they focused is left, so nothing gets focus,
    // however many hostile windows are on screen.
    d.desktop.request_close(notes).unwrap();
    d.apply(work, QubeRequest::Destroy { window: notes })
        .unwrap();
    assert_eq!(d.desktop.focused(), None);
    assert_eq!(d.desktop.focused_qube(), None, "keys go nowhere");
    for event in d.desktop.take_events() {
        if let ModelEvent::Focus {
            to: Some((q, w)), ..
        } = event
        {
            assert_ne!(q, bad, "the hostile qube got focus on {w:?}");
        }
    }
    d.desktop.verify_invariants().unwrap();

    // Only the user's own click gives the hostile qube focus.
    let top = *hostile.last().unwrap();
    let c = d.desktop.content_rect(top).unwrap();
    d.desktop.click(Point::new(c.x + 1, c.y + 1));
    assert_eq!(d.desktop.focused(), Some(top));
    d.desktop.verify_invariants().unwrap();
}
