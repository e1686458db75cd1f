//! What one headless (pixman) frame costs: idle, a small damaged rectangle, a whole window
//! repainted; and rasterising a title. `cargo bench -p bulkhead-compositor --bench frame`.

use std::hint::black_box;

use bulkhead_border_theme::{Label, QubeName, Rgb, Theme};
use bulkhead_compositor::backend::Headless;
use bulkhead_compositor::desktop::{Desktop, FrameStyle, Rect, Size, WindowId};
use bulkhead_compositor::render::Scene;
use bulkhead_compositor::render::content::{PixelFormat, PixelsRef, WindowContent};
use bulkhead_compositor::render::text::TitleFont;
use criterion::{Criterion, criterion_group, criterion_main};

const WIN: Size = Size::new(800, 600);

struct Bench {
    desktop: Desktop,
    scene: Scene,
    theme: Theme,
    headless: Headless,
    window: WindowId,
    qube: bulkhead_compositor::desktop::QubeId,
    pixels: Vec<u8>,
}

fn setup() -> Bench {
    let theme = Theme::default();
    let output = Size::new(1920, 1080);
    let mut desktop = Desktop::new(output, FrameStyle::from_theme(&theme));
    let mut scene = Scene::new(TitleFont::load_default().expect("fonts-dejavu-core"), false);
    let pixels: Vec<u8> = (0..WIN.w * WIN.h)
        .flat_map(|i| {
            Rgb::new((i % 251) as u8, 0x40, 0x80)
                .to_argb8888()
                .to_le_bytes()
        })
        .collect();
    let mut last = None;
    for (i, label) in Label::ALL.iter().enumerate() {
        let q = desktop
            .add_qube(QubeName::new(&format!("qube{i}")).unwrap(), *label)
            .unwrap();
        let w = desktop.create_toplevel(q, WIN).unwrap();
        desktop
            .set_title(q, w, "A window with a reasonably long title")
            .unwrap();
        desktop.set_mapped(q, w, true).unwrap();
        let px = PixelsRef {
            data: &pixels,
            size: WIN,
            stride: 3200,
            format: PixelFormat::Argb8888,
        };
        scene.set_content(w, WindowContent::new(px).unwrap());
        last = Some((q, w));
    }
    let (qube, window) = last.unwrap();
    let mut headless = Headless::new(output).unwrap();
    headless.render(&mut scene, &desktop, &theme).unwrap();
    Bench {
        desktop,
        scene,
        theme,
        headless,
        window,
        qube,
        pixels,
    }
}

fn frames(c: &mut Criterion) {
    let mut b = setup();
    c.bench_function("frame/idle_8_windows", |bench| {
        bench.iter(|| {
            black_box(
                b.headless
                    .render(&mut b.scene, &b.desktop, &b.theme)
                    .unwrap(),
            )
        })
    });
    for (name, rect) in [
        ("frame/damage_64x64", Rect::new(100, 100, 64, 64)),
        ("frame/damage_whole_800x600", Rect::new(0, 0, WIN.w, WIN.h)),
    ] {
        c.bench_function(name, |bench| {
            bench.iter(|| {
                let px = PixelsRef {
                    data: &b.pixels,
                    size: WIN,
                    stride: 3200,
                    format: PixelFormat::Argb8888,
                };
                b.scene
                    .content_mut(b.window)
                    .unwrap()
                    .update(px, &[rect])
                    .unwrap();
                black_box(
                    b.headless
                        .render(&mut b.scene, &b.desktop, &b.theme)
                        .unwrap(),
                )
            })
        });
    }
    let mut n = 0u64;
    c.bench_function("frame/title_change", |bench| {
        bench.iter(|| {
            n += 1;
            b.desktop
                .set_title(b.qube, b.window, &format!("title {n}"))
                .unwrap();
            black_box(
                b.headless
                    .render(&mut b.scene, &b.desktop, &b.theme)
                    .unwrap(),
            )
        })
    });
}

criterion_group!(benches, frames);
criterion_main!(benches);
