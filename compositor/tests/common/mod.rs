//! The fixtures shared by the integration tests: a headless model, scene and pixman output
//! driven in-process (as niri's tests drive its state), plus pixel-check helpers;
//! [`session`]: the compositor process with real agents and clients; [`standin`]: the
//! compositor process with stand-in agents that speak the protocol directly (hostile tests).
#![allow(
    dead_code,
    reason = "each test file uses a different part of the fixture"
)]

pub mod session;
pub mod standin;

use std::path::PathBuf;

use bulkhead_border_theme::{Label, QubeName, Rgb, Theme};
use bulkhead_compositor::backend::{Headless, Screenshot};
use bulkhead_compositor::desktop::{Desktop, FrameStyle, QubeId, Rect, Size, WindowId};
use bulkhead_compositor::render::Scene;
use bulkhead_compositor::render::content::{PixelFormat, PixelsRef, WindowContent};
use bulkhead_compositor::render::text::TitleFont;

/// Where screenshots are kept for people to look at.
pub fn artifacts() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("target dir")
        .join("test-artifacts");
    std::fs::create_dir_all(&dir).expect("create test-artifacts");
    dir
}

/// Reads a PNG screenshot (RGB, as the compositor writes them).
pub fn read_png(path: &std::path::Path) -> Screenshot {
    let file = std::fs::File::open(path).expect("screenshot file");
    let decoder = png::Decoder::new(std::io::BufReader::new(file));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    let argb = buf[..info.buffer_size()]
        .chunks_exact(3)
        .map(|p| 0xff00_0000 | u32::from(p[0]) << 16 | u32::from(p[1]) << 8 | u32::from(p[2]))
        .collect();
    Screenshot {
        size: Size::new(info.width as i32, info.height as i32),
        argb,
    }
}

/// The known test pattern of a qube: red = x, green = y, blue = `tag`, opaque.
pub fn pattern(x: i32, y: i32, tag: u8) -> Rgb {
    Rgb::new((x & 0xff) as u8, (y & 0xff) as u8, tag)
}

pub fn pattern_pixels(size: Size, tag: u8, alpha: u8) -> Vec<u8> {
    let mut px = Vec::new();
    for y in 0..size.h {
        for x in 0..size.w {
            let c = pattern(x, y, tag);
            px.extend_from_slice(&c.to_argb8888_premultiplied(alpha).to_le_bytes());
        }
    }
    px
}

pub struct Fixture {
    pub desktop: Desktop,
    pub scene: Scene,
    pub theme: Theme,
    pub headless: Headless,
}

impl Fixture {
    pub fn new(host_agents: bool) -> Fixture {
        let theme = Theme::default();
        let size = Size::new(1280, 800);
        let font = TitleFont::load_default().expect("fonts-dejavu-core must be installed");
        Fixture {
            desktop: Desktop::new(size, FrameStyle::from_theme(&theme)),
            scene: Scene::new(font, host_agents),
            theme,
            headless: Headless::new(size).expect("headless backend"),
        }
    }

    pub fn qube(&mut self, name: &str, label: Label) -> QubeId {
        self.desktop
            .add_qube(QubeName::new(name).unwrap(), label)
            .unwrap()
    }

    /// A mapped toplevel showing the qube's pattern.
    pub fn window(&mut self, qube: QubeId, size: Size, title: &str, tag: u8) -> WindowId {
        let id = self.desktop.create_toplevel(qube, size).unwrap();
        self.desktop.set_title(qube, id, title).unwrap();
        self.desktop.set_mapped(qube, id, true).unwrap();
        let pixels = pattern_pixels(size, tag, 0xff);
        let content = WindowContent::new(PixelsRef {
            data: &pixels,
            size,
            stride: size.w as usize * 4,
            format: PixelFormat::Argb8888,
        })
        .unwrap();
        self.scene.set_content(id, content);
        id
    }

    pub fn shot(&mut self) -> Screenshot {
        self.headless
            .screenshot(&mut self.scene, &self.desktop, &self.theme)
            .expect("screenshot")
    }
}

pub fn rect_pixels(r: Rect) -> impl Iterator<Item = (i32, i32)> {
    (r.y..r.y + r.h).flat_map(move |y| (r.x..r.x + r.w).map(move |x| (x, y)))
}

pub fn assert_all(shot: &Screenshot, r: Rect, what: &str, want: impl Fn(i32, i32) -> Rgb) {
    for (x, y) in rect_pixels(r) {
        let got = shot.rgb(x, y).expect("inside the output");
        assert_eq!(got, want(x, y), "{what}: pixel ({x}, {y})");
    }
}

/// Checks one window: content shows the pattern, borders are exactly the label colour, the
/// title bar is the label colour with some text-coloured pixels and nothing else.
pub fn check_window(f: &Fixture, shot: &Screenshot, id: WindowId, tag: u8) {
    let geo = f.desktop.frame(id).unwrap();
    let label = f.desktop.label_of(id).unwrap();
    let (bar, text) = (f.theme.color(label), f.theme.text_color(label));
    let c = geo.content;
    assert_all(shot, c, "content", |x, y| pattern(x - c.x, y - c.y, tag));
    for b in geo.borders {
        assert_all(shot, b, "border", |_, _| bar);
    }
    if let Some(filler) = geo.filler {
        assert_all(shot, filler, "filler", |_, _| bar);
    }
    let title = geo.title_bar.expect("toplevel has a title bar");
    let mut text_pixels = 0;
    for (x, y) in rect_pixels(title) {
        let p = shot.rgb(x, y).unwrap();
        let dist = |a: Rgb, b: Rgb| {
            (i32::from(a.r) - i32::from(b.r)).abs()
                + (i32::from(a.g) - i32::from(b.g)).abs()
                + (i32::from(a.b) - i32::from(b.b)).abs()
        };
        if dist(p, text) < dist(p, bar) / 3 {
            text_pixels += 1;
        }
        // Anti-aliased text blends bar and text colours, channel by channel.
        let between = |a: u8, b: u8, v: u8| a.min(b) <= v && v <= a.max(b);
        assert!(
            between(bar.r, text.r, p.r)
                && between(bar.g, text.g, p.g)
                && between(bar.b, text.b, p.b),
            "title bar pixel ({x}, {y}) = {p} is neither {bar} nor {text} nor a blend"
        );
    }
    assert!(
        text_pixels > 30,
        "title bar has only {text_pixels} (nearly) text-coloured pixels"
    );
    // The right end of the bar (past the text) is plain label colour.
    let tail = Rect::new(title.x + title.w - 20, title.y, 20, title.h);
    assert_all(shot, tail, "title bar end", |_, _| bar);
}
