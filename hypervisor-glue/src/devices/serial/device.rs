//! COM1 on top of vm-superio's 16550A model. Its interrupt is an eventfd registered as a KVM
//! irqfd on GSI 4; output goes to any writer (stdout or a log file). Guest input is not
//! forwarded yet.

use std::io::Write;

use vm_superio::{Serial, Trigger};
use vmm_sys_util::eventfd::EventFd;

use crate::devices::{BusDevice, DeviceEvent};

/// COM1 base port.
pub const COM1_PORT: u16 = 0x3f8;
/// COM1's ISA IRQ (= GSI).
pub const COM1_IRQ: u32 = 4;

/// An eventfd as vm-superio's interrupt trigger.
#[derive(Debug)]
pub struct IrqTrigger(pub EventFd);

impl Trigger for IrqTrigger {
    type E = std::io::Error;

    fn trigger(&self) -> std::io::Result<()> {
        self.0.write(1)
    }
}

/// The UART.
pub struct SerialDevice {
    uart: Serial<IrqTrigger, vm_superio::serial::NoEvents, Box<dyn Write + Send>>,
}

impl std::fmt::Debug for SerialDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SerialDevice").finish_non_exhaustive()
    }
}

impl SerialDevice {
    /// A UART raising `irq` and writing to `out`.
    pub fn new(irq: EventFd, out: Box<dyn Write + Send>) -> Self {
        Self {
            uart: Serial::new(IrqTrigger(irq), out),
        }
    }
}

impl BusDevice for SerialDevice {
    fn read(&mut self, _base: u64, offset: u64, data: &mut [u8]) {
        if let (Some(b), Ok(off)) = (data.first_mut(), u8::try_from(offset)) {
            *b = self.uart.read(off);
        }
    }

    fn write(&mut self, _base: u64, offset: u64, data: &[u8]) -> Option<DeviceEvent> {
        if let (Some(b), Ok(off)) = (data.first(), u8::try_from(offset)) {
            if let Err(e) = self.uart.write(off, *b) {
                tracing::debug!("serial write: {e:?}");
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn bytes_reach_the_writer() {
        let sink = Sink::default();
        let evt = EventFd::new(libc::EFD_NONBLOCK).unwrap();
        let mut s = SerialDevice::new(evt, Box::new(sink.clone()));
        for b in b"ok\n" {
            s.write(0x3f8, 0, &[*b]);
        }
        assert_eq!(&*sink.0.lock().unwrap(), b"ok\n");
        // Line status: transmitter empty.
        let mut lsr = [0u8];
        s.read(0x3f8, 5, &mut lsr);
        assert_ne!(lsr[0] & 0x20, 0);
    }
}
