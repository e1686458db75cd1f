//! Port-I/O and MMIO buses: ranges of guest addresses, each owned by one device.

use std::sync::{Arc, Mutex};

/// What a device asks of the VM after a guest access.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceEvent {
    /// The guest asked for a reset (keyboard controller pulse, or reset register).
    Reset,
    /// The guest asked to power off.
    PowerOff,
    /// The guest's init wrote the boot marker.
    BootMarker,
}

/// A device on a bus. `base` is where the range the access fell into starts, `offset` the
/// distance from it, so one device can be registered at several ranges.
pub trait BusDevice: Send {
    /// A guest read; fill `data`.
    fn read(&mut self, base: u64, offset: u64, data: &mut [u8]);
    /// A guest write; may ask something of the VM.
    fn write(&mut self, base: u64, offset: u64, data: &[u8]) -> Option<DeviceEvent>;
}

/// Errors from building a bus.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum BusError {
    /// Two devices claim the same addresses.
    #[error("range {base:#x}+{len:#x} overlaps a device already on the bus")]
    Overlap {
        /// Start of the refused range.
        base: u64,
        /// Its length.
        len: u64,
    },
    /// A zero-length range.
    #[error("empty range at {0:#x}")]
    Empty(u64),
}

type SharedDevice = Arc<Mutex<dyn BusDevice>>;

#[derive(Clone)]
struct Range {
    base: u64,
    len: u64,
    device: SharedDevice,
}

/// A bus: sorted, non-overlapping ranges.
#[derive(Clone, Default)]
pub struct Bus {
    ranges: Vec<Range>,
}

impl std::fmt::Debug for Bus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut list = f.debug_list();
        for r in &self.ranges {
            list.entry(&format_args!("{:#x}+{:#x}", r.base, r.len));
        }
        list.finish()
    }
}

impl Bus {
    /// An empty bus.
    pub fn new() -> Self {
        Self::default()
    }

    /// Puts `device` at `base..base + len`.
    pub fn insert(&mut self, device: SharedDevice, base: u64, len: u64) -> Result<(), BusError> {
        if len == 0 {
            return Err(BusError::Empty(base));
        }
        let end = base
            .checked_add(len)
            .ok_or(BusError::Overlap { base, len })?;
        if self
            .ranges
            .iter()
            .any(|r| base < r.base + r.len && r.base < end)
        {
            return Err(BusError::Overlap { base, len });
        }
        let at = self.ranges.partition_point(|r| r.base < base);
        self.ranges.insert(at, Range { base, len, device });
        Ok(())
    }

    fn find(&self, addr: u64) -> Option<&Range> {
        let idx = self.ranges.partition_point(|r| r.base <= addr);
        let r = self.ranges.get(idx.checked_sub(1)?)?;
        (addr - r.base < r.len).then_some(r)
    }

    /// Dispatches a read. Returns false when no device claims `addr`.
    pub fn read(&self, addr: u64, data: &mut [u8]) -> bool {
        let Some(r) = self.find(addr) else {
            return false;
        };
        // A device whose lock is poisoned panicked earlier; keep serving the guest.
        let mut dev = r.device.lock().unwrap_or_else(|e| e.into_inner());
        dev.read(r.base, addr - r.base, data);
        true
    }

    /// Dispatches a write. `None` when no device claims `addr`.
    pub fn write(&self, addr: u64, data: &[u8]) -> Option<Option<DeviceEvent>> {
        let r = self.find(addr)?;
        let mut dev = r.device.lock().unwrap_or_else(|e| e.into_inner());
        Some(dev.write(r.base, addr - r.base, data))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Echo {
        last: Vec<(u64, u64)>,
    }

    impl BusDevice for Echo {
        fn read(&mut self, base: u64, offset: u64, data: &mut [u8]) {
            data.fill(u8::try_from(offset).unwrap_or(0xff));
            self.last.push((base, offset));
        }
        fn write(&mut self, base: u64, offset: u64, _data: &[u8]) -> Option<DeviceEvent> {
            self.last.push((base, offset));
            (offset == 1).then_some(DeviceEvent::Reset)
        }
    }

    #[test]
    fn dispatch_by_range() {
        let dev = Arc::new(Mutex::new(Echo::default()));
        let mut bus = Bus::new();
        bus.insert(dev.clone(), 0x60, 1).unwrap();
        bus.insert(dev.clone(), 0x64, 1).unwrap();
        bus.insert(dev.clone(), 0x3f8, 8).unwrap();
        let mut b = [0u8; 1];
        assert!(bus.read(0x3fa, &mut b));
        assert_eq!(b[0], 2);
        assert!(!bus.read(0x61, &mut b));
        assert!(!bus.read(0x400, &mut b));
        assert_eq!(bus.write(0x3f9, &[0]), Some(Some(DeviceEvent::Reset)));
        assert_eq!(bus.write(0x64, &[0]), Some(None));
        assert_eq!(bus.write(0x10, &[0]), None);
        assert_eq!(dev.lock().unwrap().last[0], (0x3f8, 2));
    }

    #[test]
    fn overlap_refused() {
        let dev = Arc::new(Mutex::new(Echo::default()));
        let mut bus = Bus::new();
        bus.insert(dev.clone(), 0x100, 0x10).unwrap();
        assert!(bus.insert(dev.clone(), 0x10f, 1).is_err());
        assert!(bus.insert(dev.clone(), 0xf8, 0x9).is_err());
        assert!(bus.insert(dev.clone(), 0xf0, 0x10).is_ok());
        assert_eq!(bus.insert(dev, 0x200, 0), Err(BusError::Empty(0x200)));
    }
}
