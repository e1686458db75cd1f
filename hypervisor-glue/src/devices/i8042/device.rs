//! A keyboard controller with no keyboard and no mouse, enough for Linux's i8042 driver to
//! find a controller quickly and for `reboot=k`: the controller configuration byte can be read
//! and written, the self tests pass, and command 0xfe (pulse the CPU reset line) is the
//! guest's reset request. Bytes sent to the (absent) keyboard get no answer. Port 0x61 is not
//! ours: KVM's PIT emulates it (`KVM_PIT_SPEAKER_DUMMY`).

use std::collections::VecDeque;

use crate::devices::{BusDevice, DeviceEvent};

/// Data port.
pub const I8042_DATA_PORT: u16 = 0x60;
/// Status (read) and command (write) port.
pub const I8042_COMMAND_PORT: u16 = 0x64;

const CMD_READ_CTR: u8 = 0x20;
const CMD_WRITE_CTR: u8 = 0x60;
const CMD_SELF_TEST: u8 = 0xaa;
const CMD_KBD_TEST: u8 = 0xab;
const CMD_AUX_TEST: u8 = 0xa9;
const CMD_WRITE_AUX: u8 = 0xd4;
const CMD_AUX_LOOP: u8 = 0xd3;
const CMD_AUX_DISABLE: u8 = 0xa7;
const CMD_AUX_ENABLE: u8 = 0xa8;
const CMD_KBD_DISABLE: u8 = 0xad;
const CMD_KBD_ENABLE: u8 = 0xae;
const CTR_KBD_DISABLED: u8 = 0x10;
const CTR_AUX_DISABLED: u8 = 0x20;
const CMD_RESET_CPU: u8 = 0xfe;

const STATUS_OUTPUT_FULL: u8 = 0x01;
const STATUS_SYSTEM_FLAG: u8 = 0x04;
const STATUS_LAST_WAS_COMMAND: u8 = 0x08;

/// Keyboard interrupt on, system flag, translation.
const CTR_DEFAULT: u8 = 0x45;
/// Longest output queue a guest can build up; more is dropped.
const MAX_QUEUE: usize = 16;

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
enum Pending {
    #[default]
    None,
    WriteCtr,
    WriteAux,
    AuxLoop,
}

/// The controller.
#[derive(Debug)]
pub struct I8042 {
    ctr: u8,
    status: u8,
    pending: Pending,
    output: VecDeque<u8>,
}

impl Default for I8042 {
    fn default() -> Self {
        Self {
            ctr: CTR_DEFAULT,
            status: STATUS_SYSTEM_FLAG,
            pending: Pending::None,
            output: VecDeque::new(),
        }
    }
}

impl I8042 {
    fn push(&mut self, b: u8) {
        if self.output.len() < MAX_QUEUE {
            self.output.push_back(b);
        }
    }

    fn command(&mut self, cmd: u8) -> Option<DeviceEvent> {
        self.status |= STATUS_LAST_WAS_COMMAND;
        match cmd {
            CMD_READ_CTR => self.push(self.ctr),
            CMD_WRITE_CTR => self.pending = Pending::WriteCtr,
            CMD_WRITE_AUX => self.pending = Pending::WriteAux,
            CMD_SELF_TEST => self.push(0x55),
            CMD_AUX_DISABLE => self.ctr |= CTR_AUX_DISABLED,
            CMD_AUX_ENABLE => self.ctr &= !CTR_AUX_DISABLED,
            CMD_KBD_DISABLE => self.ctr |= CTR_KBD_DISABLED,
            CMD_KBD_ENABLE => self.ctr &= !CTR_KBD_DISABLED,
            CMD_KBD_TEST => self.push(0x00),
            // No mouse: the AUX interface test reports "clock line stuck low", and the
            // loopback below answers without the AUX-data status bit, so Linux concludes at
            // once that there is no AUX port instead of waiting out its timeouts.
            CMD_AUX_TEST => self.push(0x01),
            CMD_AUX_LOOP => self.pending = Pending::AuxLoop,
            CMD_RESET_CPU => return Some(DeviceEvent::Reset),
            _ => {}
        }
        None
    }

    fn data(&mut self, b: u8) {
        self.status &= !STATUS_LAST_WAS_COMMAND;
        match std::mem::take(&mut self.pending) {
            Pending::WriteCtr => self.ctr = b,
            Pending::AuxLoop => self.push(!b),
            // No mouse and no keyboard behind the controller: nothing answers.
            Pending::WriteAux | Pending::None => {}
        }
    }
}

impl BusDevice for I8042 {
    fn read(&mut self, base: u64, offset: u64, data: &mut [u8]) {
        let value = if base + offset == u64::from(I8042_COMMAND_PORT) {
            let full = if self.output.is_empty() {
                0
            } else {
                STATUS_OUTPUT_FULL
            };
            self.status | full
        } else {
            self.output.pop_front().unwrap_or(0)
        };
        data.fill(0);
        if let Some(b) = data.first_mut() {
            *b = value;
        }
    }

    fn write(&mut self, base: u64, offset: u64, data: &[u8]) -> Option<DeviceEvent> {
        let b = *data.first()?;
        if base + offset == u64::from(I8042_COMMAND_PORT) {
            self.command(b)
        } else {
            self.data(b);
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(k: &mut I8042, port: u16) -> u8 {
        let mut b = [0u8];
        k.read(u64::from(port), 0, &mut b);
        b[0]
    }

    #[test]
    fn reset_command() {
        let mut k = I8042::default();
        assert_eq!(k.write(0x64, 0, &[0xfe]), Some(DeviceEvent::Reset));
        assert_eq!(k.write(0x60, 0, &[0xfe]), None);
    }

    #[test]
    fn configuration_byte_round_trip() {
        let mut k = I8042::default();
        assert_eq!(read(&mut k, 0x64) & STATUS_OUTPUT_FULL, 0);
        k.write(0x64, 0, &[CMD_READ_CTR]);
        assert_ne!(read(&mut k, 0x64) & STATUS_OUTPUT_FULL, 0);
        assert_eq!(read(&mut k, 0x60), CTR_DEFAULT);
        assert_eq!(read(&mut k, 0x64) & STATUS_OUTPUT_FULL, 0);
        k.write(0x64, 0, &[CMD_WRITE_CTR]);
        k.write(0x60, 0, &[0x30]);
        k.write(0x64, 0, &[CMD_READ_CTR]);
        assert_eq!(read(&mut k, 0x60), 0x30);
    }

    #[test]
    fn port_enable_bits_follow_commands() {
        let mut k = I8042::default();
        k.write(0x64, 0, &[CMD_AUX_DISABLE]);
        k.write(0x64, 0, &[CMD_READ_CTR]);
        assert_ne!(read(&mut k, 0x60) & CTR_AUX_DISABLED, 0);
        k.write(0x64, 0, &[CMD_AUX_ENABLE]);
        k.write(0x64, 0, &[CMD_READ_CTR]);
        assert_eq!(read(&mut k, 0x60) & CTR_AUX_DISABLED, 0);
    }

    #[test]
    fn no_aux_port_is_reported_at_once() {
        let mut k = I8042::default();
        k.write(0x64, 0, &[CMD_AUX_LOOP]);
        k.write(0x60, 0, &[0x5a]);
        let status = read(&mut k, 0x64);
        assert_ne!(status & STATUS_OUTPUT_FULL, 0);
        assert_eq!(status & 0x20, 0, "no AUX data bit");
        assert_ne!(read(&mut k, 0x60), 0x5a);
        k.write(0x64, 0, &[CMD_AUX_TEST]);
        assert_eq!(read(&mut k, 0x60), 0x01);
    }

    #[test]
    fn self_test_passes_and_queue_is_bounded() {
        let mut k = I8042::default();
        k.write(0x64, 0, &[CMD_SELF_TEST]);
        assert_eq!(read(&mut k, 0x60), 0x55);
        for _ in 0..100 {
            k.write(0x64, 0, &[CMD_SELF_TEST]);
        }
        assert_eq!(k.output.len(), MAX_QUEUE);
    }
}
