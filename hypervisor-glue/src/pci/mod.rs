//! The PCI bus: configuration mechanism 1 at ports 0xcf8/0xcfc, one bus, 32 slots, function 0
//! only, a host bridge at 00:00.0. Devices place their BARs on the MMIO bus themselves, at
//! addresses the VMM assigns from the PCI window; the VMM does not follow a guest that moves
//! them (Linux keeps valid assignments).

pub mod config;

use std::sync::{Arc, Mutex};

pub use config::{Bar, ConfigError, ConfigSpace, Identity};

use crate::devices::{BusDevice, DeviceEvent};

/// The base of configuration mechanism 1.
pub const PCI_CONFIG_PORT: u16 = 0xcf8;
/// Its length (address dword + data dword).
pub const PCI_CONFIG_LEN: u64 = 8;
/// Slots on the bus.
pub const SLOTS: usize = 32;

/// Bulkhead's PCI vendor id for its own devices. It is not registered with the PCI-SIG:
/// it only ever appears inside a qube, on a bus the VMM made up.
pub const BULKHEAD_VENDOR_ID: u16 = bulkhead_shm_transport::gui_device::VENDOR_ID;
/// The host bridge's device id.
pub const HOST_BRIDGE_DEVICE_ID: u16 = 0x0001;

/// A function on the bus.
pub trait PciDevice: Send {
    /// Reads configuration dword `reg`.
    fn config_read(&mut self, reg: usize) -> u32;
    /// Writes `data` at byte `offset` of configuration dword `reg`.
    fn config_write(&mut self, reg: usize, offset: usize, data: &[u8]);
}

/// The host bridge: identity only.
#[derive(Debug)]
pub struct HostBridge {
    config: ConfigSpace,
}

impl Default for HostBridge {
    fn default() -> Self {
        Self {
            config: ConfigSpace::new(
                Identity {
                    vendor: BULKHEAD_VENDOR_ID,
                    device: HOST_BRIDGE_DEVICE_ID,
                    class: 0x06_00_00,
                    revision: 0,
                    subsystem_vendor: BULKHEAD_VENDOR_ID,
                    subsystem: HOST_BRIDGE_DEVICE_ID,
                },
                0,
                0,
            ),
        }
    }
}

impl PciDevice for HostBridge {
    fn config_read(&mut self, reg: usize) -> u32 {
        self.config.read(reg)
    }
    fn config_write(&mut self, reg: usize, offset: usize, data: &[u8]) {
        self.config.write(reg, offset, data);
    }
}

/// Errors placing devices on the bus.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PciError {
    /// Every slot is taken.
    #[error("no free PCI slot")]
    NoSlot,
}

type SharedPciDevice = Arc<Mutex<dyn PciDevice>>;

/// Bus 0 and the mechanism-1 ports that reach it.
pub struct PciBus {
    slots: Vec<Option<SharedPciDevice>>,
    address: u32,
}

impl std::fmt::Debug for PciBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let used: Vec<usize> = (0..SLOTS).filter(|s| self.slots[*s].is_some()).collect();
        f.debug_struct("PciBus")
            .field("slots", &used)
            .field("address", &self.address)
            .finish()
    }
}

impl Default for PciBus {
    fn default() -> Self {
        let mut bus = Self {
            slots: vec![None; SLOTS],
            address: 0,
        };
        bus.slots[0] = Some(Arc::new(Mutex::new(HostBridge::default())));
        bus
    }
}

impl PciBus {
    /// A bus with only the host bridge.
    pub fn new() -> Self {
        Self::default()
    }

    /// The next free slot number.
    pub fn next_slot(&self) -> Result<u8, PciError> {
        let slot = self
            .slots
            .iter()
            .position(Option::is_none)
            .ok_or(PciError::NoSlot)?;
        u8::try_from(slot).map_err(|_| PciError::NoSlot)
    }

    /// Puts `device` in slot `slot`.
    pub fn add(&mut self, slot: u8, device: SharedPciDevice) -> Result<(), PciError> {
        let entry = self
            .slots
            .get_mut(usize::from(slot))
            .filter(|s| s.is_none())
            .ok_or(PciError::NoSlot)?;
        *entry = Some(device);
        Ok(())
    }

    /// The device and register the address latch selects, if any.
    fn selected(&self) -> Option<(&SharedPciDevice, usize)> {
        let a = self.address;
        let enabled = a & 0x8000_0000 != 0;
        let bus = (a >> 16) & 0xff;
        let slot = ((a >> 11) & 0x1f) as usize;
        let function = (a >> 8) & 0x7;
        let reg = ((a >> 2) & 0x3f) as usize;
        if !enabled || bus != 0 || function != 0 {
            return None;
        }
        Some((self.slots[slot].as_ref()?, reg))
    }
}

impl BusDevice for PciBus {
    fn read(&mut self, _base: u64, offset: u64, data: &mut [u8]) {
        let (value, shift) = if offset < 4 {
            (self.address, offset)
        } else {
            let v = match self.selected() {
                Some((dev, reg)) => dev
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .config_read(reg),
                None => 0xffff_ffff,
            };
            (v, offset - 4)
        };
        let bytes = value.to_le_bytes();
        for (i, b) in data.iter_mut().enumerate() {
            *b = bytes
                .get(usize::try_from(shift).unwrap_or(4) + i)
                .copied()
                .unwrap_or(0xff);
        }
    }

    fn write(&mut self, _base: u64, offset: u64, data: &[u8]) -> Option<DeviceEvent> {
        if offset == 0 && data.len() == 4 {
            self.address = u32::from_le_bytes([data[0], data[1], data[2], data[3]]);
        } else if offset >= 4 {
            if let Some((dev, reg)) = self.selected() {
                let byte = usize::try_from(offset - 4).unwrap_or(4);
                dev.lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .config_write(reg, byte, data);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn select(bus: &mut PciBus, slot: u32, reg: u32) {
        let a = 0x8000_0000 | (slot << 11) | (reg << 2);
        bus.write(0xcf8, 0, &a.to_le_bytes());
    }

    fn read32(bus: &mut PciBus) -> u32 {
        let mut d = [0u8; 4];
        bus.read(0xcf8, 4, &mut d);
        u32::from_le_bytes(d)
    }

    #[test]
    fn host_bridge_answers_and_empty_slots_float() {
        let mut bus = PciBus::new();
        select(&mut bus, 0, 0);
        assert_eq!(read32(&mut bus), 0x0001_b1c4);
        select(&mut bus, 0, 2);
        assert_eq!(read32(&mut bus) >> 8, 0x06_00_00);
        select(&mut bus, 5, 0);
        assert_eq!(read32(&mut bus), 0xffff_ffff);
        let mut d = [0u8; 4];
        bus.read(0xcf8, 0, &mut d);
        assert_eq!(u32::from_le_bytes(d), 0x8000_0000 | (5 << 11));
    }

    #[test]
    fn sub_dword_access() {
        let mut bus = PciBus::new();
        select(&mut bus, 0, 0);
        let mut d = [0u8; 2];
        bus.read(0xcf8, 6, &mut d);
        assert_eq!(u16::from_le_bytes(d), HOST_BRIDGE_DEVICE_ID);
        // Command register byte write through 0xcfc.
        select(&mut bus, 0, 1);
        bus.write(0xcf8, 4, &[0x06]);
        assert_eq!(read32(&mut bus) & 0xffff, 0x0006);
    }

    #[test]
    fn slots_fill_up() {
        let mut bus = PciBus::new();
        assert_eq!(bus.next_slot(), Ok(1));
        for s in 1..32u8 {
            bus.add(s, Arc::new(Mutex::new(HostBridge::default())))
                .unwrap();
        }
        assert_eq!(bus.next_slot(), Err(PciError::NoSlot));
        assert_eq!(
            bus.add(3, Arc::new(Mutex::new(HostBridge::default()))),
            Err(PciError::NoSlot)
        );
    }

    #[test]
    fn disabled_or_other_functions_float() {
        let mut bus = PciBus::new();
        bus.write(0xcf8, 0, &0u32.to_le_bytes());
        assert_eq!(read32(&mut bus), 0xffff_ffff);
        bus.write(0xcf8, 0, &(0x8000_0000u32 | (1 << 8)).to_le_bytes());
        assert_eq!(read32(&mut bus), 0xffff_ffff);
    }
}
