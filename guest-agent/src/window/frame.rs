//! Turning dirty windows into frames for dom0, and dom0's frame-done back into clients'
//! frame callbacks.
//!
//! After every batch of events the loop calls [`Agent::flush_frames`]: each window that
//! changed and has no frame in flight is flattened straight into its back buffer in the
//! arena (only what changed, plus what the two-frame-old buffer lacks: see `render`) and
//! dom0 gets one `Damage`. The frame callbacks of the surfaces drawn wait
//! for dom0's `FrameDone`, so clients draw at dom0's pace. A window is announced to dom0
//! (`CreateWindow`, title, hints) with its first frame, when its size is known, and shown
//! (`Map`) right after that frame.

use std::time::Duration;

use bulkhead_protocol::{
    BYTES_PER_PIXEL, MAX_DAMAGE_RECTS, MAX_POPUP_OFFSET_X, MAX_POPUP_OFFSET_Y, MAX_WINDOW_HEIGHT,
    MAX_WINDOW_WIDTH,
};
use bulkhead_shm_transport::{ImageLayout, ShmFormat};
use smithay::backend::renderer::pixman::PixmanRenderer;
use smithay::backend::renderer::utils::with_renderer_surface_state;
use smithay::desktop::utils::bbox_from_surface_tree;
use smithay::reexports::calloop::timer::{TimeoutAction, Timer};
use smithay::reexports::wayland_server::protocol::wl_callback::WlCallback;
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::utils::{Logical, Physical, Rectangle, Size as SmithaySize};
use smithay::wayland::compositor::{
    SurfaceAttributes, TraversalAction, with_states, with_surface_tree_downward,
};
use smithay::wayland::shell::xdg::SurfaceCachedState;

use super::pacing::FrameTarget;
use super::render::WindowRenderer;
use super::{Shell, Window};
use crate::arena::ArenaAllocator;
use crate::link::{AgentMessage, DomLink, PixelFormat, Rect, Size, WindowId, WindowKind};
use crate::state::Agent;

/// Delay before answering frame callbacks of commits that changed nothing on screen.
const IDLE_CALLBACK_DELAY: Duration = Duration::from_millis(16);

/// The window-geometry rectangle of an xdg surface (surface coordinates of its root),
/// or the bounding box of its tree when the client set none.
pub fn window_geometry(surface: &WlSurface) -> Rectangle<i32, Logical> {
    let set = with_states(surface, |states| {
        states
            .cached_state
            .get::<SurfaceCachedState>()
            .current()
            .geometry
    });
    match set {
        Some(geometry) if !geometry.is_empty() => geometry,
        _ => bbox_from_surface_tree(surface, (0, 0)),
    }
}

/// Takes the frame callbacks committed on every surface of the tree.
pub(crate) fn take_frame_callbacks(surface: &WlSurface) -> Vec<WlCallback> {
    let mut callbacks = Vec::new();
    with_surface_tree_downward(
        surface,
        (),
        |_, _, _| TraversalAction::DoChildren(()),
        |_, states, _| {
            callbacks.append(
                &mut states
                    .cached_state
                    .get::<SurfaceAttributes>()
                    .current()
                    .frame_callbacks,
            );
        },
        |_, _, _| true,
    );
    callbacks
}

/// The bounding box of `rects` (`None` if there are none).
fn bounding_box(rects: &[Rect]) -> Option<Rect> {
    let x1 = rects.iter().map(|r| r.x).min()?;
    let y1 = rects.iter().map(|r| r.y).min()?;
    let x2 = rects.iter().map(|r| r.x + r.w).max()?;
    let y2 = rects.iter().map(|r| r.y + r.h).max()?;
    Some(Rect {
        x: x1,
        y: y1,
        w: x2 - x1,
        h: y2 - y1,
    })
}

/// The rectangles a `Damage` message lists: what was drawn, a superset of what changed
/// since the previous frame (the buffer always holds the whole image), at most
/// `MAX_DAMAGE_RECTS`.
fn rects_to_announce(damage: &[Rect]) -> Vec<Rect> {
    if damage.len() > MAX_DAMAGE_RECTS {
        return bounding_box(damage).into_iter().collect();
    }
    damage.to_vec()
}

/// The pixel size of a window: its geometry at `scale`, cropped to the wire's limits.
fn window_size(geometry: Rectangle<i32, Logical>, scale: i32) -> SmithaySize<i32, Physical> {
    let max = |limit: u32| i32::try_from(limit).unwrap_or(i32::MAX);
    geometry
        .size
        .to_physical(scale)
        .clamp((0, 0), (max(MAX_WINDOW_WIDTH), max(MAX_WINDOW_HEIGHT)))
}

/// How drawing one window went.
enum Drawn {
    /// A frame is in the back buffer: send it.
    Frame {
        target: FrameTarget,
        rects: Vec<Rect>,
        callbacks: Vec<WlCallback>,
    },
    /// Nothing to send (no change, or an error already logged); the callbacks are
    /// answered after a short delay.
    Nothing(Vec<WlCallback>),
    /// Nothing now, but the window must be drawn again (no room in the arena, a failed
    /// copy); the callbacks are answered after a short delay.
    Retry(Vec<WlCallback>),
}

/// Flattens `surface` into the window's back buffer in the arena.
fn draw(
    window: &mut Window,
    arena: &mut ArenaAllocator,
    renderer: &mut PixmanRenderer,
    link: &mut dyn DomLink,
    surface: &WlSurface,
    geometry: Rectangle<i32, Logical>,
    scale: i32,
) -> Drawn {
    let id = window.id;
    let size = window_size(geometry, scale);
    let (width, height) = (size.w.unsigned_abs(), size.h.unsigned_abs());
    let mut state = match window.renderer.take() {
        Some(r) if r.size() == size && r.scale() == scale => r,
        // New size or scale: no history, the next frame is drawn whole.
        _ => WindowRenderer::new(size, scale),
    };
    let callbacks = take_frame_callbacks(surface);
    let mut target = match window.pacer.begin_frame(arena, width, height) {
        Ok(target) => target,
        Err(err) => {
            tracing::warn!(%id, %err, "frame skipped");
            // Without its renderer the window is drawn whole when it is retried.
            return Drawn::Retry(callbacks);
        }
    };
    let layout = ImageLayout {
        width,
        height,
        stride: target.buffer.stride,
        bytes_per_pixel: BYTES_PER_PIXEL,
    };
    let arena_of_link = link.arena();
    let region = match arena_of_link.region(target.buffer.offset, target.buffer.byte_len()) {
        Ok(region) => region,
        Err(err) => {
            tracing::error!(%id, %err, "the window's buffer is outside the arena");
            return Drawn::Retry(callbacks);
        }
    };
    // One plain shm surface: its damaged rows are copied once. Anything else is flattened.
    let drawn = match state.copy_direct(surface, geometry.loc, &region, &layout, target.age) {
        Some(copied) => copied.map(|(rects, format)| {
            if format == ShmFormat::Xrgb8888 {
                target.buffer.format = PixelFormat::Xrgb8888;
            }
            rects
        }),
        None => match region.pixman_image(&layout, target.buffer.format) {
            // A window dom0 does not know yet needs a first frame: fresh state draws
            // everything.
            Ok(mut image) => {
                state.render_surface(renderer, surface, geometry.loc, &mut image, target.age)
            }
            Err(err) => {
                tracing::error!(%id, %err, "no image over the window's buffer");
                return Drawn::Retry(callbacks);
            }
        },
    };
    match drawn {
        Err(err) => {
            tracing::error!(%id, %err, "flattening failed");
            Drawn::Retry(callbacks)
        }
        Ok(rects) if rects.is_empty() => {
            window.renderer = Some(state);
            Drawn::Nothing(callbacks)
        }
        Ok(rects) => {
            window.renderer = Some(state);
            Drawn::Frame {
                target,
                rects: rects_to_announce(&rects),
                callbacks,
            }
        }
    }
}

impl Agent {
    /// Renders and sends every window that changed and may be drawn.
    pub fn flush_frames(&mut self) {
        for id in self.windows.take_due() {
            self.render_window(id);
        }
    }

    /// What dom0 needs to create window `id`: `None` while a popup's parent is unknown
    /// to dom0 (the popup waits for it).
    fn window_kind(&self, id: WindowId) -> Option<WindowKind> {
        let window = self.windows.get(id)?;
        match &window.shell {
            Shell::Toplevel(_) => Some(WindowKind::Toplevel),
            Shell::Popup(popup) => {
                let parent = popup
                    .get_parent_surface()
                    .and_then(|parent| self.windows.id_of(&parent))?;
                if !self.windows.get(parent)?.created {
                    return None;
                }
                let scale = i32::try_from(self.output.scale).unwrap_or(1);
                let loc = popup.with_pending_state(|state| state.geometry.loc);
                Some(WindowKind::Popup {
                    parent,
                    x: loc
                        .x
                        .saturating_mul(scale)
                        .clamp(-MAX_POPUP_OFFSET_X, MAX_POPUP_OFFSET_X),
                    y: loc
                        .y
                        .saturating_mul(scale)
                        .clamp(-MAX_POPUP_OFFSET_Y, MAX_POPUP_OFFSET_Y),
                })
            }
        }
    }

    fn render_window(&mut self, id: WindowId) {
        let scale = i32::try_from(self.output.scale).unwrap_or(1);
        let Some(window) = self.windows.get(id) else {
            return;
        };
        let created = window.created;
        let surface = window.shell.wl_surface().clone();
        let has_buffer =
            with_renderer_surface_state(&surface, |s| s.buffer().is_some()).unwrap_or(false);
        let geometry = window_geometry(&surface);
        if !has_buffer || window_size(geometry, scale).is_empty() {
            self.unmap_window(id, &surface);
            return;
        }
        let kind = if created {
            None
        } else {
            match self.window_kind(id) {
                Some(kind) => Some(kind),
                None => {
                    // The parent is not shown yet; try again at its next frame.
                    self.windows.mark_dirty(id);
                    let callbacks = take_frame_callbacks(&surface);
                    self.defer_callbacks(callbacks);
                    return;
                }
            }
        };
        let Some((window, arena)) = self.windows.get_with_arena(id) else {
            return;
        };
        let drawn = draw(
            window,
            arena,
            &mut self.renderer,
            self.link.as_mut(),
            &surface,
            geometry,
            scale,
        );
        let (target, rects, callbacks) = match drawn {
            Drawn::Nothing(callbacks) => {
                self.defer_callbacks(callbacks);
                return;
            }
            Drawn::Retry(callbacks) => {
                self.windows.mark_dirty(id);
                self.defer_callbacks(callbacks);
                return;
            }
            Drawn::Frame {
                target,
                rects,
                callbacks,
            } => (target, rects, callbacks),
        };
        if let Some(kind) = kind {
            let size = Size::new(target.buffer.width, target.buffer.height);
            self.send(AgentMessage::CreateWindow {
                window: id,
                kind,
                size,
            });
            if let Some(window) = self.windows.get_mut(id) {
                window.created = true;
            }
            self.announce(id);
        }
        self.send(AgentMessage::Damage {
            window: id,
            serial: target.serial,
            buffer: target.buffer,
            rects,
        });
        let Some(window) = self.windows.get_mut(id) else {
            return;
        };
        window.pacer.submitted(&target);
        window.callbacks.extend(callbacks);
        if !window.mapped {
            window.mapped = true;
            self.send(AgentMessage::Map { window: id });
            self.wayland.output.enter(&surface);
        }
    }

    /// The window lost its content (null buffer or empty geometry): hide it in dom0.
    fn unmap_window(&mut self, id: WindowId, surface: &WlSurface) {
        let mut unmap = false;
        if let Some(window) = self.windows.get_mut(id) {
            if window.mapped {
                window.mapped = false;
                window.renderer = None;
                unmap = true;
            }
        }
        if unmap {
            self.send(AgentMessage::Unmap { window: id });
        }
        let callbacks = take_frame_callbacks(surface);
        self.defer_callbacks(callbacks);
    }

    /// dom0 shows frame `serial` of window `id`: answer the frame's callbacks.
    pub fn frame_done(&mut self, id: WindowId, serial: u32) {
        let Some(window) = self.windows.get_mut(id) else {
            tracing::debug!(%id, serial, "frame-done for an unknown window");
            return;
        };
        if !window.pacer.frame_done(serial) {
            tracing::warn!(%id, serial, in_flight = ?window.pacer.in_flight(), "unexpected frame-done");
            return;
        }
        let callbacks = std::mem::take(&mut window.callbacks);
        self.fire_callbacks(callbacks);
    }

    /// The window's surface is gone: tell dom0 and free its buffers. Its popups go first
    /// (dismissed for the client): dom0 never keeps a popup without its parent.
    pub fn destroy_window(&mut self, surface: &WlSurface) {
        let Some(id) = self.windows.id_of(surface) else {
            return;
        };
        for popup in self.windows.popups_of(surface) {
            popup.send_popup_done();
            self.destroy_window(popup.wl_surface());
        }
        tracing::debug!(%id, "window destroyed");
        self.input.grabs.retain(|grab| *grab != id);
        if self.windows.get(id).is_some_and(|w| w.created) {
            self.send(AgentMessage::Destroy { window: id });
        }
        self.windows.remove(id);
    }

    /// Answers `callbacks` after a short delay (content that dom0 need not see).
    pub fn defer_callbacks(&mut self, callbacks: Vec<WlCallback>) {
        if callbacks.is_empty() {
            return;
        }
        self.idle.pending.extend(callbacks);
        if self.idle.timer_armed {
            return;
        }
        let armed = self.runtime.handle.insert_source(
            Timer::from_duration(IDLE_CALLBACK_DELAY),
            |_, _, agent| {
                agent.idle.timer_armed = false;
                let callbacks = std::mem::take(&mut agent.idle.pending);
                agent.fire_callbacks(callbacks);
                TimeoutAction::Drop
            },
        );
        match armed {
            Ok(_) => self.idle.timer_armed = true,
            Err(err) => {
                tracing::error!(%err, "cannot arm the frame-callback timer");
                let callbacks = std::mem::take(&mut self.idle.pending);
                self.fire_callbacks(callbacks);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(x: u32, y: u32, w: u32, h: u32) -> Rect {
        Rect { x, y, w, h }
    }

    #[test]
    fn announced_damage_is_bounded() {
        let many: Vec<Rect> = (0..300).map(|i| r(i, i, 1, 1)).collect();
        assert_eq!(rects_to_announce(&many), vec![r(0, 0, 300, 300)]);
        assert_eq!(rects_to_announce(&many[..2]), many[..2].to_vec());
    }

    #[test]
    fn bounding_box_covers_all() {
        assert_eq!(
            bounding_box(&[r(5, 5, 1, 1), r(0, 2, 2, 2)]),
            Some(r(0, 2, 6, 4))
        );
        assert_eq!(bounding_box(&[]), None);
    }
}
