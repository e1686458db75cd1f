//! What the user does to windows in dom0: click to focus and raise, Super+drag to move, a
//! keyboard shortcut to cycle focus, and close. These are the only ways focus and stacking
//! order change (besides a window going away), and the only ways a window enters the focus
//! history that decides where focus goes when the user closes the focused window.

use super::layout::{self, Point};
use super::{Desktop, MoveGrab, QubeId, WindowId};

/// Which part of a window a point hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HitPart {
    /// The guest's pixels: the click also goes to the guest (input routing, next issue).
    Content,
    /// dom0's border or title bar: the guest never sees it.
    Frame,
}

/// What a click did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClickOutcome {
    /// Nothing under the pointer: focus is unchanged.
    Background,
    /// `window` (maybe a popup) was hit; its toplevel `focused` is now focused and on top.
    Window {
        /// The window under the pointer.
        window: WindowId,
        /// The part hit.
        part: HitPart,
        /// The toplevel now focused.
        focused: WindowId,
    },
}

/// dom0 asks a qube to close one of its windows (the handler sends the wire message).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CloseRequest {
    /// The qube to ask.
    pub qube: QubeId,
    /// Its window.
    pub window: WindowId,
}

impl Desktop {
    /// The topmost visible window whose frame or content contains `at`.
    pub fn window_at(&self, at: Point) -> Option<(WindowId, HitPart)> {
        self.stack
            .iter()
            .rev()
            .filter(|id| self.is_visible(**id))
            .find_map(|id| {
                let f = self.frame(*id)?;
                if f.content.contains(at) {
                    Some((*id, HitPart::Content))
                } else if f.outer.contains(at) {
                    Some((*id, HitPart::Frame))
                } else {
                    None
                }
            })
    }

    /// The user focuses a visible window's toplevel (an explicit action on it): it is
    /// raised with its popups and becomes the most recent entry of the focus history.
    /// Returns the toplevel, or `None` (nothing changes) if the window is not visible.
    pub fn focus_and_raise(&mut self, id: WindowId) -> Option<WindowId> {
        if !self.is_visible(id) {
            return None;
        }
        let root = self.root_of(id);
        self.raise(root);
        self.set_focus(Some(root), None);
        self.note_user_focus(root);
        Some(root)
    }

    /// A button press at `at` (without Super): focus and raise what is under it.
    pub fn click(&mut self, at: Point) -> ClickOutcome {
        match self.window_at(at) {
            None => ClickOutcome::Background,
            Some((window, part)) => match self.focus_and_raise(window) {
                Some(focused) => ClickOutcome::Window {
                    window,
                    part,
                    focused,
                },
                None => ClickOutcome::Background,
            },
        }
    }

    /// The focus shortcut: focuses and raises the next visible toplevel down the stack
    /// (wrapping to the top), or the topmost one when nothing is focused.
    pub fn focus_next(&mut self) -> Option<WindowId> {
        let toplevels: Vec<WindowId> = self
            .stack
            .iter()
            .rev()
            .copied()
            .filter(|id| self.windows[id].parent().is_none() && self.is_visible(*id))
            .collect();
        let next = match self
            .focus
            .and_then(|f| toplevels.iter().position(|t| *t == f))
        {
            Some(i) => toplevels.get(i + 1).or(toplevels.first()).copied(),
            None => toplevels.first().copied(),
        }?;
        self.focus_and_raise(next)
    }

    /// Super+press at `at`: focuses and raises the window under it and starts moving its
    /// toplevel. Returns the toplevel being moved.
    pub fn begin_move(&mut self, at: Point) -> Option<WindowId> {
        let (hit, _) = self.window_at(at)?;
        let root = self.focus_and_raise(hit)?;
        let origin_start = self.windows[&root].origin;
        self.grab = Some(MoveGrab {
            window: root,
            pointer_start: at,
            origin_start,
        });
        Some(root)
    }

    /// Pointer motion during a move: the toplevel follows, its frame kept on the output.
    pub fn update_move(&mut self, at: Point) -> bool {
        let Some(grab) = self.grab else { return false };
        let (area, style) = (self.usable_area(), self.style);
        let Some(w) = self.windows.get_mut(&grab.window) else {
            self.grab = None;
            return false;
        };
        let dx = i64::from(at.x) - i64::from(grab.pointer_start.x);
        let dy = i64::from(at.y) - i64::from(grab.pointer_start.y);
        let sat = |v: i64| i32::try_from(v).unwrap_or(if v < 0 { i32::MIN } else { i32::MAX });
        let wanted = Point::new(
            sat(i64::from(grab.origin_start.x) + dx),
            sat(i64::from(grab.origin_start.y) + dy),
        );
        w.origin = layout::clamp_content_origin(wanted, w.size, area, w.frame_kind(), &style);
        true
    }

    /// Button release: the move ends.
    pub fn end_move(&mut self) {
        self.grab = None;
    }

    /// Whether a Super+drag is in progress.
    pub fn is_moving(&self) -> bool {
        self.grab.is_some()
    }

    /// The user asks to close a window (from dom0, e.g. a shortcut or the control socket).
    /// When the qube then destroys it and it had focus, focus (and raise) passes to the most
    /// recently user-focused window that is still visible, else to nothing; never to a
    /// window the user has not focused.
    pub fn request_close(&mut self, id: WindowId) -> Option<CloseRequest> {
        let w = self.windows.get_mut(&id)?;
        w.closing = true;
        let req = CloseRequest {
            qube: w.qube,
            window: id,
        };
        self.events.push(super::ModelEvent::Close(req));
        Some(req)
    }
}

#[cfg(test)]
mod tests {
    use bulkhead_border_theme::{Label, QubeName};

    use super::*;
    use crate::desktop::{FrameStyle, Size};

    fn two_windows() -> (Desktop, QubeId, WindowId, QubeId, WindowId) {
        let mut d = Desktop::new(Size::new(1280, 800), FrameStyle::default());
        let work = d
            .add_qube(QubeName::new("work").unwrap(), Label::Blue)
            .unwrap();
        let bad = d
            .add_qube(QubeName::new("untrusted").unwrap(), Label::Red)
            .unwrap();
        let a = d.create_toplevel(work, Size::new(400, 300)).unwrap();
        let b = d.create_toplevel(bad, Size::new(400, 300)).unwrap();
        d.set_mapped(work, a, true).unwrap();
        d.set_mapped(bad, b, true).unwrap();
        (d, work, a, bad, b)
    }

    #[test]
    fn click_focuses_and_raises() {
        let (mut d, _, a, _, b) = two_windows();
        assert_eq!(d.focused(), None);
        let a_content = d.content_rect(a).unwrap();
        // `b` cascades over `a`; a's top-left content pixel is still visible.
        let at = a_content.loc();
        assert!(
            matches!(d.click(at), ClickOutcome::Window { window, part: HitPart::Content, .. } if window == a)
        );
        assert_eq!(d.focused(), Some(a));
        assert_eq!(d.stack().last().unwrap().id(), a);
        let title = d.frame(b).unwrap().title_bar.unwrap();
        // a now covers the left of b's title bar; its right end is still b's.
        let right_end = Point::new(title.x + title.w - 1, title.y);
        assert!(matches!(
            d.click(right_end),
            ClickOutcome::Window {
                part: HitPart::Frame,
                ..
            }
        ));
        assert_eq!(d.focused(), Some(b));
        assert_eq!(d.click(Point::new(1279, 799)), ClickOutcome::Background);
        assert_eq!(d.focused(), Some(b));
        d.verify_invariants().unwrap();
    }

    #[test]
    fn requests_never_focus_or_raise() {
        let (mut d, work, a, bad, b) = two_windows();
        d.focus_and_raise(a);
        let c = d.create_toplevel(bad, Size::new(100, 100)).unwrap();
        d.set_mapped(bad, c, true).unwrap();
        d.set_mapped(bad, b, false).unwrap();
        d.set_mapped(bad, b, true).unwrap();
        assert_eq!(d.focused(), Some(a));
        assert_eq!(
            d.stack().last().unwrap().id(),
            a,
            "new windows go below the focused one"
        );
        // The focused qube's own popups go above it; the other's do not.
        let p = d
            .create_popup(bad, c, Point::new(0, 0), Size::new(10, 10))
            .unwrap();
        d.set_mapped(bad, p, true).unwrap();
        assert_eq!(d.stack().last().unwrap().id(), a);
        let q = d
            .create_popup(work, a, Point::new(0, 0), Size::new(10, 10))
            .unwrap();
        assert_eq!(d.stack().last().unwrap().id(), q);
        d.verify_invariants().unwrap();
    }

    #[test]
    fn focus_goes_nowhere_when_a_qube_hides_or_destroys_its_focused_window() {
        let (mut d, work, a, _, b) = two_windows();
        d.focus_and_raise(a);
        d.set_mapped(work, a, false).unwrap();
        assert_eq!(d.focused(), None);
        d.set_mapped(work, a, true).unwrap();
        assert_eq!(d.focused(), None, "re-mapping does not bring focus back");
        d.focus_and_raise(a);
        d.destroy(work, a).unwrap();
        assert_eq!(d.focused(), None);
        let _ = b;
        d.verify_invariants().unwrap();
    }

    #[test]
    fn focus_changes_and_close_requests_are_reported() {
        use crate::desktop::ModelEvent;
        let (mut d, work, a, bad, b) = two_windows();
        assert_eq!(d.take_events(), vec![]);
        d.focus_and_raise(a);
        d.focus_and_raise(a);
        d.focus_and_raise(b);
        let req = d.request_close(b).unwrap();
        d.destroy(bad, b).unwrap();
        assert_eq!(
            d.take_events(),
            vec![
                ModelEvent::Focus {
                    from: None,
                    to: Some((work, a))
                },
                ModelEvent::Focus {
                    from: Some((work, a)),
                    to: Some((bad, b))
                },
                ModelEvent::Close(req),
                // The destroyed window's qube is still named in `from`.
                ModelEvent::Focus {
                    from: Some((bad, b)),
                    to: Some((work, a))
                },
            ]
        );
        d.set_mapped(work, a, false).unwrap();
        assert_eq!(
            d.take_events(),
            vec![ModelEvent::Focus {
                from: Some((work, a)),
                to: None
            }]
        );
    }

    #[test]
    fn user_close_passes_focus_back_to_the_last_window_the_user_focused() {
        let (mut d, work, a, bad, b) = two_windows();
        d.focus_and_raise(b);
        d.focus_and_raise(a);
        // The bad qube lines up a window directly below the focused one, above `b`.
        let c = d.create_toplevel(bad, Size::new(100, 100)).unwrap();
        d.set_mapped(bad, c, true).unwrap();
        let ids: Vec<WindowId> = d.stack().map(|w| w.id()).collect();
        assert_eq!(ids, [b, c, a]);
        let req = d.request_close(a).unwrap();
        assert_eq!(
            req,
            CloseRequest {
                qube: work,
                window: a
            }
        );
        assert_eq!(d.focused(), Some(a), "focus stays until the qube obeys");
        d.destroy(work, a).unwrap();
        assert_eq!(d.focused(), Some(b), "the window the user focused before");
        assert_eq!(d.stack().last().unwrap().id(), b, "and raised");
        assert_eq!(d.focus_history(), [b], "a gone window drops out");
        d.verify_invariants().unwrap();
    }

    #[test]
    fn a_window_the_user_never_focused_never_inherits_focus() {
        let (mut d, work, a, bad, b) = two_windows();
        d.focus_and_raise(a);
        for _ in 0..5 {
            let c = d.create_toplevel(bad, Size::new(100, 100)).unwrap();
            d.set_mapped(bad, c, true).unwrap();
        }
        d.request_close(a).unwrap();
        d.destroy(work, a).unwrap();
        assert_eq!(
            d.focused(),
            None,
            "b and the new windows were never focused"
        );
        assert!(d.focus_history().is_empty());
        d.verify_invariants().unwrap();

        // A user-focused window that is hidden now is skipped, and showing it again
        // brings no focus.
        let e = d.create_toplevel(work, Size::new(100, 100)).unwrap();
        d.set_mapped(work, e, true).unwrap();
        d.focus_and_raise(b);
        d.focus_and_raise(e);
        d.set_mapped(bad, b, false).unwrap();
        d.request_close(e).unwrap();
        d.destroy(work, e).unwrap();
        assert_eq!(d.focused(), None);
        d.set_mapped(bad, b, true).unwrap();
        assert_eq!(d.focused(), None);
        assert_eq!(d.focus_history(), [b]);
        d.verify_invariants().unwrap();
    }

    #[test]
    fn super_drag_moves_and_keeps_the_frame_on_screen() {
        let (mut d, _, a, _, _) = two_windows();
        let start = d.content_rect(a).unwrap().loc();
        assert_eq!(d.begin_move(start), Some(a));
        assert_eq!(d.focused(), Some(a));
        d.update_move(Point::new(start.x + 10, start.y + 5));
        assert_eq!(
            d.content_rect(a).unwrap().loc(),
            Point::new(start.x + 10, start.y + 5)
        );
        d.update_move(Point::new(-10_000, -10_000));
        let outer = d.frame(a).unwrap().outer;
        assert_eq!((outer.x, outer.y), (0, 28), "stops below dom0's notice bar");
        d.update_move(Point::new(i32::MAX, i32::MAX));
        assert!(d.usable_area().contains_rect(&d.frame(a).unwrap().outer));
        d.end_move();
        assert!(!d.update_move(Point::new(0, 0)));
        d.verify_invariants().unwrap();
    }

    #[test]
    fn focus_next_cycles() {
        let (mut d, _, a, _, b) = two_windows();
        assert_eq!(d.focus_next(), Some(b));
        assert_eq!(d.focus_next(), Some(a));
        assert_eq!(d.focus_next(), Some(b));
    }
}
