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
//! - every visible frame (border and title bar) is fully on the output, and no guest content
//!   overlaps its own frame;
//! - popups sit directly above their toplevel's other windows, offset from their parent.

pub mod invariants;
pub mod layout;
pub mod requests;
pub mod user;

use std::collections::BTreeMap;

use bulkhead_border_theme::{Label, QubeName};
use serde::Serialize;

pub use invariants::InvariantViolation;
pub use layout::{FrameGeometry, FrameKind, FrameStyle, Point, Rect, Size};
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
}

impl Qube {
    /// How many windows the qube has now.
    pub fn window_count(&self) -> usize {
        self.window_count
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
    style: FrameStyle,
    qubes: BTreeMap<QubeId, Qube>,
    windows: BTreeMap<WindowId, Window>,
    /// Bottom to top. Each toplevel is followed directly by all its popups (its *block*).
    stack: Vec<WindowId>,
    focus: Option<WindowId>,
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
            style,
            qubes: BTreeMap::new(),
            windows: BTreeMap::new(),
            stack: Vec::new(),
            focus: None,
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
                    self.output,
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
        Some(layout::frame_geometry(
            content,
            w.kind.frame_kind(),
            &self.style,
        ))
    }

    /// Every visible window with its frame, bottom to top: what the renderer draws.
    pub fn visible_frames(&self) -> Vec<(&Window, FrameGeometry)> {
        self.stack
            .iter()
            .filter(|id| self.is_visible(**id))
            .filter_map(|id| Some((&self.windows[id], self.frame(*id)?)))
            .collect()
    }

    /// Changes the output size: every window is cut and moved to stay fully on it.
    pub fn set_output_size(&mut self, output: Size) {
        self.output = clamp_output(output);
        let (out, style) = (self.output, self.style);
        for w in self.windows.values_mut() {
            let kind = w.kind.frame_kind();
            w.size = layout::clamp_content_size(w.size, out, kind, &style);
            if kind == FrameKind::Toplevel {
                w.origin = layout::clamp_content_origin(w.origin, w.size, out, kind, &style);
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
    /// [`requests`]: it passes on only if the user had asked to close the focused window.
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
        if self.grab.is_some_and(|g| gone.contains(&g.window)) {
            self.grab = None;
        }
        if focus_lost {
            let next = if user_closed {
                self.topmost_toplevel()
            } else {
                None
            };
            self.set_focus(next, focus_owner);
            if let Some(f) = next {
                self.raise(f);
            }
        }
        gone
    }

    /// The topmost visible toplevel.
    fn topmost_toplevel(&self) -> Option<WindowId> {
        self.stack
            .iter()
            .rev()
            .copied()
            .find(|id| self.windows[id].parent().is_none() && self.is_visible(*id))
    }

    /// Moves a toplevel's block to the top of the stack.
    fn raise(&mut self, root: WindowId) {
        if let Some(range) = self.block(root) {
            let block: Vec<WindowId> = self.stack.drain(range).collect();
            self.stack.extend(block);
        }
    }
}
