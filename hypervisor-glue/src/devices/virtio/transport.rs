//! Modern virtio-pci (virtio 1.2, section 4.1): one 64-bit memory BAR holding the common
//! configuration, the ISR byte, the device configuration and the notification area, each
//! announced by a vendor-specific capability. Interrupts are INTx (no MSI-X table): the ISR
//! byte says why, reading it clears it, and the line is pulsed through an irqfd.
//!
//! BAR 0 layout: `0x0000` common config, `0x1000` ISR, `0x2000` device config, `0x3000`
//! notifications (queue *n* at `0x3000 + 4n`).

use std::sync::Arc;

use virtio_queue::{Queue, QueueT};
use vm_memory::GuestMemoryMmap;
use vmm_sys_util::eventfd::EventFd;

use crate::devices::{BusDevice, DeviceEvent};
use crate::memory::GuestRam;
use crate::pci::{Bar, ConfigError, ConfigSpace, Identity, PciDevice};

/// Size of BAR 0.
pub const VIRTIO_BAR_SIZE: u64 = 0x4000;
/// Largest queue we offer.
pub const QUEUE_MAX_SIZE: u16 = 256;
/// The feature bit every modern device offers.
pub const VIRTIO_F_VERSION_1: u64 = 1 << 32;

const COMMON_OFFSET: u64 = 0x0000;
const COMMON_LEN: u64 = 0x38;
const ISR_OFFSET: u64 = 0x1000;
const DEVICE_OFFSET: u64 = 0x2000;
const DEVICE_LEN: u64 = 0x1000;
const NOTIFY_OFFSET: u64 = 0x3000;
const NOTIFY_MULTIPLIER: u32 = 4;

const CAP_VENDOR: u8 = 0x09;
const CFG_COMMON: u8 = 1;
const CFG_NOTIFY: u8 = 2;
const CFG_ISR: u8 = 3;
const CFG_DEVICE: u8 = 4;

const STATUS_FEATURES_OK: u8 = 8;
const ISR_QUEUE: u8 = 1;
const NO_VECTOR: u16 = 0xffff;
const VIRTIO_PCI_VENDOR: u16 = 0x1af4;
const VIRTIO_PCI_DEVICE_BASE: u16 = 0x1040;

/// The device-specific half of a virtio device.
pub trait VirtioBackend: Send {
    /// Virtio device type (2 = block, …).
    fn device_type(&self) -> u16;
    /// PCI class code for the function.
    fn pci_class(&self) -> u32;
    /// Features offered (including [`VIRTIO_F_VERSION_1`]).
    fn features(&self) -> u64;
    /// Number of queues.
    fn queue_count(&self) -> usize;
    /// Reads the device configuration space.
    fn read_config(&self, offset: u64, data: &mut [u8]);
    /// Handles the available buffers of `queue`; returns whether it used any.
    fn process_queue(&mut self, index: usize, queue: &mut Queue, mem: &GuestMemoryMmap) -> bool;
}

/// A virtio device on the PCI bus.
pub struct VirtioPciDevice<B: VirtioBackend> {
    backend: B,
    config: ConfigSpace,
    bar: Bar,
    mem: Arc<GuestRam>,
    irq: EventFd,
    queues: Vec<Queue>,
    device_feature_select: u32,
    driver_feature_select: u32,
    driver_features: u64,
    status: u8,
    queue_select: u16,
    isr: u8,
}

impl<B: VirtioBackend> std::fmt::Debug for VirtioPciDevice<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VirtioPciDevice")
            .field("type", &self.backend.device_type())
            .field("bar", &self.bar)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

fn cap(cfg_type: u8, offset: u64, length: u64) -> Vec<u8> {
    // virtio_pci_cap after id/next: cap_len, cfg_type, bar, id, padding[2], offset, length.
    let mut body = vec![16, cfg_type, 0, 0, 0, 0];
    body.extend_from_slice(&u32::try_from(offset).unwrap_or(0).to_le_bytes());
    body.extend_from_slice(&u32::try_from(length).unwrap_or(0).to_le_bytes());
    body
}

impl<B: VirtioBackend> VirtioPciDevice<B> {
    /// Wraps `backend` with BAR 0 at `bar_addr`, interrupts through `irq` (an irqfd on the
    /// function's INTx pin, wired to `irq_line`).
    pub fn new(
        backend: B,
        bar_addr: u64,
        mem: Arc<GuestRam>,
        irq: EventFd,
        irq_line: u8,
    ) -> Result<Self, ConfigError> {
        let device_type = backend.device_type();
        let mut config = ConfigSpace::new(
            Identity {
                vendor: VIRTIO_PCI_VENDOR,
                device: VIRTIO_PCI_DEVICE_BASE + device_type,
                class: backend.pci_class(),
                revision: 1,
                subsystem_vendor: VIRTIO_PCI_VENDOR,
                subsystem: 0x40,
            },
            1,
            irq_line,
        );
        let bar = Bar {
            addr: bar_addr,
            size: VIRTIO_BAR_SIZE,
            prefetchable: false,
        };
        config.add_bar(0, bar)?;
        config.add_capability(CAP_VENDOR, &cap(CFG_COMMON, COMMON_OFFSET, COMMON_LEN))?;
        config.add_capability(CAP_VENDOR, &cap(CFG_ISR, ISR_OFFSET, 1))?;
        config.add_capability(CAP_VENDOR, &cap(CFG_DEVICE, DEVICE_OFFSET, DEVICE_LEN))?;
        let queues = u64::try_from(backend.queue_count()).unwrap_or(0);
        let mut notify = cap(
            CFG_NOTIFY,
            NOTIFY_OFFSET,
            queues * u64::from(NOTIFY_MULTIPLIER),
        );
        notify[0] = 20;
        notify.extend_from_slice(&NOTIFY_MULTIPLIER.to_le_bytes());
        config.add_capability(CAP_VENDOR, &notify)?;
        let queues = (0..backend.queue_count())
            .filter_map(|_| Queue::new(QUEUE_MAX_SIZE).ok())
            .collect();
        Ok(Self {
            backend,
            config,
            bar,
            mem,
            irq,
            queues,
            device_feature_select: 0,
            driver_feature_select: 0,
            driver_features: 0,
            status: 0,
            queue_select: 0,
            isr: 0,
        })
    }

    /// BAR 0.
    pub fn bar(&self) -> Bar {
        self.bar
    }

    /// The backend.
    pub fn backend(&self) -> &B {
        &self.backend
    }

    fn reset(&mut self) {
        for q in &mut self.queues {
            q.reset();
        }
        self.driver_features = 0;
        self.status = 0;
        self.isr = 0;
        self.queue_select = 0;
        self.config.set_interrupt_status(false);
    }

    fn selected_queue(&mut self) -> Option<&mut Queue> {
        self.queues.get_mut(usize::from(self.queue_select))
    }

    fn common_read(&mut self, offset: u64) -> u64 {
        let features = self.backend.features();
        let q = self.queues.get(usize::from(self.queue_select));
        match offset {
            0x00 => u64::from(self.device_feature_select),
            0x04 => match self.device_feature_select {
                0 => features & 0xffff_ffff,
                1 => features >> 32,
                _ => 0,
            },
            0x08 => u64::from(self.driver_feature_select),
            0x0c => match self.driver_feature_select {
                0 => self.driver_features & 0xffff_ffff,
                1 => self.driver_features >> 32,
                _ => 0,
            },
            0x10 | 0x1a => u64::from(NO_VECTOR),
            0x12 => u64::try_from(self.queues.len()).unwrap_or(0),
            0x14 => u64::from(self.status),
            0x15 => 0,
            0x16 => u64::from(self.queue_select),
            0x18 => q.map_or(0, |q| u64::from(q.size())),
            0x1c => q.map_or(0, |q| u64::from(q.ready())),
            0x1e => u64::from(self.queue_select),
            0x20 => q.map_or(0, |q| q.desc_table() & 0xffff_ffff),
            0x24 => q.map_or(0, |q| q.desc_table() >> 32),
            0x28 => q.map_or(0, |q| q.avail_ring() & 0xffff_ffff),
            0x2c => q.map_or(0, |q| q.avail_ring() >> 32),
            0x30 => q.map_or(0, |q| q.used_ring() & 0xffff_ffff),
            0x34 => q.map_or(0, |q| q.used_ring() >> 32),
            _ => 0,
        }
    }

    fn common_write(&mut self, offset: u64, value: u64) {
        let v32 = (value & 0xffff_ffff) as u32;
        let v16 = (value & 0xffff) as u16;
        match offset {
            0x00 => self.device_feature_select = v32,
            0x08 => self.driver_feature_select = v32,
            0x0c => {
                let offered = self.backend.features();
                match self.driver_feature_select {
                    0 => {
                        self.driver_features = (self.driver_features & !0xffff_ffff)
                            | (u64::from(v32) & offered & 0xffff_ffff);
                    }
                    1 => {
                        self.driver_features = (self.driver_features & 0xffff_ffff)
                            | ((u64::from(v32) << 32) & offered);
                    }
                    _ => {}
                }
            }
            0x14 => {
                let status = (value & 0xff) as u8;
                if status == 0 {
                    self.reset();
                } else if status & STATUS_FEATURES_OK != 0
                    && self.driver_features & VIRTIO_F_VERSION_1 == 0
                {
                    // A legacy-only driver: refuse FEATURES_OK.
                    tracing::warn!("virtio driver did not accept VERSION_1");
                    self.status = status & !STATUS_FEATURES_OK;
                } else {
                    self.status = status;
                }
            }
            0x16 => self.queue_select = v16,
            0x18 => {
                if let Some(q) = self.selected_queue() {
                    q.set_size(v16);
                }
            }
            0x1c => {
                let mem = self.mem.clone();
                if let Some(q) = self.selected_queue() {
                    // `is_valid` checks the rings of a queue marked ready.
                    q.set_ready(v16 == 1);
                    if v16 == 1 && !q.is_valid(&**mem) {
                        tracing::warn!("guest enabled a virtio queue with unusable rings");
                        q.set_ready(false);
                    }
                }
            }
            0x20 | 0x24 | 0x28 | 0x2c | 0x30 | 0x34 => {
                if let Some(q) = self.selected_queue() {
                    let (lo, hi) = if offset % 8 == 0 {
                        (Some(v32), None)
                    } else {
                        (None, Some(v32))
                    };
                    match offset {
                        0x20 | 0x24 => q.set_desc_table_address(lo, hi),
                        0x28 | 0x2c => q.set_avail_ring_address(lo, hi),
                        _ => q.set_used_ring_address(lo, hi),
                    }
                }
            }
            _ => {}
        }
    }

    fn notify(&mut self, queue: usize) {
        let mem = self.mem.clone();
        let Some(q) = self.queues.get_mut(queue) else {
            tracing::warn!(queue, "notification for a queue that does not exist");
            return;
        };
        if !q.ready() {
            return;
        }
        if self.backend.process_queue(queue, q, &mem) {
            let notify = q.needs_notification(&**mem).unwrap_or(true);
            if notify {
                self.isr |= ISR_QUEUE;
                self.config.set_interrupt_status(true);
                if !self.config.intx_disabled() {
                    if let Err(e) = self.irq.write(1) {
                        tracing::error!("virtio interrupt: {e}");
                    }
                }
            }
        }
    }
}

fn le_value(data: &[u8]) -> u64 {
    let mut b = [0u8; 8];
    for (d, s) in b.iter_mut().zip(data) {
        *d = *s;
    }
    u64::from_le_bytes(b)
}

impl<B: VirtioBackend> BusDevice for VirtioPciDevice<B> {
    fn read(&mut self, _base: u64, offset: u64, data: &mut [u8]) {
        data.fill(0);
        match offset {
            o if o < COMMON_OFFSET + COMMON_LEN => {
                let v = self.common_read(o).to_le_bytes();
                for (d, s) in data.iter_mut().zip(v) {
                    *d = s;
                }
            }
            ISR_OFFSET => {
                if let Some(b) = data.first_mut() {
                    *b = self.isr;
                }
                self.isr = 0;
                self.config.set_interrupt_status(false);
            }
            o if (DEVICE_OFFSET..DEVICE_OFFSET + DEVICE_LEN).contains(&o) => {
                self.backend.read_config(o - DEVICE_OFFSET, data);
            }
            _ => {}
        }
    }

    fn write(&mut self, _base: u64, offset: u64, data: &[u8]) -> Option<DeviceEvent> {
        let value = le_value(data);
        match offset {
            o if o < COMMON_OFFSET + COMMON_LEN => self.common_write(o, value),
            o if (NOTIFY_OFFSET..NOTIFY_OFFSET + 0x1000).contains(&o) => {
                let queue = (o - NOTIFY_OFFSET) / u64::from(NOTIFY_MULTIPLIER);
                self.notify(usize::try_from(queue).unwrap_or(usize::MAX));
            }
            _ => {}
        }
        None
    }
}

impl<B: VirtioBackend> PciDevice for VirtioPciDevice<B> {
    fn config_read(&mut self, reg: usize) -> u32 {
        self.config.read(reg)
    }

    fn config_write(&mut self, reg: usize, offset: usize, data: &[u8]) {
        self.config.write(reg, offset, data);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devices::virtio_blk::Block;
    use vm_memory::{Address, Bytes, GuestAddress};

    const BAR: u64 = 0xc000_0000;

    fn write32(d: &mut impl BusDevice, offset: u64, v: u32) {
        d.write(BAR, offset, &v.to_le_bytes());
    }

    fn read32(d: &mut impl BusDevice, offset: u64) -> u32 {
        let mut b = [0u8; 4];
        d.read(BAR, offset, &mut b);
        u32::from_le_bytes(b)
    }

    fn read8(d: &mut impl BusDevice, offset: u64) -> u8 {
        let mut b = [0u8; 1];
        d.read(BAR, offset, &mut b);
        b[0]
    }

    fn descriptor(mem: &GuestMemoryMmap, index: u64, addr: u64, len: u32, flags: u16, next: u16) {
        let at = GuestAddress(0x1000 + index * 16);
        mem.write_obj(addr, at).unwrap();
        mem.write_obj(len, at.unchecked_add(8)).unwrap();
        mem.write_obj(flags, at.unchecked_add(12)).unwrap();
        mem.write_obj(next, at.unchecked_add(14)).unwrap();
    }

    /// A driver's whole conversation with a virtio-blk device: negotiate, set up the queue,
    /// read sector 1, get the interrupt.
    #[test]
    fn driver_reads_a_sector() {
        let dir = std::env::temp_dir().join(format!("bulkhead-vpci-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("d.img");
        let mut content = vec![0u8; 4096];
        content[512..516].copy_from_slice(b"ABCD");
        std::fs::write(&path, &content).unwrap();

        let mem = Arc::new(crate::memory::create_guest_memory(16 << 20).unwrap());
        let irq = EventFd::new(libc::EFD_NONBLOCK).unwrap();
        let irq_probe = irq.try_clone().unwrap();
        let mut dev = VirtioPciDevice::new(
            Block::open(&path, false).unwrap(),
            BAR,
            mem.clone(),
            irq,
            16,
        )
        .unwrap();

        // Identity and capabilities.
        assert_eq!(dev.config_read(0), 0x1042_1af4);
        assert_eq!(dev.config_read(13) & 0xff, 0x40);

        // Features: VERSION_1 is offered in the high word and must be accepted.
        write32(&mut dev, 0x14, 1 | 2);
        write32(&mut dev, 0x00, 1);
        assert_eq!(read32(&mut dev, 0x04) & 1, 1);
        write32(&mut dev, 0x08, 1);
        write32(&mut dev, 0x0c, 1);
        write32(&mut dev, 0x14, 1 | 2 | 8);
        assert_eq!(read8(&mut dev, 0x14) & 8, 8, "FEATURES_OK kept");

        // Queue 0: 16 entries, rings at 0x1000/0x2000/0x3000.
        assert_eq!(read32(&mut dev, 0x12) & 0xffff, 1, "one queue");
        dev.write(BAR, 0x16, &0u16.to_le_bytes());
        dev.write(BAR, 0x18, &16u16.to_le_bytes());
        write32(&mut dev, 0x20, 0x1000);
        write32(&mut dev, 0x24, 0);
        write32(&mut dev, 0x28, 0x2000);
        write32(&mut dev, 0x2c, 0);
        write32(&mut dev, 0x30, 0x3000);
        write32(&mut dev, 0x34, 0);
        dev.write(BAR, 0x1c, &1u16.to_le_bytes());
        assert_eq!(read32(&mut dev, 0x1c) & 0xffff, 1, "queue enabled");
        write32(&mut dev, 0x14, 1 | 2 | 8 | 4);

        // Request: read sector 1 into 0x11000, status at 0x12000.
        let mut header = 0u32.to_le_bytes().to_vec();
        header.extend_from_slice(&[0; 4]);
        header.extend_from_slice(&1u64.to_le_bytes());
        mem.write_slice(&header, GuestAddress(0x10000)).unwrap();
        mem.write_obj(0xffu8, GuestAddress(0x12000)).unwrap();
        descriptor(&mem, 0, 0x10000, 16, 1, 1);
        descriptor(&mem, 1, 0x11000, 512, 1 | 2, 2);
        descriptor(&mem, 2, 0x12000, 1, 2, 0);
        mem.write_obj(0u16, GuestAddress(0x2004)).unwrap();
        mem.write_obj(1u16, GuestAddress(0x2002)).unwrap();
        write32(&mut dev, NOTIFY_OFFSET, 0);

        let used_idx: u16 = mem.read_obj(GuestAddress(0x3002)).unwrap();
        assert_eq!(used_idx, 1);
        let used_len: u32 = mem.read_obj(GuestAddress(0x3008)).unwrap();
        assert_eq!(used_len, 513);
        let mut data = [0u8; 4];
        mem.read_slice(&mut data, GuestAddress(0x11000)).unwrap();
        assert_eq!(&data, b"ABCD");
        let status: u8 = mem.read_obj(GuestAddress(0x12000)).unwrap();
        assert_eq!(status, 0);

        // Interrupt raised, ISR and the PCI status bit say so until the ISR is read.
        assert_eq!(irq_probe.read().unwrap(), 1);
        assert_ne!(dev.config_read(1) & (1 << 19), 0);
        assert_eq!(read8(&mut dev, ISR_OFFSET), 1);
        assert_eq!(read8(&mut dev, ISR_OFFSET), 0);
        assert_eq!(dev.config_read(1) & (1 << 19), 0);

        // Device config: capacity 8 sectors. Reset clears everything.
        assert_eq!(read32(&mut dev, DEVICE_OFFSET), 8);
        write32(&mut dev, 0x14, 0);
        assert_eq!(read8(&mut dev, 0x14), 0);
        assert_eq!(read32(&mut dev, 0x1c) & 0xffff, 0);
    }

    #[test]
    fn legacy_only_driver_is_refused() {
        let dir = std::env::temp_dir().join(format!("bulkhead-vpci2-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("d.img");
        std::fs::write(&path, [0u8; 512]).unwrap();
        let mem = Arc::new(crate::memory::create_guest_memory(16 << 20).unwrap());
        let mut dev = VirtioPciDevice::new(
            Block::open(&path, true).unwrap(),
            BAR,
            mem,
            EventFd::new(libc::EFD_NONBLOCK).unwrap(),
            16,
        )
        .unwrap();
        write32(&mut dev, 0x14, 1 | 2 | 8);
        assert_eq!(read8(&mut dev, 0x14) & 8, 0);
        // A notification for a queue that is not there is ignored.
        write32(&mut dev, NOTIFY_OFFSET + 40, 0);
    }
}
