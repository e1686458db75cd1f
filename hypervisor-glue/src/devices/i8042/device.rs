//! A keyboard controller with no keyboard: status reads say "nothing to read", and command
//! 0xfe (pulse the CPU reset line) is the guest's reboot request (`reboot=k`). Port 0x61 is
//! not ours: KVM's PIT emulates it (`KVM_PIT_SPEAKER_DUMMY`).

use crate::devices::{BusDevice, DeviceEvent};

/// Data port.
pub const I8042_DATA_PORT: u16 = 0x60;
/// Status (read) and command (write) port.
pub const I8042_COMMAND_PORT: u16 = 0x64;
const CMD_RESET_CPU: u8 = 0xfe;

/// The controller.
#[derive(Debug, Default)]
pub struct I8042;

impl BusDevice for I8042 {
    fn read(&mut self, _base: u64, _offset: u64, data: &mut [u8]) {
        // Output buffer empty, input buffer empty.
        data.fill(0);
    }

    fn write(&mut self, base: u64, offset: u64, data: &[u8]) -> Option<DeviceEvent> {
        let port = base + offset;
        (port == u64::from(I8042_COMMAND_PORT) && data.first() == Some(&CMD_RESET_CPU))
            .then_some(DeviceEvent::Reset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reset_command() {
        let mut k = I8042;
        assert_eq!(k.write(0x64, 0, &[0xfe]), Some(DeviceEvent::Reset));
        assert_eq!(k.write(0x64, 0, &[0xaa]), None);
        assert_eq!(k.write(0x60, 0, &[0xfe]), None);
        let mut b = [0xffu8];
        k.read(0x64, 0, &mut b);
        assert_eq!(b, [0]);
    }
}
