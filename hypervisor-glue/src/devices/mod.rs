//! Emulated devices and the buses the vCPU exits are dispatched on.
//!
//! Every device sits in its own folder with the same file names (`mod.rs` re-exports,
//! `device.rs` the emulation), as Firecracker lays out its devices.

pub mod boot_timer;
pub mod bus;
pub mod cmos;
pub mod gui_channel;
pub mod i8042;
pub mod serial;
pub mod virtio;
pub mod virtio_blk;

pub use bus::{Bus, BusDevice, BusError, DeviceEvent};
