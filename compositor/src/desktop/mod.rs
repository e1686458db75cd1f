//! The pure window model of dom0: qubes, their windows, stacking, focus, placement.
//!
//! Nothing here draws or does I/O. Two kinds of callers change the model, and the split is
//! the security policy:
//! - a qube's connection handler calls the *requests* in [`requests`] (create, map, title,
//!   destroy, …), always naming the qube the request came from; a request can never focus
//!   or raise a window, nor touch another qube's window;
//! - dom0's input handling calls the *user actions* in [`user`] (click, Super+drag, focus
//!   shortcut, close).
//!
//! Rules kept at all times (and checked by [`Desktop::verify_invariants`]):
//! - every window belongs to exactly one known qube and is drawn in that qube's label colour;
//! - focus is on at most one window, a visible toplevel, and only the user moves it: the
//!   focused window is never covered by a window the user did not raise;
//! - focus only ever lands on a window the user focused by an explicit action on it (click,
//!   Super+drag, the focus shortcut). When the user closes the focused window, focus and
//!   raise go back to the most recently user-focused window that still exists and is
//!   visible, else to nothing: a window a qube opened and the user never focused never
//!   inherits focus, however many a qube opens or wherever they are stacked;
//! - every frame (border and title bar) lies fully inside the *usable area*: the output minus
//!   the strip dom0 reserves for its notice bar ([`DOM0_BAR_HEIGHT`] px at the top), so no
//!   guest window is ever placed over dom0's own UI; no guest content overlaps its own frame;
//! - popups sit directly above their toplevel's other windows, offset from their parent, and
//!   each side of a popup is at most [`POPUP_MAX_PERCENT`] % of the output's (a larger popup
//!   is cut: only its top-left part is shown);
//! - a toplevel is fullscreen only if its qube's policy allows it (otherwise the request
//!   makes it maximized), and even then dom0's label strip with the qube name stays above it
//!   ([`modes`]).

pub mod invariants;
pub mod layout;
pub mod modes;
pub mod requests;
pub mod user;

use std::collections::BTreeMap;

use bulkhead_border_theme::{Label, QubeName};
use serde::Serialize;

pub use invariants::InvariantViolation;
pub use layout::{FrameGeometry, FrameKind, FrameStyle, Point, Rect, Size};
pub use modes::WindowMode;
pub use requests::{QubeRequest, RequestError, RequestOutcome};
pub use user::{ClickOutcome, CloseRequest, HitPart};

/// Most windows (toplevels plus popups) one qube may have at once.
pub const MAX_WINDOWS_PER_QUBE: usize = 4096;
/// Largest window side a qube may ask for, in pixels (larger requests are refused; sizes
/// that merely exceed the output are cut to fit).
pub const MAX_WINDOW_SIDE: i32 = 16384;
/// Deepest chain of popups (a menu's submenu's submenu…).
pub const MAX_POPUP_DEPTH: usize = 16;
/// Longest title kept, in characters, after sanitising.
pub const MAX_TITLE_CHARS: usize = bulkhead_border_theme::MAX_TITLE_CHARS;
/// Longest app id kept, in characters, after sanitising.
pub const MAX_APP_ID_CHARS: usize = 127;

/// Height of the strip at the top of the output that dom0 keeps for itself (its notice
/// bar): no guest window is ever placed there.
pub const DOM0_BAR_HEIGHT: i32 = 28;
/// Largest popup side, in percent of the output's side (each dimension separately).
pub const POPUP_MAX_PERCENT: i32 = 90;

/// Smallest output side the model works with: room for the largest frame a theme allows
/// (a 96 px title bar, two 32 px borders, the narrowest title bar) around at least one content
/// pixel. A smaller
/// real output shows the model's top-left corner.
pub const MIN_OUTPUT_SIDE: i32 = 320;

fn clamp_output(output: Size) -> Size {
    Size::new(output.w.max(MIN_OUTPUT_SIDE), output.h.max(MIN_OUTPUT_SIDE))
}

/// dom0's handle of a qube it knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct QubeId(pub u32);

/// dom0's handle of a window, unique over the compositor's lifetime (never reused).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct WindowId(pub u64);

/// A qube as dom0 knows it: name and label are dom0's configuration, never a qube's claim.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Qube {
    /// The name shown in every title bar.
    pub name: QubeName,
    /// The trust label: the colour of every frame.
    pub label: Label,
    /// How many windows (toplevels and popups) the qube has now.
    window_count: usize,
    /// dom0's window policy: may its windows go fullscreen (default: no, they are
    /// maximized instead).
    allow_fullscreen: bool,
}

impl Qube {
    /// How many windows the qube has now.
    pub fn window_count(&self) -> usize {
        self.window_count
    }

    /// Whether dom0's policy lets this qube's windows go fullscreen.
    pub fn allows_fullscreen(&self) -> bool {
        self.allow_fullscreen
    }
}

/// Toplevel or popup.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowKind {
    /// A normal window: title bar, thick border, placed by dom0.
    Toplevel,
    /// A menu or tooltip: thin border, placed at `offset` from its parent's content origin.
    Popup {
        /// The window it belongs to (same qube).
        parent: WindowId,
        /// Offset of its content from the parent's content origin, as the qube asked.
        offset: Point,
    },
}

impl WindowKind {
    /// The kind of frame drawn around it.
    pub const fn frame_kind(&self) -> FrameKind {
        match self {
            WindowKind::Toplevel => FrameKind::Toplevel,
            WindowKind::Popup { .. } => FrameKind::Popup,
        }
    }
}

/// Minimum and maximum content size a qube asked for (stored for configure decisions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SizeHints {
    /// Smallest useful size, if any.
    pub min: Option<Size>,
    /// Largest useful size, if any.
    pub max: Option<Size>,
}

/// One guest window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Window {
    id: WindowId,
    qube: QubeId,
    kind: WindowKind,
    /// Content size in pixels, already cut to fit the output with its frame.
    size: Size,
    /// Content origin of a toplevel (popups compute theirs from the parent).
    origin: Point,
    mapped: bool,
    title: String,
    app_id: String,
    hints: SizeHints,
    /// The user asked dom0 to close it; its destruction is then the user's doing.
    closing: bool,
    /// Normal, maximized or fullscreen, as dom0 decided ([`modes`]).
    mode: WindowMode,
    /// What the qube asked for (dom0 decides the mode from these and the policy).
    wants_maximized: bool,
    wants_fullscreen: bool,
    /// The content rectangle to go back to when the window leaves maximized/fullscreen.
    restore: Option<Rect>,
}

impl Window {
    /// Its handle.
    pub fn id(&self) -> WindowId {
        self.id
    }
    /// The qube it belongs to.
    pub fn qube(&self) -> QubeId {
        self.qube
    }
    /// Toplevel or popup.
    pub fn kind(&self) -> WindowKind {
        self.kind
    }
    /// Content size (cut to fit the output).
    pub fn size(&self) -> Size {
        self.size
    }
    /// Whether the qube has mapped it (it may still be hidden by an unmapped parent).
    pub fn is_mapped(&self) -> bool {
        self.mapped
    }
    /// The sanitised title.
    pub fn title(&self) -> &str {
        &self.title
    }
    /// The sanitised app id.
    pub fn app_id(&self) -> &str {
        &self.app_id
    }
    /// The qube's size hints.
    pub fn hints(&self) -> SizeHints {
        self.hints
    }
    /// Whether the user asked to close it.
    pub fn is_closing(&self) -> bool {
        self.closing
    }
    /// Normal, maximized or fullscreen.
    pub fn mode(&self) -> WindowMode {
        self.mode
    }
    /// The frame dom0 draws around it.
    pub fn frame_kind(&self) -> FrameKind {
        match (self.kind, self.mode) {
            (WindowKind::Popup { .. }, _) => FrameKind::Popup,
            (WindowKind::Toplevel, WindowMode::Fullscreen) => FrameKind::Fullscreen,
            (WindowKind::Toplevel, _) => FrameKind::Toplevel,
        }
    }
    /// The parent of a popup.
    pub fn parent(&self) -> Option<WindowId> {
        match self.kind {
            WindowKind::Toplevel => None,
            WindowKind::Popup { parent, .. } => Some(parent),
        }
    }
}

/// An active Super+drag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct MoveGrab {
    window: WindowId,
    pointer_start: Point,
    origin_start: Point,
}

/// The whole model: output, qubes, windows, stacking and focus.
#[derive(Debug, Clone)]
pub struct Desktop {
    output: Size,
    /// Pixels at the top of the output kept for dom0's own UI.
    reserved_top: i32,
    style: FrameStyle,
    qubes: BTreeMap<QubeId, Qube>,
    windows: BTreeMap<WindowId, Window>,
    /// Bottom to top. Each toplevel is followed directly by all its popups (its *block*).
    stack: Vec<WindowId>,
    focus: Option<WindowId>,
    /// Toplevels the user focused, least recently focused first (the focused one, if any,
    /// last). Each window at most once and only while it exists, so it is bounded by the
    /// window count; only user actions ([`user`]) add to it.
    focus_history: Vec<WindowId>,
    grab: Option<MoveGrab>,
    /// What the connection handlers must tell qubes, oldest first.
    events: Vec<ModelEvent>,
    next_qube: u32,
    next_window: u64,
    cascade: u32,
}

/// Something qubes must be told, produced by the model for the connection handlers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelEvent {
    /// Keyboard focus moved: `from` (if any) gets focus-out, `to` (if any) focus-in. Both
    /// are toplevels; `from` may already be destroyed.
    Focus {
        /// The window that had focus, with its qube.
        from: Option<(QubeId, WindowId)>,
        /// The window that has it now, with its qube.
        to: Option<(QubeId, WindowId)>,
    },
    /// The user asked for a window to be closed: send the qube a close request.
    Close(CloseRequest),
    /// dom0 changed a toplevel's size or mode itself (maximize, fullscreen, restore, output
    /// change): tell its qube, so the client draws at that size.
    Configure {
        /// The qube.
        qube: QubeId,
        /// Its toplevel.
        window: WindowId,
        /// The content size dom0 gives it.
        size: Size,
        /// The mode dom0 decided.
        mode: WindowMode,
    },
}

/// A qube name that dom0 already knows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a qube named {0} already exists")]
pub struct DuplicateQube(pub QubeName);

impl Desktop {
    /// An empty desktop on an output of `output` pixels, framing windows with `style`.
    pub fn new(output: Size, style: FrameStyle) -> Desktop {
        Desktop {
            output: clamp_output(output),
            reserved_top: DOM0_BAR_HEIGHT,
            style,
            qubes: BTreeMap::new(),
            windows: BTreeMap::new(),
            stack: Vec::new(),
            focus: None,
            focus_history: Vec::new(),
            grab: None,
            events: Vec::new(),
            next_qube: 1,
            next_window: 1,
            cascade: 0,
        }
    }

    /// The output size.
    pub fn output(&self) -> Size {
        self.output
    }

    /// The output as a rectangle at the origin.
    pub fn output_rect(&self) -> Rect {
        Rect::from_parts(Point::default(), self.output)
    }

    /// The strip of the output dom0 keeps for itself (the notice bar): no guest pixel or
    /// frame is ever placed there.
    pub fn reserved_area(&self) -> Rect {
        Rect::new(0, 0, self.output.w, self.reserved_top)
    }

    /// Where guest windows (with their frames) may be: the output minus
    /// [`Desktop::reserved_area`].
    pub fn usable_area(&self) -> Rect {
        Rect::new(
            0,
            self.reserved_top,
            self.output.w,
            self.output.h - self.reserved_top,
        )
    }

    /// The largest content a popup may show: each side at most [`POPUP_MAX_PERCENT`] % of
    /// the output's, and its frame inside the usable area.
    pub fn max_popup_size(&self) -> Size {
        let fit =
            layout::max_content_size(self.usable_area().size(), FrameKind::Popup, &self.style);
        let pct =
            |v: i32| i32::try_from(i64::from(v) * i64::from(POPUP_MAX_PERCENT) / 100).unwrap_or(v);
        Size::new(
            fit.w.min(pct(self.output.w)).max(1),
            fit.h.min(pct(self.output.h)).max(1),
        )
    }

    /// `size` cut to what a window of `kind` may show.
    fn clamp_size(&self, size: Size, kind: FrameKind) -> Size {
        let max = match kind {
            FrameKind::Popup => self.max_popup_size(),
            _ => layout::max_content_size(self.usable_area().size(), kind, &self.style),
        };
        Size::new(size.w.clamp(1, max.w), size.h.clamp(1, max.h))
    }

    /// Frame sizes.
    pub fn style(&self) -> &FrameStyle {
        &self.style
    }

    /// Declares a qube dom0 knows (from its configuration).
    pub fn add_qube(&mut self, name: QubeName, label: Label) -> Result<QubeId, DuplicateQube> {
        if self.qubes.values().any(|q| q.name == name) {
            return Err(DuplicateQube(name));
        }
        let id = QubeId(self.next_qube);
        self.next_qube += 1;
        tracing::debug!(qube = %name, %label, ?id, "qube added");
        self.qubes.insert(
            id,
            Qube {
                name,
                label,
                window_count: 0,
                allow_fullscreen: false,
            },
        );
        Ok(id)
    }

    /// Changes a qube's label (a dom0 configuration change); its frames follow at once.
    pub fn set_qube_label(&mut self, qube: QubeId, label: Label) -> bool {
        match self.qubes.get_mut(&qube) {
            Some(q) => {
                q.label = label;
                true
            }
            None => false,
        }
    }

    /// Forgets a qube and all its windows. Returns the windows that went away.
    pub fn remove_qube(&mut self, qube: QubeId) -> Vec<WindowId> {
        let gone = self.clear_qube(qube);
        self.qubes.remove(&qube);
        gone
    }

    /// Removes all of a qube's windows but keeps the qube (its connection is gone; it may
    /// connect again). Returns the windows that went away.
    pub fn clear_qube(&mut self, qube: QubeId) -> Vec<WindowId> {
        let roots: Vec<WindowId> = self
            .stack
            .iter()
            .copied()
            .filter(|id| self.windows[id].qube == qube && self.windows[id].parent().is_none())
            .collect();
        let mut gone = Vec::new();
        for root in roots {
            gone.extend(self.remove_subtree(root, false));
        }
        gone
    }

    /// A qube by handle.
    pub fn qube(&self, id: QubeId) -> Option<&Qube> {
        self.qubes.get(&id)
    }

    /// A qube by name.
    pub fn qube_by_name(&self, name: &str) -> Option<QubeId> {
        self.qubes
            .iter()
            .find(|(_, q)| q.name.as_str() == name)
            .map(|(id, _)| *id)
    }

    /// All qubes, by handle.
    pub fn qubes(&self) -> impl Iterator<Item = (QubeId, &Qube)> {
        self.qubes.iter().map(|(id, q)| (*id, q))
    }

    /// A window by handle.
    pub fn window(&self, id: WindowId) -> Option<&Window> {
        self.windows.get(&id)
    }

    /// Whether `window` exists and belongs to `qube`.
    pub fn owns(&self, qube: QubeId, window: WindowId) -> bool {
        self.windows.get(&window).is_some_and(|w| w.qube == qube)
    }

    /// The label a window is drawn in: its qube's, and nothing else.
    pub fn label_of(&self, id: WindowId) -> Option<Label> {
        let w = self.windows.get(&id)?;
        self.qubes.get(&w.qube).map(|q| q.label)
    }

    /// The focused window (always a visible toplevel), if any.
    pub fn focused(&self) -> Option<WindowId> {
        self.focus
    }

    /// Takes the events produced since the last call, oldest first.
    pub fn take_events(&mut self) -> Vec<ModelEvent> {
        std::mem::take(&mut self.events)
    }

    /// Moves focus, recording a [`ModelEvent::Focus`] if it changed. `from` is looked up
    /// before the change (the caller passes the old owner if the window is already gone).
    fn set_focus(&mut self, to: Option<WindowId>, from_qube: Option<QubeId>) {
        if self.focus == to {
            return;
        }
        let from = self.focus.and_then(|f| {
            let q = self.windows.get(&f).map(|w| w.qube).or(from_qube)?;
            Some((q, f))
        });
        let to_pair = to.and_then(|t| Some((self.windows.get(&t)?.qube, t)));
        self.focus = to;
        tracing::debug!(?from, to = ?to_pair, "focus");
        self.events.push(ModelEvent::Focus { from, to: to_pair });
    }

    /// The qube that receives keyboard input: the focused window's.
    pub fn focused_qube(&self) -> Option<QubeId> {
        self.focus
            .and_then(|id| self.windows.get(&id))
            .map(|w| w.qube)
    }

    /// All windows, bottom to top.
    pub fn stack(&self) -> impl DoubleEndedIterator<Item = &Window> + '_ {
        self.stack.iter().map(|id| &self.windows[id])
    }

    /// Whether the window and all its ancestors are mapped.
    pub fn is_visible(&self, id: WindowId) -> bool {
        let mut cur = Some(id);
        while let Some(c) = cur {
            match self.windows.get(&c) {
                Some(w) if w.mapped => cur = w.parent(),
                _ => return false,
            }
        }
        true
    }

    /// Where a window's content goes on the output.
    pub fn content_rect(&self, id: WindowId) -> Option<Rect> {
        let w = self.windows.get(&id)?;
        let origin = match w.kind {
            WindowKind::Toplevel => w.origin,
            WindowKind::Popup { parent, offset } => {
                let p = self.content_rect(parent)?.loc();
                let wanted = Point::new(p.x.saturating_add(offset.x), p.y.saturating_add(offset.y));
                layout::clamp_content_origin(
                    wanted,
                    w.size,
                    self.usable_area(),
                    FrameKind::Popup,
                    &self.style,
                )
            }
        };
        Some(Rect::from_parts(origin, w.size))
    }

    /// Where a window's frame and content go.
    pub fn frame(&self, id: WindowId) -> Option<FrameGeometry> {
        let w = self.windows.get(&id)?;
        let content = self.content_rect(id)?;
        Some(layout::frame_geometry(content, w.frame_kind(), &self.style))
    }

    /// Every visible window with its frame, bottom to top: what the renderer draws.
    pub fn visible_frames(&self) -> Vec<(&Window, FrameGeometry)> {
        self.stack
            .iter()
            .filter(|id| self.is_visible(**id))
            .filter_map(|id| Some((&self.windows[id], self.frame(*id)?)))
            .collect()
    }

    /// Changes the output size: every window is cut and moved to stay fully in the usable
    /// area; maximized and fullscreen windows fill the new area (and their qubes are told).
    pub fn set_output_size(&mut self, output: Size) {
        self.output = clamp_output(output);
        let ids: Vec<WindowId> = self.windows.keys().copied().collect();
        for id in ids {
            self.fit_window(id);
        }
    }

    /// Cuts and moves one window to fit the usable area (or fill it, by its mode).
    fn fit_window(&mut self, id: WindowId) {
        let area = self.usable_area();
        let Some(w) = self.windows.get(&id) else {
            return;
        };
        let kind = w.frame_kind();
        if w.mode != WindowMode::Normal {
            self.apply_mode(id);
            return;
        }
        let size = self.clamp_size(w.size, kind);
        let style = self.style;
        if let Some(w) = self.windows.get_mut(&id) {
            w.size = size;
            if kind != FrameKind::Popup {
                w.origin = layout::clamp_content_origin(w.origin, size, area, kind, &style);
            }
        }
    }

    /// The toplevel at the root of a window's popup chain.
    fn root_of(&self, id: WindowId) -> WindowId {
        let mut cur = id;
        while let Some(p) = self.windows.get(&cur).and_then(Window::parent) {
            cur = p;
        }
        cur
    }

    /// Stack positions `start..end` of a toplevel's block (the toplevel and its popups).
    fn block(&self, root: WindowId) -> Option<std::ops::Range<usize>> {
        let start = self.stack.iter().position(|id| *id == root)?;
        let len = self.stack[start + 1..]
            .iter()
            .take_while(|id| self.root_of(**id) == root)
            .count();
        Some(start..start + 1 + len)
    }

    /// Removes a window and its popups; returns them. Focus follows the rules in
    /// [`requests`]: it passes on only if the user had asked to close the focused window,
    /// and then only to the most recently user-focused window still visible
    /// ([`Desktop::focus_history`]).
    fn remove_subtree(&mut self, id: WindowId, user_closed: bool) -> Vec<WindowId> {
        let mut gone = vec![id];
        let mut i = 0;
        while i < gone.len() {
            let parent = gone[i];
            gone.extend(
                self.windows
                    .values()
                    .filter(|w| w.parent() == Some(parent))
                    .map(|w| w.id),
            );
            i += 1;
        }
        let focus_lost = self.focus.is_some_and(|f| gone.contains(&f));
        let focus_owner = self.focused_qube();
        for g in &gone {
            let owner = self.windows.remove(g).map(|w| w.qube);
            if let Some(q) = owner.and_then(|o| self.qubes.get_mut(&o)) {
                q.window_count -= 1;
            }
        }
        self.stack.retain(|s| !gone.contains(s));
        self.focus_history.retain(|h| !gone.contains(h));
        if self.grab.is_some_and(|g| gone.contains(&g.window)) {
            self.grab = None;
        }
        if focus_lost {
            let next = if user_closed {
                self.last_user_focused()
            } else {
                None
            };
            self.set_focus(next, focus_owner);
            if let Some(f) = next {
                self.raise(f);
                self.note_user_focus(f);
            }
        }
        gone
    }

    /// The most recently user-focused toplevel that is visible now.
    fn last_user_focused(&self) -> Option<WindowId> {
        self.focus_history
            .iter()
            .rev()
            .copied()
            .find(|id| self.is_visible(*id))
    }

    /// Records that `root` (a toplevel) has focus by the user's doing: it becomes the most
    /// recent entry of the focus history.
    fn note_user_focus(&mut self, root: WindowId) {
        self.focus_history.retain(|h| *h != root);
        self.focus_history.push(root);
    }

    /// The toplevels the user focused that still exist, least recently focused first (the
    /// focused window, if any, is last). Focus never goes to a window outside this list.
    pub fn focus_history(&self) -> &[WindowId] {
        &self.focus_history
    }

    /// Moves a toplevel's block to the top of the stack.
    fn raise(&mut self, root: WindowId) {
        if let Some(range) = self.block(root) {
            let block: Vec<WindowId> = self.stack.drain(range).collect();
            self.stack.extend(block);
        }
    }
}
