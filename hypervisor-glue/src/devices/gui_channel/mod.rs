//! The GUI channel: the shm-transport region as a PCI memory BAR, a doorbell register that is
//! an ioeventfd, and an INTx interrupt fed by an irqfd, driven in the guest by the stock
//! `uio_pci_generic`.
mod device;
pub use device::{
    GUI_CLASS, GUI_DEVICE_ID, GuiChannel, GuiError, REG_DOORBELL, REG_MAGIC, REG_REGION_LEN,
    REG_VERSION, REGS_BAR_SIZE, REGS_MAGIC, region_bar_size,
};
