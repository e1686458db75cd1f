//! A PCI type-0 configuration space: 256 bytes, a write mask per dword, BARs sized by the
//! mask (writing all ones reads back the size), a capability list, and the PCI 2.3
//! interrupt-disable / interrupt-status pair.

/// Configuration-space dwords.
pub const CONFIG_DWORDS: usize = 64;

const REG_ID: usize = 0;
const REG_COMMAND_STATUS: usize = 1;
const REG_CLASS: usize = 2;
const REG_HEADER: usize = 3;
const REG_BAR0: usize = 4;
const REG_SUBSYSTEM: usize = 11;
const REG_CAP_PTR: usize = 13;
const REG_INTERRUPT: usize = 15;

/// Command register: I/O space enable.
pub const COMMAND_IO: u16 = 1 << 0;
/// Command register: memory space enable.
pub const COMMAND_MEMORY: u16 = 1 << 1;
/// Command register: bus master.
pub const COMMAND_BUS_MASTER: u16 = 1 << 2;
/// Command register: INTx emulation disable (PCI 2.3).
pub const COMMAND_INTX_DISABLE: u16 = 1 << 10;
/// Status register: INTx asserted (PCI 2.3).
pub const STATUS_INTERRUPT: u16 = 1 << 3;
/// Status register: capability list present.
pub const STATUS_CAP_LIST: u16 = 1 << 4;

const BAR_MEM_64: u32 = 0b100;
const BAR_PREFETCHABLE: u32 = 0b1000;
const FIRST_CAP_OFFSET: usize = 0x40;

/// A memory BAR.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bar {
    /// Guest-physical address.
    pub addr: u64,
    /// Size in bytes, a power of two ≥ 4 KiB.
    pub size: u64,
    /// Prefetchable (plain memory, such as the GUI region) or not (registers).
    pub prefetchable: bool,
}

/// Errors building a configuration space.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    /// BAR size not a power of two of at least 4 KiB, or address not aligned to it.
    #[error("BAR {index}: size {size:#x} at {addr:#x} is not a naturally aligned power of two")]
    BadBar {
        /// BAR index.
        index: usize,
        /// Its size.
        size: u64,
        /// Its address.
        addr: u64,
    },
    /// The BAR slot is taken (64-bit BARs use two).
    #[error("BAR {0} is already in use")]
    BarInUse(usize),
    /// No room for more capabilities.
    #[error("configuration space full")]
    Full,
}

/// The configuration space of one function.
#[derive(Debug, Clone)]
pub struct ConfigSpace {
    regs: [u32; CONFIG_DWORDS],
    wmask: [u32; CONFIG_DWORDS],
    bars: [Option<Bar>; 6],
    next_cap: usize,
    last_cap: Option<usize>,
}

/// Identity of a function.
#[derive(Debug, Clone, Copy)]
pub struct Identity {
    /// Vendor id.
    pub vendor: u16,
    /// Device id.
    pub device: u16,
    /// Class code, subclass, programming interface (24 bits).
    pub class: u32,
    /// Revision.
    pub revision: u8,
    /// Subsystem vendor id.
    pub subsystem_vendor: u16,
    /// Subsystem id.
    pub subsystem: u16,
}

impl ConfigSpace {
    /// A function with this identity; `interrupt_pin` 1 = INTA#, 0 = none.
    pub fn new(id: Identity, interrupt_pin: u8, interrupt_line: u8) -> Self {
        let mut regs = [0u32; CONFIG_DWORDS];
        let mut wmask = [0u32; CONFIG_DWORDS];
        regs[REG_ID] = u32::from(id.vendor) | (u32::from(id.device) << 16);
        regs[REG_CLASS] = (id.class << 8) | u32::from(id.revision);
        regs[REG_SUBSYSTEM] = u32::from(id.subsystem_vendor) | (u32::from(id.subsystem) << 16);
        regs[REG_INTERRUPT] = u32::from(interrupt_line) | (u32::from(interrupt_pin) << 8);
        wmask[REG_COMMAND_STATUS] =
            u32::from(COMMAND_IO | COMMAND_MEMORY | COMMAND_BUS_MASTER | COMMAND_INTX_DISABLE);
        // Cache line size and latency timer are plain storage.
        wmask[REG_HEADER] = 0x0000_ffff;
        wmask[REG_INTERRUPT] = 0x0000_00ff;
        Self {
            regs,
            wmask,
            bars: [None; 6],
            next_cap: FIRST_CAP_OFFSET,
            last_cap: None,
        }
    }

    /// Adds a 64-bit memory BAR at `index` (uses `index` and `index + 1`).
    pub fn add_bar(&mut self, index: usize, bar: Bar) -> Result<(), ConfigError> {
        let bad = ConfigError::BadBar {
            index,
            size: bar.size,
            addr: bar.addr,
        };
        if index > 4 || !bar.size.is_power_of_two() || bar.size < 0x1000 {
            return Err(bad);
        }
        if bar.addr & (bar.size - 1) != 0 {
            return Err(bad);
        }
        // Every BAR here is 64-bit: slot `i` also takes `i + 1`.
        let below_taken = index > 0 && self.bars[index - 1].is_some();
        if below_taken || self.bars[index].is_some() || self.bars[index + 1].is_some() {
            return Err(ConfigError::BarInUse(index));
        }
        let flags = BAR_MEM_64
            | if bar.prefetchable {
                BAR_PREFETCHABLE
            } else {
                0
            };
        let mask = !(bar.size - 1);
        let (lo, hi) = split(bar.addr);
        self.regs[REG_BAR0 + index] = lo | flags;
        self.regs[REG_BAR0 + index + 1] = hi;
        self.wmask[REG_BAR0 + index] = split(mask).0 & !0xf;
        self.wmask[REG_BAR0 + index + 1] = split(mask).1;
        self.bars[index] = Some(bar);
        Ok(())
    }

    /// Appends a capability (`body` starts after the id and next bytes). Returns its offset.
    pub fn add_capability(&mut self, id: u8, body: &[u8]) -> Result<usize, ConfigError> {
        let offset = self.next_cap;
        let len = (2 + body.len() + 3) & !3;
        if offset + len > CONFIG_DWORDS * 4 {
            return Err(ConfigError::Full);
        }
        self.write_bytes(offset, &[id, 0]);
        self.write_bytes(offset + 2, body);
        match self.last_cap {
            None => {
                self.write_bytes(REG_CAP_PTR * 4, &[u8::try_from(offset).unwrap_or(0)]);
                self.regs[REG_COMMAND_STATUS] |= u32::from(STATUS_CAP_LIST) << 16;
            }
            Some(prev) => self.write_bytes(prev + 1, &[u8::try_from(offset).unwrap_or(0)]),
        }
        self.last_cap = Some(offset);
        self.next_cap = offset + len;
        Ok(offset)
    }

    fn write_bytes(&mut self, offset: usize, bytes: &[u8]) {
        for (i, b) in bytes.iter().enumerate() {
            let at = offset + i;
            let shift = (at % 4) * 8;
            let reg = &mut self.regs[at / 4];
            *reg = (*reg & !(0xff << shift)) | (u32::from(*b) << shift);
        }
    }

    /// Reads dword `reg`.
    pub fn read(&self, reg: usize) -> u32 {
        self.regs.get(reg).copied().unwrap_or(0xffff_ffff)
    }

    /// A guest write of `data` at byte `offset` within dword `reg`; only writable bits change.
    pub fn write(&mut self, reg: usize, offset: usize, data: &[u8]) {
        if reg >= CONFIG_DWORDS || offset + data.len() > 4 {
            return;
        }
        let mut value = 0u32;
        let mut mask = 0u32;
        for (i, b) in data.iter().enumerate() {
            value |= u32::from(*b) << ((offset + i) * 8);
            mask |= 0xff << ((offset + i) * 8);
        }
        let wmask = self.wmask[reg] & mask;
        self.regs[reg] = (self.regs[reg] & !wmask) | (value & wmask);
    }

    /// The command register.
    pub fn command(&self) -> u16 {
        (self.regs[REG_COMMAND_STATUS] & 0xffff) as u16
    }

    /// Whether the guest disabled INTx.
    pub fn intx_disabled(&self) -> bool {
        self.command() & COMMAND_INTX_DISABLE != 0
    }

    /// Sets or clears the status register's interrupt bit.
    pub fn set_interrupt_status(&mut self, pending: bool) {
        let bit = u32::from(STATUS_INTERRUPT) << 16;
        if pending {
            self.regs[REG_COMMAND_STATUS] |= bit;
        } else {
            self.regs[REG_COMMAND_STATUS] &= !bit;
        }
    }

    /// The BAR at `index`, as set up (the VMM does not follow guest relocation).
    pub fn bar(&self, index: usize) -> Option<Bar> {
        self.bars.get(index).copied().flatten()
    }

    /// The address the guest has currently programmed into 64-bit BAR `index`.
    pub fn programmed_bar_address(&self, index: usize) -> u64 {
        let lo = u64::from(self.read(REG_BAR0 + index) & !0xf);
        let hi = u64::from(self.read(REG_BAR0 + index + 1));
        lo | (hi << 32)
    }
}

fn split(v: u64) -> (u32, u32) {
    ((v & 0xffff_ffff) as u32, (v >> 32) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id() -> Identity {
        Identity {
            vendor: 0x1af4,
            device: 0x1042,
            class: 0x01_80_00,
            revision: 1,
            subsystem_vendor: 0x1af4,
            subsystem: 0x40,
        }
    }

    #[test]
    fn identity_registers() {
        let c = ConfigSpace::new(id(), 1, 17);
        assert_eq!(c.read(0), 0x1042_1af4);
        assert_eq!(c.read(2), 0x0180_0001);
        assert_eq!(c.read(15), 0x0000_0111);
        assert_eq!(c.read(64), 0xffff_ffff);
    }

    #[test]
    fn bar_sizing() {
        let mut c = ConfigSpace::new(id(), 1, 17);
        c.add_bar(
            0,
            Bar {
                addr: 0xc000_0000,
                size: 0x4000,
                prefetchable: false,
            },
        )
        .unwrap();
        assert_eq!(c.read(4), 0xc000_0004);
        c.write(4, 0, &0xffff_ffffu32.to_le_bytes());
        c.write(5, 0, &0xffff_ffffu32.to_le_bytes());
        assert_eq!(c.read(4), 0xffff_c004);
        assert_eq!(c.read(5), 0xffff_ffff);
        c.write(4, 0, &0xc000_0000u32.to_le_bytes());
        c.write(5, 0, &0u32.to_le_bytes());
        assert_eq!(c.programmed_bar_address(0), 0xc000_0000);
    }

    #[test]
    fn bad_bars() {
        let mut c = ConfigSpace::new(id(), 1, 17);
        let bar = |addr, size| Bar {
            addr,
            size,
            prefetchable: true,
        };
        assert!(c.add_bar(0, bar(0xc000_0000, 0x3000)).is_err());
        assert!(c.add_bar(0, bar(0xc000_1000, 0x4000)).is_err());
        assert!(c.add_bar(5, bar(0xc000_0000, 0x4000)).is_err());
        c.add_bar(0, bar(0xc000_0000, 0x4000)).unwrap();
        assert_eq!(
            c.add_bar(1, bar(0xc001_0000, 0x4000)),
            Err(ConfigError::BarInUse(1))
        );
    }

    #[test]
    fn read_only_bits_stay() {
        let mut c = ConfigSpace::new(id(), 1, 17);
        c.write(0, 0, &[0, 0, 0, 0]);
        assert_eq!(c.read(0), 0x1042_1af4);
        c.write(1, 0, &[0xff, 0xff, 0xff, 0xff]);
        assert_eq!(c.command(), 0x0407);
        assert!(c.intx_disabled());
        c.set_interrupt_status(true);
        assert_ne!(c.read(1) & (u32::from(STATUS_INTERRUPT) << 16), 0);
        // The guest cannot clear the status bit by writing.
        c.write(1, 2, &[0, 0]);
        assert_ne!(c.read(1) & (u32::from(STATUS_INTERRUPT) << 16), 0);
    }

    #[test]
    fn capability_chain() {
        let mut c = ConfigSpace::new(id(), 1, 17);
        let a = c
            .add_capability(0x09, &[14, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0])
            .unwrap();
        let b = c.add_capability(0x09, &[4, 2]).unwrap();
        assert_eq!(a, 0x40);
        assert_eq!(b, 0x50);
        assert_eq!(c.read(13) & 0xff, 0x40);
        assert_ne!(c.read(1) & (u32::from(STATUS_CAP_LIST) << 16), 0);
        assert_eq!((c.read(0x40 / 4) >> 8) & 0xff, 0x50);
        assert_eq!((c.read(0x50 / 4) >> 8) & 0xff, 0);
    }
}
