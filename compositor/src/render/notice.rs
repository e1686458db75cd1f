//! dom0's notices as render elements, in the strip at the top of the output that dom0 keeps
//! for itself ([`crate::desktop::Desktop::reserved_area`]): no guest window is ever placed
//! there, and the notices are drawn in front of everything else anyway (the first elements
//! of a frame). Several notices share the strip side by side, oldest on the left.

use bulkhead_border_theme::Rgb;
use smithay::backend::allocator::Fourcc;
use smithay::backend::renderer::element::Kind;
use smithay::backend::renderer::element::memory::{
    MemoryRenderBuffer, MemoryRenderBufferRenderElement,
};
use smithay::backend::renderer::element::solid::SolidColorBuffer;
use smithay::backend::renderer::{ImportMem, Renderer};
use smithay::utils::{Logical, Rectangle, Transform};

use super::text::TitleFont;
use super::{FrameElement, TITLE_PAD, physical_f64, solid};
use crate::desktop::{Rect, Size};
use crate::notice::{NoticeKind, NoticeView};

/// Height of the notice bar, in pixels: all of dom0's reserved strip.
pub const NOTICE_HEIGHT: i32 = crate::desktop::DOM0_BAR_HEIGHT;
/// Bar colour of an information notice.
pub const INFO_BAR: Rgb = Rgb::new(0x10, 0x10, 0x10);
/// Bar colour of a refusal.
pub const REFUSED_BAR: Rgb = Rgb::new(0x90, 0x10, 0x10);
/// Text colour.
pub const NOTICE_TEXT: Rgb = Rgb::new(0xff, 0xff, 0xff);

/// A rasterised notice, kept while its text and opacity stay the same.
#[derive(Debug)]
pub(crate) struct NoticeVisual {
    key: NoticeView,
    text: MemoryRenderBuffer,
    text_width: i32,
    bar: SolidColorBuffer,
}

/// Where notice `i` (0 = oldest) of `count` goes on an output of `output`: one cell each,
/// side by side across the notice bar.
pub fn notice_rect(i: usize, count: usize, output: Size) -> Rect {
    let count = i64::try_from(count.max(1)).unwrap_or(1);
    let i = i64::try_from(i).unwrap_or(count).min(count);
    let x = |k: i64| i32::try_from(i64::from(output.w) * k / count).unwrap_or(output.w);
    Rect::new(x(i), 0, x(i + 1) - x(i), NOTICE_HEIGHT)
}

fn scaled(c: Rgb, opacity: u8) -> [f32; 4] {
    let a = f32::from(opacity.min(10)) / 10.0;
    let [r, g, b, _] = c.to_rgba_f32();
    // Premultiplied, as smithay's solid colours are.
    [r * a, g * a, b * a, a]
}

/// The elements of every notice, front first.
pub(crate) fn elements<R>(
    renderer: &mut R,
    font: &TitleFont,
    cache: &mut Vec<NoticeVisual>,
    views: &[NoticeView],
    output: Size,
) -> Vec<FrameElement<R>>
where
    R: Renderer + ImportMem,
    R::TextureId: Send + Clone + 'static,
{
    cache.truncate(views.len());
    let mut out = Vec::new();
    for (i, view) in views.iter().enumerate() {
        let rect = notice_rect(i, views.len(), output);
        if cache.get(i).is_none_or(|v| v.key != *view) {
            let height = usize::try_from(NOTICE_HEIGHT).unwrap_or(1);
            let mut img = font.rasterize(&view.text, height, TITLE_PAD * 2, NOTICE_TEXT);
            // Premultiplied pixels fade by scaling every channel.
            for byte in &mut img.pixels {
                *byte = u8::try_from(u16::from(*byte) * u16::from(view.opacity.min(10)) / 10)
                    .unwrap_or(u8::MAX);
            }
            let (w, h) = (
                i32::try_from(img.width).unwrap_or(i32::MAX),
                i32::try_from(img.height).unwrap_or(i32::MAX),
            );
            let text = MemoryRenderBuffer::from_slice(
                &img.pixels,
                Fourcc::Argb8888,
                (w, h),
                1,
                Transform::Normal,
                None,
            );
            let visual = NoticeVisual {
                key: view.clone(),
                text,
                text_width: w,
                bar: SolidColorBuffer::default(),
            };
            if i < cache.len() {
                cache[i] = visual;
            } else {
                cache.push(visual);
            }
        }
        let Some(visual) = cache.get_mut(i) else {
            continue;
        };
        let bar_color = match view.kind {
            NoticeKind::Info => INFO_BAR,
            NoticeKind::Refused => REFUSED_BAR,
        };
        let visible_w = visual.text_width.min(rect.w);
        let src =
            Rectangle::<f64, Logical>::from_size((f64::from(visible_w), f64::from(rect.h)).into());
        match MemoryRenderBufferRenderElement::from_buffer(
            renderer,
            physical_f64(rect),
            &visual.text,
            None,
            Some(src),
            Some((visible_w, rect.h).into()),
            Kind::Unspecified,
        ) {
            Ok(e) => out.push(FrameElement::Memory(e)),
            Err(err) => tracing::error!(?err, "notice text upload failed"),
        }
        visual
            .bar
            .update((rect.w, rect.h), scaled(bar_color, view.opacity));
        out.push(solid(&visual.bar, rect));
    }
    out
}
