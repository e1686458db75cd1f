//! One qube's virtual machine: KVM VM, guest memory, devices, vCPU threads, and the typed
//! way it ended.

use std::fs::File;
use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bulkhead_shm_transport::Handoff;
use kvm_bindings::{KVM_PIT_SPEAKER_DUMMY, kvm_pit_config, kvm_userspace_memory_region};
use kvm_ioctls::VmFd;
use serde::{Deserialize, Serialize};
use vm_memory::{GuestMemoryBackend, GuestMemoryMmap, GuestMemoryRegion};
use vmm_sys_util::eventfd::EventFd;
use vmm_sys_util::signal::{Killable, SIGRTMIN, register_signal_handler};

use crate::boot::acpi::{self, AcpiPm};
use crate::boot::mptable::{PCI_IRQ_BASE, PciIrq};
use crate::boot::{self, BootError, BootSpec};
use crate::devices::boot_timer::{BOOT_MARKER_PORT, BootTimer};
use crate::devices::cmos::{CMOS_PORT, Cmos};
use crate::devices::gui_channel::{GuiChannel, GuiError, REGS_BAR_SIZE};
use crate::devices::i8042::{I8042, I8042_COMMAND_PORT, I8042_DATA_PORT};
use crate::devices::serial::{COM1_IRQ, COM1_PORT, SerialDevice};
use crate::devices::virtio::{VIRTIO_BAR_SIZE, VirtioPciDevice};
use crate::devices::virtio_blk::{Block, BlockError, OverlayKind};
use crate::devices::{Bus, BusError};
use crate::kvm::{KvmContext, KvmError};
use crate::memory::{self, MemoryError};
use crate::metrics::{self, MemoryUsage};
use crate::pci::{ConfigError, PCI_CONFIG_LEN, PCI_CONFIG_PORT, PciBus, PciError};
use crate::seccomp::{self, SeccompError, SeccompLevel};
use crate::vcpu::{Vcpu, VcpuError};

/// Where KVM puts the three pages of its TSS (just below the BIOS area, in the MMIO hole).
const KVM_TSS_ADDRESS: usize = 0xfffb_d000;
/// Most vCPUs a qube may have (the MP table has to fit in the EBDA's last KiB).
pub const MAX_VCPUS: u8 = 32;

/// How the VM ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind", content = "detail")]
pub enum VmExit {
    /// The guest powered itself off.
    Shutdown,
    /// The guest asked for a reset (keyboard-controller reset with `reboot=k`, or a triple
    /// fault). The VM is not restarted: a qube's reboot is its manager's decision.
    Reset,
    /// KVM reported a guest crash event.
    GuestPanic,
    /// A vCPU halted in a way that reached the VMM (no in-kernel interrupt to wake it).
    Halted,
    /// The VMM was told to stop (SIGTERM/SIGINT).
    Killed,
    /// The configured time limit passed.
    Timeout,
    /// KVM could not run the guest.
    Failed(String),
}

/// Where the serial console goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Console {
    /// The VMM's standard output.
    Stdout,
    /// Appended to a file.
    File(PathBuf),
    /// Nowhere.
    Discard,
}

/// Everything needed to boot one qube.
#[derive(Debug, Clone)]
pub struct VmConfig {
    /// The bzImage.
    pub kernel: PathBuf,
    /// The initramfs.
    pub initramfs: Option<PathBuf>,
    /// The kernel command line.
    pub cmdline: String,
    /// Number of vCPUs.
    pub vcpus: u8,
    /// Guest memory in MiB.
    pub mem_mib: u64,
    /// Serial console destination.
    pub console: Console,
    /// Stop the VM after this long.
    pub timeout: Option<Duration>,
    /// virtio-blk disks, in PCI slot order (the first is `/dev/vda`).
    pub disks: Vec<DiskConfig>,
    /// The seccomp filter installed once the VM runs.
    pub seccomp: SeccompLevel,
    /// ACPI tables (power-off, the power button). Without them a guest cannot power off and
    /// a stop request can only kill it.
    pub acpi: bool,
    /// How long the guest has to power off after the first stop request (SIGTERM/SIGINT)
    /// presses its power button; then, or at a second request, it is killed.
    pub stop_grace: Duration,
}

/// The command line the guest gets: `config.cmdline`, plus `acpi=noirq` with ACPI (PCI
/// interrupts are routed by the MP table, not by ACPI) unless it names an `acpi=` already.
pub fn kernel_cmdline(config: &VmConfig) -> String {
    if config.acpi
        && !config
            .cmdline
            .split_whitespace()
            .any(|w| w.starts_with("acpi="))
    {
        format!("{} acpi=noirq", config.cmdline.trim_end())
    } else {
        config.cmdline.clone()
    }
}

/// One virtio-blk disk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskConfig {
    /// Raw image file (with `overlay`: the template, opened read-only).
    pub path: PathBuf,
    /// Refuse guest writes (and say so to the guest).
    pub read_only: bool,
    /// A copy-on-write layer over `path`: the guest writes there, `path` never changes.
    pub overlay: Option<OverlayKind>,
}

/// What happened during one VM's life.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VmReport {
    /// How it ended.
    pub exit: VmExit,
    /// From VMM start to the guest init's boot marker, in milliseconds.
    pub boot_to_init_ms: Option<f64>,
    /// Memory at the boot marker.
    pub memory: Option<MemoryUsage>,
    /// From VMM start to the end of the VM, in milliseconds.
    pub total_ms: f64,
    /// vCPUs and memory the VM had.
    pub vcpus: u8,
    /// Guest memory in MiB.
    pub mem_mib: u64,
}

/// Events from vCPU threads to the VM's control loop.
#[derive(Debug, Clone, PartialEq)]
pub enum VmEvent {
    /// The guest's init wrote the boot marker at this instant.
    BootMarker(Instant),
    /// The VM is over.
    Exit(VmExit),
}

/// Errors setting the VM up (before the guest runs).
#[derive(Debug, thiserror::Error)]
pub enum VmError {
    /// The configuration is unusable.
    #[error("bad VM configuration: {0}")]
    Config(String),
    /// KVM is not usable.
    #[error(transparent)]
    Kvm(#[from] KvmError),
    /// A VM-level KVM ioctl failed.
    #[error("KVM refused {what}")]
    VmIoctl {
        /// Which step.
        what: &'static str,
        /// Why.
        #[source]
        source: kvm_ioctls::Error,
    },
    /// Guest memory could not be created.
    #[error(transparent)]
    Memory(#[from] MemoryError),
    /// Loading the kernel or writing boot structures failed.
    #[error(transparent)]
    Boot(#[from] BootError),
    /// A vCPU could not be set up.
    #[error(transparent)]
    Vcpu(#[from] VcpuError),
    /// Devices overlap.
    #[error(transparent)]
    Bus(#[from] BusError),
    /// A disk image is unusable.
    #[error(transparent)]
    Disk(#[from] BlockError),
    /// The PCI bus is full.
    #[error(transparent)]
    Pci(#[from] PciError),
    /// A PCI function could not be described.
    #[error("cannot set up a PCI function")]
    PciConfig(#[from] ConfigError),
    /// The seccomp filter could not be installed.
    #[error(transparent)]
    Seccomp(#[from] SeccompError),
    /// The GUI channel could not be set up.
    #[error("cannot set up the GUI channel")]
    Gui(#[from] GuiError),
    /// The console or another host resource could not be opened.
    #[error("{what}")]
    Host {
        /// What we tried.
        what: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

fn ioctl<T>(what: &'static str, r: Result<T, kvm_ioctls::Error>) -> Result<T, VmError> {
    r.map_err(|source| VmError::VmIoctl { what, source })
}

/// Registers every guest RAM region with KVM.
fn register_memory(vm: &VmFd, mem: &GuestMemoryMmap) -> Result<(), VmError> {
    for (slot, region) in mem.iter().enumerate() {
        let region_desc = kvm_userspace_memory_region {
            slot: u32::try_from(slot).unwrap_or(u32::MAX),
            flags: 0,
            guest_phys_addr: region.start_addr().0,
            memory_size: region.len(),
            userspace_addr: region.as_ptr() as u64,
        };
        // SAFETY: the host range is a live mapping owned by `mem` of exactly `memory_size`
        // bytes. `run` keeps `mem` alive until every vCPU thread (the only thing that makes
        // KVM touch the slot) has been joined.
        unsafe { vm.set_user_memory_region(region_desc) }.map_err(|source| VmError::VmIoctl {
            what: "guest memory region",
            source,
        })?;
    }
    Ok(())
}

extern "C" fn kick_handler(_: libc::c_int, _: *mut libc::siginfo_t, _: *mut libc::c_void) {}

/// Stop requests (SIGTERM/SIGINT) received so far.
static STOP_REQUESTS: AtomicUsize = AtomicUsize::new(0);

extern "C" fn terminate_handler(_: libc::c_int, _: *mut libc::siginfo_t, _: *mut libc::c_void) {
    STOP_REQUESTS.fetch_add(1, Ordering::AcqRel);
}

/// Makes SIGTERM and SIGINT stop the VM in order instead of killing the VMM mid-flight: the
/// first press the guest's ACPI power button and give it [`VmConfig::stop_grace`] to power
/// off ([`VmExit::Shutdown`]); a second request, the grace running out, or a VM without
/// ACPI end it at once ([`VmExit::Killed`]). For binaries; call once.
pub fn install_termination_handlers() -> std::io::Result<()> {
    for sig in [libc::SIGTERM, libc::SIGINT] {
        register_signal_handler(sig, terminate_handler)
            .map_err(|e| std::io::Error::from_raw_os_error(e.errno()))?;
    }
    Ok(())
}

fn open_console(console: &Console) -> Result<Box<dyn Write + Send>, VmError> {
    Ok(match console {
        Console::Stdout => Box::new(std::io::stdout()),
        Console::Discard => Box::new(std::io::sink()),
        Console::File(path) => Box::new(
            File::options()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|source| VmError::Host {
                    what: format!("cannot open console log {}", path.display()),
                    source,
                })?,
        ),
    })
}

/// Checks a configuration without touching KVM.
pub fn validate(config: &VmConfig) -> Result<(), VmError> {
    if config.vcpus == 0 || config.vcpus > MAX_VCPUS {
        return Err(VmError::Config(format!(
            "{} vCPUs: a qube has 1 to {MAX_VCPUS}",
            config.vcpus
        )));
    }
    let bytes = config.mem_mib.saturating_mul(1 << 20);
    if bytes < memory::MIN_MEM_SIZE || config.mem_mib > 1 << 20 {
        return Err(VmError::Config(format!(
            "{} MiB of memory: a qube has {} MiB to 1 TiB",
            config.mem_mib,
            memory::MIN_MEM_SIZE >> 20
        )));
    }
    if !config.kernel.is_file() {
        return Err(VmError::Config(format!(
            "kernel {} is not a file",
            config.kernel.display()
        )));
    }
    if let Some(i) = &config.initramfs {
        if !i.is_file() {
            return Err(VmError::Config(format!(
                "initramfs {} is not a file",
                i.display()
            )));
        }
    }
    Ok(())
}

struct Running {
    threads: Vec<JoinHandle<()>>,
    stop: Arc<AtomicBool>,
}

impl Running {
    /// Stops every vCPU thread and waits for it.
    fn stop(self) {
        self.stop.store(true, Ordering::Release);
        for t in self.threads {
            while !t.is_finished() {
                // Kick it out of KVM_RUN; repeat in case the signal landed just before it
                // entered the guest.
                let _ = t.kill(SIGRTMIN());
                std::thread::sleep(Duration::from_millis(5));
            }
            if t.join().is_err() {
                tracing::error!("a vCPU thread panicked");
            }
        }
    }
}

/// INTA# of `slot`, on IOAPIC pins 16–23 (slot 1 → 16, wrapping after 8 slots).
pub fn pci_route(slot: u8) -> PciIrq {
    PciIrq {
        device: slot,
        pin: 0,
        gsi: PCI_IRQ_BASE + (slot.saturating_sub(1) % 8),
    }
}

/// Hands out naturally aligned BAR addresses from the 32-bit PCI window.
#[derive(Debug)]
pub struct BarAllocator {
    next: u64,
}

impl Default for BarAllocator {
    fn default() -> Self {
        Self {
            next: memory::PCI_MMIO_START,
        }
    }
}

impl BarAllocator {
    /// A BAR of `size` (a power of two).
    pub fn allocate(&mut self, size: u64) -> Result<u64, VmError> {
        let end = size
            .is_power_of_two()
            .then(|| self.next.next_multiple_of(size))
            .and_then(|addr| addr.checked_add(size));
        let Some(end) = end.filter(|e| *e <= memory::PCI_MMIO_END) else {
            return Err(VmError::Config(format!(
                "no room for a {size:#x}-byte BAR in the PCI window"
            )));
        };
        self.next = end;
        Ok(end - size)
    }
}

/// Boots the VM described by `config` and runs it to the end. `started` is when the VMM
/// process started (boot time is measured from there).
///
/// `gui`, when given, is the shm-transport hand-off (region memfd and the two doorbells) that
/// becomes the GUI channel PCI device.
pub fn run(config: &VmConfig, gui: Option<Handoff>, started: Instant) -> Result<VmReport, VmError> {
    validate(config)?;
    let mem_size = config.mem_mib << 20;
    let kvm = KvmContext::new()?;
    if usize::from(config.vcpus) > kvm.max_vcpus() {
        return Err(VmError::Config(format!(
            "{} vCPUs: this host's KVM allows {}",
            config.vcpus,
            kvm.max_vcpus()
        )));
    }
    let cpuid = kvm.supported_cpuid()?;
    let tsc_deadline = kvm.kvm().check_extension(kvm_ioctls::Cap::TscDeadlineTimer);
    let vm = Arc::new(ioctl("VM creation", kvm.kvm().create_vm())?);
    ioctl("TSS address", vm.set_tss_address(KVM_TSS_ADDRESS))?;
    ioctl("in-kernel irqchip", vm.create_irq_chip())?;
    let pit = kvm_pit_config {
        flags: KVM_PIT_SPEAKER_DUMMY,
        ..Default::default()
    };
    ioctl("in-kernel PIT", vm.create_pit2(pit))?;

    let guest_mem = Arc::new(memory::create_guest_memory(mem_size)?);
    register_memory(&vm, &guest_mem)?;

    let mut mmio = Bus::new();
    let mut pci = PciBus::new();
    let mut pci_irqs = Vec::new();
    let mut bars = BarAllocator::default();
    for disk in &config.disks {
        let block = match &disk.overlay {
            Some(overlay) => Block::open_cow(&disk.path, overlay)?,
            None => Block::open(&disk.path, disk.read_only)?,
        };
        let slot = pci.next_slot()?;
        let route = pci_route(slot);
        let irq = EventFd::new(libc::EFD_NONBLOCK).map_err(|source| VmError::Host {
            what: "cannot create a virtio interrupt eventfd".into(),
            source,
        })?;
        ioctl(
            "virtio irqfd",
            vm.register_irqfd(&irq, u32::from(route.gsi)),
        )?;
        let bar = bars.allocate(VIRTIO_BAR_SIZE)?;
        let dev = Arc::new(Mutex::new(VirtioPciDevice::new(
            block,
            bar,
            guest_mem.clone(),
            irq,
            route.gsi,
        )?));
        pci.add(slot, dev.clone())?;
        mmio.insert(dev, bar, VIRTIO_BAR_SIZE)?;
        pci_irqs.push(route);
        tracing::debug!(slot, bar, gsi = route.gsi, disk = %disk.path.display(), "virtio-blk");
    }
    if let Some(handoff) = gui {
        let file = File::from(handoff.memfd);
        let len = file
            .metadata()
            .map_err(|e| VmError::Gui(GuiError::Map(e)))?
            .len();
        let bar_size = crate::devices::gui_channel::region_bar_size(len);
        let slot = pci.next_slot()?;
        let route = pci_route(slot);
        let region_addr = bars.allocate(bar_size)?;
        let regs_addr = bars.allocate(REGS_BAR_SIZE)?;
        let kvm_slot = u32::try_from(guest_mem.num_regions()).unwrap_or(u32::MAX);
        let dev = Arc::new(Mutex::new(GuiChannel::new(
            vm.clone(),
            kvm_slot,
            file.into(),
            handoff.dom0_bell,
            handoff.agent_bell,
            region_addr,
            regs_addr,
            route.gsi,
        )?));
        pci.add(slot, dev.clone())?;
        mmio.insert(dev.clone(), regs_addr, REGS_BAR_SIZE)?;
        let backed = len.next_multiple_of(4096);
        if bar_size > backed {
            mmio.insert(dev, region_addr + backed, bar_size - backed)?;
        }
        pci_irqs.push(route);
        tracing::debug!(
            slot,
            region_addr,
            regs_addr,
            gsi = route.gsi,
            len,
            "GUI channel"
        );
    }

    let cmdline = kernel_cmdline(config);
    let entry = boot::load(
        &guest_mem,
        &BootSpec {
            kernel: &config.kernel,
            initramfs: config.initramfs.as_deref(),
            cmdline: &cmdline,
            vcpus: config.vcpus,
            mem_size,
            pci_irqs: &pci_irqs,
            acpi: config.acpi,
        },
    )?;
    let power_button = if config.acpi {
        let button = EventFd::new(libc::EFD_NONBLOCK).map_err(|source| VmError::Host {
            what: "cannot create the power button eventfd".into(),
            source,
        })?;
        ioctl(
            "power button irqfd",
            vm.register_irqfd(&button, acpi::GED_IRQ),
        )?;
        Some(button)
    } else {
        None
    };

    let serial_irq = EventFd::new(libc::EFD_NONBLOCK).map_err(|source| VmError::Host {
        what: "cannot create the serial interrupt eventfd".into(),
        source,
    })?;
    ioctl("serial irqfd", vm.register_irqfd(&serial_irq, COM1_IRQ))?;
    let serial = Arc::new(Mutex::new(SerialDevice::new(
        serial_irq,
        open_console(&config.console)?,
    )));
    let i8042 = Arc::new(Mutex::new(I8042::default()));
    let mut pio = Bus::new();
    pio.insert(serial, u64::from(COM1_PORT), 8)?;
    pio.insert(
        Arc::new(Mutex::new(pci)),
        u64::from(PCI_CONFIG_PORT),
        PCI_CONFIG_LEN,
    )?;
    pio.insert(i8042.clone(), u64::from(I8042_DATA_PORT), 1)?;
    pio.insert(i8042, u64::from(I8042_COMMAND_PORT), 1)?;
    pio.insert(
        Arc::new(Mutex::new(Cmos::default())),
        u64::from(CMOS_PORT),
        2,
    )?;
    pio.insert(
        Arc::new(Mutex::new(BootTimer::default())),
        u64::from(BOOT_MARKER_PORT),
        1,
    )?;
    if config.acpi {
        let pm = Arc::new(Mutex::new(AcpiPm));
        pio.insert(pm.clone(), u64::from(acpi::SLEEP_CONTROL_PORT), 1)?;
        pio.insert(pm, u64::from(acpi::SLEEP_STATUS_PORT), 1)?;
    }
    let pio = Arc::new(pio);
    let mmio = Arc::new(mmio);

    let mut vcpus = Vec::with_capacity(usize::from(config.vcpus));
    for index in 0..config.vcpus {
        let vcpu = Vcpu::new(&vm, index)?;
        vcpu.configure(&cpuid, tsc_deadline, config.vcpus, entry)?;
        vcpus.push(vcpu);
    }

    register_signal_handler(SIGRTMIN(), kick_handler).map_err(|e| VmError::Host {
        what: "cannot install the vCPU kick signal handler".into(),
        source: std::io::Error::from_raw_os_error(e.errno()),
    })?;
    let (tx, rx) = mpsc::channel();
    let stop = Arc::new(AtomicBool::new(false));
    let mut threads = Vec::new();
    // Every vCPU thread has finished starting (glibc's rseq and robust-list registration,
    // the thread name) before the seccomp filter goes on, or the filter would kill it there.
    let (ready_tx, ready_rx) = mpsc::channel::<()>();
    let vcpu_count = vcpus.len();
    for vcpu in vcpus {
        let (pio, mmio, tx, flag) = (pio.clone(), mmio.clone(), tx.clone(), stop.clone());
        let ready = ready_tx.clone();
        let spawned = std::thread::Builder::new()
            .name("vcpu".into())
            .spawn(move || {
                let _ = ready.send(());
                drop(ready);
                vcpu.run(pio, mmio, tx, flag);
            });
        match spawned {
            Ok(t) => threads.push(t),
            Err(source) => {
                Running { threads, stop }.stop();
                return Err(VmError::Host {
                    what: "cannot start a vCPU thread".into(),
                    source,
                });
            }
        }
    }
    drop(tx);
    drop(ready_tx);
    for _ in 0..vcpu_count {
        // An error means a thread ended before saying so; it is past its start-up anyway.
        let _ = ready_rx.recv();
    }
    let running = Running { threads, stop };
    let mut smaps = metrics::SelfSmaps::open().ok();
    if let Err(e) = seccomp::install(config.seccomp) {
        running.stop();
        return Err(e.into());
    }
    tracing::debug!(
        setup_ms = started.elapsed().as_secs_f64() * 1e3,
        "vCPUs running"
    );

    let guest_ranges: Vec<u64> = memory::ram_ranges(mem_size).iter().map(|r| r.1).collect();
    let mut boot_to_init_ms = None;
    let mut usage = None;
    let deadline = config.timeout.map(|t| started + t);
    let mut stop_requests_seen = 0;
    let mut stop_deadline = None;
    let exit = loop {
        let requests = STOP_REQUESTS.load(Ordering::Acquire);
        if requests > stop_requests_seen {
            stop_requests_seen = requests;
            match (&power_button, stop_deadline) {
                (Some(button), None) => {
                    // Press: the GED's edge interrupt; its _EVT notifies the power button.
                    if let Err(e) = button.write(1) {
                        tracing::error!("cannot press the power button: {e}");
                        break VmExit::Killed;
                    }
                    tracing::info!(
                        grace_secs = config.stop_grace.as_secs_f64(),
                        "stop requested: pressed the guest's power button"
                    );
                    stop_deadline = Some(Instant::now() + config.stop_grace);
                }
                _ => break VmExit::Killed,
            }
        }
        if stop_deadline.is_some_and(|d| Instant::now() >= d) {
            tracing::warn!("the guest did not power off in time: killed");
            break VmExit::Killed;
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            break VmExit::Timeout;
        }
        match rx.recv_timeout(Duration::from_millis(50)) {
            Ok(VmEvent::BootMarker(at)) => {
                let ms = at.duration_since(started).as_secs_f64() * 1e3;
                tracing::info!(boot_to_init_ms = ms, "guest init started");
                boot_to_init_ms = Some(ms);
                usage = smaps.as_mut().and_then(|s| s.sample(&guest_ranges).ok());
            }
            Ok(VmEvent::Exit(exit)) => break exit,
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => {
                break VmExit::Failed("every vCPU thread ended without a reason".into());
            }
        }
    };
    running.stop();
    let total_ms = started.elapsed().as_secs_f64() * 1e3;
    drop((pio, mmio, vm));
    // No vCPU runs and the VM fd is closed: wipe what the guest left in its RAM, then give
    // the RAM back to the host with the last reference (the devices holding one are gone).
    let wiped = memory::wipe(&guest_mem);
    tracing::debug!(wiped_mib = wiped >> 20, "guest memory wiped");
    drop(guest_mem);
    Ok(VmReport {
        exit,
        boot_to_init_ms,
        memory: usage,
        total_ms,
        vcpus: config.vcpus,
        mem_mib: config.mem_mib,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> VmConfig {
        VmConfig {
            kernel: PathBuf::from("/proc/self/exe"),
            initramfs: None,
            cmdline: String::new(),
            vcpus: 1,
            mem_mib: 256,
            console: Console::Discard,
            timeout: None,
            disks: Vec::new(),
            seccomp: SeccompLevel::Enforce,
            acpi: true,
            stop_grace: Duration::from_secs(10),
        }
    }

    #[test]
    fn acpi_guests_get_acpi_noirq_unless_told_otherwise() {
        let mut c = config();
        c.cmdline = "console=ttyS0 ".into();
        assert_eq!(kernel_cmdline(&c), "console=ttyS0 acpi=noirq");
        c.cmdline = "console=ttyS0 acpi=off".into();
        assert_eq!(kernel_cmdline(&c), "console=ttyS0 acpi=off");
        c.cmdline = "console=ttyS0".into();
        c.acpi = false;
        assert_eq!(kernel_cmdline(&c), "console=ttyS0");
    }

    #[test]
    fn bad_configs_are_refused_before_kvm() {
        let mut c = config();
        c.vcpus = 0;
        assert!(matches!(validate(&c), Err(VmError::Config(_))));
        let mut c = config();
        c.mem_mib = 1;
        assert!(validate(&c).unwrap_err().to_string().contains("MiB"));
        let mut c = config();
        c.kernel = PathBuf::from("/nonexistent");
        assert!(
            validate(&c)
                .unwrap_err()
                .to_string()
                .contains("/nonexistent")
        );
        let mut c = config();
        c.initramfs = Some(PathBuf::from("/nonexistent-initrd"));
        assert!(validate(&c).is_err());
    }

    #[test]
    fn bars_are_aligned_and_bounded() {
        let mut a = BarAllocator::default();
        assert_eq!(a.allocate(0x4000).unwrap(), memory::PCI_MMIO_START);
        assert_eq!(a.allocate(0x1000).unwrap(), memory::PCI_MMIO_START + 0x4000);
        assert_eq!(
            a.allocate(0x10_0000).unwrap(),
            memory::PCI_MMIO_START + 0x10_0000
        );
        assert!(a.allocate(1 << 30).is_err());
        assert!(a.allocate(0x3000).is_err());
    }

    #[test]
    fn pci_routes_use_the_high_pins() {
        assert_eq!(pci_route(1).gsi, 16);
        assert_eq!(pci_route(8).gsi, 23);
        assert_eq!(pci_route(9).gsi, 16);
    }

    #[test]
    fn exit_serializes_tagged() {
        let s = serde_json::to_string(&VmExit::Shutdown).unwrap();
        assert_eq!(s, r#"{"kind":"shutdown"}"#);
        let f: VmExit = serde_json::from_str(r#"{"kind":"failed","detail":"x"}"#).unwrap();
        assert_eq!(f, VmExit::Failed("x".into()));
    }
}
