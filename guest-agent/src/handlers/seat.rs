//! wl_seat: one keyboard and one pointer, both driven by dom0's input events.

use smithay::delegate_seat;
use smithay::input::pointer::CursorImageStatus;
use smithay::input::{Seat, SeatHandler, SeatState};
use smithay::reexports::wayland_server::Resource;
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::wayland::selection::data_device::set_data_device_focus;

use crate::state::Agent;

impl SeatHandler for Agent {
    type KeyboardFocus = WlSurface;
    type PointerFocus = WlSurface;
    type TouchFocus = WlSurface;

    fn seat_state(&mut self) -> &mut SeatState<Self> {
        &mut self.wayland.seat_state
    }

    fn focus_changed(&mut self, seat: &Seat<Self>, focused: Option<&WlSurface>) {
        // The qube's clipboard follows keyboard focus, as on any desktop.
        let client = focused.and_then(|s| self.wayland.display.get_client(s.id()).ok());
        set_data_device_focus(&self.wayland.display, seat, client);
    }

    fn cursor_image(&mut self, _seat: &Seat<Self>, image: CursorImageStatus) {
        // dom0 draws the pointer; a guest cannot change what it looks like.
        tracing::trace!(?image, "cursor image ignored");
    }
}

delegate_seat!(Agent);
