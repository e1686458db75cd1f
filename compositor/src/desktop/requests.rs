//! What a qube may ask of dom0's window model, already decoded and validated by the wire
//! layer. Every request names the qube it came from; a request for another qube's window is
//! refused exactly like a request for a window that does not exist (a qube learns nothing
//! about other qubes).
//!
//! No request can focus or raise anything. A new toplevel is placed by dom0 (a free spot,
//! else the cascade) and stacked *below* the focused window; a new popup goes directly above
//! its own toplevel's windows. When a qube unmaps or destroys the focused window, focus goes
//! nowhere (keys are dropped) until the user picks a window; only a destruction the user
//! asked for ([`Desktop::request_close`]) passes focus on, and only to the most recently
//! user-focused window still visible ([`Desktop::focus_history`]), never to a window the
//! user has not focused: a qube's new windows stacked right below the focused one do not
//! line up to inherit it.

use bulkhead_border_theme::sanitize_title;

#[cfg(test)]
use super::POPUP_MAX_PERCENT;
use super::layout::{self, FrameKind, Point, Size};
use super::{
    Desktop, MAX_APP_ID_CHARS, MAX_POPUP_DEPTH, MAX_TITLE_CHARS, MAX_WINDOW_SIDE,
    MAX_WINDOWS_PER_QUBE, QubeId, SizeHints, Window, WindowId, WindowKind,
};

/// One request from a qube, in model terms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QubeRequest {
    /// A new, unmapped toplevel of `size`.
    CreateToplevel {
        /// Content size the guest wants.
        size: Size,
    },
    /// A new, unmapped popup at `offset` from `parent`'s content origin.
    CreatePopup {
        /// One of the same qube's windows.
        parent: WindowId,
        /// Offset of the popup's content from the parent's content origin.
        offset: Point,
        /// Content size.
        size: Size,
    },
    /// Sets the title (sanitised before it is stored).
    SetTitle {
        /// The window.
        window: WindowId,
        /// Raw guest text.
        title: String,
    },
    /// Sets the app id (sanitised before it is stored).
    SetAppId {
        /// The window.
        window: WindowId,
        /// Raw guest text.
        app_id: String,
    },
    /// Shows the window.
    Map {
        /// The window.
        window: WindowId,
    },
    /// Hides the window.
    Unmap {
        /// The window.
        window: WindowId,
    },
    /// Destroys the window and its popups.
    Destroy {
        /// The window.
        window: WindowId,
    },
    /// The guest's content has a new size (a frame of another size arrived).
    Resize {
        /// The window.
        window: WindowId,
        /// New content size.
        size: Size,
    },
    /// Minimum and maximum sizes.
    SizeHints {
        /// The window.
        window: WindowId,
        /// The hints.
        hints: SizeHints,
    },
    /// The qube wishes its toplevel maximized (`on`) or not ([`super::modes`]).
    SetMaximized {
        /// A toplevel.
        window: WindowId,
        /// Maximize or unmaximize.
        on: bool,
    },
    /// The qube wishes its toplevel fullscreen (`on`) or not; without the policy's
    /// permission it is maximized instead.
    SetFullscreen {
        /// A toplevel.
        window: WindowId,
        /// Fullscreen or not.
        on: bool,
    },
}

/// What a successful request did, for the connection handler.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestOutcome {
    /// A window was created with this handle.
    Created(WindowId),
    /// The content size is now this (cut to the output); if it differs from what was asked,
    /// the handler should configure the guest to it.
    Sized(Size),
    /// These windows are gone (the window and its popups); drop their pixel sources.
    Destroyed(Vec<WindowId>),
    /// The model changed in some other way (redraw).
    Changed,
}

/// Why a request was refused. Every variant is a qube's fault (log at `warn!`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// The qube is not (or no longer) known to dom0.
    #[error("unknown qube {0:?}")]
    UnknownQube(QubeId),
    /// No such window among the qube's windows.
    #[error("the qube has no window {0:?}")]
    UnknownWindow(WindowId),
    /// The qube already has [`MAX_WINDOWS_PER_QUBE`] windows.
    #[error("too many windows (limit {MAX_WINDOWS_PER_QUBE})")]
    TooManyWindows,
    /// A side is zero, negative or above [`MAX_WINDOW_SIDE`].
    #[error("bad window size {w}x{h} (each side 1..={MAX_WINDOW_SIDE})")]
    BadSize {
        /// Width asked.
        w: i32,
        /// Height asked.
        h: i32,
    },
    /// The popup chain would be deeper than [`MAX_POPUP_DEPTH`].
    #[error("popups nested deeper than {MAX_POPUP_DEPTH}")]
    PopupTooDeep,
    /// Size hints with a minimum above the maximum or a bad side.
    #[error("inconsistent size hints")]
    BadHints,
    /// A toplevel-only request (maximize, fullscreen) for a popup.
    #[error("window {0:?} is a popup, not a toplevel")]
    NotToplevel(WindowId),
}

fn check_size(size: Size) -> Result<Size, RequestError> {
    let ok = |v: i32| (1..=MAX_WINDOW_SIDE).contains(&v);
    if ok(size.w) && ok(size.h) {
        Ok(size)
    } else {
        Err(RequestError::BadSize {
            w: size.w,
            h: size.h,
        })
    }
}

impl Desktop {
    /// Applies one request from `qube`.
    pub fn apply(
        &mut self,
        qube: QubeId,
        request: QubeRequest,
    ) -> Result<RequestOutcome, RequestError> {
        use RequestOutcome::{Changed, Created, Destroyed, Sized};
        match request {
            QubeRequest::CreateToplevel { size } => self.create_toplevel(qube, size).map(Created),
            QubeRequest::CreatePopup {
                parent,
                offset,
                size,
            } => self.create_popup(qube, parent, offset, size).map(Created),
            QubeRequest::SetTitle { window, title } => {
                self.set_title(qube, window, &title).map(|()| Changed)
            }
            QubeRequest::SetAppId { window, app_id } => {
                self.set_app_id(qube, window, &app_id).map(|()| Changed)
            }
            QubeRequest::Map { window } => self.set_mapped(qube, window, true).map(|()| Changed),
            QubeRequest::Unmap { window } => self.set_mapped(qube, window, false).map(|()| Changed),
            QubeRequest::Destroy { window } => self.destroy(qube, window).map(Destroyed),
            QubeRequest::Resize { window, size } => self.resize(qube, window, size).map(Sized),
            QubeRequest::SizeHints { window, hints } => {
                self.set_size_hints(qube, window, hints).map(|()| Changed)
            }
            QubeRequest::SetMaximized { window, on } => {
                self.set_maximized(qube, window, on).map(|_| Changed)
            }
            QubeRequest::SetFullscreen { window, on } => {
                self.set_fullscreen(qube, window, on).map(|_| Changed)
            }
        }
    }

    /// The qube's window `id`, or the same error whether it does not exist or is another
    /// qube's.
    pub(super) fn own_window(
        &mut self,
        qube: QubeId,
        id: WindowId,
    ) -> Result<&mut Window, RequestError> {
        if !self.qubes.contains_key(&qube) {
            return Err(RequestError::UnknownQube(qube));
        }
        match self.windows.get_mut(&id) {
            Some(w) if w.qube == qube => Ok(w),
            _ => Err(RequestError::UnknownWindow(id)),
        }
    }

    /// Room for one more window of `qube`?
    fn reserve_window(&mut self, qube: QubeId) -> Result<WindowId, RequestError> {
        let q = self
            .qubes
            .get_mut(&qube)
            .ok_or(RequestError::UnknownQube(qube))?;
        if q.window_count >= MAX_WINDOWS_PER_QUBE {
            return Err(RequestError::TooManyWindows);
        }
        q.window_count += 1;
        let id = WindowId(self.next_window);
        self.next_window += 1;
        Ok(id)
    }

    fn new_window(
        id: WindowId,
        qube: QubeId,
        kind: WindowKind,
        size: Size,
        origin: Point,
    ) -> Window {
        Window {
            id,
            qube,
            kind,
            size,
            origin,
            mapped: false,
            title: String::new(),
            app_id: String::new(),
            hints: SizeHints::default(),
            closing: false,
            mode: super::WindowMode::Normal,
            wants_maximized: false,
            wants_fullscreen: false,
            restore: None,
        }
    }

    /// A new unmapped toplevel, placed where it covers no other toplevel if there is such
    /// a spot (else in the cascade), and stacked below the focused window.
    pub fn create_toplevel(&mut self, qube: QubeId, size: Size) -> Result<WindowId, RequestError> {
        let size = check_size(size)?;
        let id = self.reserve_window(qube)?;
        let size = self.clamp_size(size, FrameKind::Toplevel);
        let taken: Vec<_> = self
            .stack
            .iter()
            .filter(|w| self.windows[*w].kind() == WindowKind::Toplevel)
            .filter_map(|w| self.frame(*w))
            .map(|g| g.outer)
            .collect();
        let origin =
            layout::place_toplevel(self.cascade, size, self.usable_area(), &taken, &self.style);
        self.cascade = self.cascade.wrapping_add(1);
        self.windows.insert(
            id,
            Self::new_window(id, qube, WindowKind::Toplevel, size, origin),
        );
        let at = match self.focus.and_then(|f| self.block(f)) {
            Some(block) => block.start,
            None => self.stack.len(),
        };
        self.stack.insert(at, id);
        tracing::debug!(?qube, ?id, ?size, ?origin, "toplevel created");
        Ok(id)
    }

    /// A new unmapped popup of `parent` (one of the qube's own windows), stacked directly
    /// above its toplevel's other windows.
    pub fn create_popup(
        &mut self,
        qube: QubeId,
        parent: WindowId,
        offset: Point,
        size: Size,
    ) -> Result<WindowId, RequestError> {
        let size = check_size(size)?;
        self.own_window(qube, parent)?;
        let mut depth = 1;
        let mut cur = parent;
        while let Some(p) = self.windows.get(&cur).and_then(Window::parent) {
            depth += 1;
            cur = p;
        }
        if depth > MAX_POPUP_DEPTH {
            return Err(RequestError::PopupTooDeep);
        }
        let block = self.block(cur).ok_or(RequestError::UnknownWindow(parent))?;
        let id = self.reserve_window(qube)?;
        // At most POPUP_MAX_PERCENT of the output on each side: a larger popup is cut (only
        // its top-left part shows), it never covers the screen.
        let size = self.clamp_size(size, FrameKind::Popup);
        let kind = WindowKind::Popup { parent, offset };
        self.windows
            .insert(id, Self::new_window(id, qube, kind, size, Point::default()));
        self.stack.insert(block.end, id);
        tracing::debug!(?qube, ?id, ?parent, ?offset, ?size, "popup created");
        Ok(id)
    }

    /// Stores the sanitised title.
    pub fn set_title(
        &mut self,
        qube: QubeId,
        id: WindowId,
        title: &str,
    ) -> Result<(), RequestError> {
        self.own_window(qube, id)?.title = sanitize_title(title, MAX_TITLE_CHARS);
        Ok(())
    }

    /// Stores the sanitised app id.
    pub fn set_app_id(
        &mut self,
        qube: QubeId,
        id: WindowId,
        app_id: &str,
    ) -> Result<(), RequestError> {
        self.own_window(qube, id)?.app_id = sanitize_title(app_id, MAX_APP_ID_CHARS);
        Ok(())
    }

    /// Maps or unmaps. Unmapping the focused window (or a window it hangs off) drops focus.
    pub fn set_mapped(
        &mut self,
        qube: QubeId,
        id: WindowId,
        mapped: bool,
    ) -> Result<(), RequestError> {
        self.own_window(qube, id)?.mapped = mapped;
        if self.focus.is_some_and(|f| !self.is_visible(f)) {
            tracing::debug!(
                ?qube,
                ?id,
                "focused window hidden by its qube; focus dropped"
            );
            self.set_focus(None, None);
        }
        if self.grab.is_some_and(|g| !self.is_visible(g.window)) {
            self.grab = None;
        }
        Ok(())
    }

    /// Destroys a window and its popups.
    pub fn destroy(&mut self, qube: QubeId, id: WindowId) -> Result<Vec<WindowId>, RequestError> {
        let user_closed = self.own_window(qube, id)?.closing;
        Ok(self.remove_subtree(id, user_closed))
    }

    /// New content size (cut to fit); a toplevel is moved if it would now stick out. A
    /// maximized or fullscreen window stays where its mode puts it, at most that big.
    pub fn resize(&mut self, qube: QubeId, id: WindowId, size: Size) -> Result<Size, RequestError> {
        let size = check_size(size)?;
        let area = self.usable_area();
        let style = self.style;
        let kind = self.own_window(qube, id)?.frame_kind();
        let mut size = self.clamp_size(size, kind);
        let fill = self.mode_area(id);
        let w = self.own_window(qube, id)?;
        match fill {
            // The frame keeps filling the area whatever the guest draws (a smaller frame
            // shows the underlay beside it, a larger one is cut).
            Some(fill) => {
                size = fill.size();
                w.origin = fill.loc();
            }
            None if kind != FrameKind::Popup => {
                w.origin = layout::clamp_content_origin(w.origin, size, area, kind, &style);
            }
            None => {}
        }
        w.size = size;
        Ok(size)
    }

    /// Stores size hints after checking them.
    pub fn set_size_hints(
        &mut self,
        qube: QubeId,
        id: WindowId,
        hints: SizeHints,
    ) -> Result<(), RequestError> {
        for s in [hints.min, hints.max].into_iter().flatten() {
            check_size(s).map_err(|_| RequestError::BadHints)?;
        }
        if let (Some(min), Some(max)) = (hints.min, hints.max) {
            if min.w > max.w || min.h > max.h {
                return Err(RequestError::BadHints);
            }
        }
        self.own_window(qube, id)?.hints = hints;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use bulkhead_border_theme::{Label, QubeName};

    use super::*;
    use crate::desktop::FrameStyle;

    fn desktop() -> (Desktop, QubeId, QubeId) {
        let mut d = Desktop::new(Size::new(1280, 800), FrameStyle::default());
        let work = d
            .add_qube(QubeName::new("work").unwrap(), Label::Blue)
            .unwrap();
        let bad = d
            .add_qube(QubeName::new("untrusted").unwrap(), Label::Red)
            .unwrap();
        (d, work, bad)
    }

    #[test]
    fn a_qube_cannot_touch_another_qubes_window() {
        let (mut d, work, bad) = desktop();
        let w = d.create_toplevel(work, Size::new(100, 100)).unwrap();
        for req in [
            QubeRequest::Map { window: w },
            QubeRequest::Destroy { window: w },
            QubeRequest::SetTitle {
                window: w,
                title: "x".into(),
            },
            QubeRequest::CreatePopup {
                parent: w,
                offset: Point::new(0, 0),
                size: Size::new(5, 5),
            },
        ] {
            assert_eq!(d.apply(bad, req), Err(RequestError::UnknownWindow(w)));
        }
        d.verify_invariants().unwrap();
    }

    #[test]
    fn sizes_are_checked_and_cut_to_the_output() {
        let (mut d, work, _) = desktop();
        assert!(matches!(
            d.create_toplevel(work, Size::new(0, 10)),
            Err(RequestError::BadSize { .. })
        ));
        assert!(
            d.create_toplevel(work, Size::new(MAX_WINDOW_SIDE + 1, 10))
                .is_err()
        );
        let w = d
            .create_toplevel(work, Size::new(MAX_WINDOW_SIDE, MAX_WINDOW_SIDE))
            .unwrap();
        // The frame fills the output below dom0's notice bar.
        assert_eq!(d.window(w).unwrap().size(), Size::new(1274, 770 - 28));
        d.set_mapped(work, w, true).unwrap();
        d.verify_invariants().unwrap();
    }

    #[test]
    fn window_limit_per_qube() {
        let (mut d, work, bad) = desktop();
        for _ in 0..MAX_WINDOWS_PER_QUBE {
            d.create_toplevel(bad, Size::new(10, 10)).unwrap();
        }
        assert_eq!(
            d.create_toplevel(bad, Size::new(10, 10)),
            Err(RequestError::TooManyWindows)
        );
        // The other qube is not affected.
        d.create_toplevel(work, Size::new(10, 10)).unwrap();
    }

    #[test]
    fn popup_depth_is_limited() {
        let (mut d, work, _) = desktop();
        let mut parent = d.create_toplevel(work, Size::new(100, 100)).unwrap();
        for _ in 0..MAX_POPUP_DEPTH {
            parent = d
                .create_popup(work, parent, Point::new(5, 5), Size::new(10, 10))
                .unwrap();
        }
        assert_eq!(
            d.create_popup(work, parent, Point::new(5, 5), Size::new(10, 10)),
            Err(RequestError::PopupTooDeep)
        );
    }

    #[test]
    fn titles_are_sanitised() {
        let (mut d, work, _) = desktop();
        let w = d.create_toplevel(work, Size::new(10, 10)).unwrap();
        d.set_title(work, w, "\u{202e}evil\nname\u{200b}").unwrap();
        assert_eq!(d.window(w).unwrap().title(), "evil name");
        d.set_title(work, w, &"x".repeat(10_000)).unwrap();
        assert_eq!(
            d.window(w).unwrap().title().chars().count(),
            MAX_TITLE_CHARS
        );
    }

    #[test]
    fn destroying_a_parent_destroys_its_popups() {
        let (mut d, work, _) = desktop();
        let w = d.create_toplevel(work, Size::new(100, 100)).unwrap();
        let p = d
            .create_popup(work, w, Point::new(5, 5), Size::new(10, 10))
            .unwrap();
        let pp = d
            .create_popup(work, p, Point::new(5, 5), Size::new(10, 10))
            .unwrap();
        let mut gone = d.destroy(work, w).unwrap();
        gone.sort();
        assert_eq!(gone, vec![w, p, pp]);
        assert_eq!(d.qube(work).unwrap().window_count(), 0);
        d.verify_invariants().unwrap();
    }

    #[test]
    fn popup_is_placed_relative_to_its_parent_and_clamped() {
        let (mut d, work, _) = desktop();
        let w = d.create_toplevel(work, Size::new(200, 100)).unwrap();
        let origin = d.content_rect(w).unwrap().loc();
        let p = d
            .create_popup(work, w, Point::new(10, 20), Size::new(50, 50))
            .unwrap();
        assert_eq!(
            d.content_rect(p).unwrap().loc(),
            Point::new(origin.x + 10, origin.y + 20)
        );
        let far = d
            .create_popup(work, w, Point::new(100_000, -100_000), Size::new(50, 50))
            .unwrap();
        let r = d.frame(far).unwrap().outer;
        assert!(d.usable_area().contains_rect(&r));
        assert_eq!((r.right(), r.y), (1280, 28), "below dom0's notice bar");
        assert!(!r.overlaps(&d.reserved_area()));
    }

    #[test]
    fn popups_cover_at_most_90_percent_of_each_side() {
        let (mut d, work, _) = desktop();
        let w = d.create_toplevel(work, Size::new(200, 100)).unwrap();
        let p = d
            .create_popup(work, w, Point::new(-5000, -5000), Size::new(16000, 16000))
            .unwrap();
        let size = d.window(p).unwrap().size();
        assert_eq!(
            size,
            Size::new(
                1280 * POPUP_MAX_PERCENT / 100,
                800 * POPUP_MAX_PERCENT / 100
            )
        );
        // A later frame of the same huge size is cut the same way.
        assert_eq!(d.resize(work, p, Size::new(16000, 16000)), Ok(size));
        let r = d.frame(p).unwrap().outer;
        assert!(d.usable_area().contains_rect(&r));
        d.verify_invariants().unwrap();
    }
}
