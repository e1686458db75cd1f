//! The virtio 1.x PCI transport ("modern" virtio-pci), shared by every virtio device.
mod transport;
pub use transport::{
    QUEUE_MAX_SIZE, VIRTIO_BAR_SIZE, VIRTIO_F_VERSION_1, VirtioBackend, VirtioPciDevice,
};
