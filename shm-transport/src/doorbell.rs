//! Doorbells: how one side wakes the other.
//!
//! Each side has one incoming doorbell, rung by the peer when it produced data or freed
//! space that the waiter asked for. On the host both are eventfds; under KVM dom0's is an
//! ioeventfd (the guest writes a BAR register) and the agent's an irqfd (a guest
//! interrupt, waited on through `/dev/uioN`), so the endpoint only sees these traits.

use std::fmt;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::time::Duration;

use rustix::event::{EventfdFlags, PollFd, PollFlags, Timespec};

use crate::shared::SharedMemory;

/// The peer's doorbell, as seen by the side that rings it.
pub trait Doorbell: fmt::Debug + Send {
    /// Wakes the peer.
    fn ring(&self) -> io::Result<()>;
}

/// Our own doorbell, as seen by the side that waits on it.
pub trait IncomingDoorbell: fmt::Debug + Send + AsFd {
    /// Clears pending rings after the fd polled readable (and re-arms, for uio). Must not
    /// block when nothing is pending.
    fn acknowledge(&self) -> io::Result<()>;
}

/// A non-blocking eventfd: the host implementation of both traits.
#[derive(Debug)]
pub struct EventFd(OwnedFd);

impl EventFd {
    /// A new eventfd (non-blocking, close-on-exec).
    pub fn new() -> io::Result<Self> {
        let fd = rustix::event::eventfd(0, EventfdFlags::CLOEXEC | EventfdFlags::NONBLOCK)?;
        Ok(Self(fd))
    }

    /// Wraps an eventfd received from elsewhere (it is switched to non-blocking).
    pub fn from_fd(fd: OwnedFd) -> io::Result<Self> {
        let flags = rustix::fs::fcntl_getfl(&fd)?;
        rustix::fs::fcntl_setfl(&fd, flags | rustix::fs::OFlags::NONBLOCK)?;
        Ok(Self(fd))
    }

    /// Duplicates the descriptor (to hand to the peer).
    pub fn try_clone_fd(&self) -> io::Result<OwnedFd> {
        self.0.try_clone()
    }
}

impl AsFd for EventFd {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

impl Doorbell for EventFd {
    fn ring(&self) -> io::Result<()> {
        match rustix::io::write(&self.0, &1u64.to_ne_bytes()) {
            // The counter is saturated: the peer has wake-ups pending anyway.
            Ok(_) | Err(rustix::io::Errno::AGAIN) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

impl IncomingDoorbell for EventFd {
    fn acknowledge(&self) -> io::Result<()> {
        let mut buf = [0u8; 8];
        match rustix::io::read(&self.0, &mut buf) {
            Ok(_) | Err(rustix::io::Errno::AGAIN) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }
}

/// A doorbell that is a 32-bit device register: ringing stores 1 at `offset` of a mapping.
/// In a VM this is the GUI channel's doorbell register (BAR 2 offset 0), a KVM ioeventfd on
/// dom0's doorbell: the store completes in the host kernel and wakes dom0.
#[derive(Debug)]
pub struct RegisterDoorbell {
    regs: SharedMemory,
    offset: usize,
}

impl RegisterDoorbell {
    /// The register at `offset` of `regs` (4-aligned, inside the mapping).
    pub fn new(regs: SharedMemory, offset: usize) -> io::Result<Self> {
        let fits = offset
            .checked_add(size_of::<u32>())
            .is_some_and(|end| end <= regs.len());
        if !fits || offset % size_of::<u32>() != 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "doorbell register {offset:#x} is not an aligned u32 inside {:#x} bytes",
                    regs.len()
                ),
            ));
        }
        Ok(Self { regs, offset })
    }
}

impl Doorbell for RegisterDoorbell {
    fn ring(&self) -> io::Result<()> {
        self.regs.store_u32(self.offset, 1);
        Ok(())
    }
}

/// Waits until `fd` is readable or `timeout` passes (`None`: forever). Returns whether it
/// became readable.
pub fn wait_readable(fd: BorrowedFd<'_>, timeout: Option<Duration>) -> io::Result<bool> {
    let ts = timeout.map(|t| Timespec {
        tv_sec: i64::try_from(t.as_secs()).unwrap_or(i64::MAX),
        tv_nsec: i64::from(t.subsec_nanos()),
    });
    let mut fds = [PollFd::new(&fd, PollFlags::IN)];
    loop {
        match rustix::event::poll(&mut fds, ts.as_ref()) {
            Ok(n) => return Ok(n > 0),
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eventfd_rings_and_clears() {
        let bell = EventFd::new().unwrap();
        assert!(!wait_readable(bell.as_fd(), Some(Duration::ZERO)).unwrap());
        bell.ring().unwrap();
        bell.ring().unwrap();
        assert!(wait_readable(bell.as_fd(), Some(Duration::ZERO)).unwrap());
        bell.acknowledge().unwrap();
        assert!(!wait_readable(bell.as_fd(), Some(Duration::ZERO)).unwrap());
        bell.acknowledge().unwrap();
    }

    #[test]
    fn register_doorbell_stores_one_and_checks_its_offset() {
        let fd = rustix::fs::memfd_create("regs", rustix::fs::MemfdFlags::CLOEXEC).unwrap();
        rustix::fs::ftruncate(&fd, 4096).unwrap();
        let view = SharedMemory::map(&fd, 0, 4096).unwrap();
        let bell = RegisterDoorbell::new(SharedMemory::map(&fd, 0, 4096).unwrap(), 8).unwrap();
        assert_eq!(view.load_u32(8), 0);
        bell.ring().unwrap();
        assert_eq!(view.load_u32(8), 1);
        assert_eq!(view.load_u32(4), 0);
        for bad in [2, 4094, 4096, usize::MAX - 1] {
            let regs = SharedMemory::map(&fd, 0, 4096).unwrap();
            assert!(RegisterDoorbell::new(regs, bad).is_err(), "{bad}");
        }
    }
}
