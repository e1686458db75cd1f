//! A small Wayland client for tests: a toplevel with wl_shm buffers of known colours, a
//! subsurface and an xdg_popup. Buffers are written with plain file writes (no mmap).

use std::io::Write;
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::path::Path;

use wayland_client::globals::{GlobalListContents, registry_queue_init};
use wayland_client::protocol::{
    wl_buffer, wl_callback, wl_compositor, wl_data_device, wl_data_device_manager, wl_data_offer,
    wl_data_source, wl_keyboard, wl_pointer, wl_registry, wl_seat, wl_shm, wl_shm_pool,
    wl_subcompositor, wl_subsurface, wl_surface,
};
use wayland_client::{Connection, Dispatch, EventQueue, QueueHandle, delegate_noop};
use wayland_client::{Proxy, WEnum};
use wayland_protocols::xdg::shell::client::{
    xdg_popup, xdg_positioner, xdg_surface, xdg_toplevel, xdg_wm_base,
};

/// Opaque colours (ARGB8888).
pub const RED: u32 = 0xffff_0000;
/// See [`RED`].
pub const GREEN: u32 = 0xff00_ff00;
/// See [`RED`].
pub const BLUE: u32 = 0xff00_00ff;
/// See [`RED`].
pub const WHITE: u32 = 0xffff_ffff;

/// Events the client saw.
#[derive(Debug, Default)]
pub struct Seen {
    /// Last xdg_surface.configure serial not yet acknowledged, per xdg_surface.
    pub configures: Vec<(xdg_surface::XdgSurface, u32)>,
    /// Last toplevel configure size.
    pub toplevel_size: Option<(i32, i32)>,
    /// xdg_toplevel.close received.
    pub closed: bool,
    /// xdg_popup.popup_done received.
    pub popup_done: bool,
    /// wl_callback.done count.
    pub frames_done: u32,
    /// Input events, in order.
    pub input: Vec<Input>,
    /// Serial of the last pointer button event (for xdg_popup.grab).
    pub button_serial: Option<u32>,
    /// Serial of the last wl_keyboard.enter (for wl_data_device.set_selection).
    pub keyboard_serial: Option<u32>,
    /// How many times a data source of ours was asked for its data.
    pub selection_sent: u32,
    /// Serial of the last wl_pointer.enter (for wl_pointer.set_cursor).
    pub enter_serial: Option<u32>,
}

/// An input event the client received.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// wl_keyboard.enter on the surface with this protocol id.
    KeyboardEnter(u32),
    /// wl_keyboard.leave.
    KeyboardLeave,
    /// wl_keyboard.key: evdev code, pressed.
    Key(u32, bool),
    /// wl_keyboard.keymap received (its size).
    Keymap(u32),
    /// wl_keyboard.modifiers: depressed, locked, group.
    Modifiers(u32, u32, u32),
    /// wl_pointer.enter on the surface with this protocol id, at surface-local x, y.
    PointerEnter(u32, f64, f64),
    /// wl_pointer.leave.
    PointerLeave,
    /// wl_pointer.motion at surface-local x, y.
    Motion(f64, f64),
    /// wl_pointer.button: code, pressed.
    Button(u32, bool),
    /// wl_pointer.axis: vertical?, value.
    Axis(bool, f64),
}

/// A connected test client.
#[derive(Debug)]
pub struct Client {
    _conn: Connection,
    queue: EventQueue<Seen>,
    qh: QueueHandle<Seen>,
    /// What happened.
    pub seen: Seen,
    compositor: wl_compositor::WlCompositor,
    subcompositor: wl_subcompositor::WlSubcompositor,
    shm: wl_shm::WlShm,
    wm_base: xdg_wm_base::XdgWmBase,
    seat: wl_seat::WlSeat,
    data_device_manager: wl_data_device_manager::WlDataDeviceManager,
    pointer: wl_pointer::WlPointer,
}

/// A toplevel window of the client.
#[derive(Debug)]
pub struct Toplevel {
    /// Its surface.
    pub surface: wl_surface::WlSurface,
    /// Its xdg_surface.
    pub xdg_surface: xdg_surface::XdgSurface,
    /// Its role object.
    pub toplevel: xdg_toplevel::XdgToplevel,
}

/// A popup of the client.
#[derive(Debug)]
pub struct Popup {
    /// Its surface.
    pub surface: wl_surface::WlSurface,
    /// Its xdg_surface.
    pub xdg_surface: xdg_surface::XdgSurface,
    /// Its role object.
    pub popup: xdg_popup::XdgPopup,
}

impl Client {
    /// Connects to the agent's socket at `path`.
    pub fn connect(path: &Path) -> Self {
        let stream = UnixStream::connect(path).expect("agent socket");
        let conn = Connection::from_socket(stream).expect("wayland connection");
        let (globals, queue) = registry_queue_init::<Seen>(&conn).expect("registry");
        let qh = queue.handle();
        let compositor = globals.bind(&qh, 4..=6, ()).expect("wl_compositor");
        let subcompositor = globals.bind(&qh, 1..=1, ()).expect("wl_subcompositor");
        let shm = globals.bind(&qh, 1..=1, ()).expect("wl_shm");
        let wm_base = globals.bind(&qh, 1..=6, ()).expect("xdg_wm_base");
        let seat: wl_seat::WlSeat = globals.bind(&qh, 5..=7, ()).expect("wl_seat");
        let data_device_manager = globals
            .bind(&qh, 1..=3, ())
            .expect("wl_data_device_manager");
        seat.get_keyboard(&qh, ());
        let pointer = seat.get_pointer(&qh, ());
        let mut client = Client {
            _conn: conn,
            queue,
            qh,
            seen: Seen::default(),
            compositor,
            subcompositor,
            shm,
            wm_base,
            seat,
            data_device_manager,
            pointer,
        };
        client.roundtrip();
        client
    }

    /// Sets the seat's clipboard selection the way a windowed app does (`wl_data_device`,
    /// with the serial of the keyboard focus it was given): a source offering `mime` that
    /// answers every request with `data`. Panics if the client never had keyboard focus.
    pub fn copy(&mut self, mime: &str, data: &[u8]) -> wl_data_source::WlDataSource {
        let serial = self.seen.keyboard_serial.expect("keyboard focus first");
        let source = self
            .data_device_manager
            .create_data_source(&self.qh, data.to_vec());
        source.offer(mime.to_owned());
        let device = self
            .data_device_manager
            .get_data_device(&self.seat, &self.qh, ());
        device.set_selection(Some(&source), serial);
        self.roundtrip();
        source
    }

    /// The queue handle, for requests the helpers do not cover.
    pub fn queue_handle(&self) -> QueueHandle<Seen> {
        self.qh.clone()
    }

    /// Round-trips until `input` contains an event matching `want` (or panics).
    pub fn wait_input(&mut self, what: &str, want: impl Fn(&Input) -> bool) {
        for _ in 0..200 {
            self.roundtrip();
            if self.seen.input.iter().any(&want) {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        panic!("no {what}; input so far: {:?}", self.seen.input);
    }

    /// Hides the pointer over this client's surface (wl_pointer.set_cursor without a
    /// surface, with the last enter's serial).
    pub fn hide_cursor(&mut self) {
        let serial = self.seen.enter_serial.expect("a pointer enter first");
        self.pointer.set_cursor(serial, None, 0, 0);
        self.roundtrip();
    }

    /// Like [`roundtrip`](Self::roundtrip), but a protocol error is an answer, not a
    /// test failure.
    pub fn try_roundtrip(&mut self) -> bool {
        self.queue.roundtrip(&mut self.seen).is_ok()
    }

    /// `count` 1×1 toplevels at once (two roundtrips in all, for the window limit).
    pub fn many_toplevels(&mut self, count: usize) -> Vec<Toplevel> {
        // Roundtrips every so often keep the socket buffer from filling up.
        let toplevels: Vec<Toplevel> = (0..count)
            .map(|i| {
                if i % 200 == 199 {
                    self.roundtrip();
                }
                let surface = self.compositor.create_surface(&self.qh, ());
                let xdg_surface = self.wm_base.get_xdg_surface(&surface, &self.qh, ());
                let toplevel = xdg_surface.get_toplevel(&self.qh, ());
                surface.commit();
                Toplevel {
                    surface,
                    xdg_surface,
                    toplevel,
                }
            })
            .collect();
        self.roundtrip();
        let buffer = self.buffer(1, 1, |_, _| RED);
        for (i, (xdg_surface, serial)) in std::mem::take(&mut self.seen.configures)
            .into_iter()
            .enumerate()
        {
            if i % 200 == 199 {
                self.roundtrip();
            }
            xdg_surface.ack_configure(serial);
        }
        for (i, toplevel) in toplevels.iter().enumerate() {
            if i % 200 == 199 {
                self.roundtrip();
            }
            toplevel.surface.attach(Some(&buffer), 0, 0);
            toplevel.surface.commit();
        }
        self.roundtrip();
        toplevels
    }

    /// Waits until the agent has processed everything sent so far.
    pub fn roundtrip(&mut self) {
        self.queue.roundtrip(&mut self.seen).expect("roundtrip");
    }

    /// A `width × height` wl_shm buffer filled by `pixel(x, y)`.
    pub fn buffer(
        &self,
        width: i32,
        height: i32,
        pixel: impl Fn(i32, i32) -> u32,
    ) -> wl_buffer::WlBuffer {
        let mut bytes = Vec::with_capacity((width * height * 4) as usize);
        for y in 0..height {
            for x in 0..width {
                bytes.extend_from_slice(&pixel(x, y).to_le_bytes());
            }
        }
        let mut file = tempfile::tempfile().expect("temp file");
        file.write_all(&bytes).expect("write pixels");
        let pool = self
            .shm
            .create_pool(file.as_fd(), width * height * 4, &self.qh, ());
        let buffer = pool.create_buffer(
            0,
            width,
            height,
            width * 4,
            wl_shm::Format::Argb8888,
            &self.qh,
            (),
        );
        pool.destroy();
        buffer
    }

    fn acknowledge(&mut self, xdg_surface: &xdg_surface::XdgSurface) {
        self.roundtrip();
        let position = self
            .seen
            .configures
            .iter()
            .rposition(|(s, _)| s == xdg_surface)
            .expect("a configure");
        let (_, serial) = self.seen.configures.remove(position);
        xdg_surface.ack_configure(serial);
    }

    /// A toplevel showing a `width × height` buffer of `color`, window geometry the whole
    /// surface.
    pub fn toplevel(&mut self, title: &str, width: i32, height: i32, color: u32) -> Toplevel {
        self.toplevel_with(title, (width, height), None, |_, _| color)
    }

    /// A toplevel showing a `width × height` buffer drawn by `pixel`, with an optional
    /// window geometry (x, y, w, h) inside it (the rest is client-side shadow).
    pub fn toplevel_with(
        &mut self,
        title: &str,
        size: (i32, i32),
        geometry: Option<(i32, i32, i32, i32)>,
        pixel: impl Fn(i32, i32) -> u32,
    ) -> Toplevel {
        self.toplevel_prepared(title, size, geometry, pixel, |_| {})
    }

    /// As [`Client::toplevel_with`], with `prepare` called on the toplevel before its
    /// first commit (state wishes such as `set_fullscreen`, as `foot --fullscreen` does).
    pub fn toplevel_prepared(
        &mut self,
        title: &str,
        (width, height): (i32, i32),
        geometry: Option<(i32, i32, i32, i32)>,
        pixel: impl Fn(i32, i32) -> u32,
        prepare: impl FnOnce(&xdg_toplevel::XdgToplevel),
    ) -> Toplevel {
        let surface = self.compositor.create_surface(&self.qh, ());
        let xdg_surface = self.wm_base.get_xdg_surface(&surface, &self.qh, ());
        let toplevel = xdg_surface.get_toplevel(&self.qh, ());
        toplevel.set_title(title.to_owned());
        toplevel.set_app_id("bulkhead.test".to_owned());
        prepare(&toplevel);
        surface.commit();
        self.acknowledge(&xdg_surface);
        if let Some((x, y, w, h)) = geometry {
            xdg_surface.set_window_geometry(x, y, w, h);
        }
        let buffer = self.buffer(width, height, pixel);
        surface.attach(Some(&buffer), 0, 0);
        surface.damage_buffer(0, 0, width, height);
        surface.commit();
        self.roundtrip();
        Toplevel {
            surface,
            xdg_surface,
            toplevel,
        }
    }

    /// Replaces the toplevel's content with a new buffer (resizing it).
    pub fn redraw(&mut self, surface: &wl_surface::WlSurface, width: i32, height: i32, color: u32) {
        let buffer = self.buffer(width, height, |_, _| color);
        surface.attach(Some(&buffer), 0, 0);
        surface.damage_buffer(0, 0, width, height);
        surface.commit();
        self.roundtrip();
    }

    /// Attaches a buffer `pixel` and damages only `damage` (x, y, w, h) of it.
    pub fn partial_redraw(
        &mut self,
        surface: &wl_surface::WlSurface,
        size: (i32, i32),
        damage: (i32, i32, i32, i32),
        pixel: impl Fn(i32, i32) -> u32,
    ) {
        let buffer = self.buffer(size.0, size.1, pixel);
        surface.attach(Some(&buffer), 0, 0);
        surface.damage_buffer(damage.0, damage.1, damage.2, damage.3);
        surface.commit();
        self.roundtrip();
    }

    /// Asks for a frame callback on `surface` and commits.
    pub fn request_frame(&mut self, surface: &wl_surface::WlSurface) {
        surface.frame(&self.qh, ());
        surface.commit();
        self.roundtrip();
    }

    /// A subsurface of `parent` at `(x, y)` showing `width × height` of `color`
    /// (synchronized: shown with the parent's next commit, which this makes).
    pub fn subsurface(
        &mut self,
        parent: &wl_surface::WlSurface,
        (x, y): (i32, i32),
        (width, height): (i32, i32),
        color: u32,
    ) -> (wl_surface::WlSurface, wl_subsurface::WlSubsurface) {
        let surface = self.compositor.create_surface(&self.qh, ());
        let subsurface = self
            .subcompositor
            .get_subsurface(&surface, parent, &self.qh, ());
        subsurface.set_position(x, y);
        let buffer = self.buffer(width, height, |_, _| color);
        surface.attach(Some(&buffer), 0, 0);
        surface.damage_buffer(0, 0, width, height);
        surface.commit();
        parent.commit();
        self.roundtrip();
        (surface, subsurface)
    }

    /// A popup of `parent` anchored at `(x, y)` of its window geometry, growing down and
    /// right, showing `width × height` of `color`.
    pub fn popup(
        &mut self,
        parent: &xdg_surface::XdgSurface,
        anchor: (i32, i32),
        size: (i32, i32),
        color: u32,
    ) -> Popup {
        let none = xdg_positioner::ConstraintAdjustment::empty();
        self.popup_adjusted(parent, anchor, size, color, none)
    }

    /// Like [`popup`](Self::popup), for a menu: it grabs the pointer with the serial of
    /// the last button press (as menus opened by a click do).
    pub fn grabbing_popup(
        &mut self,
        parent: &xdg_surface::XdgSurface,
        anchor: (i32, i32),
        (width, height): (i32, i32),
        color: u32,
    ) -> Popup {
        let serial = self
            .seen
            .button_serial
            .expect("a button press to grab with");
        let positioner = self.wm_base.create_positioner(&self.qh, ());
        positioner.set_size(width, height);
        positioner.set_anchor_rect(anchor.0, anchor.1, 1, 1);
        positioner.set_anchor(xdg_positioner::Anchor::TopLeft);
        positioner.set_gravity(xdg_positioner::Gravity::BottomRight);
        let surface = self.compositor.create_surface(&self.qh, ());
        let xdg_surface = self.wm_base.get_xdg_surface(&surface, &self.qh, ());
        let popup = xdg_surface.get_popup(Some(parent), &positioner, &self.qh, ());
        positioner.destroy();
        popup.grab(&self.seat, serial);
        surface.commit();
        self.acknowledge(&xdg_surface);
        let buffer = self.buffer(width, height, |_, _| color);
        surface.attach(Some(&buffer), 0, 0);
        surface.damage_buffer(0, 0, width, height);
        surface.commit();
        self.roundtrip();
        Popup {
            surface,
            xdg_surface,
            popup,
        }
    }

    /// Like [`popup`](Self::popup), letting the compositor adjust it as `adjustment` says
    /// when it would leave the output.
    pub fn popup_adjusted(
        &mut self,
        parent: &xdg_surface::XdgSurface,
        (x, y): (i32, i32),
        (width, height): (i32, i32),
        color: u32,
        adjustment: xdg_positioner::ConstraintAdjustment,
    ) -> Popup {
        let positioner = self.wm_base.create_positioner(&self.qh, ());
        positioner.set_constraint_adjustment(adjustment);
        positioner.set_size(width, height);
        positioner.set_anchor_rect(x, y, 1, 1);
        positioner.set_anchor(xdg_positioner::Anchor::TopLeft);
        positioner.set_gravity(xdg_positioner::Gravity::BottomRight);
        let surface = self.compositor.create_surface(&self.qh, ());
        let xdg_surface = self.wm_base.get_xdg_surface(&surface, &self.qh, ());
        let popup = xdg_surface.get_popup(Some(parent), &positioner, &self.qh, ());
        positioner.destroy();
        surface.commit();
        self.acknowledge(&xdg_surface);
        let buffer = self.buffer(width, height, |_, _| color);
        surface.attach(Some(&buffer), 0, 0);
        surface.damage_buffer(0, 0, width, height);
        surface.commit();
        self.roundtrip();
        Popup {
            surface,
            xdg_surface,
            popup,
        }
    }
}

impl Dispatch<wl_registry::WlRegistry, GlobalListContents> for Seen {
    fn event(
        _: &mut Self,
        _: &wl_registry::WlRegistry,
        _: wl_registry::Event,
        _: &GlobalListContents,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
    }
}

impl Dispatch<xdg_wm_base::XdgWmBase, ()> for Seen {
    fn event(
        _: &mut Self,
        wm_base: &xdg_wm_base::XdgWmBase,
        event: xdg_wm_base::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let xdg_wm_base::Event::Ping { serial } = event {
            wm_base.pong(serial);
        }
    }
}

impl Dispatch<xdg_surface::XdgSurface, ()> for Seen {
    fn event(
        seen: &mut Self,
        xdg_surface: &xdg_surface::XdgSurface,
        event: xdg_surface::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let xdg_surface::Event::Configure { serial } = event {
            seen.configures.push((xdg_surface.clone(), serial));
        }
    }
}

impl Dispatch<xdg_toplevel::XdgToplevel, ()> for Seen {
    fn event(
        seen: &mut Self,
        _: &xdg_toplevel::XdgToplevel,
        event: xdg_toplevel::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        match event {
            xdg_toplevel::Event::Configure { width, height, .. } => {
                seen.toplevel_size = Some((width, height));
            }
            xdg_toplevel::Event::Close => seen.closed = true,
            _ => {}
        }
    }
}

impl Dispatch<xdg_popup::XdgPopup, ()> for Seen {
    fn event(
        seen: &mut Self,
        _: &xdg_popup::XdgPopup,
        event: xdg_popup::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let xdg_popup::Event::PopupDone = event {
            seen.popup_done = true;
        }
    }
}

impl Dispatch<wl_callback::WlCallback, ()> for Seen {
    fn event(
        seen: &mut Self,
        _: &wl_callback::WlCallback,
        event: wl_callback::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let wl_callback::Event::Done { .. } = event {
            seen.frames_done += 1;
        }
    }
}

impl Dispatch<wl_keyboard::WlKeyboard, ()> for Seen {
    fn event(
        seen: &mut Self,
        _: &wl_keyboard::WlKeyboard,
        event: wl_keyboard::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        match event {
            wl_keyboard::Event::Enter {
                surface, serial, ..
            } => {
                seen.keyboard_serial = Some(serial);
                seen.input
                    .push(Input::KeyboardEnter(surface.id().protocol_id()));
            }
            wl_keyboard::Event::Leave { .. } => seen.input.push(Input::KeyboardLeave),
            wl_keyboard::Event::Key { key, state, .. } => {
                let pressed = matches!(state, WEnum::Value(wl_keyboard::KeyState::Pressed));
                seen.input.push(Input::Key(key, pressed));
            }
            wl_keyboard::Event::Keymap { size, .. } => seen.input.push(Input::Keymap(size)),
            wl_keyboard::Event::Modifiers {
                mods_depressed,
                mods_locked,
                group,
                ..
            } => seen
                .input
                .push(Input::Modifiers(mods_depressed, mods_locked, group)),
            _ => {}
        }
    }
}

impl Dispatch<wl_pointer::WlPointer, ()> for Seen {
    fn event(
        seen: &mut Self,
        _: &wl_pointer::WlPointer,
        event: wl_pointer::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        match event {
            wl_pointer::Event::Enter {
                serial,
                surface,
                surface_x,
                surface_y,
            } => {
                seen.enter_serial = Some(serial);
                seen.input.push(Input::PointerEnter(
                    surface.id().protocol_id(),
                    surface_x,
                    surface_y,
                ));
            }
            wl_pointer::Event::Leave { .. } => seen.input.push(Input::PointerLeave),
            wl_pointer::Event::Motion {
                surface_x,
                surface_y,
                ..
            } => seen.input.push(Input::Motion(surface_x, surface_y)),
            wl_pointer::Event::Button {
                button,
                state,
                serial,
                ..
            } => {
                seen.button_serial = Some(serial);
                let pressed = matches!(state, WEnum::Value(wl_pointer::ButtonState::Pressed));
                seen.input.push(Input::Button(button, pressed));
            }
            wl_pointer::Event::Axis { axis, value, .. } => {
                let vertical = matches!(axis, WEnum::Value(wl_pointer::Axis::VerticalScroll));
                seen.input.push(Input::Axis(vertical, value));
            }
            _ => {}
        }
    }
}

impl Dispatch<wl_data_source::WlDataSource, Vec<u8>> for Seen {
    fn event(
        seen: &mut Self,
        _: &wl_data_source::WlDataSource,
        event: wl_data_source::Event,
        data: &Vec<u8>,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let wl_data_source::Event::Send { fd, .. } = event {
            seen.selection_sent += 1;
            // The reader may give up early; that is its business.
            let _ = std::fs::File::from(fd).write_all(data);
        }
    }
}

impl Dispatch<wl_data_device::WlDataDevice, ()> for Seen {
    fn event(
        _: &mut Self,
        _: &wl_data_device::WlDataDevice,
        _: wl_data_device::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
    }

    wayland_client::event_created_child!(Seen, wl_data_device::WlDataDevice, [
        wl_data_device::EVT_DATA_OFFER_OPCODE => (wl_data_offer::WlDataOffer, ()),
    ]);
}

delegate_noop!(Seen: ignore wl_data_offer::WlDataOffer);
delegate_noop!(Seen: wl_data_device_manager::WlDataDeviceManager);
delegate_noop!(Seen: ignore wl_seat::WlSeat);
delegate_noop!(Seen: wl_compositor::WlCompositor);
delegate_noop!(Seen: wl_subcompositor::WlSubcompositor);
delegate_noop!(Seen: wl_subsurface::WlSubsurface);
delegate_noop!(Seen: wl_shm_pool::WlShmPool);
delegate_noop!(Seen: xdg_positioner::XdgPositioner);
delegate_noop!(Seen: ignore wl_shm::WlShm);
delegate_noop!(Seen: ignore wl_buffer::WlBuffer);
delegate_noop!(Seen: ignore wl_surface::WlSurface);
