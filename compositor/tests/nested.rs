//! The nested (winit) backend draws the same frames as the headless one: two qubes' windows
//! rendered with GLES into a real X11 window and read back from GL before presenting.
//!
//! Needs the main thread and a display, hence `harness = false` and an opt-in:
//! `BULKHEAD_NESTED_TEST=1 xvfb-run -a cargo test -p bulkhead-compositor --test nested`
//! (Debian: `xvfb libegl1 libgles2 libegl-mesa0 libgl1-mesa-dri`).
#![allow(clippy::print_stdout, reason = "a harness-less test reports on stdout")]

use bulkhead_border_theme::{Label, QubeName, Rgb, Theme};
use bulkhead_compositor::backend::winit::Nested;
use bulkhead_compositor::desktop::{Desktop, FrameStyle, Size};
use bulkhead_compositor::render::content::{PixelFormat, PixelsRef, WindowContent};
use bulkhead_compositor::render::text::TitleFont;
use bulkhead_compositor::render::{BACKGROUND, Scene};
use bulkhead_protocol::CursorShape;

fn main() {
    if std::env::var_os("BULKHEAD_NESTED_TEST").is_none() || std::env::var_os("DISPLAY").is_none() {
        println!("nested: skipped (set BULKHEAD_NESTED_TEST=1 and DISPLAY)");
        return;
    }
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .init();
    let (mut nested, mut events) = Nested::new().expect("nested window");
    // Let the window appear before drawing into it.
    for _ in 0..10 {
        events.dispatch_new_events(|_| {});
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let theme = Theme::default();
    let mut desktop = Desktop::new(nested.size(), FrameStyle::from_theme(&theme));
    let mut scene = Scene::new(TitleFont::load_default().unwrap(), false);
    let mut windows = Vec::new();
    let mut arena = None;
    for (name, label, tag) in [
        ("work", Label::Blue, 0x40u8),
        ("untrusted", Label::Red, 0xc0),
    ] {
        let q = desktop
            .add_qube(QubeName::new(name).unwrap(), label)
            .unwrap();
        let size = Size::new(300, 200);
        let id = desktop.create_toplevel(q, size).unwrap();
        desktop.set_title(q, id, "nested").unwrap();
        desktop.set_mapped(q, id, true).unwrap();
        let px: Vec<u8> = (0..300 * 200)
            .flat_map(|_| Rgb::new(0x11, 0x22, tag).to_argb8888().to_le_bytes())
            .collect();
        let content = if label == Label::Red {
            // The qube's window is read from its arena: GLES cannot read it in place and
            // takes it through the damage-fed mirror.
            let (_agent, dom0) =
                bulkhead_shm_transport::channel_pair(&bulkhead_shm_transport::Config {
                    arena_size: 1 << 20,
                    ..Default::default()
                })
                .unwrap();
            arena = Some(dom0.arena().clone());
            WindowContent::new(arena_pixels(arena.as_ref().unwrap(), &px)).unwrap()
        } else {
            WindowContent::new(PixelsRef {
                data: &px,
                size,
                stride: 1200,
                format: PixelFormat::Argb8888,
            })
            .unwrap()
        };
        scene.set_content(id, content);
        windows.push((id, label, tag));
    }
    let shot = nested
        .render_and_read_back(&mut scene, &desktop, &theme)
        .expect("render");
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .unwrap()
        .join("test-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    shot.write_png(&dir.join("nested-two-qubes.png")).unwrap();

    assert_eq!(shot.rgb(1, 1), Some(BACKGROUND));
    // The top window (the last created, untrusted) is fully visible; the first one's
    // top-left corner too.
    for &(id, label, tag) in &windows {
        let geo = desktop.frame(id).unwrap();
        let c = geo.content;
        assert_eq!(
            shot.rgb(c.x, c.y),
            Some(Rgb::new(0x11, 0x22, tag)),
            "content of {label}"
        );
        let top = geo.borders[0];
        assert_eq!(
            shot.rgb(top.x, top.y),
            Some(theme.color(label)),
            "border of {label}"
        );
        let bar = geo.title_bar.unwrap();
        assert_eq!(
            shot.rgb(bar.x + 1, bar.y + 1),
            Some(theme.color(label)),
            "title bar of {label}"
        );
    }
    // Pointer shapes go to the host's cursor (never into dom0's frame): set a named one,
    // hide it, and back to the default; the frames below are still dom0's alone.
    for shape in [CursorShape::Text, CursorShape::Hidden, CursorShape::Default] {
        nested.set_cursor(shape);
        events.dispatch_new_events(|_| {});
    }
    // A new frame of the arena window, one damaged square: the mirror takes it.
    let (id, ..) = windows[1];
    let mut px: Vec<u8> = (0..300 * 200)
        .flat_map(|_| Rgb::new(0x11, 0x22, 0xc0).to_argb8888().to_le_bytes())
        .collect();
    for y in 10..20 {
        for x in 10..20 {
            let i = (y * 300 + x) * 4;
            px[i..i + 4].copy_from_slice(&Rgb::new(0, 0xff, 0).to_argb8888().to_le_bytes());
        }
    }
    scene
        .content_mut(id)
        .unwrap()
        .update(
            arena_pixels(arena.as_ref().unwrap(), &px),
            &[bulkhead_compositor::desktop::Rect::new(10, 10, 10, 10)],
        )
        .unwrap();
    let shot = nested
        .render_and_read_back(&mut scene, &desktop, &theme)
        .expect("render");
    let c = desktop.frame(id).unwrap().content;
    assert_eq!(shot.rgb(c.x + 15, c.y + 15), Some(Rgb::new(0, 0xff, 0)));
    assert_eq!(
        shot.rgb(c.x + 25, c.y + 25),
        Some(Rgb::new(0x11, 0x22, 0xc0))
    );
    println!("nested: ok");
}

/// A 300×200 frame written into the arena at offset 0, as dom0 takes it from a qube.
fn arena_pixels(
    arena: &bulkhead_shm_transport::Arena,
    px: &[u8],
) -> bulkhead_compositor::render::content::ArenaPixels {
    arena
        .region(0, px.len() as u64)
        .unwrap()
        .write(0, px)
        .unwrap();
    bulkhead_compositor::render::content::ArenaPixels {
        arena: arena.clone(),
        offset: 0,
        len: px.len() as u64,
        layout: bulkhead_shm_transport::ImageLayout {
            width: 300,
            height: 200,
            stride: 1200,
            bytes_per_pixel: 4,
        },
        format: PixelFormat::Argb8888,
    }
}
