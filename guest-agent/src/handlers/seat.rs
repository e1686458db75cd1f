//! wl_seat: one keyboard and one pointer, both driven by dom0's input events.

use smithay::delegate_seat;
use smithay::input::pointer::CursorImageStatus;
use smithay::input::{Seat, SeatHandler, SeatState};
use smithay::reexports::wayland_server::Resource;
use smithay::reexports::wayland_server::protocol::wl_surface::WlSurface;
use smithay::wayland::selection::data_device::set_data_device_focus;

use bulkhead_protocol::{Capabilities, CursorShape};

use crate::link::AgentMessage;
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
        // dom0 draws the pointer from its own theme: only a shape's name crosses over.
        self.set_cursor(cursor_shape(&image));
    }
}

/// The wire's shape for what a client asked: named shapes by their CSS name, a cursor
/// surface (an image dom0 will not show) as the default arrow.
pub fn cursor_shape(image: &CursorImageStatus) -> CursorShape {
    match image {
        CursorImageStatus::Hidden => CursorShape::Hidden,
        CursorImageStatus::Named(icon) => CursorShape::ALL
            .iter()
            .copied()
            .find(|shape| shape.css_name() == icon.name())
            .unwrap_or(CursorShape::Default),
        CursorImageStatus::Surface(_) => CursorShape::Default,
    }
}

impl Agent {
    /// Tells dom0 the pointer shape over the pointer's window, if it changed and dom0
    /// takes shapes.
    fn set_cursor(&mut self, shape: CursorShape) {
        if !self.dom0_capabilities.contains(Capabilities::CURSOR_SHAPE) {
            return;
        }
        let Some(window) = self.input.pointer else {
            return;
        };
        if self.input.cursor == Some((window, shape)) {
            return;
        }
        self.input.cursor = Some((window, shape));
        if self.windows.get(window).is_some_and(|w| w.created) {
            self.send(AgentMessage::SetCursor { window, shape });
        }
    }
}

delegate_seat!(Agent);

#[cfg(test)]
mod tests {
    use super::*;
    use smithay::input::pointer::CursorIcon;

    #[test]
    fn named_cursors_map_to_wire_shapes() {
        assert_eq!(
            cursor_shape(&CursorImageStatus::Named(CursorIcon::Text)),
            CursorShape::Text
        );
        assert_eq!(
            cursor_shape(&CursorImageStatus::Named(CursorIcon::NwseResize)),
            CursorShape::ResizeNwse
        );
        assert_eq!(
            cursor_shape(&CursorImageStatus::Hidden),
            CursorShape::Hidden
        );
        assert_eq!(
            cursor_shape(&CursorImageStatus::Named(CursorIcon::Default)),
            CursorShape::Default
        );
    }
}
