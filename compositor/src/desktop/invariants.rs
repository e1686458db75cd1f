//! The model's safety invariants as one checkable function, used by the unit and property
//! tests (and cheap enough for debug assertions).

use std::collections::{BTreeMap, BTreeSet};

use super::layout::FrameKind;
use super::{
    Desktop, MAX_POPUP_DEPTH, MAX_WINDOWS_PER_QUBE, POPUP_MAX_PERCENT, QubeId, WindowId,
    WindowKind, WindowMode,
};

/// A broken invariant, described for a test failure.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invariant broken: {0}")]
pub struct InvariantViolation(pub String);

macro_rules! ensure {
    ($cond:expr, $($fmt:tt)+) => {
        if !$cond {
            return Err(InvariantViolation(format!($($fmt)+)));
        }
    };
}

impl Desktop {
    /// Checks every invariant of the model (see the module docs of [`crate::desktop`]).
    pub fn verify_invariants(&self) -> Result<(), InvariantViolation> {
        let output = self.output_rect();
        let usable = self.usable_area();
        let reserved = self.reserved_area();
        ensure!(
            output.contains_rect(&usable) && !usable.overlaps(&reserved) && !usable.is_empty(),
            "usable area {usable:?} is not the output minus dom0's strip {reserved:?}"
        );

        // The stack holds every window exactly once.
        let in_stack: BTreeSet<WindowId> = self.stack.iter().copied().collect();
        ensure!(
            in_stack.len() == self.stack.len(),
            "a window is stacked twice"
        );
        let known: BTreeSet<WindowId> = self.windows.keys().copied().collect();
        ensure!(in_stack == known, "stack and window table differ");

        let mut counts: BTreeMap<QubeId, usize> = BTreeMap::new();
        for (pos, id) in self.stack.iter().enumerate() {
            let w = &self.windows[id];
            ensure!(w.id == *id, "{id:?} filed under the wrong handle");
            // Exactly one qube, hence exactly one label (the qube's).
            ensure!(
                self.qubes.contains_key(&w.qube),
                "{id:?} belongs to no known qube"
            );
            ensure!(self.label_of(*id).is_some(), "{id:?} has no border colour");
            *counts.entry(w.qube).or_default() += 1;

            if let WindowKind::Popup { parent, .. } = w.kind {
                let p = self.windows.get(&parent);
                ensure!(p.is_some(), "popup {id:?} outlived its parent");
                ensure!(
                    p.is_some_and(|p| p.qube == w.qube),
                    "popup {id:?} hangs off another qube"
                );
                // Popups sit inside their toplevel's block, above the parent.
                let root = self.root_of(*id);
                let block = self.block(root);
                ensure!(
                    block.as_ref().is_some_and(|b| b.contains(&pos)),
                    "popup {id:?} outside its block"
                );
                let ppos = self.stack.iter().position(|s| *s == parent);
                ensure!(
                    ppos.is_some_and(|pp| pp < pos),
                    "popup {id:?} below its parent"
                );
                let mut depth = 0;
                let mut cur = *id;
                while let Some(p) = self.windows.get(&cur).and_then(|w| w.parent()) {
                    depth += 1;
                    cur = p;
                    ensure!(
                        depth <= MAX_POPUP_DEPTH,
                        "popup chain of {id:?} too deep (or a cycle)"
                    );
                }
            }

            let Some(f) = self.frame(*id) else {
                return Err(InvariantViolation(format!("{id:?} has no frame")));
            };
            ensure!(
                f.content.w >= 1 && f.content.h >= 1,
                "{id:?} has empty content"
            );
            for d in f.decorations() {
                ensure!(
                    !d.overlaps(&f.content),
                    "{id:?}: content overlaps its own frame {d:?}"
                );
                ensure!(
                    f.outer.contains_rect(&d),
                    "{id:?}: frame piece outside the window"
                );
            }
            ensure!(
                f.outer.contains_rect(&f.content),
                "{id:?}: content outside its window"
            );
            ensure!(
                w.frame_kind().has_title_bar() == f.title_bar.is_some(),
                "{id:?}: title bar on a popup or missing on a toplevel"
            );
            ensure!(
                (w.frame_kind() == FrameKind::Popup) == w.parent().is_some(),
                "{id:?}: popup frame on a toplevel or toplevel frame on a popup"
            );
            // Every frame, toplevel or popup, visible or not, is fully on the output and
            // never over dom0's own strip.
            ensure!(
                usable.contains_rect(&f.outer) && !f.outer.overlaps(&reserved),
                "{id:?}: frame {:?} leaves the usable area {usable:?}",
                f.outer
            );
            // Popups cover at most POPUP_MAX_PERCENT of each side of the output.
            if w.parent().is_some() {
                let pct = |v: i32| i64::from(v) * i64::from(POPUP_MAX_PERCENT) / 100;
                ensure!(
                    i64::from(f.content.w) <= pct(output.w)
                        && i64::from(f.content.h) <= pct(output.h),
                    "popup {id:?} of {:?} is over {POPUP_MAX_PERCENT}% of the output",
                    f.content.size()
                );
            }
            // Fullscreen only by policy, modes only on toplevels, filling the usable area.
            let allowed = self.qubes.get(&w.qube).is_some_and(|q| q.allow_fullscreen);
            ensure!(
                w.mode != WindowMode::Fullscreen || allowed,
                "{id:?} is fullscreen against its qube's policy"
            );
            ensure!(
                w.mode == WindowMode::Normal || w.parent().is_none(),
                "popup {id:?} is {}",
                w.mode
            );
            ensure!(
                (w.mode == WindowMode::Normal) == w.restore.is_none(),
                "{id:?}: restore geometry kept by a {} window",
                w.mode
            );
            if let Some(fill) = self.mode_area(*id) {
                ensure!(
                    f.content.loc() == fill.loc() && fill.contains_rect(&f.content),
                    "{} window {id:?} at {:?}, not in {fill:?}",
                    w.mode,
                    f.content
                );
            }
        }
        for (qube, q) in &self.qubes {
            let n = counts.get(qube).copied().unwrap_or(0);
            ensure!(
                q.window_count == n,
                "{qube:?} counts {} windows, has {n}",
                q.window_count
            );
            ensure!(n <= MAX_WINDOWS_PER_QUBE, "{qube:?} has {n} windows");
        }
        for (a, qa) in &self.qubes {
            for (b, qb) in &self.qubes {
                ensure!(a == b || qa.name != qb.name, "two qubes named {}", qa.name);
            }
        }

        // The focus history: existing toplevels, each once.
        let mut seen = BTreeSet::new();
        for h in &self.focus_history {
            ensure!(seen.insert(*h), "{h:?} twice in the focus history");
            ensure!(
                self.windows.get(h).is_some_and(|w| w.parent().is_none()),
                "focus history holds {h:?}, which is not an existing toplevel"
            );
        }
        // Focus: at most one window (an Option), a visible toplevel the user focused (the
        // latest entry of the history), covered only by its own popups.
        if let Some(f) = self.focus {
            ensure!(
                self.focus_history.last() == Some(&f),
                "focus on {f:?}, which is not the window the user focused last"
            );
            let w = self.windows.get(&f);
            ensure!(w.is_some(), "focus on a missing window");
            ensure!(w.is_some_and(|w| w.parent().is_none()), "focus on a popup");
            ensure!(self.is_visible(f), "focus on a hidden window");
            let block = self.block(f);
            ensure!(
                block.is_some_and(|b| b.end == self.stack.len()),
                "a window the user did not raise is above the focused one"
            );
        }
        if let Some(g) = self.grab {
            ensure!(self.is_visible(g.window), "moving a hidden window");
        }
        Ok(())
    }
}
