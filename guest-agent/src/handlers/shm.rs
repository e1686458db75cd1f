//! wl_shm: ARGB8888 and XRGB8888 (always supported by smithay), nothing else.

use smithay::delegate_shm;
use smithay::reexports::wayland_server::protocol::wl_buffer::WlBuffer;
use smithay::wayland::buffer::BufferHandler;
use smithay::wayland::shm::{ShmHandler, ShmState};

use crate::state::Agent;

impl BufferHandler for Agent {
    fn buffer_destroyed(&mut self, _buffer: &WlBuffer) {}
}

impl ShmHandler for Agent {
    fn shm_state(&self) -> &ShmState {
        &self.wayland.shm
    }
}

delegate_shm!(Agent);
