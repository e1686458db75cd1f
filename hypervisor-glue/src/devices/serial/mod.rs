//! The 16550A UART at COM1 (0x3f8, IRQ 4): the qube's console.
mod device;
pub use device::{COM1_IRQ, COM1_PORT, SerialDevice};
