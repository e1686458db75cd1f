//! Flattening one surface tree (a toplevel or popup with its subsurfaces) straight into
//! the window's back buffer in the arena: the only copy of the client's pixels.
//!
//! A pixman image over the arena buffer (`ArenaRegion::pixman_image`) is the render target
//! and smithay's damage tracker decides what to draw: only what changed in the tree (in
//! window coordinates, across every surface), plus what changed since the buffer was last
//! written. The buffers alternate, so a back buffer is two frames old ("buffer age 2") and
//! gets the damage of the last two frames; a fresh buffer (age 0) is drawn whole.
//!
//! The common window — one surface, one `wl_shm` buffer, no scaling, transform or
//! viewport — skips pixman: [`WindowRenderer::copy_direct`] moves the damaged rows from the
//! client's pool into the arena once (`ArenaRegion::copy_from_wl_shm`), where pixman would
//! clear them and then blend (the result is the same: a surface blended over transparent
//! black is the surface). The two paths keep separate damage histories; switching from one
//! to the other starts the new one with a whole frame.

use smithay::backend::renderer::Bind;
use smithay::backend::renderer::damage::{Error as DamageError, OutputDamageTracker};
use smithay::backend::renderer::element::surface::{
    WaylandSurfaceRenderElement, render_elements_from_surface_tree,
};
use smithay::backend::renderer::element::{Kind, RenderElement};
use smithay::backend::renderer::pixman::{PixmanError, PixmanRenderer};
use smithay::backend::renderer::utils::{CommitCounter, with_renderer_surface_state};
use smithay::reexports::pixman;
use smithay::reexports::wayland_server::protocol::wl_buffer::WlBuffer;
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::utils::{Logical, Physical, Point, Rectangle, Size, Transform};
use smithay::wayland::compositor::get_children;

use bulkhead_shm_transport::{ArenaRegion, ClientBufferError, ImageLayout, ShmFormat};

use crate::link::Rect;

/// Why a window could not be drawn.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    /// pixman refused (out of memory, unsupported format).
    #[error("pixman renderer")]
    Renderer(#[from] PixmanError),
    /// The damage tracker failed to render.
    #[error("damage tracker: {0:?}")]
    Damage(DamageError<PixmanError>),
    /// Copying the client's buffer failed (its pool shrank, or its geometry lies).
    #[error("copying the client's buffer")]
    Copy(#[from] ClientBufferError),
}

/// A frame drawn by direct copy: the root surface's commit it showed and the buffer pixel
/// the window's top-left corner came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct DirectFrame {
    commit: CommitCounter,
    origin: (u32, u32),
}

/// What a direct copy takes from the surface's state.
struct DirectSource {
    buffer: WlBuffer,
    commit: CommitCounter,
    damage: Vec<Rect>,
}

/// The drawing state of one window: its size, scale and damage history.
#[derive(Debug)]
pub struct WindowRenderer {
    tracker: OutputDamageTracker,
    size: Size<i32, Physical>,
    scale: i32,
    /// The last two frames, newest first, when direct copies drew them.
    direct: [Option<DirectFrame>; 2],
}

impl WindowRenderer {
    /// A window of `size` pixels at integer `scale`, with no history (the first frame is
    /// drawn whole).
    pub fn new(size: Size<i32, Physical>, scale: i32) -> Self {
        WindowRenderer {
            tracker: OutputDamageTracker::new(size, f64::from(scale), Transform::Normal),
            size,
            scale,
            direct: [None, None],
        }
    }

    /// Size in pixels.
    pub fn size(&self) -> Size<i32, Physical> {
        self.size
    }

    /// Output scale it renders at.
    pub fn scale(&self) -> i32 {
        self.scale
    }

    /// Draws the tree under `root`, whose window geometry starts at `origin` (surface
    /// coordinates of `root`; everything outside the geometry — client-side shadows — is
    /// cropped), into `target`, last written `age` frames ago (0: never). Returns the
    /// rectangles drawn, empty if nothing needed drawing (then `target` is untouched).
    pub fn render_surface(
        &mut self,
        renderer: &mut PixmanRenderer,
        root: &WlSurface,
        origin: Point<i32, Logical>,
        target: &mut pixman::Image<'static, 'static>,
        age: u32,
    ) -> Result<Vec<Rect>, RenderError> {
        let location = Point::<i32, Logical>::from((-origin.x, -origin.y)).to_physical(self.scale);
        let elements: Vec<WaylandSurfaceRenderElement<PixmanRenderer>> =
            render_elements_from_surface_tree(
                renderer,
                root,
                location,
                f64::from(self.scale),
                1.0,
                Kind::Unspecified,
            );
        self.render_elements(renderer, &elements, target, age)
    }

    /// Copies what changed of `root`'s buffer into `region` (the window image `layout`,
    /// last written `age` frames ago) when the window is one plain `wl_shm` surface; `None`
    /// when it is not (subsurfaces, a viewport, a scale or transform, another buffer type)
    /// and nothing was written: flatten it with [`render_surface`](Self::render_surface).
    /// Returns the rectangles copied (empty: nothing changed) and the buffer's format.
    pub fn copy_direct(
        &mut self,
        root: &WlSurface,
        origin: Point<i32, Logical>,
        region: &ArenaRegion<'_>,
        layout: &ImageLayout,
        age: u32,
    ) -> Option<Result<(Vec<Rect>, ShmFormat), RenderError>> {
        if !get_children(root).is_empty() {
            return None;
        }
        let origin = origin.to_physical(self.scale);
        let origin = (u32::try_from(origin.x).ok()?, u32::try_from(origin.y).ok()?);
        let previous = match age {
            1 => self.direct[0],
            2 => self.direct[1],
            _ => None,
        };
        let since = previous.filter(|f| f.origin == origin).map(|f| f.commit);
        let source =
            with_renderer_surface_state(root, |state| self.direct_source(state, origin, since))??;
        if source.damage.is_empty() {
            return Some(Ok((Vec::new(), ShmFormat::Argb8888)));
        }
        let rects: Vec<_> = source
            .damage
            .iter()
            .map(|r| bulkhead_shm_transport::Rect {
                x: r.x,
                y: r.y,
                width: r.w,
                height: r.h,
            })
            .collect();
        match region.copy_from_wl_shm(layout, &source.buffer, origin, &rects) {
            // The pool shrank under the copy: smithay has sent the client its error.
            Err(err @ ClientBufferError::BadPool) => Some(Err(err.into())),
            // Every other refusal comes before any byte moved: pixman can still draw it.
            Err(err) => {
                tracing::debug!(%err, "no direct copy; flattening");
                None
            }
            Ok(format) => {
                self.direct = [
                    Some(DirectFrame {
                        commit: source.commit,
                        origin,
                    }),
                    self.direct[0],
                ];
                // The tracker's history no longer matches the buffers.
                self.tracker =
                    OutputDamageTracker::new(self.size, f64::from(self.scale), Transform::Normal);
                Some(Ok((source.damage, format)))
            }
        }
    }

    /// The buffer, commit and damage (window coordinates, since commit `since`; the whole
    /// window without one) of a surface a direct copy can draw: the buffer in pixels, at
    /// the window's scale, untransformed, uncropped, unscaled, covering the window from
    /// `origin`.
    fn direct_source(
        &self,
        state: &smithay::backend::renderer::utils::RendererSurfaceState,
        origin: (u32, u32),
        since: Option<CommitCounter>,
    ) -> Option<DirectSource> {
        let buffer = state.buffer()?;
        if state.buffer_scale() != self.scale || state.buffer_transform() != Transform::Normal {
            return None;
        }
        let size = state.buffer_size()?;
        let view = state.view()?;
        if view.dst != size || view.src != Rectangle::from_size(size.to_f64()) {
            return None;
        }
        let pixels = size.to_physical(self.scale);
        let covers = |have: i32, offset: u32, need: i32| {
            i64::from(have) >= i64::from(offset) + i64::from(need)
        };
        if !covers(pixels.w, origin.0, self.size.w) || !covers(pixels.h, origin.1, self.size.h) {
            return None;
        }
        let whole = Rectangle::<i32, Physical>::from_size(self.size);
        let damage = match since {
            None => to_rect(whole, self.size).into_iter().collect(),
            Some(commit) => {
                let shift = Point::<i32, Physical>::from((
                    i32::try_from(origin.0).ok()?,
                    i32::try_from(origin.1).ok()?,
                ));
                state
                    .damage_since(Some(commit))
                    .iter()
                    .filter_map(|r| {
                        let r = Rectangle::<i32, Physical>::new(
                            (r.loc.x, r.loc.y).into(),
                            (r.size.w, r.size.h).into(),
                        );
                        to_rect(Rectangle::new(r.loc - shift, r.size), self.size)
                    })
                    .collect()
            }
        };
        Some(DirectSource {
            buffer: (**buffer).clone(),
            commit: state.current_commit(),
            damage,
        })
    }

    /// [`render_surface`](Self::render_surface) for any render elements.
    pub fn render_elements<E: RenderElement<PixmanRenderer>>(
        &mut self,
        renderer: &mut PixmanRenderer,
        elements: &[E],
        target: &mut pixman::Image<'static, 'static>,
        age: u32,
    ) -> Result<Vec<Rect>, RenderError> {
        // The direct copies' history no longer matches the buffers.
        self.direct = [None, None];
        let mut framebuffer = renderer.bind(target)?;
        let age = usize::try_from(age).unwrap_or(0);
        let result = self
            .tracker
            .render_output(
                renderer,
                &mut framebuffer,
                age,
                elements,
                [0.0, 0.0, 0.0, 0.0],
            )
            .map_err(RenderError::Damage)?;
        let size = self.size;
        Ok(result
            .damage
            .map(|rects| rects.iter().filter_map(|r| to_rect(*r, size)).collect())
            .unwrap_or_default())
    }
}

/// Clips a damage rectangle to the window and converts it; `None` if empty.
fn to_rect(r: Rectangle<i32, Physical>, size: Size<i32, Physical>) -> Option<Rect> {
    let x1 = r.loc.x.clamp(0, size.w);
    let y1 = r.loc.y.clamp(0, size.h);
    let x2 = r.loc.x.saturating_add(r.size.w).clamp(0, size.w);
    let y2 = r.loc.y.saturating_add(r.size.h).clamp(0, size.h);
    let w = u32::try_from(x2 - x1).ok().filter(|w| *w > 0)?;
    let h = u32::try_from(y2 - y1).ok().filter(|h| *h > 0)?;
    Some(Rect {
        x: u32::try_from(x1).ok()?,
        y: u32::try_from(y1).ok()?,
        w,
        h,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use bulkhead_protocol::PixelFormat;
    use bulkhead_shm_transport::{Config, ImageLayout, channel_pair};
    use smithay::backend::renderer::element::Id;
    use smithay::backend::renderer::element::solid::SolidColorRenderElement;
    use smithay::backend::renderer::utils::CommitCounter;

    const SIZE: u32 = 256;
    const LAYOUT: ImageLayout = ImageLayout {
        width: SIZE,
        height: SIZE,
        stride: SIZE * 4,
        bytes_per_pixel: 4,
    };

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

    #[test]
    fn a_64x64_damage_writes_only_64x64_pixels_of_the_arena_buffer() {
        let config = Config {
            arena_size: 1 << 20,
            ..Config::default()
        };
        let (_dom0, agent) = channel_pair(&config).expect("channel");
        let region = agent
            .arena()
            .region(0, u64::from(SIZE * SIZE * 4))
            .expect("region");
        let mut target = region
            .pixman_image(&LAYOUT, PixelFormat::Argb8888)
            .expect("image over the arena");
        let mut renderer = PixmanRenderer::new().expect("pixman");
        let mut window = WindowRenderer::new(Size::from((256, 256)), 1);
        let background = Id::new();
        let square = Id::new();
        let red = [1.0, 0.0, 0.0, 1.0];
        let blue = [0.0, 0.0, 1.0, 1.0];
        let r = |x, y, w, h| Rect { x, y, w, h };

        // Frame 1 into a fresh buffer: everything is drawn (a red square on red).
        let frame1 = [
            solid(&square, 0, (100, 50, 64, 64), red),
            solid(&background, 0, (0, 0, 256, 256), red),
        ];
        let drawn = window
            .render_elements(&mut renderer, &frame1, &mut target, 0)
            .expect("frame 1");
        assert_eq!(drawn, vec![r(0, 0, 256, 256)]);

        // Scribble a sentinel over the buffer: whatever frame 2 does not draw stays.
        region
            .write(0, &vec![0x11; (SIZE * SIZE * 4) as usize])
            .expect("sentinel");
        // Frame 2: the square turns blue (a new commit of that element only).
        let frame2 = [
            solid(&square, 1, (100, 50, 64, 64), blue),
            solid(&background, 0, (0, 0, 256, 256), red),
        ];
        let drawn = window
            .render_elements(&mut renderer, &frame2, &mut target, 1)
            .expect("frame 2");
        assert_eq!(drawn, vec![r(100, 50, 64, 64)]);
        let pixel = |x: u32, y: u32| {
            let mut p = [0u8; 4];
            region
                .read(u64::from((y * SIZE + x) * 4), &mut p)
                .expect("read");
            u32::from_le_bytes(p)
        };
        assert_eq!(pixel(100, 50), 0xff00_00ff, "the square is drawn");
        assert_eq!(pixel(163, 113), 0xff00_00ff);
        assert_eq!(pixel(99, 50), 0x1111_1111, "left of the square: untouched");
        assert_eq!(
            pixel(164, 113),
            0x1111_1111,
            "right of the square: untouched"
        );
        assert_eq!(pixel(100, 114), 0x1111_1111, "below the square: untouched");
        assert_eq!(pixel(0, 0), 0x1111_1111);

        // Frame 3, nothing new, into the other buffer (two frames old, it holds frame 1):
        // frame 2's square must be drawn there too.
        let drawn = window
            .render_elements(&mut renderer, &frame2, &mut target, 2)
            .expect("frame 3");
        assert_eq!(drawn, vec![r(100, 50, 64, 64)]);
        // Frame 4, nothing new, one frame old: nothing to draw at all.
        let drawn = window
            .render_elements(&mut renderer, &frame2, &mut target, 1)
            .expect("frame 4");
        assert!(drawn.is_empty(), "{drawn:?}");
    }
}
