//! wl_data_device_manager: the qube's own clipboard and drag-and-drop between its apps;
//! zwlr_data_control_manager_v1: the same clipboard for command-line tools (`wl-copy`,
//! `wl-paste` need no window and no focus then). Only dom0's gestures move the clipboard
//! between qubes (`crate::clipboard`).

use std::os::fd::OwnedFd;
use std::sync::Arc;

use smithay::input::Seat;
use smithay::wayland::selection::data_device::{
    ClientDndGrabHandler, DataDeviceHandler, DataDeviceState, ServerDndGrabHandler,
};
use smithay::wayland::selection::wlr_data_control::{DataControlHandler, DataControlState};
use smithay::wayland::selection::{SelectionHandler, SelectionSource, SelectionTarget};
use smithay::{delegate_data_control, delegate_data_device};

use crate::clipboard::Pasted;
use crate::state::Agent;

impl SelectionHandler for Agent {
    type SelectionUserData = Arc<Pasted>;

    fn new_selection(
        &mut self,
        ty: SelectionTarget,
        source: Option<SelectionSource>,
        _seat: Seat<Self>,
    ) {
        if ty == SelectionTarget::Clipboard {
            self.clipboard.offered = source.map(|s| s.mime_types()).unwrap_or_default();
        }
    }

    fn send_selection(
        &mut self,
        _ty: SelectionTarget,
        _mime_type: String,
        fd: OwnedFd,
        _seat: Seat<Self>,
        user_data: &Self::SelectionUserData,
    ) {
        self.serve_pasted(Arc::clone(user_data), fd);
    }
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

impl DataControlHandler for Agent {
    fn data_control_state(&self) -> &DataControlState {
        &self.wayland.data_control
    }
}

delegate_data_device!(Agent);
delegate_data_control!(Agent);
