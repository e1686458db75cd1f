//! The boot-time marker port: the guest's init writes one byte here, the VMM timestamps it.
mod device;
pub use device::{BOOT_MARKER_PORT, BOOT_MARKER_VALUE, BootTimer};
