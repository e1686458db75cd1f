//! The compositor's state, split like niri's: the backend and everything else (`Dom0`) borrow
//! separately.

use std::time::Instant;

use bulkhead_border_theme::{Label, QubeName, Theme};

use crate::backend::Backend;
use crate::clipboard::Clipboard;
use crate::control::server::{ControlHandler, Reply};
use crate::control::{self, Request, Response, ScreenshotInfo};
use crate::desktop::{
    Desktop, DuplicateQube, FrameStyle, ModelEvent, QubeId, QubeRequest, Rect, RequestError,
    RequestOutcome, Size, WindowId,
};
use crate::input::InputState;
use crate::input::keyboard::Keyboard;
use crate::notice::Notices;
use crate::qube::{QubeLinks, Violation};
use crate::render::Scene;
use crate::render::content::{ContentError, FrameSource, WindowContent};
use crate::render::text::TitleFont;
use crate::window_policy::WindowPolicy;

/// Everything the event loop drives.
#[derive(Debug)]
pub struct State {
    /// Where frames go.
    pub backend: Backend,
    /// The model and what is drawn from it.
    pub dom0: Dom0,
    /// The qubes' connections.
    pub qubes: QubeLinks,
}

/// dom0's model, theme and render caches (everything but the backend).
#[derive(Debug)]
pub struct Dom0 {
    /// Qubes, windows, stacking, focus.
    pub desktop: Desktop,
    /// Label colours and frame sizes.
    pub theme: Theme,
    /// Window contents, title textures and per-window render state.
    pub scene: Scene,
    /// Pointer position and held modifiers.
    pub input: InputState,
    /// dom0's keymap and modifier state (`None` if no keymap compiled: keys still go to
    /// qubes, with the qubes' default keymap and no modifier masks).
    pub keyboard: Option<Keyboard>,
    /// The mediated clipboard.
    pub clipboard: Clipboard,
    /// The window policy loaded at startup (`--window-policy`), kept for qubes declared
    /// later: [`Dom0::add_qube`] gives each its entry.
    window_policy: WindowPolicy,
    /// dom0's notices on screen.
    pub notices: Notices,
    /// A timer runs to fade the notices.
    pub notice_timer: bool,
    /// The epoch of the millisecond times sent with input events.
    pub epoch: Instant,
    /// Something changed since the last frame.
    pub needs_redraw: bool,
    /// Stops the event loop (Ctrl+Alt+Backspace); `None` in tests without a loop.
    pub stop: Option<calloop::LoopSignal>,
}

impl Dom0 {
    /// A desktop the size of `backend`'s output.
    pub fn new(backend: &Backend, theme: Theme, font: TitleFont, host_agents: bool) -> Dom0 {
        let desktop = Desktop::new(backend.size(), FrameStyle::from_theme(&theme));
        Dom0 {
            desktop,
            theme,
            scene: Scene::new(font, host_agents),
            input: InputState::default(),
            keyboard: Keyboard::from_env()
                .inspect_err(|e| tracing::error!(error = %e, "no keymap: qubes keep their own"))
                .ok(),
            clipboard: Clipboard::default(),
            window_policy: WindowPolicy::default(),
            notices: Notices::default(),
            notice_timer: false,
            epoch: Instant::now(),
            needs_redraw: true,
            stop: None,
        }
    }

    /// Milliseconds since the compositor started (input event times; wraps after 49 days).
    pub fn now_ms(&self) -> u32 {
        #[allow(
            clippy::cast_possible_truncation,
            reason = "event times wrap, as wl_pointer's do"
        )]
        let ms = self.epoch.elapsed().as_millis() as u32;
        ms
    }

    /// Declares a qube (from `--qube` or the control socket's `add-qube`) with its entry of
    /// the window policy.
    pub fn add_qube(&mut self, name: QubeName, label: Label) -> Result<QubeId, DuplicateQube> {
        let qube = self.desktop.add_qube(name, label)?;
        self.window_policy.apply_to(&mut self.desktop, qube);
        Ok(qube)
    }

    /// Sets the window policy: the qubes known now get their entries at once, qubes
    /// declared later when they are added.
    pub fn set_window_policy(&mut self, policy: WindowPolicy) {
        policy.apply(&mut self.desktop);
        self.window_policy = policy;
        self.needs_redraw = true;
    }

    /// A qube's name, for notices.
    pub fn qube_name(&self, qube: QubeId) -> String {
        self.desktop
            .qube(qube)
            .map_or_else(|| "?".to_owned(), |q| q.name.to_string())
    }

    /// Drops the render state of windows that are gone.
    pub fn windows_gone(&mut self, gone: &[WindowId]) {
        self.scene.forget(gone);
        self.needs_redraw = true;
    }

    /// Applies one validated request from `qube` (the connection handler's entry point for
    /// everything but pixels).
    pub fn apply(
        &mut self,
        qube: QubeId,
        request: QubeRequest,
    ) -> Result<RequestOutcome, RequestError> {
        let outcome = self.desktop.apply(qube, request)?;
        if let RequestOutcome::Destroyed(gone) = &outcome {
            self.scene.forget(gone);
        }
        self.needs_redraw = true;
        Ok(outcome)
    }

    /// A new frame of `window` from `qube`: the damaged rectangles of `pixels` are taken (all
    /// of it when the size changed, which also resizes the window). Returns the window's
    /// content size after the frame (cut to fit the output).
    pub fn commit_frame(
        &mut self,
        qube: QubeId,
        window: WindowId,
        pixels: impl FrameSource,
        damage: &[Rect],
    ) -> Result<Size, FrameError> {
        if !self.desktop.owns(qube, window) {
            return Err(RequestError::UnknownWindow(window).into());
        }
        pixels.validate()?;
        let size = self.desktop.resize(qube, window, pixels.size())?;
        match self.scene.content_mut(window) {
            Some(content) => content.update(pixels, damage)?,
            None => self.scene.set_content(window, WindowContent::new(pixels)?),
        }
        self.needs_redraw = true;
        Ok(size)
    }

    /// Forgets a qube dom0 no longer knows, with all its windows.
    pub fn qube_gone(&mut self, qube: QubeId) {
        let gone = self.desktop.remove_qube(qube);
        self.windows_gone(&gone);
    }

    /// A qube's connection is gone: its windows go, the qube stays known.
    pub fn qube_disconnected(&mut self, qube: QubeId) {
        let gone = self.desktop.clear_qube(qube);
        self.windows_gone(&gone);
    }
}

/// A frame was refused (the qube's fault: log at `warn!`).
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// Not the qube's window, or a bad size.
    #[error(transparent)]
    Request(#[from] RequestError),
    /// The pixels do not match their declared size.
    #[error(transparent)]
    Content(#[from] ContentError),
}

impl State {
    /// Runs after every event-loop dispatch: hands the model's events (focus, close) to
    /// the qubes, draws a frame if anything changed, then acknowledges the qubes' frames
    /// it drew.
    pub fn after_dispatch(&mut self) {
        let events = self.dom0.desktop.take_events();
        if !events.is_empty() {
            self.dom0.needs_redraw = true;
        }
        let broken = self.qubes.deliver(&events);
        self.disconnect_all(broken);
        // The qube that got focus learns the modifiers held now.
        let mods = self.dom0.keyboard.as_ref().map(Keyboard::mods);
        for event in &events {
            if let (
                ModelEvent::Focus {
                    to: Some((qube, _)),
                    ..
                },
                Some(m),
            ) = (event, mods)
            {
                let sent = self
                    .qubes
                    .send(*qube, &crate::input::shell::modifiers_message(m));
                self.disconnect_all(sent.err().map(|v| (*qube, v)).into_iter().collect());
            }
        }
        // Windows came, went or moved under a still pointer.
        let effects =
            crate::input::route::pointer_refresh(&self.dom0.desktop, &mut self.dom0.input);
        self.apply_effects(effects);
        // The pointer's shape follows the window that has it (dom0's arrow by default).
        if self.backend.set_cursor(self.dom0.input.cursor()) {
            self.dom0.needs_redraw = true;
        }
        self.arm_notice_timer();
        self.redraw_if_needed();
        self.present_frames();
    }

    /// Acknowledges the frames drawn since the last refresh, at most once per refresh
    /// interval, so animating clients are paced as by a display's vblank instead of
    /// spinning dom0 and themselves (the headless backend has no vblank of its own).
    fn present_frames(&mut self) {
        if self.qubes.present_armed || !self.qubes.has_pending_frames() {
            return;
        }
        let now = Instant::now();
        let due = self
            .qubes
            .last_present
            .map_or(now, |t| t + self.qubes.refresh_interval);
        if due <= now {
            // On a fixed grid, as a display's vblank: the timer's wake-up latency does not
            // add up from one refresh to the next. After an idle spell of more than one
            // interval the grid restarts now.
            let late = now.duration_since(due);
            self.qubes.last_present = Some(if late < self.qubes.refresh_interval {
                due
            } else {
                now
            });
            let broken = self.qubes.frames_presented();
            self.disconnect_all(broken);
            return;
        }
        let Some(handle) = self.qubes.handle.clone() else {
            return;
        };
        use smithay::reexports::calloop::timer::{TimeoutAction, Timer};
        // The timer's own dispatch ends in `after_dispatch`, which presents.
        let armed = handle.insert_source(Timer::from_deadline(due), |_, _, state: &mut State| {
            state.qubes.present_armed = false;
            TimeoutAction::Drop
        });
        self.qubes.present_armed = armed.is_ok();
    }

    pub(crate) fn disconnect_all(&mut self, broken: Vec<(QubeId, Violation)>) {
        for (qube, reason) in broken {
            self.disconnect(qube, &reason);
        }
    }

    /// Draws a frame if anything changed.
    pub fn redraw_if_needed(&mut self) {
        if !self.dom0.needs_redraw {
            return;
        }
        self.dom0.needs_redraw = false;
        let d = &mut self.dom0;
        d.scene.set_notices(d.notices.views(Instant::now()));
        if let Err(e) = self.backend.render(&mut d.scene, &d.desktop, &d.theme) {
            tracing::error!(error = %e, "frame failed");
        }
    }

    fn screenshot(&mut self, path: &std::path::Path) -> Response {
        if !path.is_absolute() {
            return Response::error("screenshot path must be absolute");
        }
        let d = &mut self.dom0;
        d.scene.set_notices(d.notices.views(Instant::now()));
        let shot = match self.backend.screenshot(&mut d.scene, &d.desktop, &d.theme) {
            Ok(s) => s,
            Err(e) => return Response::error(format!("screenshot failed: {e}")),
        };
        if let Err(e) = shot.write_png(path) {
            tracing::warn!(error = %e, "screenshot not written");
            return Response::error(format!(
                "{e}: {}",
                std::error::Error::source(&e)
                    .map(ToString::to_string)
                    .unwrap_or_default()
            ));
        }
        tracing::info!(path = %path.display(), "screenshot written");
        Response {
            ok: true,
            screenshot: Some(ScreenshotInfo {
                path: path.to_owned(),
                width: shot.size.w,
                height: shot.size.h,
            }),
            ..Response::default()
        }
    }
}

impl ControlHandler for State {
    fn handle_control(&mut self, request: Request, reply: Reply) {
        let response = match request {
            // Answered when the qube says whether the program started.
            Request::Run { qube, argv } => return self.run_in_qube(&qube, argv, reply),
            Request::ListWindows => Response {
                ok: true,
                windows: Some(control::list_windows(&self.dom0.desktop)),
                ..Response::default()
            },
            Request::Qubes => Response {
                ok: true,
                qubes: Some(control::list_qubes(&self.dom0.desktop, &self.qubes)),
                ..Response::default()
            },
            Request::Screenshot { path } => self.screenshot(&path),
            Request::Clipboard => Response {
                ok: true,
                clipboard: Some(Box::new(control::clipboard_info(&self.dom0))),
                ..Response::default()
            },
            Request::Notices => Response {
                ok: true,
                notices: Some(
                    self.dom0
                        .notices
                        .items()
                        .iter()
                        .map(|n| n.text.clone())
                        .collect(),
                ),
                ..Response::default()
            },
            Request::PointerInfo => Response {
                ok: true,
                pointer: Some(control::pointer_info(&self.dom0)),
                ..Response::default()
            },
            Request::AddQube { name, label } => self.add_qube(&name, &label),
            Request::RemoveQube { name } => self.remove_qube(&name),
            injected => self.inject(injected),
        };
        reply.send(response);
    }
}
