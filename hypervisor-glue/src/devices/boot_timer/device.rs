//! Firecracker-style boot timing. The guest's init writes [`BOOT_MARKER_VALUE`] to I/O port
//! [`BOOT_MARKER_PORT`] as its first act (for example
//! `printf '\173' | dd of=/dev/port bs=1 seek=1008 count=1`); the vCPU loop turns that into a
//! timestamped event. Any other value is ignored.

use crate::devices::{BusDevice, DeviceEvent};

/// The port (0x3f0, the unused floppy controller base; 1008 decimal).
pub const BOOT_MARKER_PORT: u16 = 0x03f0;
/// The byte that means "init has started" (123, as Firecracker).
pub const BOOT_MARKER_VALUE: u8 = 123;

/// The marker device. Reads return zero.
#[derive(Debug, Default)]
pub struct BootTimer {
    seen: bool,
}

impl BusDevice for BootTimer {
    fn read(&mut self, _base: u64, _offset: u64, data: &mut [u8]) {
        data.fill(0);
    }

    fn write(&mut self, _base: u64, offset: u64, data: &[u8]) -> Option<DeviceEvent> {
        if offset == 0 && data.first() == Some(&BOOT_MARKER_VALUE) && !self.seen {
            self.seen = true;
            return Some(DeviceEvent::BootMarker);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marker_reported_once() {
        let mut t = BootTimer::default();
        assert_eq!(t.write(0x3f0, 0, &[1]), None);
        assert_eq!(t.write(0x3f0, 0, &[123]), Some(DeviceEvent::BootMarker));
        assert_eq!(t.write(0x3f0, 0, &[123]), None);
    }
}
