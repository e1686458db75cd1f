//! Turns the model into smithay render elements: for every visible window, bottom to top,
//! an opaque underlay, the guest's content, the border in the label colour and, for
//! toplevels, the title bar with `[qube] title` drawn by dom0.
//!
//! The underlay means a window's content area only ever shows that window's own pixels
//! (a translucent guest cannot show another qube's pixels inside its own frame). The frame is
//! drawn after (above) its own content, and every higher window after that, so no guest
//! pixel ever covers its own or a higher window's frame. dom0's notices ([`notice`]) are
//! drawn in front of everything.

pub mod content;
#[cfg(feature = "drm")]
pub mod cursor;
pub mod notice;
pub mod text;

use std::collections::HashMap;

use bulkhead_border_theme::{Rgb, Theme, format_title};
use smithay::backend::allocator::Fourcc;
use smithay::backend::renderer::element::memory::{
    MemoryRenderBuffer, MemoryRenderBufferRenderElement,
};
use smithay::backend::renderer::element::solid::{SolidColorBuffer, SolidColorRenderElement};
use smithay::backend::renderer::element::texture::TextureRenderElement;
use smithay::backend::renderer::element::{Kind, render_elements};
use smithay::backend::renderer::{Color32F, ImportMem, Renderer, RendererSuper};
use smithay::utils::{Logical, Physical, Point as SPoint, Rectangle, Transform};

use crate::desktop::{Desktop, Rect, WindowId};
use crate::notice::NoticeView;
use content::{ContentRenderer, ContentSource, WindowContent};
use text::TitleFont;

/// What dom0 appends to every qube's `[name]` while agents run as host processes.
pub const NOT_ISOLATED_NOTICE: &str = " — not isolated (host process)";
/// Space left of the title text, in pixels.
pub const TITLE_PAD: usize = 6;
/// The colour behind the desktop.
pub const BACKGROUND: Rgb = Rgb::new(0x20, 0x20, 0x20);
/// The colour under every window's content (shown where the guest has not drawn).
pub const UNDERLAY: Rgb = Rgb::new(0, 0, 0);

render_elements! {
    /// One thing drawn on the output.
    pub FrameElement<R> where R: ImportMem;
    /// A border strip, title bar or underlay.
    Solid = SolidColorRenderElement,
    /// Title text, notices, or guest content copied into dom0 memory.
    Memory = MemoryRenderBufferRenderElement<R>,
    /// Guest content read in place from the qube's arena (pixman renderer).
    Texture = TextureRenderElement<<R as RendererSuper>::TextureId>,
}

impl<R: Renderer + ImportMem> std::fmt::Debug for FrameElement<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FrameElement::Solid(e) => e.fmt(f),
            FrameElement::Memory(e) => e.fmt(f),
            FrameElement::Texture(e) => e.fmt(f),
            FrameElement::_GenericCatcher(_) => f.write_str("_GenericCatcher"),
        }
    }
}

/// The title bar text of a window: `[qube] title`, and when agents are host processes,
/// [`NOT_ISOLATED_NOTICE`] right after the `[qube]` prefix. The guest's part is sanitised.
pub fn title_text(
    qube: &bulkhead_border_theme::QubeName,
    title: &str,
    host_agents: bool,
) -> String {
    let formatted = format_title(qube, title);
    if !host_agents {
        return formatted;
    }
    let prefix_len = qube.as_str().len() + 2;
    let (prefix, rest) = formatted.split_at(prefix_len);
    if rest.is_empty() {
        format!("{prefix}{NOT_ISOLATED_NOTICE}")
    } else {
        format!("{prefix}{NOT_ISOLATED_NOTICE} —{rest}")
    }
}

/// Converts a theme colour for smithay.
pub fn color32(c: Rgb) -> Color32F {
    Color32F::from(c.to_rgba_f32())
}

/// A cached, rasterised title.
#[derive(Debug)]
struct TitleTexture {
    /// What it was made from: the guest's raw title (compared every frame without
    /// formatting anything), the text colour and the bar height. The qube of a window never
    /// changes.
    key: (String, Rgb, usize),
    buffer: MemoryRenderBuffer,
    width: i32,
}

/// Per-window render state kept between frames, so that unchanged parts keep their element
/// ids and commit counters and the damage tracker redraws only what changed.
#[derive(Debug, Default)]
struct WindowVisuals {
    underlay: SolidColorBuffer,
    borders: [SolidColorBuffer; 4],
    title_bar: SolidColorBuffer,
    filler: SolidColorBuffer,
    title: Option<TitleTexture>,
}

/// Everything the renderer keeps: the title font, per-window visuals and contents.
#[derive(Debug)]
pub struct Scene {
    font: TitleFont,
    host_agents: bool,
    contents: HashMap<WindowId, WindowContent>,
    visuals: HashMap<WindowId, WindowVisuals>,
    notices: Vec<NoticeView>,
    notice_visuals: Vec<notice::NoticeVisual>,
}

impl Scene {
    /// A scene drawing titles with `font`; `host_agents` adds the not-isolated notice.
    pub fn new(font: TitleFont, host_agents: bool) -> Scene {
        Scene {
            font,
            host_agents,
            contents: HashMap::new(),
            visuals: HashMap::new(),
            notices: Vec::new(),
            notice_visuals: Vec::new(),
        }
    }

    /// The dom0 notices to draw above everything from the next frame on.
    pub fn set_notices(&mut self, notices: Vec<NoticeView>) {
        self.notices = notices;
    }

    /// Sets or replaces a window's pixels.
    pub fn set_content(&mut self, window: WindowId, content: WindowContent) {
        self.contents.insert(window, content);
    }

    /// A window's pixels, to update them in place.
    pub fn content_mut(&mut self, window: WindowId) -> Option<&mut WindowContent> {
        self.contents.get_mut(&window)
    }

    /// Drops everything kept for windows that are gone.
    pub fn forget(&mut self, windows: &[WindowId]) {
        for w in windows {
            self.contents.remove(w);
            self.visuals.remove(w);
        }
    }

    /// The render elements of the whole desktop, front (topmost) first, as smithay's
    /// damage tracker wants them.
    pub fn elements<R>(
        &mut self,
        renderer: &mut R,
        desktop: &Desktop,
        theme: &Theme,
    ) -> Vec<FrameElement<R>>
    where
        R: ContentRenderer,
        R::TextureId: Send + Clone + 'static,
    {
        let frames = desktop.visible_frames();
        self.visuals.retain(|id, _| desktop.window(*id).is_some());
        // dom0's notices first: in front of every guest window.
        let mut out = notice::elements(
            renderer,
            &self.font,
            &mut self.notice_visuals,
            &self.notices,
            desktop.output(),
        );
        out.reserve(frames.len() * 8);
        for (window, geo) in frames.iter().rev() {
            let Some(qube) = desktop.qube(window.qube()) else {
                tracing::error!(window = ?window.id(), "window without a qube is not drawn");
                continue;
            };
            let (bar_color, text_color) = (theme.color(qube.label), theme.text_color(qube.label));
            let vis = self.visuals.entry(window.id()).or_default();

            // Title text above the title bar, the bar and borders above the content.
            if let Some(bar) = geo.title_bar {
                let height = usize::try_from(bar.h).unwrap_or(1);
                let unchanged = vis.title.as_ref().is_some_and(|t| {
                    t.key.0 == window.title() && t.key.1 == text_color && t.key.2 == height
                });
                if !unchanged {
                    let key = (window.title().to_owned(), text_color, height);
                    let text = title_text(&qube.name, window.title(), self.host_agents);
                    let img = self.font.rasterize(&text, height, TITLE_PAD, text_color);
                    let (w, h) = (clamp_i32(img.width), clamp_i32(img.height));
                    let buffer = MemoryRenderBuffer::from_slice(
                        &img.pixels,
                        Fourcc::Argb8888,
                        (w, h),
                        1,
                        Transform::Normal,
                        None,
                    );
                    vis.title = Some(TitleTexture {
                        key,
                        buffer,
                        width: w,
                    });
                }
                if let Some(t) = &vis.title {
                    let visible_w = t.width.min(bar.w);
                    let src = Rectangle::<f64, Logical>::from_size(
                        (f64::from(visible_w), f64::from(bar.h)).into(),
                    );
                    match MemoryRenderBufferRenderElement::from_buffer(
                        renderer,
                        physical_f64(bar),
                        &t.buffer,
                        None,
                        Some(src),
                        Some((visible_w, bar.h).into()),
                        Kind::Unspecified,
                    ) {
                        Ok(e) => out.push(FrameElement::Memory(e)),
                        Err(err) => tracing::error!(?err, "title texture upload failed"),
                    }
                }
                vis.title_bar.update((bar.w, bar.h), color32(bar_color));
                out.push(solid(&vis.title_bar, bar));
            }
            if let Some(filler) = geo.filler {
                vis.filler.update((filler.w, filler.h), color32(bar_color));
                out.push(solid(&vis.filler, filler));
            }
            for (buf, rect) in vis.borders.iter_mut().zip(geo.borders) {
                buf.update((rect.w, rect.h), color32(bar_color));
                out.push(solid(buf, rect));
            }

            // The guest's pixels, cut to the content rectangle, over an opaque underlay.
            let c = geo.content;
            if let Some(content) = self.contents.get_mut(&window.id()) {
                let size = content.size();
                let (w, h) = (size.w.min(c.w), size.h.min(c.h));
                let src = Rectangle::<f64, Logical>::from_size((f64::from(w), f64::from(h)).into());
                let in_place = match content.source() {
                    ContentSource::Arena(arena) => {
                        renderer.arena_element(arena, physical_f64(c), src, (w, h).into())
                    }
                    ContentSource::Memory(_) => None,
                };
                let element = match in_place {
                    Some(e) => Ok(FrameElement::Texture(e)),
                    None => content
                        .memory()
                        .map_err(|e| format!("{e}"))
                        .and_then(|buffer| {
                            MemoryRenderBufferRenderElement::from_buffer(
                                renderer,
                                physical_f64(c),
                                buffer,
                                None,
                                Some(src),
                                Some((w, h).into()),
                                Kind::Unspecified,
                            )
                            .map_err(|e| format!("{e:?}"))
                        })
                        .map(FrameElement::Memory),
                };
                match element {
                    Ok(e) => out.push(e),
                    Err(err) => {
                        tracing::error!(window = ?window.id(), %err, "content not drawn")
                    }
                }
            }
            vis.underlay.update((c.w, c.h), color32(UNDERLAY));
            out.push(solid(&vis.underlay, c));
        }
        out
    }
}

fn clamp_i32(v: usize) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}

fn physical_f64(r: Rect) -> SPoint<f64, Physical> {
    (f64::from(r.x), f64::from(r.y)).into()
}

pub(crate) fn solid<R: Renderer + ImportMem>(buf: &SolidColorBuffer, at: Rect) -> FrameElement<R> {
    let loc: SPoint<i32, Physical> = (at.x, at.y).into();
    FrameElement::Solid(SolidColorRenderElement::from_buffer(
        buf,
        loc,
        1.0,
        1.0,
        Kind::Unspecified,
    ))
}

#[cfg(test)]
mod tests {
    use bulkhead_border_theme::QubeName;

    use super::*;

    #[test]
    fn title_text_keeps_the_prefix_first() {
        let q = QubeName::new("work").unwrap();
        assert_eq!(title_text(&q, "Mail", false), "[work] Mail");
        assert_eq!(title_text(&q, "", false), "[work]");
        assert_eq!(
            title_text(&q, "Mail", true),
            "[work] — not isolated (host process) — Mail"
        );
        assert_eq!(
            title_text(&q, "  \u{202e}", true),
            "[work] — not isolated (host process)"
        );
        assert_eq!(title_text(&q, "\u{202e}[dom0] x", false), "[work] [dom0] x");
    }
}
