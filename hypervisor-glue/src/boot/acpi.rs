//! Minimal ACPI tables, so a guest can power itself off (`poweroff` → [`crate::VmExit::Shutdown`])
//! and the host can ask it to (a power-button press).
//!
//! Hardware-reduced ACPI (ACPI 6.5, section 4.1): no SCI, no PM1 blocks, no PM timer. The
//! tables, at [`ACPI_START`] (where Linux also scans for the RSDP) and named in the zero page:
//!
//! * RSDP (revision 2) → XSDT → FADT and MADT.
//! * FADT (revision 6.5): `HW_REDUCED_ACPI`; `SLEEP_CONTROL_REG` and `SLEEP_STATUS_REG` are
//!   the I/O ports [`SLEEP_CONTROL_PORT`] and [`SLEEP_STATUS_PORT`] ([`AcpiPm`] traps them);
//!   the 8042 boot flag (we emulate one).
//! * MADT: one local APIC per vCPU and the IOAPIC (Linux drops the MP table's CPUs once ACPI
//!   is there, so the MADT has to name them).
//! * DSDT: `\_S5` (sleep type 5), `\_SB.PWRB` (a control-method power button, `PNP0C0C`) and
//!   `\_SB.GED0` (a Generic Event Device, `ACPI0013`, on ISA IRQ [`GED_IRQ`], edge, whose
//!   `_EVT` notifies the power button with 0x80 — a press).
//!
//! PCI interrupt routing stays in the MP table: the DSDT has no PCI root bridge and no
//! `_PRT`, and the VMM adds `acpi=noirq` to the kernel command line (`vm::kernel_cmdline`).

use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

use crate::memory::{IOAPIC_START, LAPIC_START};

/// Where the tables go (the BIOS area Linux scans for an RSDP; e820 reserved).
pub const ACPI_START: u64 = 0xe_0000;
/// End of the area the tables may use.
pub const ACPI_END: u64 = 0x10_0000;
/// The sleep control register (one byte): `SLP_EN | SLP_TYP << 2` powers off.
pub const SLEEP_CONTROL_PORT: u16 = 0x600;
/// The sleep status register (one byte, `WAK_STS`).
pub const SLEEP_STATUS_PORT: u16 = 0x601;
/// The GED's interrupt: ISA IRQ 5 (IOAPIC pin 5, edge, active high, as the MP table says).
pub const GED_IRQ: u32 = 5;
/// `\_S5`'s sleep type value.
pub const S5_SLEEP_TYPE: u8 = 5;
const SLP_EN: u8 = 1 << 5;

const OEM_ID: &[u8; 6] = b"BLKHD ";
const OEM_TABLE_ID: &[u8; 8] = b"BULKHEAD";

/// Errors writing the tables.
#[derive(Debug, thiserror::Error)]
#[error("cannot write the ACPI tables into guest memory")]
pub struct AcpiError(#[source] vm_memory::GuestMemoryError);

fn checksum(bytes: &[u8]) -> u8 {
    bytes
        .iter()
        .fold(0u8, |a, b| a.wrapping_add(*b))
        .wrapping_neg()
}

/// A system description table: header plus body, checksummed.
fn sdt(signature: &[u8; 4], revision: u8, body: &[u8]) -> Vec<u8> {
    let len = u32::try_from(36 + body.len()).unwrap_or(u32::MAX);
    let mut t = Vec::with_capacity(36 + body.len());
    t.extend_from_slice(signature);
    t.extend_from_slice(&len.to_le_bytes());
    t.push(revision);
    t.push(0); // checksum
    t.extend_from_slice(OEM_ID);
    t.extend_from_slice(OEM_TABLE_ID);
    t.extend_from_slice(&1u32.to_le_bytes()); // OEM revision
    t.extend_from_slice(b"BKHD"); // creator id
    t.extend_from_slice(&1u32.to_le_bytes()); // creator revision
    t.extend_from_slice(body);
    t[9] = checksum(&t);
    t
}

/// A Generic Address Structure for a one-byte I/O port.
fn gas_io_byte(port: u16) -> [u8; 12] {
    let mut g = [0u8; 12];
    g[0] = 1; // system I/O
    g[1] = 8; // bit width
    g[2] = 0; // bit offset
    g[3] = 1; // byte access
    g[4..12].copy_from_slice(&u64::from(port).to_le_bytes());
    g
}

/// AML PkgLength encoding of a package whose contents (after the PkgLength) are `len` bytes.
fn pkg_length(len: usize) -> Vec<u8> {
    let byte = |v: usize| u8::try_from(v & 0xff).unwrap_or(0);
    // The encoded length includes the PkgLength bytes themselves.
    if len + 1 < 0x40 {
        return vec![byte(len + 1)];
    }
    let total = len + 2;
    if total < 0x1000 {
        return vec![0x40 | byte(total & 0xf), byte(total >> 4)];
    }
    let total = len + 3;
    vec![
        0x80 | byte(total & 0xf),
        byte(total >> 4),
        byte(total >> 12),
    ]
}

/// `op PkgLength contents`.
fn aml_pkg(op: &[u8], contents: &[u8]) -> Vec<u8> {
    let mut v = op.to_vec();
    v.extend(pkg_length(contents.len()));
    v.extend_from_slice(contents);
    v
}

/// `Name(name, object)`.
fn aml_name(name: &[u8; 4], object: &[u8]) -> Vec<u8> {
    let mut v = vec![0x08];
    v.extend_from_slice(name);
    v.extend_from_slice(object);
    v
}

/// A string constant.
fn aml_string(s: &str) -> Vec<u8> {
    let mut v = vec![0x0d];
    v.extend_from_slice(s.as_bytes());
    v.push(0);
    v
}

/// The DSDT's AML.
pub fn dsdt_aml() -> Vec<u8> {
    // Name(_S5, Package() { 5, 0, 0, 0 })
    let s5 = aml_name(
        b"_S5_",
        &aml_pkg(&[0x12], &[4, 0x0a, S5_SLEEP_TYPE, 0x00, 0x00, 0x00]),
    );
    // Device(PWRB) { Name(_HID, "PNP0C0C") }
    let mut pwrb_body = b"PWRB".to_vec();
    pwrb_body.extend(aml_name(b"_HID", &aml_string("PNP0C0C")));
    let pwrb = aml_pkg(&[0x5b, 0x82], &pwrb_body);
    // Device(GED0) {
    //   Name(_HID, "ACPI0013") Name(_UID, Zero)
    //   Name(_CRS, ResourceTemplate() { Interrupt(Consumer, Edge, ActiveHigh, Exclusive) {5} })
    //   Method(_EVT, 1) { Notify(PWRB, 0x80) }
    // }
    let irq = GED_IRQ.to_le_bytes();
    let resources = [
        0x89, 0x06, 0x00, // extended interrupt descriptor, 6 bytes
        0x03, // consumer, edge, active high, exclusive
        0x01, irq[0], irq[1], irq[2], irq[3], // one interrupt
        0x79, 0x00, // end tag
    ];
    let mut buffer = vec![0x0a, u8::try_from(resources.len()).unwrap_or(0)];
    buffer.extend_from_slice(&resources);
    let mut evt_body = b"_EVT".to_vec();
    evt_body.push(0x01); // one argument, not serialized
    evt_body.push(0x86); // Notify
    evt_body.extend_from_slice(b"PWRB");
    evt_body.extend_from_slice(&[0x0a, 0x80]);
    let mut ged_body = b"GED0".to_vec();
    ged_body.extend(aml_name(b"_HID", &aml_string("ACPI0013")));
    ged_body.extend(aml_name(b"_UID", &[0x00]));
    ged_body.extend(aml_name(b"_CRS", &aml_pkg(&[0x11], &buffer)));
    ged_body.extend(aml_pkg(&[0x14], &evt_body));
    let ged = aml_pkg(&[0x5b, 0x82], &ged_body);
    // Scope(\_SB) { PWRB GED0 }
    let mut sb = b"\\_SB_".to_vec();
    sb.extend(pwrb);
    sb.extend(ged);
    let mut aml = s5;
    aml.extend(aml_pkg(&[0x10], &sb));
    aml
}

fn fadt(dsdt: u64) -> Vec<u8> {
    let mut b = vec![0u8; 276 - 36];
    let at = |o: usize| o - 36;
    b[at(40)..at(44)].copy_from_slice(&u32::try_from(dsdt).unwrap_or(0).to_le_bytes());
    // IAPC_BOOT_ARCH: an 8042 (the i8042 device), no VGA (bit 2), no MSI (bit 3).
    b[at(109)..at(111)].copy_from_slice(&(0b0000_1110u16).to_le_bytes());
    // Flags: WBINVD, PWR_BUTTON and SLP_BUTTON as control methods, HW_REDUCED_ACPI.
    let flags: u32 = 1 | 1 << 4 | 1 << 5 | 1 << 20;
    b[at(112)..at(116)].copy_from_slice(&flags.to_le_bytes());
    b[at(131)] = 5; // FADT minor version (6.5)
    b[at(140)..at(148)].copy_from_slice(&dsdt.to_le_bytes());
    b[at(244)..at(256)].copy_from_slice(&gas_io_byte(SLEEP_CONTROL_PORT));
    b[at(256)..at(268)].copy_from_slice(&gas_io_byte(SLEEP_STATUS_PORT));
    b[at(268)..at(276)].copy_from_slice(b"BULKHEAD");
    sdt(b"FACP", 6, &b)
}

fn madt(vcpus: u8) -> Vec<u8> {
    let mut b = Vec::new();
    b.extend_from_slice(&u32::try_from(LAPIC_START).unwrap_or(0).to_le_bytes());
    b.extend_from_slice(&0u32.to_le_bytes()); // flags: no dual 8259 setup to describe
    for id in 0..vcpus {
        // Processor local APIC: uid, APIC id, enabled.
        b.extend_from_slice(&[0, 8, id, id, 1, 0, 0, 0]);
    }
    // I/O APIC: id (after the CPUs, as in the MP table), address, GSI base 0.
    b.extend_from_slice(&[1, 12, vcpus, 0]);
    b.extend_from_slice(&u32::try_from(IOAPIC_START).unwrap_or(0).to_le_bytes());
    b.extend_from_slice(&0u32.to_le_bytes());
    sdt(b"APIC", 5, &b)
}

/// The tables laid out from [`ACPI_START`]: `(address of the RSDP, bytes to write there)`.
pub fn tables(vcpus: u8) -> (u64, Vec<u8>) {
    let align = |v: &mut Vec<u8>| v.resize(v.len().next_multiple_of(16), 0);
    let rsdp_at = ACPI_START;
    let xsdt_at = rsdp_at + 64;
    let mut out = vec![0u8; 64];
    let dsdt = sdt(b"DSDT", 2, &dsdt_aml());
    // Order after the XSDT: DSDT, FADT, MADT (the XSDT needs their addresses first).
    let xsdt_len = 36 + 2 * 8;
    let dsdt_at = xsdt_at + (xsdt_len as u64).next_multiple_of(16);
    let fadt_at = dsdt_at + (dsdt.len() as u64).next_multiple_of(16);
    let fadt = fadt(dsdt_at);
    let madt_at = fadt_at + (fadt.len() as u64).next_multiple_of(16);
    let madt = madt(vcpus);
    let mut xsdt_body = Vec::new();
    xsdt_body.extend_from_slice(&fadt_at.to_le_bytes());
    xsdt_body.extend_from_slice(&madt_at.to_le_bytes());
    let xsdt = sdt(b"XSDT", 1, &xsdt_body);

    let mut rsdp = Vec::with_capacity(36);
    rsdp.extend_from_slice(b"RSD PTR ");
    rsdp.push(0); // checksum of the first 20 bytes
    rsdp.extend_from_slice(OEM_ID);
    rsdp.push(2); // revision
    rsdp.extend_from_slice(&0u32.to_le_bytes()); // no RSDT
    rsdp.extend_from_slice(&36u32.to_le_bytes());
    rsdp.extend_from_slice(&xsdt_at.to_le_bytes());
    rsdp.extend_from_slice(&[0, 0, 0, 0]); // extended checksum, reserved
    rsdp[8] = checksum(&rsdp[..20]);
    rsdp[32] = checksum(&rsdp);
    out[..36].copy_from_slice(&rsdp);
    for table in [&xsdt, &dsdt, &fadt, &madt] {
        out.extend_from_slice(table);
        align(&mut out);
    }
    debug_assert_eq!(
        ACPI_START + out.len() as u64 - (madt.len() as u64).next_multiple_of(16),
        madt_at
    );
    (rsdp_at, out)
}

/// Writes the tables into guest memory; returns the RSDP's address (for the zero page).
pub fn setup(mem: &GuestMemoryMmap, vcpus: u8) -> Result<u64, AcpiError> {
    let (rsdp, bytes) = tables(vcpus);
    mem.write_slice(&bytes, GuestAddress(ACPI_START))
        .map_err(AcpiError)?;
    Ok(rsdp)
}

/// The sleep registers: a write of `SLP_EN` with sleep type 5 to the control register is a
/// power-off.
#[derive(Debug, Default)]
pub struct AcpiPm;

impl crate::devices::BusDevice for AcpiPm {
    fn read(&mut self, _base: u64, _offset: u64, data: &mut [u8]) {
        data.fill(0);
    }

    fn write(
        &mut self,
        base: u64,
        _offset: u64,
        data: &[u8],
    ) -> Option<crate::devices::DeviceEvent> {
        let value = *data.first()?;
        if base == u64::from(SLEEP_CONTROL_PORT)
            && value & SLP_EN != 0
            && (value >> 2) & 0x7 == S5_SLEEP_TYPE
        {
            return Some(crate::devices::DeviceEvent::PowerOff);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devices::{BusDevice, DeviceEvent};

    fn sum(b: &[u8]) -> u8 {
        b.iter().fold(0u8, |a, x| a.wrapping_add(*x))
    }

    fn u32_at(b: &[u8], o: usize) -> u32 {
        u32::from_le_bytes([b[o], b[o + 1], b[o + 2], b[o + 3]])
    }

    fn u64_at(b: &[u8], o: usize) -> u64 {
        let mut x = [0u8; 8];
        x.copy_from_slice(&b[o..o + 8]);
        u64::from_le_bytes(x)
    }

    /// Follows the pointers from the RSDP as a guest would and checks every table.
    #[test]
    fn tables_chain_and_checksum() {
        let (rsdp_at, bytes) = tables(2);
        assert!(ACPI_START + bytes.len() as u64 <= ACPI_END);
        let rel = |addr: u64| usize::try_from(addr - ACPI_START).unwrap();
        let rsdp = &bytes[rel(rsdp_at)..rel(rsdp_at) + 36];
        assert_eq!(&rsdp[..8], b"RSD PTR ");
        assert_eq!(sum(&rsdp[..20]), 0);
        assert_eq!(sum(rsdp), 0);
        let table = |addr: u64, sig: &[u8; 4]| {
            let t = &bytes[rel(addr)..];
            assert_eq!(&t[..4], sig);
            let len = u32_at(t, 4) as usize;
            assert_eq!(sum(&t[..len]), 0, "{sig:?} checksum");
            t[..len].to_vec()
        };
        let xsdt = table(u64_at(rsdp, 24), b"XSDT");
        assert_eq!(xsdt.len(), 36 + 16);
        let fadt = table(u64_at(&xsdt, 36), b"FACP");
        let madt = table(u64_at(&xsdt, 44), b"APIC");
        assert_eq!(fadt.len(), 276);
        assert_ne!(u32_at(&fadt, 112) & (1 << 20), 0, "hardware-reduced");
        let dsdt = table(u64_at(&fadt, 140), b"DSDT");
        assert_eq!(u64::from(u32_at(&fadt, 40)), u64_at(&fadt, 140));
        assert_eq!(fadt[244], 1, "sleep control in I/O space");
        assert_eq!(u64_at(&fadt, 248), u64::from(SLEEP_CONTROL_PORT));
        // Two local APICs and an IOAPIC.
        assert_eq!(madt.len(), 36 + 8 + 2 * 8 + 12);
        assert_eq!(madt[44..46], [0, 8]);
        assert_eq!(madt[60..62], [1, 12]);
        // The AML names what Linux looks for.
        let aml = &dsdt[36..];
        for name in [&b"_S5_"[..], b"PNP0C0C", b"ACPI0013", b"_EVT", b"_CRS"] {
            assert!(aml.windows(name.len()).any(|w| w == name), "{name:?}");
        }
    }

    #[test]
    fn pkg_lengths_encode_as_the_spec_says() {
        assert_eq!(pkg_length(5), vec![6]);
        assert_eq!(pkg_length(0x3e), vec![0x3f]);
        // 0x3f + 2 = 0x41 bytes with a two-byte PkgLength.
        assert_eq!(pkg_length(0x3f), vec![0x41, 0x04]);
        assert_eq!(pkg_length(0x1000), vec![0x83, 0x00, 0x01]);
    }

    #[test]
    fn s5_with_sleep_enable_powers_off() {
        let mut pm = AcpiPm;
        let control = u64::from(SLEEP_CONTROL_PORT);
        assert_eq!(pm.write(control, 0, &[S5_SLEEP_TYPE << 2]), None);
        assert_eq!(pm.write(control, 0, &[SLP_EN | 3 << 2]), None);
        assert_eq!(
            pm.write(control, 0, &[SLP_EN | S5_SLEEP_TYPE << 2]),
            Some(DeviceEvent::PowerOff)
        );
        assert_eq!(pm.write(u64::from(SLEEP_STATUS_PORT), 0, &[0xff]), None);
    }
}
