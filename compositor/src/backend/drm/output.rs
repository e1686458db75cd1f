//! One lit output: a CRTC driving one connector, a swapchain of dumb buffers that pixman
//! draws into (through their dma-buf mapping: no GPU, safe Rust only), and page flips.

use smithay::backend::allocator::dmabuf::{AsDmabuf, Dmabuf};
use smithay::backend::allocator::dumb::{DumbAllocator, DumbBuffer};
use smithay::backend::allocator::{Fourcc, Modifier, Slot, Swapchain};
use smithay::backend::drm::dumb::{DumbFramebuffer, framebuffer_from_dumb_buffer};
use smithay::backend::drm::{DrmDeviceFd, DrmSurface, PlaneConfig, PlaneState};
use smithay::backend::renderer::Bind;
use smithay::backend::renderer::damage::OutputDamageTracker;
use smithay::backend::renderer::pixman::PixmanRenderer;
use smithay::reexports::drm::control::{Mode, connector, crtc, framebuffer};
use smithay::utils::{Rectangle, Transform};

use super::DrmError;
use crate::desktop::Size;
use crate::render::{BACKGROUND, FrameElement, color32};

/// The pixel format of the scan-out buffers (every KMS driver takes it).
const FORMAT: Fourcc = Fourcc::Xrgb8888;

/// A connector lit by a CRTC.
#[derive(Debug)]
pub struct Output {
    /// The connector's name (`Virtual-1`, `HDMI-A-1`).
    pub name: String,
    /// The connector.
    pub connector: connector::Handle,
    /// The CRTC driving it.
    pub crtc: crtc::Handle,
    /// The mode it runs.
    pub mode: Mode,
    surface: DrmSurface,
    swapchain: Swapchain<DumbAllocator>,
    damage: OutputDamageTracker,
    fd: DrmDeviceFd,
    /// Queued for the next vblank.
    queued: Option<Slot<DumbBuffer>>,
    /// On screen now.
    shown: Option<Slot<DumbBuffer>>,
    /// A frame was asked for while one was queued: draw again at the vblank.
    pub dirty: bool,
}

impl Output {
    /// Lights `connector` with `crtc` in `mode` (the mode is set with the first frame).
    pub fn new(
        name: String,
        connector: connector::Handle,
        crtc: crtc::Handle,
        mode: Mode,
        surface: DrmSurface,
        fd: DrmDeviceFd,
    ) -> Output {
        let (w, h) = mode.size();
        let swapchain = Swapchain::new(
            DumbAllocator::new(fd.clone()),
            u32::from(w),
            u32::from(h),
            FORMAT,
            vec![Modifier::Linear],
        );
        Output {
            name,
            connector,
            crtc,
            mode,
            surface,
            swapchain,
            damage: OutputDamageTracker::new((i32::from(w), i32::from(h)), 1.0, Transform::Normal),
            fd,
            queued: None,
            shown: None,
            dirty: true,
        }
    }

    /// The mode's size in pixels.
    pub fn size(&self) -> Size {
        let (w, h) = self.mode.size();
        Size::new(i32::from(w), i32::from(h))
    }

    /// Draws `elements` (front first) into a free buffer and queues it for the next vblank.
    /// With a frame already queued, only notes that another one is wanted.
    pub fn render(
        &mut self,
        renderer: &mut PixmanRenderer,
        elements: &[FrameElement<PixmanRenderer>],
    ) -> Result<(), DrmError> {
        if self.queued.is_some() || !self.surface.is_active() {
            self.dirty = true;
            return Ok(());
        }
        self.dirty = false;
        let Some(slot) = self.swapchain.acquire().map_err(DrmError::Buffer)? else {
            self.dirty = true;
            return Ok(());
        };
        let mut dmabuf = match slot.userdata().get::<Dmabuf>() {
            Some(d) => d.clone(),
            None => {
                let d = slot.export().map_err(DrmError::Buffer)?;
                slot.userdata().insert_if_missing(|| d.clone());
                d
            }
        };
        let age = usize::from(slot.age());
        let damaged = {
            let mut target = renderer
                .bind(&mut dmabuf)
                .map_err(|e| DrmError::Render(format!("binding the scan-out buffer: {e}")))?;
            let result = self
                .damage
                .render_output(renderer, &mut target, age, elements, color32(BACKGROUND))
                .map_err(|e| DrmError::Render(format!("{e:?}")))?;
            result.damage.is_some_and(|d| !d.is_empty())
        };
        let modeset = self.surface.commit_pending();
        if !damaged && !modeset && self.shown.is_some() {
            // Nothing changed: the buffer goes back unused.
            return Ok(());
        }
        if slot.userdata().get::<DumbFramebuffer>().is_none() {
            let fb = framebuffer_from_dumb_buffer(&self.fd, &slot, true)
                .map_err(|e| DrmError::Render(format!("adding a framebuffer: {e}")))?;
            slot.userdata().insert_if_missing(|| fb);
        }
        let fb = slot
            .userdata()
            .get::<DumbFramebuffer>()
            .map(|f| *AsRef::<framebuffer::Handle>::as_ref(f))
            .ok_or_else(|| DrmError::Render("framebuffer missing".into()))?;
        let size = self.size();
        let plane = PlaneState {
            handle: self.surface.plane(),
            config: Some(PlaneConfig {
                src: Rectangle::from_size((f64::from(size.w), f64::from(size.h)).into()),
                dst: Rectangle::from_size((size.w, size.h).into()),
                transform: Transform::Normal,
                alpha: 1.0,
                damage_clips: None,
                fb,
                fence: None,
            }),
        };
        let flipped = if modeset {
            tracing::info!(output = %self.name, w = size.w, h = size.h, "setting the mode");
            self.surface.commit([plane], true)
        } else {
            self.surface.page_flip([plane], true)
        };
        if let Err(e) = flipped {
            // Drawn again once the display can be flipped (after a VT switch, at resume).
            self.dirty = true;
            let lost = matches!(&e, smithay::backend::drm::DrmError::Access(a)
                if a.source.kind() == std::io::ErrorKind::PermissionDenied);
            return Err(if lost {
                DrmError::DisplayTaken
            } else {
                DrmError::Render(format!("page flip on {}: {e}", self.name))
            });
        }
        self.swapchain.submitted(&slot);
        self.queued = Some(slot);
        Ok(())
    }

    /// The queued frame is on screen (its vblank came). Returns whether another frame is
    /// wanted.
    pub fn vblank(&mut self) -> bool {
        if let Some(slot) = self.queued.take() {
            self.shown = Some(slot);
        }
        self.dirty
    }

    /// The session came back (VT switch): the CRTC's state is unknown, draw everything anew.
    pub fn reset(&mut self) {
        if let Err(e) = self.surface.reset_state() {
            tracing::warn!(output = %self.name, error = %e, "resetting the CRTC state");
        }
        self.queued = None;
        self.swapchain.reset_buffer_ages();
        let size = self.size();
        self.damage = OutputDamageTracker::new((size.w, size.h), 1.0, Transform::Normal);
        self.dirty = true;
    }
}
