//! One qube's connection: decode, validate, then act (DESIGN.md's trust rules).
//!
//! Every message is copied out of shared memory once by the transport, decoded strictly by
//! `bulkhead-protocol`, checked against this connection's state (handshake done, window ids
//! it created, buffers inside its arena) and only then turned into model requests. Any
//! violation is returned as a [`Violation`]; the caller closes the connection and logs the
//! reason. Nothing here can stop the compositor or touch another qube's windows.

use std::collections::HashMap;
use std::os::fd::BorrowedFd;
use std::time::{Duration, Instant};

use bulkhead_protocol::{
    AgentMessage, BufferDesc, Capabilities, DecodeError, Dom0Message, MalformedReason, OutputInfo,
    PROTOCOL_VERSION, PixelFormat as WirePixelFormat, Rect as WireRect, Size as WireSize, Version,
    VersionError, WindowId as WireId, WindowKind as WireKind, WindowStates, negotiate,
    negotiate_capabilities,
};
use bulkhead_shm_transport::{
    Arena, ArenaError, ArenaRegion, Endpoint, ImageLayout, RecvError, SendError,
};

use smithay::utils::{Clock, Monotonic};

use crate::desktop::{
    ModelEvent, Point, QubeId, QubeRequest, Rect, RequestError, RequestOutcome, Size, WindowId,
    WindowMode,
};
use crate::input::route::QubeInput;
use crate::render::content::{ArenaPixels, ContentError, FrameSource, PixelFormat, arena_rect};
use crate::state::{Dom0, FrameError};

use super::launch::Launches;

/// What dom0 offers every agent.
const DOM0_CAPABILITIES: Capabilities = Capabilities::CLIPBOARD
    .union(Capabilities::LAUNCH)
    .union(Capabilities::CURSOR_SHAPE);
/// Messages handled per wake-up before the loop serves others (the rest come next turn).
pub const BATCH: usize = 1024;
/// Sustained message rate a qube may keep up (per second). A busy agent sends a few
/// thousand: 30 windows at 60 frames per second are 1,800 damage messages.
pub const RATE_PER_SECOND: f64 = 5_000.0;
/// Burst allowance of the rate limit (a burst of window creation at start-up).
pub const RATE_BURST: f64 = 10_000.0;
/// Window-state wishes (`SetMaximized`, `SetFullscreen`) dom0 acts on per second: each may
/// make dom0 re-lay out the window and configure the guest. Beyond this (after a burst of
/// [`STATE_BURST`]) a wish is refused and logged.
pub const STATE_CHANGES_PER_SECOND: f64 = 20.0;
/// Burst allowance of window-state wishes.
pub const STATE_BURST: f64 = 40.0;
/// Refused window-state wishes tolerated (refilled at [`STATE_REFUSALS_PER_SECOND`])
/// before the connection is closed as abusive.
pub const STATE_REFUSALS_BURST: f64 = 200.0;
/// Refill rate of the refusal allowance.
pub const STATE_REFUSALS_PER_SECOND: f64 = 5.0;

/// Why a connection is closed. Every variant but [`Violation::Dom0`] (a bug in dom0,
/// logged at `error!`), [`Violation::HungUp`] and [`Violation::Removed`] (logged at
/// `info!`) is the qube's doing (logged at `warn!`).
#[derive(Debug, thiserror::Error)]
pub enum Violation {
    /// The shared-memory ring broke its rules (hostile indices or lengths).
    #[error("shared-memory channel: {0}")]
    Channel(#[from] RecvError),
    /// dom0 could not queue a message: the qube does not drain its ring (a ring the qube
    /// broke while dom0 was sending is a [`Violation::Channel`]).
    #[error("the qube does not drain its ring: {0}")]
    NotDraining(SendError),
    /// A message that does not decode.
    #[error("malformed message: {0}")]
    Malformed(MalformedReason),
    /// The transport delivered a partial protocol message (cannot happen with a correct
    /// agent: one transport message carries one protocol message).
    #[error("truncated message ({needed} bytes needed)")]
    Truncated {
        /// Bytes the header declared.
        needed: usize,
    },
    /// Bytes after the protocol message inside one transport message.
    #[error("{0} stray bytes after a message")]
    TrailingBytes(usize),
    /// Anything before `Hello`, or `Hello` twice.
    #[error("{0}")]
    Handshake(&'static str),
    /// Incompatible protocol version.
    #[error(transparent)]
    Version(#[from] VersionError),
    /// A window id the qube already uses.
    #[error("window id {0} is already in use")]
    DuplicateWindow(u32),
    /// A window id the qube never created (or destroyed).
    #[error("no window {0}")]
    UnknownWindow(u32),
    /// The model refused a request.
    #[error(transparent)]
    Request(#[from] RequestError),
    /// A frame's buffer is not inside the qube's arena.
    #[error("frame buffer: {0}")]
    Arena(#[from] ArenaError),
    /// A frame was refused.
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// Over the message-rate limit.
    #[error("more than {RATE_PER_SECOND} messages per second")]
    Flood,
    /// Kept asking for window-state changes far over [`STATE_CHANGES_PER_SECOND`].
    #[error(
        "window-state requests flood: more than {STATE_CHANGES_PER_SECOND} per second, {STATE_REFUSALS_BURST} refused"
    )]
    StateFlood,
    /// A second frame for a window before dom0 acknowledged the first.
    #[error("frame {serial} of window {window} sent before the previous one was acknowledged")]
    FrameInFlight {
        /// The qube's window id.
        window: u32,
        /// The frame's serial.
        serial: u32,
    },
    /// The qube's current frames would take more than its whole arena: a well-behaved
    /// agent's current frames all live in its arena at once.
    #[error("windows need {needed} bytes of pixels, over the qube's budget of {budget}")]
    PixelBudget {
        /// Bytes all of the qube's current frames would take.
        needed: u64,
        /// The qube's arena size.
        budget: u64,
    },
    /// A `LaunchResult` for no launch dom0 waits for on this connection (unknown id,
    /// answered twice, or never sent a `Launch`).
    #[error("launch result for launch {0}, which dom0 is not waiting for")]
    UnexpectedLaunchResult(u32),
    /// dom0 removed the qube (`remove-qube`): not a violation.
    #[error("dom0 removed the qube")]
    Removed,
    /// The agent closed its setup socket (it exited): not a violation.
    #[error("the agent hung up")]
    HungUp,
    /// A bug in dom0 (logged at `error!`): the handler panicked or encoded a bad message.
    #[error("dom0 error: {0}")]
    Dom0(String),
}

impl From<SendError> for Violation {
    fn from(e: SendError) -> Self {
        match e {
            SendError::Ring(ring) => Violation::Channel(RecvError::Ring(ring)),
            other => Violation::NotDraining(other),
        }
    }
}

impl From<DecodeError> for Violation {
    fn from(e: DecodeError) -> Self {
        match e {
            DecodeError::Incomplete { needed } => Violation::Truncated { needed },
            DecodeError::Malformed(reason) => Violation::Malformed(reason),
        }
    }
}

/// Handshake state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    AwaitingHello,
    Ready(Version),
}

/// A frame dom0 has taken and will acknowledge once it has been drawn.
#[derive(Debug, Clone, Copy)]
struct PendingFrame {
    window: WireId,
    serial: u32,
}

/// Token bucket over messages.
#[derive(Debug)]
struct RateBudget {
    tokens: f64,
    rate: f64,
    burst: f64,
    last: Instant,
}

impl RateBudget {
    fn new(rate: f64, burst: f64) -> Self {
        RateBudget {
            tokens: burst,
            rate,
            burst,
            last: Instant::now(),
        }
    }

    fn take(&mut self) -> bool {
        let now = Instant::now();
        let refill = now.duration_since(self.last).as_secs_f64() * self.rate;
        self.tokens = (self.tokens + refill).min(self.burst);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// One live qube connection.
#[derive(Debug)]
pub struct Connection {
    qube: QubeId,
    endpoint: Endpoint,
    phase: Phase,
    /// What the handshake agreed to (empty before it).
    capabilities: Capabilities,
    /// The qube's window ids and dom0's handles, both ways.
    to_model: HashMap<WireId, WindowId>,
    to_wire: HashMap<WindowId, WireId>,
    /// Size dom0 last configured a window to, when it differed from the guest's.
    configured: HashMap<WireId, Size>,
    /// Bytes of each window's current frame, and their sum.
    frame_bytes: HashMap<WireId, u64>,
    total_frame_bytes: u64,
    pending_frames: Vec<PendingFrame>,
    next_configure_serial: u32,
    budget: RateBudget,
    /// Window-state wishes acted on, and refusals tolerated.
    state_budget: RateBudget,
    state_refusals: RateBudget,
    /// `Launch`es waiting for their `LaunchResult`.
    launches: Launches,
}

impl Connection {
    /// What the handshake agreed to (empty until the agent's `Hello` was answered).
    pub fn capabilities(&self) -> Capabilities {
        self.capabilities
    }

    /// Whether the handshake is done (the agent's `Hello` was answered).
    pub fn is_ready(&self) -> bool {
        matches!(self.phase, Phase::Ready(_))
    }

    /// A connection for `qube` over `endpoint` (dom0's side of the region).
    pub fn new(qube: QubeId, endpoint: Endpoint) -> Connection {
        Connection {
            qube,
            endpoint,
            phase: Phase::AwaitingHello,
            capabilities: Capabilities::empty(),
            to_model: HashMap::new(),
            to_wire: HashMap::new(),
            configured: HashMap::new(),
            frame_bytes: HashMap::new(),
            total_frame_bytes: 0,
            pending_frames: Vec::new(),
            next_configure_serial: 1,
            budget: RateBudget::new(RATE_PER_SECOND, RATE_BURST),
            state_budget: RateBudget::new(STATE_CHANGES_PER_SECOND, STATE_BURST),
            state_refusals: RateBudget::new(STATE_REFUSALS_PER_SECOND, STATE_REFUSALS_BURST),
            launches: Launches::default(),
        }
    }

    /// The launches this connection waits to hear about.
    pub fn launches(&mut self) -> &mut Launches {
        &mut self.launches
    }

    /// The qube this connection belongs to.
    pub fn qube(&self) -> QubeId {
        self.qube
    }

    /// The fd that becomes readable when the agent rings.
    pub fn doorbell_fd(&self) -> BorrowedFd<'_> {
        self.endpoint.doorbell_fd()
    }

    /// Serves one wake-up: takes the doorbell, flushes what waited for space, then handles
    /// up to [`BATCH`] messages. Returns `true` when more work is already waiting (the caller
    /// serves again soon), `false` when it is safe to sleep on the doorbell.
    pub fn service(&mut self, dom0: &mut Dom0) -> Result<bool, Violation> {
        self.endpoint
            .acknowledge_doorbell()
            .map_err(|e| Violation::Dom0(format!("doorbell: {e}")))?;
        self.endpoint.flush()?;
        for _ in 0..BATCH {
            let Some(mut bytes) = self.endpoint.recv()? else {
                return Ok(!self.endpoint.prepare_wait().map_err(RecvError::from)?);
            };
            if !self.budget.take() {
                return Err(Violation::Flood);
            }
            let decoded = AgentMessage::decode(&bytes).map(|(message, rest)| (message, rest.len()));
            // The transport's copy of clipboard data is wiped at once: from here on the only
            // copy is the decoded one, which the clipboard keeps or wipes.
            if matches!(decoded, Ok((AgentMessage::ClipboardData { .. }, _))) {
                crate::clipboard::wipe(&mut bytes);
            }
            let (message, rest) = decoded?;
            if rest != 0 {
                return Err(Violation::TrailingBytes(rest));
            }
            self.handle(message, dom0)?;
        }
        Ok(true)
    }

    /// Sends one message to the agent.
    pub fn send(&mut self, message: &Dom0Message) -> Result<(), Violation> {
        let wire = message
            .encode_to_vec()
            .map_err(|e| Violation::Dom0(format!("encoding {message:?}: {e}")))?;
        self.endpoint.send(&wire)?;
        Ok(())
    }

    /// Sends a message carrying clipboard data; the encoded copy is wiped once queued.
    pub fn send_secret(&mut self, message: &Dom0Message) -> Result<(), Violation> {
        let mut wire = message
            .encode_to_vec()
            .map_err(|e| Violation::Dom0(format!("encoding a {}: {e}", message.message_type())))?;
        let sent = self.endpoint.send(&wire);
        crate::clipboard::wipe(&mut wire);
        sent?;
        Ok(())
    }

    /// Sends an input event dom0 decided this qube gets. Events for windows the qube no
    /// longer has are dropped (they raced with its `Destroy`).
    pub fn send_input(&mut self, input: &QubeInput, time_ms: u32) -> Result<(), Violation> {
        let wire = |w| self.wire_of(self.qube, w);
        let message = match *input {
            QubeInput::Key { keycode, pressed } => Dom0Message::Key {
                time_ms,
                keycode,
                pressed,
            },
            QubeInput::PointerEnter { window, x, y } => match wire(window) {
                Some(window) => Dom0Message::PointerEnter { window, x, y },
                None => return Ok(()),
            },
            QubeInput::PointerLeave { window } => match wire(window) {
                Some(window) => Dom0Message::PointerLeave { window },
                None => return Ok(()),
            },
            QubeInput::PointerMotion { window, x, y } => match wire(window) {
                Some(window) => Dom0Message::PointerMotion {
                    window,
                    time_ms,
                    x,
                    y,
                },
                None => return Ok(()),
            },
            QubeInput::PointerButton {
                window,
                button,
                pressed,
            } => match wire(window) {
                Some(window) => Dom0Message::PointerButton {
                    window,
                    time_ms,
                    button,
                    pressed,
                },
                None => return Ok(()),
            },
            QubeInput::PointerAxis {
                window,
                axis,
                value,
                discrete_120,
            } => match wire(window) {
                Some(window) => Dom0Message::PointerAxis {
                    window,
                    time_ms,
                    axis,
                    value,
                    discrete_120,
                },
                None => return Ok(()),
            },
        };
        self.send(&message)
    }

    /// Whether frames wait for their acknowledgement.
    pub fn has_pending_frames(&self) -> bool {
        !self.pending_frames.is_empty()
    }

    /// After dom0 drew a frame: acknowledges every frame taken since, so the agent may reuse
    /// their buffers and let its clients draw again.
    pub fn frames_presented(&mut self) -> Result<(), Violation> {
        for frame in std::mem::take(&mut self.pending_frames) {
            self.send(&Dom0Message::FrameDone {
                window: frame.window,
                serial: frame.serial,
            })?;
        }
        Ok(())
    }

    /// Tells the agent what the model decided about one of its windows (focus, close).
    pub fn deliver(&mut self, event: &ModelEvent) -> Result<(), Violation> {
        match *event {
            ModelEvent::Focus { from, to } => {
                if let Some(w) = from.and_then(|(q, w)| self.wire_of(q, w)) {
                    self.send(&Dom0Message::FocusOut { window: w })?;
                }
                if let Some(w) = to.and_then(|(q, w)| self.wire_of(q, w)) {
                    self.send(&Dom0Message::FocusIn { window: w })?;
                }
            }
            ModelEvent::Close(req) => {
                if let Some(w) = self.wire_of(req.qube, req.window) {
                    self.send(&Dom0Message::Close { window: w })?;
                }
            }
            ModelEvent::Configure {
                qube,
                window,
                size,
                mode,
            } => {
                if let Some(w) = self.wire_of(qube, window) {
                    self.configure(w, size, mode)?;
                }
            }
        }
        Ok(())
    }

    /// Tells the agent the size and state dom0 gives one of its toplevels.
    fn configure(&mut self, window: WireId, size: Size, mode: WindowMode) -> Result<(), Violation> {
        self.configured.insert(window, size);
        let serial = self.next_configure_serial;
        self.next_configure_serial = serial.wrapping_add(1).max(1);
        self.send(&Dom0Message::Configure {
            window,
            serial,
            width: size.w.unsigned_abs(),
            height: size.h.unsigned_abs(),
            states: wire_states(mode),
        })
    }

    fn wire_of(&self, qube: QubeId, window: WindowId) -> Option<WireId> {
        (qube == self.qube)
            .then(|| self.to_wire.get(&window).copied())
            .flatten()
    }

    fn model_of(&self, window: WireId) -> Result<WindowId, Violation> {
        self.to_model
            .get(&window)
            .copied()
            .ok_or(Violation::UnknownWindow(window.get()))
    }

    fn handle(&mut self, message: AgentMessage, dom0: &mut Dom0) -> Result<(), Violation> {
        let version = match (self.phase, &message) {
            (
                Phase::AwaitingHello,
                AgentMessage::Hello {
                    version,
                    capabilities,
                },
            ) => {
                let version = negotiate(PROTOCOL_VERSION, *version)?;
                self.phase = Phase::Ready(version);
                let out = dom0.desktop.output();
                let output = OutputInfo {
                    width: out.w.unsigned_abs(),
                    height: out.h.unsigned_abs(),
                    scale_120: 120,
                    refresh_mhz: 60_000,
                };
                let capabilities = negotiate_capabilities(DOM0_CAPABILITIES, *capabilities);
                self.capabilities = capabilities;
                self.send(&Dom0Message::HelloAck {
                    version,
                    capabilities,
                    output,
                })?;
                // dom0's keymap, so the qube's apps read keys as dom0 does.
                if let Some(k) = &dom0.keyboard {
                    self.send(&Dom0Message::Keymap {
                        xkb_text: k.keymap_text().to_owned(),
                    })?;
                }
                return Ok(());
            }
            (Phase::AwaitingHello, _) => return Err(Violation::Handshake("message before hello")),
            (Phase::Ready(_), AgentMessage::Hello { .. }) => {
                return Err(Violation::Handshake("hello sent twice"));
            }
            (Phase::Ready(v), _) => v,
        };
        match &message {
            // Clipboard bytes never go to the log.
            AgentMessage::ClipboardData { serial, mime, data } => {
                tracing::trace!(qube = ?self.qube, serial, mime, len = data.len(), "clipboard data from qube");
            }
            _ => tracing::trace!(qube = ?self.qube, ?version, ?message, "from qube"),
        }
        match message {
            AgentMessage::Hello { .. } => unreachable!("handled above"),
            AgentMessage::CreateWindow { window, kind, size } => {
                if self.to_model.contains_key(&window) {
                    return Err(Violation::DuplicateWindow(window.get()));
                }
                let size = model_size(size);
                let request = match kind {
                    WireKind::Toplevel => QubeRequest::CreateToplevel { size },
                    WireKind::Popup { parent, x, y } => QubeRequest::CreatePopup {
                        parent: self.model_of(parent)?,
                        offset: Point::new(x, y),
                        size,
                    },
                };
                if let RequestOutcome::Created(id) = dom0.apply(self.qube, request)? {
                    self.to_model.insert(window, id);
                    self.to_wire.insert(id, window);
                }
            }
            AgentMessage::SetTitle { window, title } => {
                let window = self.model_of(window)?;
                dom0.apply(self.qube, QubeRequest::SetTitle { window, title })?;
            }
            AgentMessage::SetAppId { window, app_id } => {
                let window = self.model_of(window)?;
                dom0.apply(self.qube, QubeRequest::SetAppId { window, app_id })?;
            }
            AgentMessage::Map { window } => {
                let window = self.model_of(window)?;
                dom0.apply(self.qube, QubeRequest::Map { window })?;
            }
            AgentMessage::Unmap { window } => {
                let window = self.model_of(window)?;
                dom0.apply(self.qube, QubeRequest::Unmap { window })?;
            }
            AgentMessage::Destroy { window } => {
                let id = self.model_of(window)?;
                if let RequestOutcome::Destroyed(gone) =
                    dom0.apply(self.qube, QubeRequest::Destroy { window: id })?
                {
                    for id in gone {
                        if let Some(w) = self.to_wire.remove(&id) {
                            self.to_model.remove(&w);
                            self.configured.remove(&w);
                            self.pending_frames.retain(|f| f.window != w);
                            let freed = self.frame_bytes.remove(&w).unwrap_or(0);
                            self.total_frame_bytes -= freed;
                        }
                    }
                }
            }
            AgentMessage::SizeHints { window, min, max } => {
                let window = self.model_of(window)?;
                let hints = crate::desktop::SizeHints {
                    min: min.map(model_size),
                    max: max.map(model_size),
                };
                dom0.apply(self.qube, QubeRequest::SizeHints { window, hints })?;
            }
            AgentMessage::Damage {
                window,
                serial,
                buffer,
                rects,
            } => {
                self.damage(dom0, window, serial, buffer, &rects)?;
            }
            // Window-state requests are the qube's wishes: dom0 decides (fullscreen becomes
            // maximize unless the window policy allows it; see `desktop::modes`). Refusing a
            // wish is not a violation; flooding them is.
            AgentMessage::SetFullscreen { window, on } => {
                let window = self.model_of(window)?;
                if self.state_wish_allowed()? {
                    dom0.apply(self.qube, QubeRequest::SetFullscreen { window, on })?;
                }
            }
            AgentMessage::SetMaximized { window, on } => {
                let window = self.model_of(window)?;
                if self.state_wish_allowed()? {
                    dom0.apply(self.qube, QubeRequest::SetMaximized { window, on })?;
                }
            }
            // A named pointer shape (never an image): shown only while this very window
            // has the pointer (dom0's arrow everywhere else); otherwise dropped, as are
            // shapes from an agent that did not negotiate them. The message budget is the
            // rate limit.
            AgentMessage::SetCursor { window, shape } => {
                let id = self.model_of(window)?;
                let honoured = self.capabilities.contains(Capabilities::CURSOR_SHAPE)
                    && dom0.input.request_cursor(self.qube, id, shape);
                tracing::debug!(
                    qube = ?self.qube,
                    %window,
                    shape = shape.css_name(),
                    honoured,
                    "cursor shape"
                );
            }
            // A qube cannot minimize itself (only the user hides windows) or ask for
            // attention yet: logged and dropped.
            AgentMessage::Minimize { window } | AgentMessage::Attention { window } => {
                self.model_of(window)?;
                tracing::debug!(qube = ?self.qube, ?message, "window-state wish not acted on");
            }
            // Accepted only as the answer to the latest gesture's request to this qube
            // (dom0's clipboard checks); anything else is dropped there, unread.
            AgentMessage::ClipboardData { serial, mime, data } => {
                dom0.clipboard_answer(self.qube, serial, Some((mime, data)));
            }
            AgentMessage::ClipboardEmpty { serial } => {
                dom0.clipboard_answer(self.qube, serial, None);
            }
            // Only as the one answer to a `Launch` dom0 sent on this connection.
            AgentMessage::LaunchResult { launch, errno } => {
                self.launches.answered(launch, errno)?;
            }
        }
        Ok(())
    }

    /// Whether a window-state wish may be acted on now (rate limit). A refused wish is
    /// logged; too many refusals close the connection.
    fn state_wish_allowed(&mut self) -> Result<bool, Violation> {
        if self.state_budget.take() {
            return Ok(true);
        }
        if !self.state_refusals.take() {
            return Err(Violation::StateFlood);
        }
        tracing::debug!(qube = ?self.qube, "window-state wish over the rate limit: refused");
        Ok(false)
    }

    /// A new frame: the buffer must lie in this qube's arena; dom0 renders from it in place
    /// (only the damaged rectangles are redrawn), and the frame is acknowledged after dom0
    /// has drawn it into its output.
    fn damage(
        &mut self,
        dom0: &mut Dom0,
        window: WireId,
        serial: u32,
        buffer: BufferDesc,
        rects: &[WireRect],
    ) -> Result<(), Violation> {
        let id = self.model_of(window)?;
        if self.pending_frames.iter().any(|f| f.window == window) {
            return Err(Violation::FrameInFlight {
                window: window.get(),
                serial,
            });
        }
        let region = self
            .endpoint
            .arena()
            .region(buffer.offset, buffer.byte_len())?;
        // dom0 shows each window's current frame from the arena: all of them together
        // cannot exceed the arena they live in (a bound on what a qube makes dom0 render).
        let bytes = u64::from(buffer.width) * u64::from(buffer.height) * 4;
        let old = self.frame_bytes.get(&window).copied().unwrap_or(0);
        let needed = self.total_frame_bytes - old + bytes;
        let budget = self.endpoint.arena().size();
        if needed > budget {
            return Err(Violation::PixelBudget { needed, budget });
        }
        let frame = ArenaFrame {
            arena: self.endpoint.arena(),
            region,
            buffer,
        };
        let damage: Vec<Rect> = rects.iter().map(model_rect).collect();
        let shown = dom0.commit_frame(self.qube, id, frame, &damage)?;
        // For the benchmarks (`RUST_LOG=frame_timing=debug`): the moment the frame's pixels
        // are usable here, on the clock the qube's clients stamp their commits with.
        tracing::debug!(
            target: "frame_timing",
            monotonic_ns = Duration::from(Clock::<Monotonic>::new().now()).as_nanos(),
            "frame usable"
        );
        self.frame_bytes.insert(window, bytes);
        self.total_frame_bytes = needed;
        self.pending_frames.push(PendingFrame { window, serial });
        // The model cuts a window too big for the output: tell the guest the size it got.
        let asked = model_size(WireSize {
            width: buffer.width,
            height: buffer.height,
        });
        if shown != asked && self.configured.get(&window) != Some(&shown) {
            let mode = dom0
                .desktop
                .window(id)
                .map(|w| w.mode())
                .unwrap_or_default();
            self.configure(window, shown, mode)?;
        } else if shown == asked {
            self.configured.remove(&window);
        }
        Ok(())
    }
}

/// The wire's state bits of a mode dom0 decided.
fn wire_states(mode: WindowMode) -> WindowStates {
    match mode {
        WindowMode::Normal => WindowStates::empty(),
        WindowMode::Maximized => WindowStates::MAXIMIZED,
        WindowMode::Fullscreen => WindowStates::FULLSCREEN,
    }
}

/// Protocol sizes are at most 16384 on a side (checked by the decoder), so they fit `i32`.
fn model_size(size: WireSize) -> Size {
    Size::new(clamp_i32(size.width), clamp_i32(size.height))
}

/// Damage rectangles lie inside their buffer (checked by the decoder), so they fit `i32`.
fn model_rect(r: &WireRect) -> Rect {
    Rect::new(
        clamp_i32(r.x),
        clamp_i32(r.y),
        clamp_i32(r.w),
        clamp_i32(r.h),
    )
}

fn clamp_i32(v: u32) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}

/// A frame straight from the qube's buffer in the arena.
struct ArenaFrame<'a> {
    arena: &'a Arena,
    region: ArenaRegion<'a>,
    buffer: BufferDesc,
}

impl ArenaFrame<'_> {
    fn layout(&self) -> ImageLayout {
        ImageLayout {
            width: self.buffer.width,
            height: self.buffer.height,
            stride: self.buffer.stride,
            bytes_per_pixel: 4,
        }
    }
}

impl FrameSource for ArenaFrame<'_> {
    fn size(&self) -> Size {
        model_size(WireSize {
            width: self.buffer.width,
            height: self.buffer.height,
        })
    }

    fn format(&self) -> PixelFormat {
        match self.buffer.format {
            WirePixelFormat::Argb8888 => PixelFormat::Argb8888,
            WirePixelFormat::Xrgb8888 => PixelFormat::Xrgb8888,
        }
    }

    fn validate(&self) -> Result<(), ContentError> {
        // The region was cut to exactly stride × height bytes; the decoder checked the
        // stride against the width. The image made over it (or `copy_rect`) checks again.
        Ok(())
    }

    fn copy_rect(
        &self,
        dst: &mut [u8],
        dst_stride: usize,
        rect: (usize, usize, usize, usize),
    ) -> Result<(), ContentError> {
        self.region
            .read_rect(&self.layout(), arena_rect(rect), dst, dst_stride)?;
        Ok(())
    }

    fn arena(&self) -> Option<ArenaPixels> {
        Some(ArenaPixels {
            arena: self.arena.clone(),
            offset: self.buffer.offset,
            len: self.buffer.byte_len(),
            layout: self.layout(),
            format: self.format(),
        })
    }
}
