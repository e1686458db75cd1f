//! Hostile agents against the real compositor process (DESIGN.md: "a malformed message
//! closes that qube's connection, never the compositor"), through the shared fixture in
//! `common/standin.rs`.
//!
//! Each test starts `bulkhead-compositor` with two qubes. A well-behaved stand-in agent for
//! `good` shows a window and keeps sending frames; a stand-in for `bad` misbehaves.
//! - Protocol violations ([`survive`]): `bad` is disconnected (its setup socket closes, its
//!   windows are gone, the reason is in the log), `good` still gets its frames
//!   acknowledged and the user's click and key, the compositor still answers, and `bad`
//!   may connect again.
//! - Wishes dom0 refuses or converts (fullscreen, huge or off-screen windows, unasked
//!   clipboard data, hostile titles; [`Desk`]): `bad` stays connected, its windows are cut
//!   and placed by dom0's rules, dom0's notice bar and `good`'s focused window stay drawn,
//!   `good` renders and gets the click and the key, `bad` gets no input.
//!
//! The list of cases and what the compositor does is in the crate README ("Hostile qubes").

mod common;

use std::io::Read;
use std::time::Duration;

use bulkhead_border_theme::Theme;
use bulkhead_compositor::backend::Screenshot;
use bulkhead_compositor::control::WindowInfo;
use bulkhead_compositor::desktop::{DOM0_BAR_HEIGHT, POPUP_MAX_PERCENT, Rect as ModelRect};
use bulkhead_compositor::qube::STATE_BURST;
use bulkhead_compositor::render::notice::REFUSED_BAR;
use bulkhead_protocol::{
    AgentMessage, Capabilities, Dom0Message, PROTOCOL_VERSION, Rect, Size, WindowId, WindowKind,
    WindowStates,
};
use bulkhead_shm_transport::layout::control;
use common::standin::{Compositor, OUTPUT, StandIn, buffer};

/// Where the good qube's second buffer starts (after its first, 64×48×4 bytes, page-aligned).
const SECOND_BUFFER: u64 = 16384;
/// Where a stand-in's large second buffer starts.
const BIG_BUFFER: u64 = 8 << 20;

/// Runs one hostile scenario and checks the outcome every scenario must have.
fn survive(name: &str, reason: &str, attack: impl FnOnce(&mut StandIn)) {
    let comp = Compositor::start(&[]);
    let mut good = StandIn::connect(&comp.socket("good"));
    good.hello();
    let gw = good.window(1, 64, 48, 0);
    good.frame_done(0);

    let mut bad = StandIn::connect(&comp.socket("bad"));
    attack(&mut bad);
    assert!(
        bad.was_disconnected(),
        "{name}: the hostile qube stays connected; log:\n{}",
        comp.log()
    );
    comp.wait_for("the bad qube's windows to go", || {
        comp.windows().iter().all(|w| w.qube != "bad")
    });
    assert!(
        comp.log().contains(reason),
        "{name}: the log does not give the reason {reason:?}:\n{}",
        comp.log()
    );

    // The good qube keeps rendering: its next frame is taken and acknowledged.
    good.frame(gw, 1, 64, 48, SECOND_BUFFER);
    good.frame_done(1);
    let windows = comp.windows();
    assert!(
        windows.iter().any(|w| w.qube == "good" && w.visible),
        "{windows:?}"
    );
    // And it still gets the user's input: a click focuses its window, a key follows.
    let g = comp.windows_of("good")[0].geometry;
    comp.click(g.x + 5, g.y + 5);
    comp.keys(&[(30, true), (30, false)]);
    good.wait_for("the click", |m| {
        matches!(m, Dom0Message::PointerButton { pressed: true, .. }).then_some(())
    });
    good.wait_for("the key", |m| {
        matches!(
            m,
            Dom0Message::Key {
                keycode: 30,
                pressed: true,
                ..
            }
        )
        .then_some(())
    });

    // And the bad qube may connect again (a restarted agent) and work.
    drop(bad);
    let mut again = StandIn::connect(&comp.socket("bad"));
    again.hello();
    again.window(1, 32, 32, 0);
    again.frame_done(0);
}

#[test]
fn garbage_bytes() {
    survive("garbage", "malformed message", |bad| {
        bad.send_raw(b"\xff\xffthis is not a message")
    });
}

#[test]
fn message_before_hello() {
    survive("before-hello", "message before hello", |bad| {
        bad.send(&AgentMessage::Map {
            window: WindowId::new(1).unwrap(),
        });
    });
}

#[test]
fn hello_twice() {
    survive("hello-twice", "hello sent twice", |bad| {
        bad.hello();
        bad.send(&AgentMessage::Hello {
            version: PROTOCOL_VERSION,
            capabilities: Capabilities::empty(),
        });
    });
}

#[test]
fn window_it_does_not_own() {
    // Window 1 exists in the good qube; from the bad qube it is unknown.
    survive("foreign-window", "no window 1", |bad| {
        bad.hello();
        bad.send(&AgentMessage::SetTitle {
            window: WindowId::new(1).unwrap(),
            title: "x".into(),
        });
    });
}

#[test]
fn launch_result_nobody_asked_for() {
    // dom0 never sent this qube a Launch (it did not even offer LAUNCH).
    survive(
        "unsolicited-launch-result",
        "launch result for launch 1, which dom0 is not waiting for",
        |bad| {
            bad.hello();
            bad.send(&AgentMessage::LaunchResult {
                launch: 1,
                errno: 0,
            });
        },
    );
}

#[test]
fn launch_result_with_no_errno() {
    // Only Linux's error numbers cross; anything larger is malformed, never shown.
    survive("launch-errno-range", "launch errno is 70000", |bad| {
        bad.hello();
        let mut wire = AgentMessage::LaunchResult {
            launch: 1,
            errno: 7,
        }
        .encode_to_vec()
        .unwrap();
        let at = wire.len() - 4;
        wire[at..].copy_from_slice(&70_000u32.to_le_bytes());
        bad.send_raw(&wire);
    });
}

#[test]
fn buffer_outside_the_arena() {
    survive("outside-arena", "frame buffer", |bad| {
        bad.hello();
        let window = WindowId::new(5).unwrap();
        let size = Size {
            width: 64,
            height: 64,
        };
        bad.send(&AgentMessage::CreateWindow {
            window,
            kind: WindowKind::Toplevel,
            size,
        });
        let arena = bad.ep.arena().size();
        let rects = vec![Rect {
            x: 0,
            y: 0,
            w: 64,
            h: 64,
        }];
        bad.send(&AgentMessage::Damage {
            window,
            serial: 0,
            buffer: buffer(arena, 64, 64),
            rects,
        });
    });
}

/// A damage rectangle reaching past its buffer: the decoder refuses it before dom0 reads a
/// pixel.
#[test]
fn damage_rectangle_outside_its_buffer() {
    survive(
        "rect-outside",
        "damage rectangle is not inside the buffer",
        |bad| {
            bad.hello();
            let window = bad.window(6, 64, 64, 0);
            bad.frame_done(0);
            // The encoder refuses such a rectangle: encode it inside a wide buffer, then forge
            // the buffer's width down to 64.
            let damage = |width| AgentMessage::Damage {
                window,
                serial: 1,
                buffer: buffer(0, width, 1),
                rects: vec![Rect {
                    x: 0x2b00,
                    y: 0,
                    w: 1,
                    h: 1,
                }],
            };
            assert!(damage(64).encode_to_vec().is_err());
            let mut wire = damage(0x2bcd).encode_to_vec().unwrap();
            forge(&mut wire, &0x2bcdu32.to_le_bytes(), &64u32.to_le_bytes());
            bad.send_raw(&wire);
        },
    );
}

/// The ring's producer index published far past what dom0 has read: a lie about how much
/// the qube wrote.
#[test]
fn ring_producer_index_past_the_end() {
    survive("producer-index", "producer index", |bad| {
        bad.hello();
        bad.window(1, 32, 32, 0);
        bad.frame_done(0);
        let ring = bad.ep.layout().to_dom0;
        let at = ring.control_offset + control::PRODUCER;
        let producer = bad.peek_u32(at);
        bad.poke(at, &producer.wrapping_add(4 * ring.size).to_le_bytes());
        bad.ring_bell();
    });
}

/// A frame header claiming more bytes than were published (all ones but the MORE bit).
#[test]
fn ring_frame_longer_than_published() {
    survive("frame-length", "published bytes", |bad| {
        bad.hello();
        let ring = bad.ep.layout().to_dom0;
        let at = ring.control_offset + control::PRODUCER;
        let producer = bad.peek_u32(at);
        let slot = ring.data_offset + (producer & (ring.size - 1)) as usize;
        bad.poke(slot, &[0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0]);
        bad.poke(at, &producer.wrapping_add(8).to_le_bytes());
        bad.ring_bell();
    });
}

/// The qube claims dom0 consumed messages it never sent (the dom0 → qube ring's consumer
/// index far ahead): dom0 notices when it next sends.
#[test]
fn ring_consumer_index_ahead_of_dom0() {
    survive("consumer-index", "consumer index", |bad| {
        bad.hello();
        let window = bad.window(1, 32, 32, 0);
        bad.frame_done(0);
        let ring = bad.ep.layout().to_agent;
        let at = ring.control_offset + control::CONSUMER;
        let consumer = bad.peek_u32(at);
        bad.poke(at, &consumer.wrapping_add(3 * ring.size).to_le_bytes());
        // The next frame makes dom0 send FrameDone.
        bad.frame(window, 1, 32, 32, 0);
    });
}

/// Another thread of the qube scribbles over the ring's index and data while the agent
/// sends real frames: whatever dom0 reads, it refuses the ring, and reads nothing twice.
#[test]
fn ring_indices_raced_while_sending() {
    survive("ring-race", "shared-memory channel", |bad| {
        bad.hello();
        let window = bad.window(1, 32, 32, 0);
        bad.frame_done(0);
        let ring = bad.ep.layout().to_dom0;
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let scribbler = {
            let (region, mut bell) = bad.raw_handles();
            let stop = stop.clone();
            std::thread::spawn(move || {
                use std::io::Write;
                use std::os::unix::fs::FileExt;
                // xorshift: reproducible, no extra crate.
                let mut x: u32 = 0x9e37_79b9;
                let mut next = move || {
                    x ^= x << 13;
                    x ^= x >> 17;
                    x ^= x << 5;
                    x
                };
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let data = ring.data_offset + (next() & (ring.size - 1) & !7) as usize;
                    let _ = region.write_all_at(&next().to_le_bytes(), data as u64);
                    let producer = (ring.control_offset + control::PRODUCER) as u64;
                    let _ = region.write_all_at(&next().to_le_bytes(), producer);
                    let _ = bell.write_all(&1u64.to_ne_bytes());
                    std::thread::yield_now();
                }
            })
        };
        for serial in 1..200 {
            bad.frame(window, serial, 32, 32, 0);
            if bad.was_disconnected_within(Duration::from_millis(20)) {
                break;
            }
        }
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        scribbler.join().unwrap();
    });
}

#[test]
fn frames_without_waiting() {
    survive(
        "in-flight",
        "before the previous one was acknowledged",
        |bad| {
            bad.hello();
            let window = bad.window(2, 32, 32, 0);
            bad.frame(window, 1, 32, 32, 0);
            bad.frame(window, 2, 32, 32, 0);
        },
    );
}

#[test]
fn windows_sharing_one_big_buffer() {
    // Every window points at the same 16 MiB of arena: dom0 would hold a copy each.
    survive("pixel-budget", "over the qube's budget", |bad| {
        bad.hello();
        for id in 1..=8 {
            bad.window(id, 2048, 2048, 0);
        }
    });
}

#[test]
fn popup_of_an_unknown_parent() {
    survive("orphan-popup", "no window 9", |bad| {
        bad.hello();
        let kind = WindowKind::Popup {
            parent: WindowId::new(9).unwrap(),
            x: 0,
            y: 0,
        };
        let size = Size {
            width: 10,
            height: 10,
        };
        bad.send(&AgentMessage::CreateWindow {
            window: WindowId::new(3).unwrap(),
            kind,
            size,
        });
    });
}

#[test]
fn message_flood() {
    survive("flood", "messages per second", |bad| {
        bad.hello();
        let window = WindowId::new(4).unwrap();
        let size = Size {
            width: 10,
            height: 10,
        };
        bad.send(&AgentMessage::CreateWindow {
            window,
            kind: WindowKind::Toplevel,
            size,
        });
        let title = AgentMessage::SetTitle {
            window,
            title: "spam".into(),
        }
        .encode_to_vec()
        .unwrap();
        // Flood until dom0 hangs up (checked every thousand messages) or refuses more.
        bad.stream.set_nonblocking(true).unwrap();
        'flood: for _ in 0..200 {
            for _ in 0..1000 {
                if bad.ep.send(&title).is_err() {
                    break 'flood;
                }
            }
            let _ = bad.ep.flush();
            if matches!(bad.stream.read(&mut [0u8; 1]), Ok(0)) {
                break;
            }
        }
        bad.stream.set_nonblocking(false).unwrap();
    });
}

// ---------------------------------------------------------------------------------------
// Window rules: wishes dom0 refuses or converts are no violation; the bad qube stays
// connected, and nothing it does covers dom0's notice bar or the focused good window.

/// The good qube with one focused 64×48 window, and the bad qube connected (hello done).
struct Desk {
    comp: Compositor,
    good: StandIn,
    gw: WindowId,
    good_serial: u32,
    bad: StandIn,
}

impl Desk {
    fn start(extra: &[&str]) -> Desk {
        let comp = Compositor::start(extra);
        let mut good = StandIn::connect(&comp.socket("good"));
        good.fill = 0x40;
        good.hello();
        let gw = good.window(1, 64, 48, 0);
        good.frame_done(0);
        comp.wait_for("good's window", || !comp.windows_of("good").is_empty());
        comp.click_qube("good", false);
        let mut bad = StandIn::connect(&comp.socket("bad"));
        bad.hello();
        Desk {
            comp,
            good,
            gw,
            good_serial: 0,
            bad,
        }
    }

    /// dom0 posts a (refused) notice: Ctrl+Shift+V with nothing copied, in good's window.
    fn post_notice(&self) {
        self.comp.keys(&[
            (29, true),
            (42, true),
            (47, true),
            (47, false),
            (42, false),
            (29, false),
        ]);
        self.comp
            .wait_for("a notice", || !self.comp.notices().is_empty());
    }

    /// After a scenario that is no violation: the compositor runs, the bad qube is still
    /// connected, the good qube's next frame is acknowledged, and a click and a key go to
    /// the good qube only.
    fn all_still_fine(&mut self) {
        assert!(self.comp.is_running(), "the compositor died");
        assert!(
            !self.bad.was_disconnected_within(Duration::from_millis(300)),
            "a refused wish is not a violation; log:\n{}",
            self.comp.log()
        );
        self.good_serial += 1;
        let offset = if self.good_serial % 2 == 1 {
            SECOND_BUFFER
        } else {
            0
        };
        self.good.frame(self.gw, self.good_serial, 64, 48, offset);
        self.good.frame_done(self.good_serial);
        let g = self.comp.windows_of("good")[0].geometry;
        self.comp.click(g.x + 5, g.y + 5);
        self.comp.keys(&[(30, true), (30, false)]);
        self.good.wait_for("the click", |m| {
            matches!(m, Dom0Message::PointerButton { pressed: true, .. }).then_some(())
        });
        self.good.wait_for("the key", |m| {
            matches!(
                m,
                Dom0Message::Key {
                    keycode: 30,
                    pressed: true,
                    ..
                }
            )
            .then_some(())
        });
        let to_bad = self.bad.drain(Duration::from_millis(300));
        assert!(
            !to_bad.iter().any(|m| matches!(
                m,
                Dom0Message::Key { .. } | Dom0Message::PointerButton { .. }
            )),
            "input for the unfocused qube: {to_bad:?}"
        );
        let windows = self.comp.windows();
        let focused: Vec<&WindowInfo> = windows.iter().filter(|w| w.focused).collect();
        assert!(
            focused.len() == 1 && focused[0].qube == "good",
            "the bad qube took the focus: {windows:#?}"
        );
        assert_eq!(
            windows.last().map(|w| w.qube.as_str()),
            Some("good"),
            "the bad qube raised a window over the focused one"
        );
    }

    /// The bad qube's only toplevel.
    fn bad_toplevel(&self) -> WindowInfo {
        self.comp
            .windows_of("bad")
            .into_iter()
            .find(|w| w.kind == "toplevel")
            .expect("the bad qube's toplevel")
    }
}

/// dom0's reserved strip at the top of the output.
fn reserved() -> ModelRect {
    ModelRect::new(0, 0, OUTPUT.0, DOM0_BAR_HEIGHT)
}

/// The usable area below it.
fn usable() -> ModelRect {
    ModelRect::new(0, DOM0_BAR_HEIGHT, OUTPUT.0, OUTPUT.1 - DOM0_BAR_HEIGHT)
}

fn inside(outer: ModelRect, inner: ModelRect) -> bool {
    inner.x >= outer.x
        && inner.y >= outer.y
        && inner.x + inner.w <= outer.x + outer.w
        && inner.y + inner.h <= outer.y + outer.h
}

/// dom0's notice bar is drawn whole: every pixel of the strip is the refusal bar colour or
/// white text blended onto it, never a guest pixel or a label colour.
fn notice_bar_intact(shot: &Screenshot) {
    let r = reserved();
    let mut bar_pixels = 0;
    for (x, y) in common::rect_pixels(r) {
        let p = shot.rgb(x, y).unwrap();
        let b = REFUSED_BAR;
        assert!(
            p.r >= b.r && p.g >= b.g && p.b >= b.b && p.g == p.b && p.r >= p.g,
            "notice bar pixel ({x}, {y}) is {p:?}"
        );
        bar_pixels += usize::from(p == b);
    }
    assert!(bar_pixels > r.w as usize * 10, "the notice bar is drawn");
}

/// The window's label indicator is on screen: its top-left border pixel is the label
/// colour, and the strip between the top border and the content (title bar or fullscreen
/// strip) shows the label colour with text on it.
fn label_indicator(shot: &Screenshot, w: &WindowInfo) {
    let theme = Theme::default();
    let label = w.label.parse().unwrap();
    let (bar, text) = (theme.color(label), theme.text_color(label));
    let border = w.geometry.x - w.frame.x;
    assert_eq!(shot.rgb(w.frame.x, w.frame.y), Some(bar), "border of {w:?}");
    let strip = ModelRect::new(
        w.geometry.x,
        w.frame.y + border,
        w.geometry.w,
        w.geometry.y - w.frame.y - border,
    );
    assert!(
        strip.h >= 12,
        "a label strip tall enough for the name: {strip:?}"
    );
    let mut text_pixels = 0;
    for (x, y) in common::rect_pixels(strip) {
        let p = shot.rgb(x, y).unwrap();
        let between = |a: u8, b: u8, v: u8| a.min(b) <= v && v <= a.max(b);
        assert!(
            between(bar.r, text.r, p.r)
                && between(bar.g, text.g, p.g)
                && between(bar.b, text.b, p.b),
            "label strip pixel ({x}, {y}) = {p} is neither {bar} nor {text}"
        );
        text_pixels += usize::from(p != bar);
    }
    assert!(text_pixels > 30, "the qube name is written in the strip");
}

/// The configure dom0 sends for `window`.
fn configure_of(s: &mut StandIn, window: WindowId) -> (u32, u32, WindowStates) {
    s.wait_for("a configure", |m| match m {
        Dom0Message::Configure {
            window: w,
            width,
            height,
            states,
            ..
        } if *w == window => Some((*width, *height, *states)),
        _ => None,
    })
}

/// Fullscreen without the policy's permission: the window is maximized below dom0's
/// notice bar with its frame, the qube is told so, and leaving restores the old geometry.
#[test]
fn fullscreen_request_becomes_maximize() {
    let mut d = Desk::start(&[]);
    let bw = d.bad.window(1, 200, 150, 0);
    d.bad.frame_done(0);
    let before = d.bad_toplevel();
    d.post_notice();
    d.bad.send(&AgentMessage::SetFullscreen {
        window: bw,
        on: true,
    });
    let (w, h, states) = configure_of(&mut d.bad, bw);
    assert_eq!(states, WindowStates::MAXIMIZED, "maximized, not fullscreen");
    // The client obeys and draws at the size it was given.
    d.bad.frame(bw, 1, w, h, BIG_BUFFER);
    d.bad.frame_done(1);
    let max = d.bad_toplevel();
    assert_eq!(max.mode, "maximized");
    assert_eq!(
        max.frame,
        usable(),
        "fills the area below dom0's bar, frame included"
    );
    assert_eq!((max.geometry.w as u32, max.geometry.h as u32), (w, h));
    let shot = d.comp.screenshot("hostile-fullscreen-maximized.png");
    notice_bar_intact(&shot);
    label_indicator(&shot, &max);
    d.all_still_fine();

    d.bad.send(&AgentMessage::SetFullscreen {
        window: bw,
        on: false,
    });
    let (w, h, states) = configure_of(&mut d.bad, bw);
    assert_eq!((w, h, states), (200, 150, WindowStates::empty()));
    d.comp.wait_for("the old geometry", || {
        d.bad_toplevel().geometry == before.geometry
    });
    assert_eq!(d.bad_toplevel().mode, "normal");
    d.all_still_fine();
}

/// Fullscreen the policy allows: the window fills the usable area with a thin border and a
/// label strip naming the qube; dom0's notice bar stays above it.
#[test]
fn allowed_fullscreen_keeps_the_label_strip() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("windows.toml");
    std::fs::write(&policy, "[qube.bad]\nallow_fullscreen = true\n").unwrap();
    let mut d = Desk::start(&["--window-policy", policy.to_str().unwrap()]);
    let bw = d.bad.window(1, 200, 150, 0);
    d.bad.frame_done(0);
    d.post_notice();
    d.bad.send(&AgentMessage::SetFullscreen {
        window: bw,
        on: true,
    });
    let (w, h, states) = configure_of(&mut d.bad, bw);
    assert_eq!(states, WindowStates::FULLSCREEN);
    d.bad.frame(bw, 1, w, h, BIG_BUFFER);
    d.bad.frame_done(1);
    let full = d.bad_toplevel();
    assert_eq!(full.mode, "fullscreen");
    assert_eq!(full.frame, usable());
    let shot = d.comp.screenshot("hostile-fullscreen-allowed.png");
    notice_bar_intact(&shot);
    label_indicator(&shot, &full);
    d.all_still_fine();
}

/// A toplevel and a popup far larger than the output, the popup placed far off-screen:
/// both are cut, kept below dom0's bar and on screen; the popup covers at most 90% of each
/// side; the focused good window stays on top, renders and gets the input.
#[test]
fn a_qube_cannot_cover_the_screen() {
    let mut d = Desk::start(&[]);
    let window = WindowId::new(1).unwrap();
    d.bad.send(&AgentMessage::CreateWindow {
        window,
        kind: WindowKind::Toplevel,
        size: Size {
            width: 16384,
            height: 6144,
        },
    });
    d.bad.frame(window, 0, 1200, 900, 0);
    d.bad.send(&AgentMessage::Map { window });
    d.bad.frame_done(0);
    d.bad
        .popup(2, window, (-32768, -12288), (1200, 900), BIG_BUFFER);
    d.bad.frame_done(0);
    d.post_notice();
    let windows = d.comp.windows_of("bad");
    assert_eq!(windows.len(), 2, "{windows:#?}");
    for w in &windows {
        assert!(inside(usable(), w.frame), "{w:?} leaves the usable area");
    }
    let popup = windows.iter().find(|w| w.kind == "popup").unwrap();
    assert_eq!(
        (popup.geometry.w, popup.geometry.h),
        (
            OUTPUT.0 * POPUP_MAX_PERCENT / 100,
            OUTPUT.1 * POPUP_MAX_PERCENT / 100
        ),
        "the popup is cut to 90% of each side"
    );
    let shot = d.comp.screenshot("hostile-cover-screen.png");
    notice_bar_intact(&shot);
    // The good window is drawn whole on top: its content is its own grey.
    let good = &d.comp.windows_of("good")[0];
    for (x, y) in common::rect_pixels(good.geometry) {
        let p = shot.rgb(x, y).unwrap();
        assert_eq!((p.r, p.g, p.b), (0x40, 0x40, 0x40), "good pixel ({x}, {y})");
    }
    d.all_still_fine();
}

/// Popups asked at extreme and negative offsets land on screen, below dom0's bar.
#[test]
fn popups_off_screen_are_pulled_back() {
    let mut d = Desk::start(&[]);
    let top = d.bad.window(1, 300, 200, 0);
    d.bad.frame_done(0);
    let (mx, my) = (
        bulkhead_protocol::MAX_POPUP_OFFSET_X,
        bulkhead_protocol::MAX_POPUP_OFFSET_Y,
    );
    let places = [(-mx, -my), (-500, -500), (mx, my), (mx, -my), (-mx, my)];
    for (id, at) in (2u32..).zip(places) {
        d.bad.popup(id, top, at, (40, 30), u64::from(id) << 20);
        d.bad.frame_done(0);
    }
    let popups: Vec<WindowInfo> = d
        .comp
        .windows_of("bad")
        .into_iter()
        .filter(|w| w.kind == "popup")
        .collect();
    assert_eq!(popups.len(), places.len());
    for p in &popups {
        assert!(inside(usable(), p.frame), "{p:?} leaves the usable area");
        assert_eq!((p.geometry.w, p.geometry.h), (40, 30));
    }
    d.all_still_fine();
}

/// Clipboard data nobody asked for is dropped unread: no notice, nothing held, and the
/// qube stays connected (see also `hostile_clipboard_agent.rs`).
#[test]
fn unasked_clipboard_data_is_dropped() {
    let mut d = Desk::start(&[]);
    for serial in [0, 1, u32::MAX] {
        d.bad.send(&AgentMessage::ClipboardData {
            serial,
            mime: "text/plain".into(),
            data: b"pushed".to_vec(),
        });
    }
    d.bad.send(&AgentMessage::ClipboardEmpty { serial: 7 });
    d.all_still_fine();
    assert_eq!(d.comp.clipboard().source, None);
    assert!(d.comp.notices().is_empty(), "{:?}", d.comp.notices());
}

/// A title with bidi overrides, invisible characters, a line separator and too many
/// characters reaches the control socket and the screen sanitised: the window shows exactly what a window
/// titled with the clean text shows.
#[test]
fn hostile_titles_reach_the_screen_sanitised() {
    let mut d = Desk::start(&[]);
    // Within the protocol's 255 bytes (control characters are refused by the decoder: see
    // `control_characters_in_a_title`), over dom0's 128 characters.
    let raw = format!(
        "\u{202e}\u{2066}evil\u{200b} \u{2069}\u{2028}name\u{feff}\u{200f} {}",
        "A".repeat(200)
    );
    assert!(raw.len() <= bulkhead_protocol::MAX_TITLE_BYTES);
    let limit = bulkhead_border_theme::MAX_TITLE_CHARS;
    let clean_start = "evil name ";
    let clean = format!(
        "{clean_start}{}…",
        "A".repeat(limit - 1 - clean_start.chars().count())
    );
    let hostile = d.bad.window(1, 400, 60, 0);
    d.bad.frame_done(0);
    let reference = d.bad.window(2, 400, 60, 1 << 20);
    d.bad.frame_done(0);
    d.bad.send(&AgentMessage::SetTitle {
        window: hostile,
        title: raw,
    });
    d.bad.send(&AgentMessage::SetTitle {
        window: reference,
        title: clean.clone(),
    });
    d.comp.wait_for("the titles", || {
        d.comp.windows_of("bad").iter().all(|w| !w.title.is_empty())
    });
    let windows = d.comp.windows_of("bad");
    for w in &windows {
        assert_eq!(w.title, clean, "window {}", w.id);
    }
    let shot = d.comp.screenshot("hostile-title.png");
    // Both title bars are uncovered (new windows go where they cover no other).
    let (a, b) = (&windows[0], &windows[1]);
    let bar = |w: &WindowInfo| {
        let border = w.geometry.x - w.frame.x;
        ModelRect::new(
            w.geometry.x,
            w.frame.y + border,
            w.geometry.w,
            w.geometry.y - w.frame.y - border,
        )
    };
    let (ra, rb) = (bar(a), bar(b));
    let good = &d.comp.windows_of("good")[0];
    for (bar, this) in [(ra, a), (rb, b)] {
        for other in [a, b, good] {
            assert!(
                other.id == this.id || !other.frame.overlaps(&bar),
                "title bar of {this:?} covered by {other:?}"
            );
        }
    }
    let mut differing = 0;
    for (x, y) in common::rect_pixels(ra) {
        differing += usize::from(shot.rgb(x, y) != shot.rgb(x - ra.x + rb.x, y - ra.y + rb.y));
    }
    assert_eq!(differing, 0, "the two title bars differ");
    label_indicator(&shot, a);
    d.all_still_fine();
}

/// A flood of fullscreen toggles: dom0 acts on a few (rate limit), refuses the rest, and
/// closes the connection when the refusals pile up; dom0 sent only a few configures.
#[test]
fn fullscreen_toggle_flood() {
    survive("state-flood", "window-state requests flood", |bad| {
        bad.hello();
        let window = bad.window(1, 100, 80, 0);
        bad.frame_done(0);
        // In batches, reading dom0's answers in between (they are gone with the region
        // once dom0 hangs up).
        let mut configures = 0;
        let mut sent = 0;
        while sent < 4000 && !bad.was_disconnected_within(Duration::from_millis(1)) {
            for _ in 0..100 {
                bad.send(&AgentMessage::SetFullscreen {
                    window,
                    on: sent % 2 == 0,
                });
                sent += 1;
            }
            configures += bad
                .drain(Duration::from_millis(20))
                .iter()
                .filter(|m| matches!(m, Dom0Message::Configure { .. }))
                .count();
        }
        assert!(bad.was_disconnected(), "still connected after the flood");
        assert!(
            configures as f64 >= STATE_BURST / 2.0 && configures < sent / 4,
            "dom0 acted on {configures} of {sent} toggles"
        );
    });
}

/// Replaces the first occurrence of `from` in `wire` by `to` (same length): a field the
/// encoder would refuse, forged after encoding.
fn forge(wire: &mut [u8], from: &[u8], to: &[u8]) {
    let at = wire
        .windows(from.len())
        .position(|w| w == from)
        .expect("the field to forge");
    wire[at..at + to.len()].copy_from_slice(to);
}

/// A title with a control character never reaches the model: the decoder refuses it.
#[test]
fn control_characters_in_a_title() {
    survive("title-control", "malformed message", |bad| {
        bad.hello();
        let window = bad.window(1, 50, 50, 0);
        let mut wire = AgentMessage::SetTitle {
            window,
            title: "evil\u{202e}xQx".into(),
        }
        .encode_to_vec()
        .unwrap();
        forge(&mut wire, b"xQx", b"x\x1bx");
        bad.send_raw(&wire);
    });
}

/// A popup offset beyond the protocol's range is malformed.
#[test]
fn popup_offset_out_of_range() {
    survive("popup-range", "malformed message", |bad| {
        bad.hello();
        let parent = bad.window(1, 50, 50, 0);
        let mut wire = AgentMessage::CreateWindow {
            window: WindowId::new(2).unwrap(),
            kind: WindowKind::Popup {
                parent,
                x: 12345,
                y: 0,
            },
            size: Size {
                width: 10,
                height: 10,
            },
        }
        .encode_to_vec()
        .unwrap();
        forge(
            &mut wire,
            &12345i32.to_le_bytes(),
            &(-100_000i32).to_le_bytes(),
        );
        bad.send_raw(&wire);
    });
}

/// Maximize and fullscreen are toplevel wishes: asking them for a popup is a violation.
#[test]
fn fullscreen_for_a_popup() {
    survive("popup-fullscreen", "is a popup, not a toplevel", |bad| {
        bad.hello();
        let parent = bad.window(1, 50, 50, 0);
        let popup = bad.popup(2, parent, (5, 5), (10, 10), 1 << 20);
        bad.send(&AgentMessage::SetFullscreen {
            window: popup,
            on: true,
        });
    });
}
