//! One vCPU: its CPUID, registers and local APIC at boot, and the thread that runs it and
//! dispatches its exits to the buses.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::time::Instant;

use kvm_bindings::{CpuId, Msrs, kvm_fpu, kvm_msr_entry, kvm_regs};
use kvm_ioctls::{VcpuExit, VcpuFd, VmFd};

use crate::boot::{KernelEntry, Segment};
use crate::devices::{Bus, DeviceEvent};
use crate::memory::{BOOT_STACK_POINTER, GDT_START, IDT_START, PML4_START};
use crate::vm::{VmEvent, VmExit};

/// Errors setting a vCPU up.
#[derive(Debug, thiserror::Error)]
pub enum VcpuError {
    /// `KVM_CREATE_VCPU` failed.
    #[error("cannot create vCPU {0}")]
    Create(u8, #[source] kvm_ioctls::Error),
    /// A `KVM_SET_*` / `KVM_GET_*` ioctl failed.
    #[error("cannot set {what} of vCPU {index}")]
    Set {
        /// Which state.
        what: &'static str,
        /// Which vCPU.
        index: u8,
        /// Why.
        #[source]
        source: kvm_ioctls::Error,
    },
}

const CPUID_HYPERVISOR_BIT: u32 = 1 << 31;
const CPUID_HTT_BIT: u32 = 1 << 28;
const CPUID_TSC_DEADLINE_BIT: u32 = 1 << 24;
const MSR_IA32_MISC_ENABLE: u32 = 0x1a0;
const MISC_ENABLE_FAST_STRING: u64 = 1;

const X86_CR0_PE: u64 = 1;
const X86_CR0_ET: u64 = 1 << 4;
const X86_CR0_PG: u64 = 1 << 31;
const X86_CR4_PAE: u64 = 1 << 5;
const EFER_LME: u64 = 1 << 8;
const EFER_LMA: u64 = 1 << 10;

const APIC_LVT0: usize = 0x350;
const APIC_LVT1: usize = 0x360;
const APIC_MODE_NMI: u32 = 0x4;
const APIC_MODE_EXTINT: u32 = 0x7;

/// KVM's `KVM_SYSTEM_EVENT_*` types.
const SYSTEM_EVENT_SHUTDOWN: u32 = 1;
const SYSTEM_EVENT_RESET: u32 = 2;
const SYSTEM_EVENT_CRASH: u32 = 3;

/// Adjusts the host-supported CPUID for vCPU `index` of `count`. `tsc_deadline`: KVM's
/// in-kernel LAPIC can run the TSC-deadline timer (`KVM_GET_SUPPORTED_CPUID` never reports it
/// by itself); with it the guest skips calibrating the LAPIC timer against the PIT.
pub fn patch_cpuid(cpuid: &mut CpuId, index: u8, count: u8, tsc_deadline: bool) {
    for entry in cpuid.as_mut_slice() {
        match entry.function {
            1 => {
                // Initial APIC id and logical processor count.
                entry.ebx =
                    (entry.ebx & 0x0000_ffff) | (u32::from(index) << 24) | (u32::from(count) << 16);
                entry.ecx |= CPUID_HYPERVISOR_BIT;
                if tsc_deadline {
                    entry.ecx |= CPUID_TSC_DEADLINE_BIT;
                }
                if count > 1 {
                    entry.edx |= CPUID_HTT_BIT;
                }
            }
            // Extended topology: x2APIC id of this vCPU.
            0xb | 0x1f => entry.edx = u32::from(index),
            _ => {}
        }
    }
}

fn set_lvt(regs: &mut [libc::c_char], offset: usize, mode: u32) {
    let mut bytes = [0u8; 4];
    for (b, r) in bytes.iter_mut().zip(&regs[offset..offset + 4]) {
        *b = r.to_ne_bytes()[0];
    }
    let value = (u32::from_le_bytes(bytes) & !0x700) | (mode << 8);
    for (r, b) in regs[offset..offset + 4].iter_mut().zip(value.to_le_bytes()) {
        *r = libc::c_char::from_ne_bytes([b]);
    }
}

/// A created, not yet running vCPU.
#[derive(Debug)]
pub struct Vcpu {
    index: u8,
    fd: VcpuFd,
}

impl Vcpu {
    /// Creates vCPU `index` in `vm`.
    pub fn new(vm: &VmFd, index: u8) -> Result<Self, VcpuError> {
        let fd = vm
            .create_vcpu(u64::from(index))
            .map_err(|e| VcpuError::Create(index, e))?;
        Ok(Self { index, fd })
    }

    fn set(&self, what: &'static str, r: Result<(), kvm_ioctls::Error>) -> Result<(), VcpuError> {
        r.map_err(|source| VcpuError::Set {
            what,
            index: self.index,
            source,
        })
    }

    /// Sets CPUID, MSRs, FPU and the local APIC; for the boot vCPU also the 64-bit entry
    /// state. Application processors wait for the guest's INIT/SIPI.
    pub fn configure(
        &self,
        supported: &CpuId,
        tsc_deadline: bool,
        count: u8,
        entry: KernelEntry,
    ) -> Result<(), VcpuError> {
        let mut cpuid = supported.clone();
        patch_cpuid(&mut cpuid, self.index, count, tsc_deadline);
        self.set("CPUID", self.fd.set_cpuid2(&cpuid))?;

        let msrs = Msrs::from_entries(&[kvm_msr_entry {
            index: MSR_IA32_MISC_ENABLE,
            data: MISC_ENABLE_FAST_STRING,
            ..Default::default()
        }])
        .map_err(|_| VcpuError::Set {
            what: "MSRs",
            index: self.index,
            source: kvm_ioctls::Error::new(libc::EINVAL),
        })?;
        self.set("MSRs", self.fd.set_msrs(&msrs).map(|_| ()))?;

        let fpu = kvm_fpu {
            fcw: 0x37f,
            mxcsr: 0x1f80,
            ..Default::default()
        };
        self.set("FPU", self.fd.set_fpu(&fpu))?;

        let mut lapic = self.fd.get_lapic().map_err(|source| VcpuError::Set {
            what: "LAPIC",
            index: self.index,
            source,
        })?;
        set_lvt(&mut lapic.regs, APIC_LVT0, APIC_MODE_EXTINT);
        set_lvt(&mut lapic.regs, APIC_LVT1, APIC_MODE_NMI);
        self.set("LAPIC", self.fd.set_lapic(&lapic))?;

        if self.index == 0 {
            self.configure_boot_state(entry)?;
        }
        Ok(())
    }

    fn configure_boot_state(&self, entry: KernelEntry) -> Result<(), VcpuError> {
        let regs = kvm_regs {
            rflags: 0x2,
            rip: entry.entry.0,
            rsp: BOOT_STACK_POINTER,
            rbp: BOOT_STACK_POINTER,
            rsi: entry.zero_page.0,
            ..Default::default()
        };
        self.set("registers", self.fd.set_regs(&regs))?;

        let mut sregs = self.fd.get_sregs().map_err(|source| VcpuError::Set {
            what: "special registers",
            index: self.index,
            source,
        })?;
        sregs.gdt.base = GDT_START.0;
        sregs.gdt.limit = u16::try_from(size_of_val(&crate::boot::gdt()) - 1).unwrap_or(u16::MAX);
        sregs.idt.base = IDT_START.0;
        sregs.idt.limit = 7;
        sregs.cs = Segment::CODE.kvm_segment();
        let data = Segment::DATA.kvm_segment();
        sregs.ds = data;
        sregs.es = data;
        sregs.fs = data;
        sregs.gs = data;
        sregs.ss = data;
        sregs.tr = Segment::TSS.kvm_segment();
        sregs.cr3 = PML4_START.0;
        sregs.cr4 |= X86_CR4_PAE;
        sregs.cr0 |= X86_CR0_PE | X86_CR0_ET | X86_CR0_PG;
        sregs.efer |= EFER_LME | EFER_LMA;
        self.set("special registers", self.fd.set_sregs(&sregs))
    }

    /// Runs the vCPU until the VM stops; reports how on `events`. Checks `stop` after every
    /// exit; the VM kicks this thread out of `KVM_RUN` with a signal.
    pub fn run(
        mut self,
        pio: Arc<Bus>,
        mmio: Arc<Bus>,
        events: Sender<VmEvent>,
        stop: Arc<AtomicBool>,
    ) {
        let send = |ev| {
            // The receiver only goes away when the VM is being torn down.
            let _ = events.send(ev);
        };
        // Unclaimed port accesses by port, logged when the vCPU stops.
        let mut unhandled_ports: std::collections::BTreeMap<u16, u64> = Default::default();
        let mut unhandled: u64 = 0;
        while !stop.load(Ordering::Acquire) {
            let exit = match self.fd.run() {
                Ok(exit) => exit,
                Err(e) if e.errno() == libc::EINTR || e.errno() == libc::EAGAIN => continue,
                Err(e) => {
                    send(VmEvent::Exit(VmExit::Failed(format!(
                        "KVM_RUN on vCPU {}: {e}",
                        self.index
                    ))));
                    break;
                }
            };
            let event = match exit {
                VcpuExit::IoIn(port, data) => {
                    if !pio.read(u64::from(port), data) {
                        data.fill(0xff);
                        *unhandled_ports.entry(port).or_default() += 1;
                    }
                    None
                }
                VcpuExit::IoOut(port, data) => {
                    pio.write(u64::from(port), data).unwrap_or_else(|| {
                        unhandled += 1;
                        tracing::trace!(port, "unhandled port write");
                        None
                    })
                }
                VcpuExit::MmioRead(addr, data) => {
                    if !mmio.read(addr, data) {
                        data.fill(0xff);
                        unhandled += 1;
                        tracing::debug!(addr, "unhandled MMIO read");
                    }
                    None
                }
                VcpuExit::MmioWrite(addr, data) => mmio.write(addr, data).unwrap_or_else(|| {
                    unhandled += 1;
                    tracing::debug!(addr, "unhandled MMIO write");
                    None
                }),
                VcpuExit::Hlt => {
                    send(VmEvent::Exit(VmExit::Halted));
                    break;
                }
                VcpuExit::Shutdown => {
                    // Triple fault: what a PC does is reset. Where the guest was says
                    // whose fault it was (its kernel's code, or something odd).
                    let regs = self.fd.get_regs().ok();
                    let sregs = self.fd.get_sregs().ok();
                    tracing::warn!(
                        vcpu = self.index,
                        rip = ?regs.map(|r| r.rip),
                        rsp = ?regs.map(|r| r.rsp),
                        cr2 = ?sregs.map(|s| s.cr2),
                        "triple fault: the guest resets"
                    );
                    send(VmEvent::Exit(VmExit::Reset));
                    break;
                }
                VcpuExit::SystemEvent(SYSTEM_EVENT_RESET, _) => {
                    tracing::info!(vcpu = self.index, "the guest asked KVM for a reset");
                    send(VmEvent::Exit(VmExit::Reset));
                    break;
                }
                VcpuExit::SystemEvent(kind, _) => {
                    send(VmEvent::Exit(match kind {
                        SYSTEM_EVENT_SHUTDOWN => VmExit::Shutdown,
                        SYSTEM_EVENT_RESET => VmExit::Reset,
                        SYSTEM_EVENT_CRASH => VmExit::GuestPanic,
                        other => VmExit::Failed(format!("unknown system event {other}")),
                    }));
                    break;
                }
                VcpuExit::FailEntry(reason, cpu) => {
                    send(VmEvent::Exit(VmExit::Failed(format!(
                        "vCPU {} entry failed (reason {reason:#x}, cpu {cpu})",
                        self.index
                    ))));
                    break;
                }
                VcpuExit::InternalError => {
                    send(VmEvent::Exit(VmExit::Failed(format!(
                        "KVM internal error on vCPU {}",
                        self.index
                    ))));
                    break;
                }
                other => {
                    tracing::debug!(vcpu = self.index, "unexpected exit {other:?}");
                    unhandled += 1;
                    None
                }
            };
            match event {
                None => {}
                Some(DeviceEvent::BootMarker) => send(VmEvent::BootMarker(Instant::now())),
                Some(DeviceEvent::Reset) => {
                    tracing::info!(vcpu = self.index, "the guest reset itself (reset port)");
                    send(VmEvent::Exit(VmExit::Reset));
                    break;
                }
                Some(DeviceEvent::PowerOff) => {
                    send(VmEvent::Exit(VmExit::Shutdown));
                    break;
                }
            }
        }
        tracing::debug!(
            vcpu = self.index,
            unhandled,
            ?unhandled_ports,
            "vCPU thread done"
        );
        self.fd.set_kvm_immediate_exit(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kvm_bindings::kvm_cpuid_entry2;

    #[test]
    fn cpuid_carries_apic_id() {
        let mut cpuid = CpuId::from_entries(&[
            kvm_cpuid_entry2 {
                function: 1,
                ebx: 0xffff_ffff,
                ..Default::default()
            },
            kvm_cpuid_entry2 {
                function: 0xb,
                ..Default::default()
            },
        ])
        .unwrap();
        patch_cpuid(&mut cpuid, 3, 4, true);
        let e = cpuid.as_slice();
        assert_eq!(e[0].ebx >> 24, 3);
        assert_eq!((e[0].ebx >> 16) & 0xff, 4);
        assert_ne!(e[0].ecx & CPUID_HYPERVISOR_BIT, 0);
        assert_ne!(e[0].edx & CPUID_HTT_BIT, 0);
        assert_ne!(e[0].ecx & CPUID_TSC_DEADLINE_BIT, 0);
        assert_eq!(e[1].edx, 3);
    }

    #[test]
    fn lvt_mode_is_set() {
        let mut regs = [0 as libc::c_char; 1024];
        regs[APIC_LVT0 + 1] = 0x07; // old mode bits set, must be replaced
        regs[APIC_LVT0 + 2] = 0x01; // mask bit kept
        set_lvt(&mut regs, APIC_LVT0, APIC_MODE_NMI);
        assert_eq!(regs[APIC_LVT0 + 1], 0x04);
        assert_eq!(regs[APIC_LVT0 + 2], 0x01);
    }
}
