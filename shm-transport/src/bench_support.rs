//! Copy strategies compared by the benchmark (not part of the API).

use std::os::fd::AsFd;

use crate::shared::SharedMemory;

/// A scratch mapping for copy benchmarks.
#[derive(Debug)]
pub struct Scratch(SharedMemory);

impl Scratch {
    /// A memfd mapping of `len` bytes.
    pub fn new(len: usize) -> std::io::Result<Self> {
        let fd = rustix::fs::memfd_create("bulkhead-bench", rustix::fs::MemfdFlags::CLOEXEC)?;
        rustix::fs::ftruncate(fd.as_fd(), len as u64)?;
        Ok(Self(SharedMemory::map(&fd, 0, len)?))
    }

    /// The ring's copy: relaxed atomic words.
    pub fn read_racy(&self, offset: usize, dst: &mut [u8]) {
        self.0.read_racy(offset, dst);
    }

    /// The arena's copy: memcpy.
    pub fn read_bulk(&self, offset: usize, dst: &mut [u8]) {
        self.0.read_bulk(offset, dst);
    }

    /// Writes with the ring's copy.
    pub fn write_racy(&self, offset: usize, src: &[u8]) {
        self.0.write_racy(offset, src);
    }
}
