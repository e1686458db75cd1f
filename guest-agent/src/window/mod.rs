//! The qube's windows as dom0 sees them: one per xdg_toplevel and one per xdg_popup.
//!
//! [`Windows`] maps Wayland surfaces to dom0 window ids, owns the arena allocator and every
//! window's renderer state and frame pacer. The Wayland handlers create and destroy
//! entries; [`frame`] turns dirty windows into frames for dom0.

pub mod frame;
pub mod pacing;
pub mod render;

use std::collections::{BTreeMap, BTreeSet, HashMap};

use smithay::reexports::wayland_server::Resource;
use smithay::reexports::wayland_server::backend::ObjectId;
use smithay::reexports::wayland_server::protocol::wl_callback::WlCallback;
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::wayland::shell::xdg::{PopupSurface, ToplevelSurface};

use crate::arena::ArenaAllocator;
use crate::link::{Size, WindowId};
use pacing::FramePacer;
use render::WindowRenderer;

/// Most windows one qube may have at once (the wire contract's limit).
pub const MAX_WINDOWS: usize = bulkhead_protocol::MAX_WINDOWS_PER_QUBE;

/// The xdg role behind a window.
#[derive(Debug, Clone)]
pub enum Shell {
    /// An xdg_toplevel.
    Toplevel(ToplevelSurface),
    /// An xdg_popup.
    Popup(PopupSurface),
}

impl Shell {
    /// The root surface of the window's tree.
    pub fn wl_surface(&self) -> &WlSurface {
        match self {
            Shell::Toplevel(t) => t.wl_surface(),
            Shell::Popup(p) => p.wl_surface(),
        }
    }
}

/// What the agent last told dom0 about a toplevel, to send only changes.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Announced {
    /// Last title sent.
    pub title: Option<String>,
    /// Last app id sent.
    pub app_id: Option<String>,
    /// Last size hints computed (min, max), sent or not.
    pub size_hints: Option<(Option<Size>, Option<Size>)>,
    /// Maximize and fullscreen wishes made before dom0 knew the window (clients such as
    /// `foot --fullscreen` ask before their first commit): sent right after creation.
    pub early_maximized: Option<bool>,
    /// See [`Announced::early_maximized`].
    pub early_fullscreen: Option<bool>,
}

/// One dom0 window.
#[derive(Debug)]
pub struct Window {
    /// Its dom0 id.
    pub id: WindowId,
    /// Toplevel or popup.
    pub shell: Shell,
    /// Its size, scale and damage history, once it has a size.
    pub renderer: Option<WindowRenderer>,
    /// Its buffers in the arena and in-flight frame.
    pub pacer: FramePacer,
    /// dom0 knows the window (`CreateWindow` sent, no `Destroy` since).
    pub created: bool,
    /// dom0 was told to show it.
    pub mapped: bool,
    /// Frame callbacks of the frame in flight: sent at dom0's frame-done.
    pub callbacks: Vec<WlCallback>,
    /// What dom0 already knows.
    pub announced: Announced,
}

/// Every window of the qube.
#[derive(Debug)]
pub struct Windows {
    by_id: BTreeMap<WindowId, Window>,
    /// Windows that changed since their last render.
    dirty: BTreeSet<WindowId>,
    /// The popups among the windows.
    popups: BTreeSet<WindowId>,
    by_surface: HashMap<ObjectId, WindowId>,
    last_id: u32,
    /// The arena's free space.
    pub arena: ArenaAllocator,
}

impl Windows {
    /// No windows, over an arena of `arena_len` bytes.
    pub fn new(arena_len: u64) -> Self {
        Windows {
            by_id: BTreeMap::new(),
            dirty: BTreeSet::new(),
            popups: BTreeSet::new(),
            by_surface: HashMap::new(),
            last_id: 0,
            arena: ArenaAllocator::new(arena_len),
        }
    }

    /// Registers a window for `shell`; `None` if the qube has [`MAX_WINDOWS`] already.
    ///
    /// Ids count up and skip live ones, so a recently destroyed id is not reused soon
    /// (stale dom0 events for it then match nothing).
    pub fn insert(&mut self, shell: Shell) -> Option<WindowId> {
        if self.by_id.len() >= MAX_WINDOWS {
            return None;
        }
        let id = loop {
            self.last_id = self.last_id.checked_add(1).unwrap_or(1);
            if let Some(id) = WindowId::new(self.last_id) {
                if !self.by_id.contains_key(&id) {
                    break id;
                }
            }
        };
        self.by_surface.insert(shell.wl_surface().id(), id);
        if matches!(shell, Shell::Popup(_)) {
            self.popups.insert(id);
        }
        self.by_id.insert(
            id,
            Window {
                id,
                shell,
                renderer: None,
                pacer: FramePacer::new(),
                created: false,
                mapped: false,
                callbacks: Vec::new(),
                announced: Announced::default(),
            },
        );
        Some(id)
    }

    /// dom0 forgot the window (after `Destroy`) but the surface lives on: its buffers are
    /// free again and the next frame creates it anew (a repositioned popup).
    pub fn forget_in_dom0(&mut self, id: WindowId) {
        if let Some(window) = self.by_id.get_mut(&id) {
            window.pacer.release(&mut self.arena);
            window.created = false;
            window.mapped = false;
            window.renderer = None;
            window.announced = Announced::default();
            self.dirty.insert(id);
        }
    }

    /// Forgets a window and frees its buffers. The caller tells dom0 first.
    pub fn remove(&mut self, id: WindowId) -> Option<Window> {
        self.dirty.remove(&id);
        self.popups.remove(&id);
        let mut window = self.by_id.remove(&id)?;
        self.by_surface.remove(&window.shell.wl_surface().id());
        window.pacer.release(&mut self.arena);
        Some(window)
    }

    /// The window whose root surface is `surface`.
    pub fn id_of(&self, surface: &WlSurface) -> Option<WindowId> {
        self.by_surface.get(&surface.id()).copied()
    }

    /// A window by id.
    pub fn get(&self, id: WindowId) -> Option<&Window> {
        self.by_id.get(&id)
    }

    /// A window by id, mutably.
    pub fn get_mut(&mut self, id: WindowId) -> Option<&mut Window> {
        self.by_id.get_mut(&id)
    }

    /// Window and allocator together (for starting a frame).
    pub fn get_with_arena(&mut self, id: WindowId) -> Option<(&mut Window, &mut ArenaAllocator)> {
        self.by_id.get_mut(&id).map(|w| (w, &mut self.arena))
    }

    /// Every window id, in id order.
    pub fn ids(&self) -> Vec<WindowId> {
        self.by_id.keys().copied().collect()
    }

    /// The popups whose parent surface is `parent`.
    pub fn popups_of(&self, parent: &WlSurface) -> Vec<PopupSurface> {
        self.popups
            .iter()
            .filter_map(|id| match &self.by_id.get(id)?.shell {
                Shell::Popup(popup) if popup.get_parent_surface().as_ref() == Some(parent) => {
                    Some(popup.clone())
                }
                _ => None,
            })
            .collect()
    }

    /// Notes that window `id` changed and needs a render.
    pub fn mark_dirty(&mut self, id: WindowId) {
        if self.by_id.contains_key(&id) {
            self.dirty.insert(id);
        }
    }

    /// Notes that every window needs a render (the output changed).
    pub fn mark_all_dirty(&mut self) {
        self.dirty.extend(self.by_id.keys().copied());
    }

    /// True if window `id` waits for a render.
    pub fn is_dirty(&self, id: WindowId) -> bool {
        self.dirty.contains(&id)
    }

    /// The changed windows that may be drawn now (no frame in flight), no longer marked.
    pub fn take_due(&mut self) -> Vec<WindowId> {
        let due: Vec<WindowId> = self
            .dirty
            .iter()
            .copied()
            .filter(|id| self.by_id.get(id).is_some_and(|w| w.pacer.ready()))
            .collect();
        for id in &due {
            self.dirty.remove(id);
        }
        due
    }

    /// Number of windows.
    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    /// True if there is no window.
    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }
}
