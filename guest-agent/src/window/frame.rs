//! Turning dirty windows into frames for dom0, and dom0's frame-done back into clients'
//! frame callbacks.
//!
//! After every batch of events the loop calls [`Agent::flush_frames`]: each window that
//! changed and has no frame in flight is flattened; the damaged rectangles (together with
//! the previous frame's, because the back buffer is two frames old) are copied into the
//! back buffer and dom0 gets one `Damage`. The frame callbacks of the surfaces drawn wait
//! for dom0's `FrameDone`, so clients draw at dom0's pace.

use std::time::Duration;

use smithay::backend::renderer::utils::with_renderer_surface_state;
use smithay::desktop::utils::bbox_from_surface_tree;
use smithay::reexports::calloop::timer::{TimeoutAction, Timer};
use smithay::reexports::wayland_server::protocol::wl_callback::WlCallback;
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::utils::{Logical, Rectangle};
use smithay::wayland::compositor::{
    SurfaceAttributes, TraversalAction, with_states, with_surface_tree_downward,
};
use smithay::wayland::shell::xdg::SurfaceCachedState;

use super::canvas::Canvas;
use super::copy::{area, copy_rect};
use crate::link::{AgentMessage, PixelRect, WindowId};
use crate::state::Agent;

/// Largest window side in pixels the agent renders (larger content is cropped).
pub const MAX_WINDOW_SIDE: i32 = 8192;
/// Most damage rectangles in one message; more are merged into their bounding box.
pub const MAX_DAMAGE_RECTS: usize = 64;
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
fn take_frame_callbacks(surface: &WlSurface) -> Vec<WlCallback> {
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

/// The bounding box of `rects` (non-empty).
fn bounding_box(rects: &[PixelRect]) -> Option<PixelRect> {
    let x1 = rects.iter().map(|r| r.x).min()?;
    let y1 = rects.iter().map(|r| r.y).min()?;
    let x2 = rects.iter().map(|r| r.x + r.width).max()?;
    let y2 = rects.iter().map(|r| r.y + r.height).max()?;
    Some(PixelRect {
        x: x1,
        y: y1,
        width: x2 - x1,
        height: y2 - y1,
    })
}

/// What to copy into a back buffer of `age` for a frame with `damage`, given the previous
/// frame's damage: age 1 needs this frame's damage, age 2 also the previous frame's, and
/// anything else (a fresh buffer) the whole frame. Whole-frame when that is no more work.
pub fn rects_to_copy(
    age: u32,
    damage: &[PixelRect],
    prev_damage: &[PixelRect],
    width: u32,
    height: u32,
) -> Vec<PixelRect> {
    let full = PixelRect {
        x: 0,
        y: 0,
        width,
        height,
    };
    let rects: Vec<PixelRect> = match age {
        1 => damage.to_vec(),
        2 => damage.iter().chain(prev_damage).copied().collect(),
        _ => return vec![full],
    };
    if area(&rects) >= u64::from(width) * u64::from(height) {
        vec![full]
    } else {
        rects
    }
}

impl Agent {
    /// Renders and sends every window that changed and may be drawn.
    pub fn flush_frames(&mut self) {
        for id in self.windows.ids() {
            let due = self
                .windows
                .get(id)
                .is_some_and(|w| w.dirty && w.pacer.ready());
            if due {
                self.render_window(id);
            }
        }
    }

    fn render_window(&mut self, id: WindowId) {
        let scale = i32::try_from(self.output_info.scale).unwrap_or(1);
        let mut messages = Vec::new();
        let mut idle = Vec::new();
        if let Some((window, arena)) = self.windows.get_with_arena(id) {
            window.dirty = false;
            let surface = window.shell.wl_surface().clone();
            let has_buffer =
                with_renderer_surface_state(&surface, |s| s.buffer().is_some()).unwrap_or(false);
            let geometry = window_geometry(&surface);
            let size = geometry
                .size
                .to_physical(scale)
                .clamp((0, 0), (MAX_WINDOW_SIDE, MAX_WINDOW_SIDE));
            if !has_buffer || size.is_empty() {
                if window.mapped {
                    window.mapped = false;
                    window.canvas = None;
                    messages.push(AgentMessage::Unmap { id });
                }
                idle.extend(take_frame_callbacks(&surface));
            } else {
                let canvas = match window.canvas.take() {
                    Some(c) if c.size() == size && c.scale() == scale => Ok(c),
                    _ => Canvas::new(&mut self.renderer, size, scale),
                };
                match canvas {
                    Err(err) => tracing::error!(%id, %err, "cannot create the window canvas"),
                    Ok(mut canvas) => {
                        let mut keep_canvas = true;
                        let result = canvas.render(&mut self.renderer, &surface, geometry.loc);
                        let callbacks = take_frame_callbacks(&surface);
                        let (width, height) = (size.w.unsigned_abs(), size.h.unsigned_abs());
                        let damage = match result {
                            Ok(damage) => damage,
                            Err(err) => {
                                tracing::error!(%id, %err, "flattening failed");
                                Vec::new()
                            }
                        };
                        if damage.is_empty() {
                            idle.extend(callbacks);
                        } else {
                            match window.pacer.begin_frame(arena, width, height) {
                                Err(err) => {
                                    tracing::warn!(%id, %err, "frame skipped");
                                    idle.extend(callbacks);
                                }
                                Ok(target) => {
                                    let copy = rects_to_copy(
                                        target.age,
                                        &damage,
                                        &window.prev_damage,
                                        width,
                                        height,
                                    );
                                    let mut ok = true;
                                    for rect in copy {
                                        let written = canvas
                                            .read(&mut self.renderer, rect)
                                            .map_err(|err| err.to_string())
                                            .and_then(|bytes| {
                                                copy_rect(
                                                    self.link.as_mut(),
                                                    &target.buffer,
                                                    rect,
                                                    &bytes,
                                                    rect.width as usize * 4,
                                                )
                                                .map_err(|err| err.to_string())
                                            });
                                        if let Err(err) = written {
                                            tracing::error!(%id, %err, "copy into the arena failed");
                                            ok = false;
                                            break;
                                        }
                                    }
                                    if ok {
                                        let mut rects = if target.age == 0 {
                                            rects_to_copy(0, &[], &[], width, height)
                                        } else {
                                            damage.clone()
                                        };
                                        if rects.len() > MAX_DAMAGE_RECTS {
                                            rects = bounding_box(&rects).into_iter().collect();
                                        }
                                        messages.push(AgentMessage::Damage {
                                            id,
                                            serial: target.serial,
                                            buffer: target.buffer,
                                            rects,
                                        });
                                        window.pacer.submitted(&target);
                                        window.prev_damage = damage;
                                        window.callbacks.extend(callbacks);
                                        if !window.mapped {
                                            window.mapped = true;
                                            messages.push(AgentMessage::Map { id });
                                        }
                                    } else {
                                        // The canvas must be redrawn whole next time.
                                        window.dirty = true;
                                        idle.extend(callbacks);
                                        keep_canvas = false;
                                    }
                                }
                            }
                        }
                        if keep_canvas {
                            window.canvas = Some(canvas);
                        }
                    }
                }
            }
            if window.mapped {
                self.wayland.output.enter(&surface);
            }
        }
        for message in messages {
            self.send(message);
        }
        self.defer_callbacks(idle);
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

    /// The window's surface is gone: tell dom0 and free its buffers.
    pub fn destroy_window(&mut self, surface: &WlSurface) {
        if let Some(id) = self.windows.id_of(surface) {
            tracing::debug!(%id, "window destroyed");
            self.send(AgentMessage::Destroy { id });
            self.windows.remove(id);
        }
    }

    /// Answers `callbacks` after a short delay (content that dom0 need not see).
    pub fn defer_callbacks(&mut self, callbacks: Vec<WlCallback>) {
        if callbacks.is_empty() {
            return;
        }
        self.idle_callbacks.extend(callbacks);
        if self.idle_timer_armed {
            return;
        }
        let armed = self.loop_handle.insert_source(
            Timer::from_duration(IDLE_CALLBACK_DELAY),
            |_, _, agent| {
                agent.idle_timer_armed = false;
                let callbacks = std::mem::take(&mut agent.idle_callbacks);
                agent.fire_callbacks(callbacks);
                TimeoutAction::Drop
            },
        );
        match armed {
            Ok(_) => self.idle_timer_armed = true,
            Err(err) => {
                tracing::error!(%err, "cannot arm the frame-callback timer");
                let callbacks = std::mem::take(&mut self.idle_callbacks);
                self.fire_callbacks(callbacks);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(x: u32, y: u32, width: u32, height: u32) -> PixelRect {
        PixelRect {
            x,
            y,
            width,
            height,
        }
    }

    #[test]
    fn buffer_age_decides_what_is_copied() {
        let now = [r(0, 0, 64, 64)];
        let before = [r(100, 100, 10, 10)];
        assert_eq!(rects_to_copy(1, &now, &before, 1000, 1000), now.to_vec());
        assert_eq!(
            rects_to_copy(2, &now, &before, 1000, 1000),
            vec![now[0], before[0]]
        );
        assert_eq!(
            rects_to_copy(0, &now, &before, 1000, 1000),
            vec![r(0, 0, 1000, 1000)]
        );
        // Damage as large as the window: one whole copy.
        assert_eq!(
            rects_to_copy(2, &[r(0, 0, 10, 6)], &[r(0, 5, 10, 5)], 10, 10),
            vec![r(0, 0, 10, 10)]
        );
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
