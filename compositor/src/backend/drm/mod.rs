//! The DRM/KMS backend: dom0 as the desktop session of a real (or virtual) display, started
//! from a text console.
//!
//! - the seat comes from libseat (logind, seatd, or libseat's built-in seatd when root);
//!   it opens the devices and pauses and resumes them on a VT switch;
//! - udev finds the DRM devices and reports hotplugs (a connector connected or disconnected);
//! - libinput reads keyboards and pointers; their events take the same path as injected
//!   input ([`crate::input::route`]): keys to the focused qube only, dom0's shortcuts to dom0;
//! - dom0 draws the pointer ([`crate::render::cursor`]): its own arrow, or the named shape
//!   the window that has the pointer (the focused qube's) asked for, from the xcursor theme;
//! - every connected connector gets a CRTC and a swapchain of dumb buffers that pixman draws
//!   into through their dma-buf mapping (no GPU needed); all outputs show the same desktop,
//!   sized to fit the smallest ([`plan`]).

pub mod output;
pub mod plan;

use std::path::{Path, PathBuf};

use bulkhead_border_theme::Theme;
use smithay::backend::drm::{DrmDevice, DrmDeviceFd, DrmEvent};
use smithay::backend::input::{InputEvent, PointerMotionEvent};
use smithay::backend::libinput::{LibinputInputBackend, LibinputSessionInterface};
use smithay::backend::renderer::pixman::PixmanRenderer;
use smithay::backend::session::libseat::LibSeatSession;
use smithay::backend::session::{Event as SessionEvent, Session};
use smithay::backend::udev::{UdevBackend, UdevEvent, primary_gpu};
use smithay::reexports::calloop::{LoopHandle, RegistrationToken};
use smithay::reexports::drm::control::{Device as ControlDevice, ModeTypeFlags, connector, crtc};
use smithay::reexports::input::Libinput;
use smithay::reexports::rustix::fs::OFlags;
use smithay::utils::DeviceFd;

use super::{Backend, BackendError, Headless, Screenshot};
use crate::desktop::{Desktop, Point, Size};
use crate::input::route::RawInput;
use crate::render::Scene;
use crate::render::cursor::Cursor;
use crate::state::State;
use output::Output;

/// Why the DRM backend could not start or draw. The messages say what to do.
#[derive(Debug, thiserror::Error)]
pub enum DrmError {
    /// libseat found no session to join.
    #[error(
        "no seat: libseat could not open a session ({0}). Run bulkhead-compositor from a \
         text console (VT) of a logind session, or start seatd (`seatd -g video`, as root) and \
         join its group; or use --backend headless or --backend winit"
    )]
    NoSeat(smithay::backend::session::libseat::Error),
    /// udev could not be read.
    #[error("udev: {0}")]
    Udev(std::io::Error),
    /// No DRM/KMS device on the seat.
    #[error(
        "no DRM/KMS device on seat {seat}: nothing under /dev/dri/card* (is a display driver \
         loaded?). Without a display, use --backend headless; inside a desktop session, \
         --backend winit"
    )]
    NoDevice {
        /// The seat.
        seat: String,
    },
    /// The DRM device could not be opened or set up.
    #[error("DRM device {path}: {reason}")]
    Device {
        /// The device file.
        path: PathBuf,
        /// What failed.
        reason: String,
    },
    /// The device has no connected display.
    #[error(
        "no connected display on {path} (connectors: {connectors}): connect a monitor, or \
         use --backend headless"
    )]
    NoConnector {
        /// The device file.
        path: PathBuf,
        /// Every connector and its state.
        connectors: String,
    },
    /// libinput could not use the seat.
    #[error("libinput cannot assign seat {0}")]
    Input(String),
    /// A scan-out buffer could not be made.
    #[error("scan-out buffer: {0}")]
    Buffer(std::io::Error),
    /// Drawing or flipping failed.
    #[error("{0}")]
    Render(String),
    /// Another session has the display (a VT switch is under way).
    #[error("the display belongs to another session now")]
    DisplayTaken,
    /// The event loop refused a source.
    #[error("event loop: {0}")]
    EventLoop(String),
}

/// The open DRM device and its lit outputs.
#[derive(Debug)]
struct Card {
    device_id: u64,
    path: PathBuf,
    drm: DrmDevice,
    fd: DrmDeviceFd,
    outputs: Vec<Output>,
    token: RegistrationToken,
}

/// The DRM session.
pub struct Drm {
    session: LibSeatSession,
    seat: String,
    card: Option<Card>,
    renderer: PixmanRenderer,
    libinput: Libinput,
    handle: LoopHandle<'static, State>,
    size: Size,
    cursor: Cursor,
    pointer: Point,
    /// Sub-pixel remainder of relative pointer motion.
    pointer_frac: (f64, f64),
    /// Offscreen twin for screenshots, made on first use.
    shots: Option<Headless>,
}

impl std::fmt::Debug for Drm {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Drm")
            .field("seat", &self.seat)
            .field("card", &self.card)
            .field("size", &self.size)
            .finish_non_exhaustive()
    }
}

impl Drm {
    /// Joins the seat, opens its DRM device, lights every connected display and registers
    /// the session, udev, DRM and libinput event sources with `handle`.
    pub fn start(handle: &LoopHandle<'static, State>) -> Result<Drm, DrmError> {
        let (session, notifier) = LibSeatSession::new().map_err(DrmError::NoSeat)?;
        let seat = session.seat();
        tracing::info!(%seat, "seat opened");
        let udev = UdevBackend::new(&seat).map_err(DrmError::Udev)?;
        let devices: Vec<(u64, PathBuf)> = udev
            .device_list()
            .map(|(id, path)| (id, path.to_owned()))
            .collect();
        let primary = primary_gpu(&seat).ok().flatten();
        let (device_id, path) = devices
            .iter()
            .find(|(_, p)| Some(p) == primary.as_ref())
            .or_else(|| devices.first())
            .cloned()
            .ok_or_else(|| DrmError::NoDevice { seat: seat.clone() })?;

        let renderer =
            PixmanRenderer::new().map_err(|e| DrmError::Render(format!("pixman renderer: {e}")))?;
        let mut libinput = Libinput::new_with_udev(LibinputSessionInterface::from(session.clone()));
        libinput
            .udev_assign_seat(&seat)
            .map_err(|()| DrmError::Input(seat.clone()))?;

        let mut drm = Drm {
            session,
            seat,
            card: None,
            renderer,
            libinput: libinput.clone(),
            handle: handle.clone(),
            size: Size::new(0, 0),
            cursor: Cursor::default(),
            pointer: Point::default(),
            pointer_frac: (0.0, 0.0),
            shots: None,
        };
        drm.open_card(device_id, &path)?;
        drm.rescan();
        if drm.card.as_ref().is_some_and(|c| c.outputs.is_empty()) {
            let connectors = drm.connector_states();
            return Err(DrmError::NoConnector { path, connectors });
        }
        drm.pointer = Point::new(drm.size.w / 2, drm.size.h / 2);

        handle
            .insert_source(notifier, session_event)
            .map_err(|e| DrmError::EventLoop(format!("session: {e}")))?;
        handle
            .insert_source(udev, udev_event)
            .map_err(|e| DrmError::EventLoop(format!("udev: {e}")))?;
        handle
            .insert_source(LibinputInputBackend::new(libinput), input_event)
            .map_err(|e| DrmError::EventLoop(format!("libinput: {e}")))?;
        Ok(drm)
    }

    /// The desktop's size (that of the smallest output).
    pub fn size(&self) -> Size {
        self.size
    }

    /// Opens a DRM device through the seat and listens to its vblanks.
    fn open_card(&mut self, device_id: u64, path: &Path) -> Result<(), DrmError> {
        let err = |reason: String| DrmError::Device {
            path: path.to_owned(),
            reason,
        };
        let fd = self
            .session
            .open(
                path,
                OFlags::RDWR | OFlags::CLOEXEC | OFlags::NOCTTY | OFlags::NONBLOCK,
            )
            .map_err(|e| err(format!("cannot open it through the seat: {e}")))?;
        let fd = DrmDeviceFd::new(DeviceFd::from(fd));
        let (drm, notifier) =
            DrmDevice::new(fd.clone(), true).map_err(|e| err(format!("not a KMS device: {e}")))?;
        let token = self
            .handle
            .insert_source(notifier, move |event, _, state: &mut State| match event {
                DrmEvent::VBlank(crtc) => {
                    if let Backend::Drm(d) = &mut state.backend {
                        if d.vblank(crtc) {
                            state.dom0.needs_redraw = true;
                        }
                    }
                }
                DrmEvent::Error(e) => tracing::warn!(error = %e, "DRM device event"),
            })
            .map_err(|e| err(format!("event loop: {e}")))?;
        tracing::info!(path = %path.display(), atomic = drm.is_atomic(), "DRM device opened");
        self.card = Some(Card {
            device_id,
            path: path.to_owned(),
            drm,
            fd,
            outputs: Vec::new(),
            token,
        });
        Ok(())
    }

    /// Forgets the card (it was unplugged): its outputs go dark.
    fn close_card(&mut self) {
        if let Some(card) = self.card.take() {
            self.handle.remove(card.token);
            tracing::warn!(path = %card.path.display(), "DRM device removed: no outputs left");
        }
    }

    /// `name: state` of every connector, for the no-display error.
    fn connector_states(&self) -> String {
        let Some(card) = &self.card else {
            return String::new();
        };
        let Ok(res) = card.drm.resource_handles() else {
            return "unreadable".into();
        };
        let list: Vec<String> = res
            .connectors()
            .iter()
            .filter_map(|h| card.drm.get_connector(*h, false).ok())
            .map(|info| format!("{} {:?}", connector_name(&info), info.state()))
            .collect();
        if list.is_empty() {
            "none".into()
        } else {
            list.join(", ")
        }
    }

    /// Probes the connectors; lights the newly connected ones and puts out those gone.
    /// Returns whether the set of outputs changed (the desktop size may have too).
    pub fn rescan(&mut self) -> bool {
        let Some(card) = &mut self.card else {
            return false;
        };
        let res = match card.drm.resource_handles() {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the DRM resources");
                return false;
            }
        };
        let infos: Vec<connector::Info> = res
            .connectors()
            .iter()
            .filter_map(|h| card.drm.get_connector(*h, true).ok())
            .collect();
        let connected: Vec<connector::Handle> = infos
            .iter()
            .filter(|i| i.state() == connector::State::Connected && !i.modes().is_empty())
            .map(connector::Info::handle)
            .collect();
        let lit: Vec<connector::Handle> = card.outputs.iter().map(|o| o.connector).collect();
        let change = plan::plan(&lit, &connected);
        for gone in &change.put_out {
            if let Some(i) = card.outputs.iter().position(|o| o.connector == *gone) {
                let out = card.outputs.remove(i);
                tracing::info!(output = %out.name, "display disconnected: output removed");
            }
        }
        for new in &change.light {
            let Some(info) = infos.iter().find(|i| i.handle() == *new) else {
                continue;
            };
            match light(card, &res, info) {
                Ok(out) => {
                    let s = out.size();
                    tracing::info!(output = %out.name, w = s.w, h = s.h, "display connected: output added");
                    card.outputs.push(out);
                }
                Err(e) => {
                    tracing::warn!(connector = %connector_name(info), error = %e, "cannot light")
                }
            }
        }
        if let Some(size) = plan::desktop_size(card.outputs.iter().map(Output::size)) {
            self.size = size;
        }
        let changed = !change.put_out.is_empty() || !change.light.is_empty();
        if changed {
            self.shots = None;
        }
        changed
    }

    /// A vblank on `crtc`: its frame is on screen. Returns whether a frame is wanted.
    fn vblank(&mut self, crtc: crtc::Handle) -> bool {
        self.card
            .as_mut()
            .and_then(|c| c.outputs.iter_mut().find(|o| o.crtc == crtc))
            .is_some_and(Output::vblank)
    }

    /// The names and sizes of the lit outputs.
    pub fn outputs(&self) -> Vec<(String, Size)> {
        self.card
            .iter()
            .flat_map(|c| c.outputs.iter().map(|o| (o.name.clone(), o.size())))
            .collect()
    }

    /// Draws the desktop, with dom0's pointer, on every output that is not waiting for a
    /// vblank (those draw again when it comes).
    pub fn render(
        &mut self,
        scene: &mut Scene,
        desktop: &Desktop,
        theme: &Theme,
    ) -> Result<(), BackendError> {
        let Some(card) = &mut self.card else {
            return Ok(());
        };
        if !self.session.is_active() {
            return Ok(());
        }
        let mut elements = self.cursor.elements(&mut self.renderer, self.pointer);
        elements.extend(scene.elements(&mut self.renderer, desktop, theme));
        let mut failed = None;
        for out in &mut card.outputs {
            match out.render(&mut self.renderer, &elements) {
                Ok(()) => {}
                // The seat took the display before telling us (the pause is on its way).
                Err(DrmError::DisplayTaken) => {
                    tracing::debug!(output = %out.name, "display taken: frame dropped");
                }
                Err(e) => {
                    tracing::warn!(output = %out.name, error = %e, "frame not shown");
                    failed = Some(e);
                }
            }
        }
        match failed {
            Some(e) => Err(BackendError::Drm(e)),
            None => Ok(()),
        }
    }

    /// Renders offscreen with pixman at the desktop's size (what every output shows).
    pub fn screenshot(
        &mut self,
        scene: &mut Scene,
        desktop: &Desktop,
        theme: &Theme,
    ) -> Result<Screenshot, BackendError> {
        let shots = match &mut self.shots {
            Some(s) if s.size() == self.size => s,
            _ => self.shots.insert(Headless::new(self.size)?),
        };
        shots.screenshot(scene, desktop, theme)
    }

    /// Ctrl+Alt+Fn.
    pub fn switch_vt(&mut self, vt: u8) {
        tracing::info!(vt, "switching virtual terminal");
        if let Err(e) = self.session.change_vt(i32::from(vt)) {
            tracing::warn!(vt, error = %e, "cannot switch virtual terminal");
        }
    }

    /// Where dom0's pointer is drawn.
    pub fn set_pointer(&mut self, at: Point) {
        self.pointer = at;
    }

    /// The pointer's shape (dom0's arrow, a named shape from the xcursor theme, or none);
    /// returns whether it changed (a frame must be drawn).
    pub fn set_cursor(&mut self, shape: bulkhead_protocol::CursorShape) -> bool {
        self.cursor.set_shape(shape)
    }

    /// The session was paused (another VT): stop touching the devices.
    fn pause(&mut self) {
        tracing::info!("session paused");
        self.libinput.suspend();
        if let Some(card) = &mut self.card {
            card.drm.pause();
        }
    }

    /// The session is back: take the devices again and draw everything anew.
    fn resume(&mut self) {
        tracing::info!("session resumed");
        if self.libinput.resume().is_err() {
            tracing::warn!("libinput could not resume its devices");
        }
        if let Some(card) = &mut self.card {
            if let Err(e) = card.drm.activate(false) {
                tracing::warn!(error = %e, "cannot take the DRM device back");
            }
            for out in &mut card.outputs {
                out.reset();
            }
        }
        // Displays may have come or gone meanwhile.
        self.rescan();
    }
}

/// `HDMI-A-1`, `Virtual-1`.
fn connector_name(info: &connector::Info) -> String {
    format!("{:?}-{}", info.interface(), info.interface_id())
}

/// Gives a connected connector a free CRTC and the mode [`plan::pick_mode`] picks.
fn light(
    card: &mut Card,
    res: &smithay::reexports::drm::control::ResourceHandles,
    info: &connector::Info,
) -> Result<Output, DrmError> {
    let err = |reason: String| DrmError::Device {
        path: card.path.clone(),
        reason,
    };
    let name = connector_name(info);
    let flags: Vec<plan::ModeFlags> = info
        .modes()
        .iter()
        .map(|m| plan::ModeFlags {
            user: m.mode_type().contains(ModeTypeFlags::USERDEF),
            preferred: m.mode_type().contains(ModeTypeFlags::PREFERRED),
        })
        .collect();
    let mode = plan::pick_mode(&flags)
        .and_then(|i| info.modes().get(i).copied())
        .ok_or_else(|| err(format!("{name} has no mode")))?;
    let possible: Vec<crtc::Handle> = info
        .encoders()
        .iter()
        .filter_map(|e| card.drm.get_encoder(*e).ok())
        .flat_map(|e| res.filter_crtcs(e.possible_crtcs()))
        .collect();
    let used: Vec<crtc::Handle> = card.outputs.iter().map(|o| o.crtc).collect();
    let crtc =
        plan::pick_crtc(&possible, &used).ok_or_else(|| err(format!("no free CRTC for {name}")))?;
    let surface = card
        .drm
        .create_surface(crtc, mode, &[info.handle()])
        .map_err(|e| err(format!("{name}: {e}")))?;
    Ok(Output::new(
        name,
        info.handle(),
        crtc,
        mode,
        surface,
        card.fd.clone(),
    ))
}

fn session_event(event: SessionEvent, _: &mut (), state: &mut State) {
    let Backend::Drm(d) = &mut state.backend else {
        return;
    };
    match event {
        SessionEvent::PauseSession => d.pause(),
        SessionEvent::ActivateSession => {
            d.resume();
            let size = d.size();
            state.dom0.desktop.set_output_size(size);
            state.dom0.needs_redraw = true;
        }
    }
}

fn udev_event(event: UdevEvent, _: &mut (), state: &mut State) {
    let Backend::Drm(d) = &mut state.backend else {
        return;
    };
    let changed = match event {
        UdevEvent::Changed { device_id } => {
            d.card.as_ref().is_some_and(|c| c.device_id == device_id) && d.rescan()
        }
        UdevEvent::Added { device_id, path } => {
            if d.card.is_some() {
                false
            } else {
                match d.open_card(device_id, &path) {
                    Ok(()) => d.rescan(),
                    Err(e) => {
                        tracing::warn!(error = %e, "new DRM device not used");
                        false
                    }
                }
            }
        }
        UdevEvent::Removed { device_id } => {
            if d.card.as_ref().is_some_and(|c| c.device_id == device_id) {
                d.close_card();
            }
            false
        }
    };
    if changed {
        let size = d.size();
        let outputs = d.outputs();
        tracing::info!(
            ?outputs,
            w = size.w,
            h = size.h,
            "outputs changed: new layout"
        );
        state.dom0.desktop.set_output_size(size);
        let (w, h) = (state.dom0.desktop.output().w, state.dom0.desktop.output().h);
        d.pointer = Point::new(d.pointer.x.clamp(0, w - 1), d.pointer.y.clamp(0, h - 1));
        state.dom0.needs_redraw = true;
    }
}

fn input_event(event: InputEvent<LibinputInputBackend>, _: &mut (), state: &mut State) {
    let output = state.dom0.desktop.output();
    let pointer = state.dom0.input.pointer;
    let raw = match event {
        InputEvent::PointerMotion { event } => {
            let Backend::Drm(d) = &mut state.backend else {
                return;
            };
            let (fx, fy) = d.pointer_frac;
            let (x, y) = (
                f64::from(pointer.x) + fx + event.delta_x(),
                f64::from(pointer.y) + fy + event.delta_y(),
            );
            let (cx, cy) = (
                x.clamp(0.0, f64::from(output.w - 1)),
                y.clamp(0.0, f64::from(output.h - 1)),
            );
            let at = Point::new(crate::input::saturate(cx), crate::input::saturate(cy));
            d.pointer_frac = (cx - f64::from(at.x), cy - f64::from(at.y));
            Some(RawInput::PointerTo(at))
        }
        InputEvent::DeviceAdded { device } => {
            tracing::info!(device = %device.name(), "input device added");
            None
        }
        InputEvent::DeviceRemoved { device } => {
            tracing::info!(device = %device.name(), "input device removed");
            None
        }
        other => crate::input::from_backend(output, other),
    };
    let Some(raw) = raw else {
        return;
    };
    state.input(raw);
    if matches!(raw, RawInput::PointerTo(_)) {
        let at = state.dom0.input.pointer;
        if let Backend::Drm(d) = &mut state.backend {
            d.set_pointer(at);
        }
        state.dom0.needs_redraw = true;
    }
}
