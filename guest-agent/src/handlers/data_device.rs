//! wl_data_device_manager: the qube's own clipboard and drag-and-drop between its apps.
//! Nothing here reaches dom0; copying between qubes is dom0's gesture (DESIGN.md).

use std::os::fd::OwnedFd;

use smithay::delegate_data_device;
use smithay::input::Seat;
use smithay::wayland::selection::SelectionHandler;
use smithay::wayland::selection::data_device::{
    ClientDndGrabHandler, DataDeviceHandler, DataDeviceState, ServerDndGrabHandler,
};

use crate::state::Agent;

impl SelectionHandler for Agent {
    type SelectionUserData = ();
}

impl DataDeviceHandler for Agent {
    fn data_device_state(&self) -> &DataDeviceState {
        &self.wayland.data_device
    }
}

impl ClientDndGrabHandler for Agent {}

impl ServerDndGrabHandler for Agent {
    fn send(&mut self, _mime_type: String, _fd: OwnedFd, _seat: Seat<Self>) {}
}

delegate_data_device!(Agent);
