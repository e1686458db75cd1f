//! The GUI channel's PCI device as the guest sees it: the one contract between the VMM that
//! emulates it (hypervisor-glue) and the agent that drives it through `uio_pci_generic`
//! (guest-agent's VM mode). Both take these values from here, so they cannot drift apart.
//!
//! * BAR 0: the shm-transport region (the same memfd dom0 maps), rounded up to a power of
//!   two.
//! * BAR 2: [`REGS_LEN`] bytes of 32-bit registers: [`REG_DOORBELL`] (write: ring dom0),
//!   [`REG_MAGIC`] ([`REGS_MAGIC`]), [`REG_VERSION`] ([`REGS_VERSION`]), [`REG_REGION_LEN`]
//!   (the region's length, 64-bit, low dword first).
//! * INTA#: dom0 rings the guest.

/// Bulkhead's PCI vendor id (only ever seen on the bus a Bulkhead VMM makes up).
pub const VENDOR_ID: u16 = 0xb1c4;
/// The GUI channel's device id.
pub const DEVICE_ID: u16 = 0x0010;
/// Class code: memory controller, other.
pub const CLASS: u32 = 0x05_80_00;
/// Length of the register BAR (BAR 2).
pub const REGS_LEN: usize = 0x1000;
/// Doorbell register (guest → dom0): any 32-bit write rings dom0.
pub const REG_DOORBELL: usize = 0x00;
/// Reads [`REGS_MAGIC`].
pub const REG_MAGIC: usize = 0x04;
/// Reads [`REGS_VERSION`].
pub const REG_VERSION: usize = 0x08;
/// Reads the region's length in bytes: low dword here, high dword at `+ 4`.
pub const REG_REGION_LEN: usize = 0x10;
/// `"BKGU"`, little-endian.
pub const REGS_MAGIC: u32 = u32::from_le_bytes(*b"BKGU");
/// The register interface's version.
pub const REGS_VERSION: u32 = 1;
