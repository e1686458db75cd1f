//! The agent's frame path: flattening a full-HD window straight into its arena buffer,
//! whole (a fresh buffer) against a 64×64 change (the common case: a cursor blink, a
//! typed character). Run: `cargo bench -p bulkhead-guest-agent`.

use std::hint::black_box;

use bulkhead_guest_agent::window::render::WindowRenderer;
use bulkhead_protocol::PixelFormat;
use bulkhead_shm_transport::{Config, ImageLayout, channel_pair};
use criterion::{Criterion, criterion_group, criterion_main};
use smithay::backend::renderer::element::solid::SolidColorRenderElement;
use smithay::backend::renderer::element::{Id, Kind};
use smithay::backend::renderer::pixman::PixmanRenderer;
use smithay::backend::renderer::utils::CommitCounter;
use smithay::utils::{Rectangle, Size};

const WIDTH: u32 = 1920;
const HEIGHT: u32 = 1080;

fn solid(
    id: &Id,
    commit: usize,
    rect: (i32, i32, i32, i32),
    color: [f32; 4],
) -> SolidColorRenderElement {
    SolidColorRenderElement::new(
        id.clone(),
        Rectangle::new((rect.0, rect.1).into(), (rect.2, rect.3).into()),
        CommitCounter::from(commit),
        color,
        Kind::Unspecified,
    )
}

fn frame_path(c: &mut Criterion) {
    let config = Config {
        arena_size: 16 << 20,
        ..Config::default()
    };
    let (_dom0, agent) = channel_pair(&config).expect("arena");
    let layout = ImageLayout {
        width: WIDTH,
        height: HEIGHT,
        stride: WIDTH * 4,
        bytes_per_pixel: 4,
    };
    let region = agent
        .arena()
        .region(0, u64::from(WIDTH * HEIGHT * 4))
        .expect("region");
    let mut target = region
        .pixman_image(&layout, PixelFormat::Argb8888)
        .expect("image over the arena");
    let mut renderer = PixmanRenderer::new().expect("pixman");
    let size = Size::from((1920, 1080));
    let background = Id::new();
    let square = Id::new();
    let white = [1.0, 1.0, 1.0, 1.0];

    c.bench_function("whole 1920x1080 window (fresh buffer)", |b| {
        let mut window = WindowRenderer::new(size, 1);
        let elements = [solid(&background, 0, (0, 0, 1920, 1080), white)];
        b.iter(|| {
            let drawn = window
                .render_elements(&mut renderer, &elements, &mut target, 0)
                .expect("render");
            black_box(drawn);
        });
    });

    c.bench_function("64x64 change in a 1920x1080 window", |b| {
        let mut window = WindowRenderer::new(size, 1);
        let mut commit = 0;
        b.iter(|| {
            commit += 1;
            let shade = if commit % 2 == 0 { 0.0 } else { 1.0 };
            let elements = [
                solid(&square, commit, (900, 500, 64, 64), [shade, 0.0, 0.0, 1.0]),
                solid(&background, 0, (0, 0, 1920, 1080), white),
            ];
            let drawn = window
                .render_elements(&mut renderer, &elements, &mut target, 1)
                .expect("render");
            black_box(drawn);
        });
    });
}

criterion_group!(benches, frame_path);
criterion_main!(benches);
