//! The GUI channel PCI function (vendor [`BULKHEAD_VENDOR_ID`] `0xb1c4`, device
//! [`GUI_DEVICE_ID`] `0x0010`, class "other memory controller").
//!
//! * BAR 0 (64-bit, prefetchable): the shm-transport region. The memfd is mapped shared into
//!   the VMM and given to KVM as a memory slot at the BAR's address, so the guest's loads and
//!   stores hit the very pages dom0 maps: no exit, no copy. The BAR is the region's size
//!   rounded up to a power of two; the tail past the region is not backed (reads 0xff).
//! * BAR 2 (64-bit, 4 KiB): registers. [`REG_DOORBELL`] (write, any width/value) is a KVM
//!   ioeventfd on `dom0_bell`: the write completes in the kernel and wakes dom0. The others
//!   are read-only identification.
//! * INTA#: `agent_bell` is a KVM irqfd on the function's IOAPIC pin while the guest leaves
//!   INTx enabled. When the guest sets the command register's INTx-disable bit (as
//!   `uio_pci_generic`'s handler does), the irqfd is detached, so rings wait in the eventfd;
//!   clearing the bit re-attaches it and KVM delivers a pending ring at once. The line is the
//!   function's alone, so the status register's interrupt bit reads 1 exactly while INTx is
//!   enabled: the only time an interrupt from this function can arrive.

use std::fs::File;
use std::os::fd::{FromRawFd, IntoRawFd, OwnedFd};
use std::sync::Arc;

use kvm_bindings::kvm_userspace_memory_region;
use kvm_ioctls::{IoEventAddress, NoDatamatch, VmFd};
use vm_memory::{FileOffset, MmapRegion};
use vmm_sys_util::eventfd::EventFd;

use crate::devices::{BusDevice, DeviceEvent};
use crate::pci::{BULKHEAD_VENDOR_ID, Bar, ConfigError, ConfigSpace, Identity, PciDevice};

use bulkhead_shm_transport::gui_device as contract;

/// Device id of the GUI channel.
pub const GUI_DEVICE_ID: u16 = contract::DEVICE_ID;
/// Class code: memory controller, other.
pub const GUI_CLASS: u32 = contract::CLASS;
/// Size of the register BAR.
pub const REGS_BAR_SIZE: u64 = contract::REGS_LEN as u64;
/// Doorbell register (guest → dom0), write-only.
pub const REG_DOORBELL: u64 = contract::REG_DOORBELL as u64;
/// Reads [`REGS_MAGIC`].
pub const REG_MAGIC: u64 = contract::REG_MAGIC as u64;
/// Reads the register interface version.
pub const REG_VERSION: u64 = contract::REG_VERSION as u64;
/// Reads the region's length in bytes (64-bit, low dword first).
pub const REG_REGION_LEN: u64 = contract::REG_REGION_LEN as u64;
/// "BKGU", little-endian.
pub const REGS_MAGIC: u32 = contract::REGS_MAGIC;
const REGS_VERSION: u32 = contract::REGS_VERSION;
const PAGE: u64 = 4096;

/// Errors setting the channel up.
#[derive(Debug, thiserror::Error)]
pub enum GuiError {
    /// The memfd could not be measured or mapped.
    #[error("cannot map the GUI region")]
    Map(#[source] std::io::Error),
    /// The region is empty or not page sized.
    #[error("GUI region of {0} bytes is not a non-zero multiple of 4096")]
    BadSize(u64),
    /// The mapping failed.
    #[error("cannot map the GUI region")]
    Mmap(#[source] vm_memory::mmap::MmapRegionError),
    /// KVM refused the slot, the ioeventfd or the irqfd.
    #[error("KVM refused the GUI {what}")]
    Kvm {
        /// Which.
        what: &'static str,
        /// Why.
        #[source]
        source: kvm_ioctls::Error,
    },
    /// The configuration space could not be built.
    #[error(transparent)]
    Config(#[from] ConfigError),
}

/// The GUI channel function.
pub struct GuiChannel {
    config: ConfigSpace,
    vm: Arc<VmFd>,
    region: MmapRegion,
    region_len: u64,
    region_bar: Bar,
    regs_bar: Bar,
    _dom0_bell: EventFd,
    agent_bell: EventFd,
    gsi: u32,
    irqfd_attached: bool,
}

impl std::fmt::Debug for GuiChannel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuiChannel")
            .field("region_bar", &self.region_bar)
            .field("regs_bar", &self.regs_bar)
            .field("gsi", &self.gsi)
            .field("irqfd_attached", &self.irqfd_attached)
            .finish_non_exhaustive()
    }
}

fn eventfd(fd: OwnedFd) -> EventFd {
    // SAFETY: `into_raw_fd` gives up ownership of a valid, open descriptor, which the new
    // EventFd takes over; nothing else closes it. (If it is not an eventfd, reads and writes
    // on it fail with an error; they cannot corrupt memory.)
    unsafe { EventFd::from_raw_fd(fd.into_raw_fd()) }
}

/// BAR size for a region of `len` bytes.
pub fn region_bar_size(len: u64) -> u64 {
    len.next_power_of_two().max(PAGE)
}

impl GuiChannel {
    /// Sets the channel up: maps `memfd` into guest-physical space at `region_addr` (KVM slot
    /// `slot`), puts the doorbell ioeventfd in the register BAR at `regs_addr`, and attaches
    /// `agent_bell` to `gsi`.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        vm: Arc<VmFd>,
        slot: u32,
        memfd: OwnedFd,
        dom0_bell: OwnedFd,
        agent_bell: OwnedFd,
        region_addr: u64,
        regs_addr: u64,
        gsi: u8,
    ) -> Result<Self, GuiError> {
        let file = File::from(memfd);
        let len = file.metadata().map_err(GuiError::Map)?.len();
        if len == 0 || len % PAGE != 0 {
            return Err(GuiError::BadSize(len));
        }
        let size = usize::try_from(len).map_err(|_| GuiError::BadSize(len))?;
        let region =
            MmapRegion::from_file(FileOffset::new(file, 0), size).map_err(GuiError::Mmap)?;
        let region_bar = Bar {
            addr: region_addr,
            size: region_bar_size(len),
            prefetchable: true,
        };
        let regs_bar = Bar {
            addr: regs_addr,
            size: REGS_BAR_SIZE,
            prefetchable: false,
        };
        let mut config = ConfigSpace::new(
            Identity {
                vendor: BULKHEAD_VENDOR_ID,
                device: GUI_DEVICE_ID,
                class: GUI_CLASS,
                revision: 1,
                subsystem_vendor: BULKHEAD_VENDOR_ID,
                subsystem: GUI_DEVICE_ID,
            },
            1,
            gsi,
        );
        config.add_bar(0, region_bar)?;
        config.add_bar(2, regs_bar)?;

        let slot_desc = kvm_userspace_memory_region {
            slot,
            flags: 0,
            guest_phys_addr: region_addr,
            memory_size: len,
            userspace_addr: region.as_ptr() as u64,
        };
        // SAFETY: `region` is a live shared mapping of exactly `len` bytes, owned by the
        // returned `GuiChannel`, which the VM's buses keep alive until after every vCPU has
        // stopped and the VM fd (and with it the slot) is gone.
        unsafe { vm.set_user_memory_region(slot_desc) }.map_err(|source| GuiError::Kvm {
            what: "memory slot",
            source,
        })?;

        let dom0_bell = eventfd(dom0_bell);
        vm.register_ioevent(
            &dom0_bell,
            &IoEventAddress::Mmio(regs_addr + REG_DOORBELL),
            NoDatamatch,
        )
        .map_err(|source| GuiError::Kvm {
            what: "doorbell ioeventfd",
            source,
        })?;
        let agent_bell = eventfd(agent_bell);
        let mut channel = Self {
            config,
            vm,
            region,
            region_len: len,
            region_bar,
            regs_bar,
            _dom0_bell: dom0_bell,
            agent_bell,
            gsi: u32::from(gsi),
            irqfd_attached: false,
        };
        channel.sync_interrupt()?;
        Ok(channel)
    }

    /// BAR 0 (region) and BAR 2 (registers).
    pub fn bars(&self) -> (Bar, Bar) {
        (self.region_bar, self.regs_bar)
    }

    /// The region's host mapping (for tests and diagnostics).
    pub fn region(&self) -> &MmapRegion {
        &self.region
    }

    /// Attaches or detaches the irqfd to follow the INTx-disable bit, and mirrors it in the
    /// status register.
    fn sync_interrupt(&mut self) -> Result<(), GuiError> {
        let enabled = !self.config.intx_disabled();
        if enabled && !self.irqfd_attached {
            self.vm
                .register_irqfd(&self.agent_bell, self.gsi)
                .map_err(|source| GuiError::Kvm {
                    what: "irqfd",
                    source,
                })?;
            self.irqfd_attached = true;
        } else if !enabled && self.irqfd_attached {
            self.vm
                .unregister_irqfd(&self.agent_bell, self.gsi)
                .map_err(|source| GuiError::Kvm {
                    what: "irqfd",
                    source,
                })?;
            self.irqfd_attached = false;
        }
        self.config.set_interrupt_status(enabled);
        Ok(())
    }
}

/// The value of register `offset` for a region of `region_len` bytes.
pub fn register(offset: u64, region_len: u64) -> u32 {
    match offset {
        REG_MAGIC => REGS_MAGIC,
        REG_VERSION => REGS_VERSION,
        REG_REGION_LEN => (region_len & 0xffff_ffff) as u32,
        o if o == REG_REGION_LEN + 4 => (region_len >> 32) as u32,
        _ => 0,
    }
}

impl BusDevice for GuiChannel {
    fn read(&mut self, base: u64, offset: u64, data: &mut [u8]) {
        data.fill(0xff);
        if base != self.regs_bar.addr {
            // The unbacked tail of the region BAR.
            return;
        }
        let value = register(offset & !3, self.region_len).to_le_bytes();
        let shift = usize::try_from(offset & 3).unwrap_or(0);
        for (i, d) in data.iter_mut().enumerate() {
            *d = value.get(shift + i).copied().unwrap_or(0);
        }
    }

    fn write(&mut self, base: u64, offset: u64, _data: &[u8]) -> Option<DeviceEvent> {
        // Doorbell writes never get here (the ioeventfd takes them); nothing else is writable.
        tracing::debug!(base, offset, "write to a read-only GUI channel register");
        None
    }
}

impl PciDevice for GuiChannel {
    fn config_read(&mut self, reg: usize) -> u32 {
        self.config.read(reg)
    }

    fn config_write(&mut self, reg: usize, offset: usize, data: &[u8]) {
        self.config.write(reg, offset, data);
        if reg == 1 {
            if let Err(e) = self.sync_interrupt() {
                tracing::error!("GUI channel interrupt: {e}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registers() {
        assert_eq!(register(REG_MAGIC, 0), u32::from_le_bytes(*b"BKGU"));
        assert_eq!(register(REG_VERSION, 0), 1);
        assert_eq!(register(REG_REGION_LEN, 0x1_2345_6000), 0x2345_6000);
        assert_eq!(register(REG_REGION_LEN + 4, 0x1_2345_6000), 1);
        assert_eq!(register(0x100, 0x1000), 0);
    }

    #[test]
    fn bar_sizes() {
        assert_eq!(region_bar_size(4096), 4096);
        assert_eq!(region_bar_size(1), 4096);
        assert_eq!(region_bar_size((64 << 20) + 0x8_1000), 128 << 20);
    }
}
