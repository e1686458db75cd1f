//! Property tests: random sequences of qube requests and user actions over several qubes,
//! windows, labels, window policies and output sizes; after every step the model's
//! invariants hold (among them: no guest frame enters dom0's reserved strip, every popup is
//! at most 90% of each output side, fullscreen only where the policy allows it), and the
//! security rules about focus and stacking are checked against the step that was taken:
//! among them, focus only ever lands on a window the user focused by an explicit action on
//! it (click, Super+drag, the focus shortcut), also when the user closes the focused window.

use std::collections::BTreeSet;

use bulkhead_border_theme::{Label, QubeName};
use bulkhead_compositor::desktop::{
    ClickOutcome, Desktop, FrameStyle, ModelEvent, POPUP_MAX_PERCENT, Point, QubeId, QubeRequest,
    Size, SizeHints, WindowId, WindowMode,
};
use proptest::prelude::*;

const QUBES: usize = 3;

/// One step: a qube's request (naming windows by index into the windows created so far, so
/// requests also hit other qubes' and destroyed windows), or a user action.
#[derive(Debug, Clone)]
enum Op {
    CreateToplevel {
        qube: usize,
        w: i32,
        h: i32,
    },
    /// A qube opens a window: creates a toplevel and maps it at once (what a client does).
    OpenWindow {
        qube: usize,
        w: i32,
        h: i32,
    },
    CreatePopup {
        qube: usize,
        parent: usize,
        x: i32,
        y: i32,
        w: i32,
        h: i32,
    },
    Map {
        qube: usize,
        window: usize,
    },
    Unmap {
        qube: usize,
        window: usize,
    },
    Destroy {
        qube: usize,
        window: usize,
    },
    Resize {
        qube: usize,
        window: usize,
        w: i32,
        h: i32,
    },
    SetTitle {
        qube: usize,
        window: usize,
        title: String,
    },
    Hints {
        qube: usize,
        window: usize,
        min: i32,
        max: i32,
    },
    Click {
        x: i32,
        y: i32,
    },
    Drag {
        x: i32,
        y: i32,
        dx: i32,
        dy: i32,
    },
    FocusNext,
    Close {
        window: usize,
    },
    /// dom0's close shortcut: closes the focused window (its qube obeys).
    CloseFocused,
    SetLabel {
        qube: usize,
        label: usize,
    },
    OutputSize {
        w: i32,
        h: i32,
    },
    RemoveQube {
        qube: usize,
    },
    Maximize {
        qube: usize,
        window: usize,
        on: bool,
    },
    Fullscreen {
        qube: usize,
        window: usize,
        on: bool,
    },
    /// dom0's window policy for a qube changes.
    Policy {
        qube: usize,
        allow_fullscreen: bool,
    },
}

fn side() -> impl Strategy<Value = i32> {
    prop_oneof![1..2000i32, Just(0), Just(-5), Just(20_000), Just(16384)]
}

fn coord() -> impl Strategy<Value = i32> {
    prop_oneof![-100..1400i32, Just(i32::MIN), Just(i32::MAX)]
}

fn op() -> impl Strategy<Value = Op> {
    let q = 0..QUBES;
    let win = 0..40usize;
    prop_oneof![
        4 => (q.clone(), side(), side()).prop_map(|(qube, w, h)| Op::CreateToplevel { qube, w, h }),
        3 => (q.clone(), 1..900i32, 1..700i32).prop_map(|(qube, w, h)| Op::OpenWindow { qube, w, h }),
        3 => (q.clone(), win.clone(), coord(), coord(), side(), side())
            .prop_map(|(qube, parent, x, y, w, h)| Op::CreatePopup { qube, parent, x, y, w, h }),
        4 => (q.clone(), win.clone()).prop_map(|(qube, window)| Op::Map { qube, window }),
        1 => (q.clone(), win.clone()).prop_map(|(qube, window)| Op::Unmap { qube, window }),
        1 => (q.clone(), win.clone()).prop_map(|(qube, window)| Op::Destroy { qube, window }),
        1 => (q.clone(), win.clone(), side(), side())
            .prop_map(|(qube, window, w, h)| Op::Resize { qube, window, w, h }),
        1 => (q.clone(), win.clone(), "\\PC{0,20}")
            .prop_map(|(qube, window, title)| Op::SetTitle { qube, window, title }),
        1 => (q.clone(), win.clone(), side(), side())
            .prop_map(|(qube, window, min, max)| Op::Hints { qube, window, min, max }),
        3 => (coord(), coord()).prop_map(|(x, y)| Op::Click { x, y }),
        2 => (coord(), coord(), coord(), coord()).prop_map(|(x, y, dx, dy)| Op::Drag { x, y, dx, dy }),
        1 => Just(Op::FocusNext),
        1 => win.clone().prop_map(|window| Op::Close { window }),
        2 => Just(Op::CloseFocused),
        1 => (q.clone(), 0..8usize).prop_map(|(qube, label)| Op::SetLabel { qube, label }),
        1 => (-10..2000i32, -10..1500i32).prop_map(|(w, h)| Op::OutputSize { w, h }),
        1 => q.clone().prop_map(|qube| Op::RemoveQube { qube }),
        2 => (q.clone(), win.clone(), any::<bool>())
            .prop_map(|(qube, window, on)| Op::Maximize { qube, window, on }),
        3 => (q.clone(), win, any::<bool>())
            .prop_map(|(qube, window, on)| Op::Fullscreen { qube, window, on }),
        1 => (q, any::<bool>())
            .prop_map(|(qube, allow_fullscreen)| Op::Policy { qube, allow_fullscreen }),
    ]
}

impl Op {
    /// Whether the step is a qube's request (not the user's or dom0's doing).
    fn is_request(&self) -> bool {
        matches!(
            self,
            Op::CreateToplevel { .. }
                | Op::OpenWindow { .. }
                | Op::CreatePopup { .. }
                | Op::Map { .. }
                | Op::Unmap { .. }
                | Op::Destroy { .. }
                | Op::Resize { .. }
                | Op::SetTitle { .. }
                | Op::Hints { .. }
                | Op::Maximize { .. }
                | Op::Fullscreen { .. }
        )
    }
}

struct World {
    d: Desktop,
    qubes: Vec<QubeId>,
    windows: Vec<WindowId>,
    /// The toplevels the user focused by an explicit action on them, ever.
    user_focused: BTreeSet<WindowId>,
}

impl World {
    fn new(style: FrameStyle) -> World {
        let mut d = Desktop::new(Size::new(1280, 800), style);
        let qubes = ["work", "personal", "untrusted"]
            .iter()
            .zip([Label::Blue, Label::Green, Label::Red])
            .map(|(n, l)| d.add_qube(QubeName::new(n).unwrap(), l).unwrap())
            .collect();
        World {
            d,
            qubes,
            windows: Vec::new(),
            user_focused: BTreeSet::new(),
        }
    }

    fn win(&self, i: usize) -> WindowId {
        // Past the end: a handle that never existed.
        self.windows
            .get(i)
            .copied()
            .unwrap_or(WindowId(u64::MAX - i as u64))
    }

    fn request(&mut self, qube: usize, req: QubeRequest) {
        let focus = self.d.focused();
        let order: Vec<WindowId> = self.d.stack().map(|w| w.id()).collect();
        let q = self.qubes[qube];
        let owned = |d: &Desktop, id: WindowId| d.window(id).is_some_and(|w| w.qube() == q);
        let target = match &req {
            QubeRequest::CreatePopup { parent, .. } => Some(*parent),
            QubeRequest::Map { window }
            | QubeRequest::Unmap { window }
            | QubeRequest::Destroy { window }
            | QubeRequest::Resize { window, .. }
            | QubeRequest::SetTitle { window, .. }
            | QubeRequest::SetAppId { window, .. }
            | QubeRequest::SizeHints { window, .. }
            | QubeRequest::SetMaximized { window, .. }
            | QubeRequest::SetFullscreen { window, .. } => Some(*window),
            QubeRequest::CreateToplevel { .. } => None,
        };
        let was_owned = target.is_none_or(|t| owned(&self.d, t));
        let before = self.d.clone();
        let result = self.d.apply(q, req);
        if let Ok(bulkhead_compositor::desktop::RequestOutcome::Created(id)) = result {
            self.windows.push(id);
        }
        if !was_owned {
            // A request about someone else's (or no) window changes nothing at all.
            assert!(result.is_err());
            assert_eq!(format!("{:?}", before), format!("{:?}", self.d));
        }
        // A request never gives focus, and never moves a window above the focused one.
        let now = self.d.focused();
        assert!(
            now.is_none() || now == focus,
            "a request moved focus {focus:?} -> {now:?}"
        );
        if let Some(f) = now {
            assert!(order.contains(&f), "focus moved to a new window");
            let new_above: Vec<WindowId> = self
                .d
                .stack()
                .map(|w| w.id())
                .skip_while(|w| *w != f)
                .skip(1)
                .collect();
            for w in new_above {
                assert_eq!(
                    self.d.window(w).unwrap().qube(),
                    self.d.window(f).unwrap().qube()
                );
            }
        }
    }

    fn step(&mut self, op: Op) {
        match op {
            Op::CreateToplevel { qube, w, h } => self.request(
                qube,
                QubeRequest::CreateToplevel {
                    size: Size::new(w, h),
                },
            ),
            Op::OpenWindow { qube, w, h } => {
                let known = self.windows.len();
                self.request(
                    qube,
                    QubeRequest::CreateToplevel {
                        size: Size::new(w, h),
                    },
                );
                if let Some(&window) = self.windows.get(known) {
                    self.request(qube, QubeRequest::Map { window });
                }
            }
            Op::CreatePopup {
                qube,
                parent,
                x,
                y,
                w,
                h,
            } => {
                let parent = self.win(parent);
                self.request(
                    qube,
                    QubeRequest::CreatePopup {
                        parent,
                        offset: Point::new(x, y),
                        size: Size::new(w, h),
                    },
                )
            }
            Op::Map { qube, window } => {
                let window = self.win(window);
                self.request(qube, QubeRequest::Map { window })
            }
            Op::Unmap { qube, window } => {
                let window = self.win(window);
                self.request(qube, QubeRequest::Unmap { window })
            }
            Op::Destroy { qube, window } => {
                let window = self.win(window);
                self.request(qube, QubeRequest::Destroy { window })
            }
            Op::Resize { qube, window, w, h } => {
                let window = self.win(window);
                self.request(
                    qube,
                    QubeRequest::Resize {
                        window,
                        size: Size::new(w, h),
                    },
                )
            }
            Op::SetTitle {
                qube,
                window,
                title,
            } => {
                let window = self.win(window);
                self.request(qube, QubeRequest::SetTitle { window, title })
            }
            Op::Hints {
                qube,
                window,
                min,
                max,
            } => {
                let window = self.win(window);
                let hints = SizeHints {
                    min: Some(Size::new(min, min)),
                    max: Some(Size::new(max, max)),
                };
                self.request(qube, QubeRequest::SizeHints { window, hints })
            }
            Op::Click { x, y } => {
                if let ClickOutcome::Window { focused, .. } = self.d.click(Point::new(x, y)) {
                    self.user_focused.insert(focused);
                }
            }
            Op::Drag { x, y, dx, dy } => {
                if let Some(moved) = self.d.begin_move(Point::new(x, y)) {
                    self.user_focused.insert(moved);
                    self.d
                        .update_move(Point::new(x.saturating_add(dx), y.saturating_add(dy)));
                    self.d.verify_invariants().unwrap();
                    self.d.end_move();
                }
            }
            Op::FocusNext => {
                self.user_focused.extend(self.d.focus_next());
            }
            Op::Close { window } => {
                let w = self.win(window);
                if let Some(req) = self.d.request_close(w) {
                    // The qube obeys.
                    self.d.destroy(req.qube, req.window).unwrap();
                }
            }
            Op::CloseFocused => {
                if let Some(req) = self.d.focused().and_then(|f| self.d.request_close(f)) {
                    self.d.destroy(req.qube, req.window).unwrap();
                }
            }
            Op::SetLabel { qube, label } => {
                self.d.set_qube_label(self.qubes[qube], Label::ALL[label]);
            }
            Op::OutputSize { w, h } => self.d.set_output_size(Size::new(w, h)),
            Op::Maximize { qube, window, on } => {
                let window = self.win(window);
                self.request(qube, QubeRequest::SetMaximized { window, on })
            }
            Op::Fullscreen { qube, window, on } => {
                let window = self.win(window);
                self.request(qube, QubeRequest::SetFullscreen { window, on })
            }
            Op::Policy {
                qube,
                allow_fullscreen,
            } => {
                assert!(
                    self.d
                        .set_fullscreen_allowed(self.qubes[qube], allow_fullscreen)
                );
            }
            Op::RemoveQube { qube } => {
                let q = self.qubes[qube];
                self.d.remove_qube(q);
                // dom0 declares it again (a restarted qube), with a new handle.
                let name = ["work", "personal", "untrusted"][qube];
                self.qubes[qube] = self
                    .d
                    .add_qube(QubeName::new(name).unwrap(), Label::Red)
                    .unwrap();
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn invariants_hold_after_every_step(
        ops in proptest::collection::vec(op(), 1..80),
        (border, popup_border, title_height, min_title_width)
            in (1..=32i32, 1..=32i32, 12..=96i32, 0..=200i32),
    ) {
        let style = FrameStyle {
            border,
            popup_border,
            title_height,
            min_title_width,
            fullscreen_strip: title_height / 2,
        };
        let mut world = World::new(style);
        let mut focus = None;
        for op in ops {
            let by_qube = op.is_request();
            world.step(op);
            // The events tell the focus story exactly, and a qube's request can only ever
            // take focus away.
            for event in world.d.take_events() {
                match event {
                    ModelEvent::Focus { from, to } => {
                        prop_assert_eq!(from.map(|(_, w)| w), focus);
                        prop_assert!(!by_qube || to.is_none(), "a request gave focus");
                        focus = to.map(|(_, w)| w);
                    }
                    // dom0 tells only the owner, and the size it tells is the one it shows.
                    ModelEvent::Configure { qube, window, size, mode } => {
                        if let Some(w) = world.d.window(window) {
                            prop_assert_eq!(w.qube(), qube);
                            prop_assert!(w.parent().is_none(), "configure for a popup");
                            if w.mode() == mode {
                                prop_assert_eq!(w.size(), size);
                            }
                        }
                    }
                    ModelEvent::Close(_) => {}
                }
            }
            prop_assert_eq!(focus, world.d.focused());
            // Focus only ever lands on a window the user focused by an explicit action on it
            // (a window a qube opened never inherits it, e.g. when the user closes another).
            if let Some(f) = focus {
                prop_assert!(
                    world.user_focused.contains(&f),
                    "focus on {:?}, which the user never focused", f
                );
            }
            if let Err(e) = world.d.verify_invariants() {
                return Err(TestCaseError::fail(e.to_string()));
            }
            // Every visible window has exactly one qube and so one border colour, stays out
            // of dom0's strip, and popups stay within 90% of each output side.
            let reserved = world.d.reserved_area();
            let output = world.d.output();
            for (w, frame) in world.d.visible_frames() {
                prop_assert_eq!(world.d.qubes().filter(|(q, _)| *q == w.qube()).count(), 1);
                let label = world.d.label_of(w.id());
                prop_assert_eq!(label, world.d.qube(w.qube()).map(|q| q.label));
                prop_assert!(!frame.outer.overlaps(&reserved), "{:?} over dom0's strip", w.id());
                if w.parent().is_some() {
                    prop_assert!(
                        frame.content.w * 100 <= output.w * POPUP_MAX_PERCENT
                            && frame.content.h * 100 <= output.h * POPUP_MAX_PERCENT
                    );
                }
                if w.mode() == WindowMode::Fullscreen {
                    prop_assert!(world.d.qube(w.qube()).unwrap().allows_fullscreen());
                    prop_assert!(frame.title_bar.is_some(), "fullscreen without a label strip");
                }
            }
        }
    }
}
