//! Maximized and fullscreen toplevels: dom0's policy for a qube's window-state wishes.
//!
//! A qube *asks* (`SetMaximized`, `SetFullscreen`); dom0 *decides* the [`WindowMode`] from
//! the wishes and the qube's policy, and tells the qube the size it got
//! ([`ModelEvent::Configure`]):
//! - fullscreen is granted only when dom0's window policy allows it for that qube; otherwise
//!   the window is maximized instead (not a violation: a wish refused);
//! - maximized and fullscreen windows fill the usable area (the output below dom0's notice
//!   bar) with their frame: a maximized window keeps its border and `[qube] title` bar, a
//!   fullscreen one keeps a thin border and a label strip with `[qube] title` that guest
//!   pixels never cover;
//! - leaving both modes restores the geometry the window had before.
//!
//! No wish focuses or raises anything.

use serde::Serialize;

use super::layout::{self, FrameKind, Rect};
use super::requests::RequestError;
use super::{Desktop, ModelEvent, QubeId, WindowId, WindowKind};

/// How dom0 shows a toplevel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WindowMode {
    /// Placed by dom0 and the user, at the guest's size.
    #[default]
    Normal,
    /// Fills the usable area with the normal frame.
    Maximized,
    /// Fills the usable area with a thin frame and a label strip (policy permitting).
    Fullscreen,
}

impl WindowMode {
    /// `"normal"`, `"maximized"` or `"fullscreen"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            WindowMode::Normal => "normal",
            WindowMode::Maximized => "maximized",
            WindowMode::Fullscreen => "fullscreen",
        }
    }
}

impl std::fmt::Display for WindowMode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The mode dom0 grants for these wishes under this policy.
pub const fn decide(wants_maximized: bool, wants_fullscreen: bool, allow: bool) -> WindowMode {
    match (wants_fullscreen, allow, wants_maximized) {
        (true, true, _) => WindowMode::Fullscreen,
        (true, false, _) | (false, _, true) => WindowMode::Maximized,
        (false, _, false) => WindowMode::Normal,
    }
}

impl Desktop {
    /// The qube asks for its toplevel to be maximized (`on`) or not. Returns the mode now.
    pub fn set_maximized(
        &mut self,
        qube: QubeId,
        id: WindowId,
        on: bool,
    ) -> Result<WindowMode, RequestError> {
        let w = self.own_toplevel(qube, id)?;
        w.wants_maximized = on;
        Ok(self.update_mode(id))
    }

    /// The qube asks for its toplevel to be fullscreen (`on`) or not. Without the policy's
    /// permission the window is maximized instead. Returns the mode now.
    pub fn set_fullscreen(
        &mut self,
        qube: QubeId,
        id: WindowId,
        on: bool,
    ) -> Result<WindowMode, RequestError> {
        let w = self.own_toplevel(qube, id)?;
        w.wants_fullscreen = on;
        let mode = self.update_mode(id);
        if on && mode != WindowMode::Fullscreen {
            tracing::info!(
                ?qube,
                ?id,
                "fullscreen not allowed by the window policy: maximized instead"
            );
        }
        Ok(mode)
    }

    /// dom0's policy: may `qube`'s windows go fullscreen? Windows that asked follow at once.
    /// Returns `false` for an unknown qube.
    pub fn set_fullscreen_allowed(&mut self, qube: QubeId, allow: bool) -> bool {
        let Some(q) = self.qubes.get_mut(&qube) else {
            return false;
        };
        q.allow_fullscreen = allow;
        let ids: Vec<WindowId> = self
            .windows
            .values()
            .filter(|w| w.qube == qube && w.wants_fullscreen)
            .map(|w| w.id)
            .collect();
        for id in ids {
            self.update_mode(id);
        }
        true
    }

    fn own_toplevel(
        &mut self,
        qube: QubeId,
        id: WindowId,
    ) -> Result<&mut super::Window, RequestError> {
        let w = self.own_window(qube, id)?;
        match w.kind {
            WindowKind::Toplevel => Ok(w),
            WindowKind::Popup { .. } => Err(RequestError::NotToplevel(id)),
        }
    }

    /// Recomputes a toplevel's mode from its wishes and its qube's policy; on a change,
    /// saves or restores its geometry and tells its qube.
    fn update_mode(&mut self, id: WindowId) -> WindowMode {
        let Some(w) = self.windows.get(&id) else {
            return WindowMode::Normal;
        };
        let allow = self.qubes.get(&w.qube).is_some_and(|q| q.allow_fullscreen);
        let (old, new) = (w.mode, decide(w.wants_maximized, w.wants_fullscreen, allow));
        if old == new {
            return new;
        }
        let area = self.usable_area();
        let style = self.style;
        if let Some(w) = self.windows.get_mut(&id) {
            if old == WindowMode::Normal {
                w.restore = Some(Rect::from_parts(w.origin, w.size));
            }
            w.mode = new;
        }
        if new != WindowMode::Normal {
            self.apply_mode(id);
            return new;
        }
        let size = self
            .windows
            .get(&id)
            .and_then(|w| w.restore)
            .map_or_else(|| self.windows[&id].size, |r| r.size());
        let size = self.clamp_size(size, FrameKind::Toplevel);
        let Some(w) = self.windows.get_mut(&id) else {
            return new;
        };
        let wanted = w.restore.take().map_or(w.origin, |r| r.loc());
        w.size = size;
        w.origin = layout::clamp_content_origin(wanted, size, area, FrameKind::Toplevel, &style);
        let event = ModelEvent::Configure {
            qube: w.qube,
            window: id,
            size,
            mode: new,
        };
        tracing::debug!(?id, mode = %new, ?size, "window mode");
        self.events.push(event);
        new
    }

    /// Gives a maximized or fullscreen window the whole usable area and tells its qube.
    pub(super) fn apply_mode(&mut self, id: WindowId) {
        let area = self.usable_area();
        let style = self.style;
        let Some(w) = self.windows.get_mut(&id) else {
            return;
        };
        let fill = layout::fill_area(area, w.frame_kind(), &style);
        w.size = fill.size();
        w.origin = fill.loc();
        let event = ModelEvent::Configure {
            qube: w.qube,
            window: id,
            size: w.size,
            mode: w.mode,
        };
        tracing::debug!(?id, mode = %w.mode, size = ?w.size, "window mode");
        self.events.push(event);
    }

    /// Where a maximized or fullscreen window's content goes (`None` for a normal one).
    pub fn mode_area(&self, id: WindowId) -> Option<Rect> {
        let w = self.windows.get(&id)?;
        (w.mode != WindowMode::Normal)
            .then(|| layout::fill_area(self.usable_area(), w.frame_kind(), &self.style))
    }
}

#[cfg(test)]
mod tests {
    use bulkhead_border_theme::{Label, QubeName};

    use super::*;
    use crate::desktop::{FrameStyle, Point, Size};

    fn desktop() -> (Desktop, QubeId, QubeId) {
        let mut d = Desktop::new(Size::new(1280, 800), FrameStyle::default());
        let work = d
            .add_qube(QubeName::new("work").unwrap(), Label::Blue)
            .unwrap();
        let media = d
            .add_qube(QubeName::new("media").unwrap(), Label::Green)
            .unwrap();
        assert!(d.set_fullscreen_allowed(media, true));
        (d, work, media)
    }

    fn configures(d: &mut Desktop) -> Vec<(WindowId, Size, WindowMode)> {
        d.take_events()
            .into_iter()
            .filter_map(|e| match e {
                ModelEvent::Configure {
                    window, size, mode, ..
                } => Some((window, size, mode)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn the_decision_table() {
        use WindowMode::{Fullscreen, Maximized, Normal};
        assert_eq!(decide(false, false, true), Normal);
        assert_eq!(decide(true, false, false), Maximized);
        assert_eq!(decide(false, true, false), Maximized);
        assert_eq!(decide(false, true, true), Fullscreen);
        assert_eq!(decide(true, true, true), Fullscreen);
    }

    #[test]
    fn fullscreen_becomes_maximize_without_the_policy_and_restores() {
        let (mut d, work, _) = desktop();
        let w = d.create_toplevel(work, Size::new(300, 200)).unwrap();
        d.set_mapped(work, w, true).unwrap();
        let before = d.content_rect(w).unwrap();
        d.take_events();
        assert_eq!(d.set_fullscreen(work, w, true), Ok(WindowMode::Maximized));
        let frame = d.frame(w).unwrap();
        assert_eq!(
            frame.outer,
            d.usable_area(),
            "fills the area below dom0's bar"
        );
        assert!(
            frame
                .title_bar
                .is_some_and(|t| t.h == d.style().title_height)
        );
        assert_eq!(
            configures(&mut d),
            [(w, frame.content.size(), WindowMode::Maximized)]
        );
        d.verify_invariants().unwrap();
        // A second identical wish changes nothing and says nothing.
        d.set_fullscreen(work, w, true).unwrap();
        assert!(configures(&mut d).is_empty());
        assert_eq!(d.set_fullscreen(work, w, false), Ok(WindowMode::Normal));
        assert_eq!(d.content_rect(w), Some(before));
        assert_eq!(configures(&mut d), [(w, before.size(), WindowMode::Normal)]);
        d.verify_invariants().unwrap();
    }

    #[test]
    fn allowed_fullscreen_keeps_a_label_strip_below_dom0s_bar() {
        let (mut d, _, media) = desktop();
        let w = d.create_toplevel(media, Size::new(300, 200)).unwrap();
        d.set_mapped(media, w, true).unwrap();
        assert_eq!(d.set_fullscreen(media, w, true), Ok(WindowMode::Fullscreen));
        let f = d.frame(w).unwrap();
        assert_eq!(f.outer, d.usable_area());
        let strip = f.title_bar.expect("a label strip");
        assert_eq!(strip.h, d.style().fullscreen_strip);
        assert!(!strip.overlaps(&f.content));
        assert!(!f.outer.overlaps(&d.reserved_area()));
        d.verify_invariants().unwrap();
        // Maximize while fullscreen: still fullscreen; leaving fullscreen leaves maximized.
        d.set_maximized(media, w, true).unwrap();
        assert_eq!(d.window(w).unwrap().mode(), WindowMode::Fullscreen);
        assert_eq!(d.set_fullscreen(media, w, false), Ok(WindowMode::Maximized));
        // The policy is withdrawn: a fullscreen window drops to maximized at once.
        d.set_fullscreen(media, w, true).unwrap();
        d.set_fullscreen_allowed(media, false);
        assert_eq!(d.window(w).unwrap().mode(), WindowMode::Maximized);
        d.verify_invariants().unwrap();
    }

    #[test]
    fn popups_cannot_change_mode_and_output_changes_refill() {
        let (mut d, work, _) = desktop();
        let w = d.create_toplevel(work, Size::new(300, 200)).unwrap();
        let p = d
            .create_popup(work, w, Point::new(1, 1), Size::new(10, 10))
            .unwrap();
        assert_eq!(
            d.set_fullscreen(work, p, true),
            Err(RequestError::NotToplevel(p))
        );
        d.set_maximized(work, w, true).unwrap();
        d.take_events();
        d.set_output_size(Size::new(1024, 768));
        let f = d.frame(w).unwrap();
        assert_eq!(f.outer, d.usable_area());
        assert_eq!(
            configures(&mut d),
            [(w, f.content.size(), WindowMode::Maximized)]
        );
        d.verify_invariants().unwrap();
    }
}
