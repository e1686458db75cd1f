//! The Intel MultiProcessor Specification 1.4 table. Debian's stock (non-cloud) kernel finds
//! its CPUs, the IOAPIC and the interrupt routing here when there is no ACPI, which is how
//! we boot: no firmware, no ACPI, one MP table in the last KiB of base memory.
//!
//! Built as plain bytes (little-endian, packed as the specification lays them out), so no
//! `repr(C)` struct is ever reinterpreted.

use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

use crate::memory::{EBDA_START, IOAPIC_START, LAPIC_START};

/// Number of IOAPIC pins KVM's in-kernel IOAPIC has.
pub const IOAPIC_PINS: u8 = 24;
/// First IOAPIC pin used for PCI INTx (pins 0–15 are the ISA IRQs).
pub const PCI_IRQ_BASE: u8 = 16;
/// The bus id of the (single) PCI bus.
pub const PCI_BUS_ID: u8 = 0;
/// The bus id of the ISA bus.
pub const ISA_BUS_ID: u8 = 1;
/// Most vCPUs the table can describe (APIC ids 0..=253, the IOAPIC takes the next id).
pub const MAX_CPUS: u8 = 254;

const LAPIC_VERSION: u8 = 0x14;
const IOAPIC_VERSION: u8 = 0x11;
const MPC_SPEC_REV: u8 = 4;

const ENTRY_PROCESSOR: u8 = 0;
const ENTRY_BUS: u8 = 1;
const ENTRY_IOAPIC: u8 = 2;
const ENTRY_IO_INTERRUPT: u8 = 3;
const ENTRY_LOCAL_INTERRUPT: u8 = 4;

const INT_TYPE_INT: u8 = 0;
const INT_TYPE_NMI: u8 = 1;
const INT_TYPE_EXTINT: u8 = 3;

/// Polarity and trigger "conform to the bus" (ISA: edge, active high).
const IRQ_FLAGS_CONFORM: u16 = 0;
/// Level-triggered, active high: how KVM's IOAPIC sees a line the VMM drives (irqfd).
const IRQ_FLAGS_LEVEL_HIGH: u16 = 0b1101;

const CPU_ENABLED: u8 = 1;
const CPU_BSP: u8 = 2;

/// A PCI function's INTx routing: device number and pin (0 = INTA) to an IOAPIC pin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PciIrq {
    /// PCI device (slot) number on bus 0.
    pub device: u8,
    /// Interrupt pin, 0 = INTA# … 3 = INTD#.
    pub pin: u8,
    /// The IOAPIC pin (= GSI) it is wired to.
    pub gsi: u8,
}

/// Errors from building the table.
#[derive(Debug, thiserror::Error)]
pub enum MpTableError {
    /// No vCPU or more than the table can describe.
    #[error("{0} vCPUs: the MP table describes 1 to {MAX_CPUS}")]
    CpuCount(u8),
    /// A PCI route names an IOAPIC pin that does not exist.
    #[error("IOAPIC pin {0} out of range")]
    IoapicPin(u8),
    /// The table does not fit the space below 640 KiB.
    #[error("MP table of {0} bytes does not fit the EBDA")]
    TooLarge(usize),
    /// Guest memory write failed.
    #[error("cannot write the MP table into guest memory")]
    Write(#[source] vm_memory::GuestMemoryError),
}

fn checksum(bytes: &[u8]) -> u8 {
    0u8.wrapping_sub(bytes.iter().fold(0u8, |acc, b| acc.wrapping_add(*b)))
}

/// Builds the floating pointer and the configuration table for `cpus` vCPUs, to be placed at
/// `base`. Returned as one byte string: the 16-byte floating pointer, then the table.
pub fn build(base: u64, cpus: u8, pci_irqs: &[PciIrq]) -> Result<Vec<u8>, MpTableError> {
    if cpus == 0 || cpus > MAX_CPUS {
        return Err(MpTableError::CpuCount(cpus));
    }
    if let Some(bad) = pci_irqs.iter().find(|r| r.gsi >= IOAPIC_PINS) {
        return Err(MpTableError::IoapicPin(bad.gsi));
    }
    let ioapic_id = cpus;
    let mut entries: Vec<u8> = Vec::new();
    let mut count: u16 = 0;

    for cpu in 0..cpus {
        entries.extend_from_slice(&[ENTRY_PROCESSOR, cpu, LAPIC_VERSION]);
        entries.push(CPU_ENABLED | if cpu == 0 { CPU_BSP } else { 0 });
        // CPU signature: family 6; feature flags: FPU and on-chip APIC.
        entries.extend_from_slice(&0x600u32.to_le_bytes());
        entries.extend_from_slice(&((1u32 << 9) | 1).to_le_bytes());
        entries.extend_from_slice(&[0; 8]);
        count += 1;
    }
    for (id, name) in [(PCI_BUS_ID, b"PCI   "), (ISA_BUS_ID, b"ISA   ")] {
        entries.extend_from_slice(&[ENTRY_BUS, id]);
        entries.extend_from_slice(name);
        count += 1;
    }
    entries.extend_from_slice(&[ENTRY_IOAPIC, ioapic_id, IOAPIC_VERSION, 1]);
    entries.extend_from_slice(&u32::try_from(IOAPIC_START).unwrap_or(0).to_le_bytes());
    count += 1;

    let mut io_interrupt = |kind: u8, bus: u8, bus_irq: u8, pin: u8| {
        let flags = if bus == PCI_BUS_ID {
            IRQ_FLAGS_LEVEL_HIGH
        } else {
            IRQ_FLAGS_CONFORM
        };
        entries.push(ENTRY_IO_INTERRUPT);
        entries.push(kind);
        entries.extend_from_slice(&flags.to_le_bytes());
        entries.extend_from_slice(&[bus, bus_irq, ioapic_id, pin]);
        count += 1;
    };
    // ISA IRQ n is IOAPIC pin n (KVM's default GSI routing; its PIT raises GSI 0).
    for irq in 0..16 {
        io_interrupt(INT_TYPE_INT, ISA_BUS_ID, irq, irq);
    }
    for r in pci_irqs {
        io_interrupt(
            INT_TYPE_INT,
            PCI_BUS_ID,
            (r.device << 2) | (r.pin & 3),
            r.gsi,
        );
    }
    for (kind, lint) in [(INT_TYPE_EXTINT, 0u8), (INT_TYPE_NMI, 1u8)] {
        entries.push(ENTRY_LOCAL_INTERRUPT);
        entries.push(kind);
        entries.extend_from_slice(&IRQ_FLAGS_CONFORM.to_le_bytes());
        // Source: ISA bus, IRQ 0; destination: every local APIC (0xff), LINT0/LINT1.
        entries.extend_from_slice(&[ISA_BUS_ID, 0, 0xff, lint]);
        count += 1;
    }

    const HEADER_LEN: usize = 44;
    let table_len = HEADER_LEN + entries.len();
    let table_len16 = u16::try_from(table_len).map_err(|_| MpTableError::TooLarge(table_len))?;
    let mut table = Vec::with_capacity(table_len);
    table.extend_from_slice(b"PCMP");
    table.extend_from_slice(&table_len16.to_le_bytes());
    table.push(MPC_SPEC_REV);
    table.push(0); // checksum, filled below
    table.extend_from_slice(b"BULKHEAD");
    table.extend_from_slice(b"KVM-QUBE    ");
    table.extend_from_slice(&0u32.to_le_bytes()); // OEM table pointer
    table.extend_from_slice(&0u16.to_le_bytes()); // OEM table size
    table.extend_from_slice(&count.to_le_bytes());
    table.extend_from_slice(&u32::try_from(LAPIC_START).unwrap_or(0).to_le_bytes());
    table.extend_from_slice(&[0; 4]); // extended table length, checksum, reserved
    table.extend_from_slice(&entries);
    table[7] = checksum(&table);

    const FLOATING_LEN: u64 = 16;
    let table_addr = u32::try_from(base + FLOATING_LEN).map_err(|_| MpTableError::TooLarge(0))?;
    let mut out = Vec::with_capacity(16 + table.len());
    out.extend_from_slice(b"_MP_");
    out.extend_from_slice(&table_addr.to_le_bytes());
    out.extend_from_slice(&[1, MPC_SPEC_REV, 0, 0, 0, 0, 0, 0]);
    out[10] = checksum(&out);
    out.extend_from_slice(&table);
    let room = usize::try_from(0xa_0000 - base).unwrap_or(0);
    if out.len() > room {
        return Err(MpTableError::TooLarge(out.len()));
    }
    Ok(out)
}

/// Writes the MP table for `cpus` vCPUs into the EBDA.
pub fn setup(mem: &GuestMemoryMmap, cpus: u8, pci_irqs: &[PciIrq]) -> Result<(), MpTableError> {
    let bytes = build(EBDA_START.0, cpus, pci_irqs)?;
    mem.write_slice(&bytes, GuestAddress(EBDA_START.0))
        .map_err(MpTableError::Write)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sum(b: &[u8]) -> u8 {
        b.iter().fold(0u8, |a, x| a.wrapping_add(*x))
    }

    #[test]
    fn checksums_are_zero() {
        let t = build(
            EBDA_START.0,
            4,
            &[PciIrq {
                device: 3,
                pin: 0,
                gsi: 16,
            }],
        )
        .unwrap();
        assert_eq!(&t[0..4], b"_MP_");
        assert_eq!(sum(&t[0..16]), 0);
        let len = usize::from(u16::from_le_bytes([t[20], t[21]]));
        assert_eq!(&t[16..20], b"PCMP");
        assert_eq!(len, t.len() - 16);
        assert_eq!(sum(&t[16..]), 0);
        let ptr = u32::from_le_bytes([t[4], t[5], t[6], t[7]]);
        assert_eq!(u64::from(ptr), EBDA_START.0 + 16);
    }

    #[test]
    fn entry_count_matches() {
        let t = build(EBDA_START.0, 2, &[]).unwrap();
        let count = u16::from_le_bytes([t[16 + 34], t[16 + 35]]);
        // 2 cpus + 2 buses + 1 ioapic + 16 ISA irqs + 2 local interrupts.
        assert_eq!(count, 23);
        assert_eq!(t.len(), 16 + 44 + 2 * 20 + 21 * 8);
    }

    #[test]
    fn bad_input_is_refused() {
        assert!(matches!(
            build(EBDA_START.0, 0, &[]),
            Err(MpTableError::CpuCount(0))
        ));
        assert!(matches!(
            build(
                EBDA_START.0,
                1,
                &[PciIrq {
                    device: 1,
                    pin: 0,
                    gsi: 24
                }]
            ),
            Err(MpTableError::IoapicPin(24))
        ));
    }

    #[test]
    fn many_cpus_fit() {
        assert!(build(EBDA_START.0, 32, &[]).is_ok());
    }
}
