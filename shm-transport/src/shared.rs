//! The only module that touches shared memory through raw pointers.
//!
//! Every access is bounds-checked against the mapping with checked arithmetic before the
//! pointer is formed. The peer may write any byte at any time, so:
//! - indices and flags are accessed as atomics ([`SharedMemory::atomic_u32`]);
//! - ring frames are copied with relaxed atomic loads and stores, word by word
//!   ([`SharedMemory::read_racy`], [`SharedMemory::write_racy`]): racing atomic accesses
//!   are defined behaviour in Rust's memory model, and the copy reads each byte once;
//! - pixels are copied with `memcpy` ([`SharedMemory::read_bulk`],
//!   [`SharedMemory::write_bulk`]): see `DESIGN.md` for why that is acceptable for
//!   display-only bytes.
//!
//! No Rust reference (`&[u8]`, `&mut [u8]`) into the mapping is ever created, except
//! `&AtomicU32`/`&AtomicU8`/`&AtomicU64`, whose `UnsafeCell` allows concurrent mutation.

use std::fmt;
use std::io;
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicU8, AtomicU32, AtomicU64, Ordering};

use memmap2::{MmapOptions, MmapRaw};

const WORD: usize = size_of::<u64>();

/// A shared mapping of a region (a memfd on the host, a PCI BAR in the guest).
///
/// The mapping is page-aligned; it stays mapped for the lifetime of this value, which the
/// endpoint and the arena share through an `Arc`.
pub struct SharedMemory {
    map: MmapRaw,
}

impl fmt::Debug for SharedMemory {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedMemory")
            .field("ptr", &self.map.as_ptr())
            .field("len", &self.map.len())
            .finish()
    }
}

impl SharedMemory {
    /// Maps `len` bytes of `fd` from `offset` (a multiple of the page size), shared and
    /// read-write. For a memfd sealed against shrinking (as `Endpoint::create_dom0` makes
    /// it) or a PCI BAR the mapping can never lose its backing pages; an object someone
    /// can truncate would turn accesses past its new end into SIGBUS.
    pub fn map(fd: impl AsFd, offset: u64, len: usize) -> io::Result<Self> {
        let map = MmapOptions::new()
            .offset(offset)
            .len(len)
            .map_raw(&fd.as_fd())?;
        Ok(Self { map })
    }

    /// Length of the mapping in bytes.
    pub fn len(&self) -> usize {
        self.map.len()
    }

    /// Whether the mapping is empty (never, for a usable region).
    pub fn is_empty(&self) -> bool {
        self.map.len() == 0
    }

    /// Panics unless `offset..offset + len` lies inside the mapping. Callers compute
    /// offsets from validated layouts, so a failure here is a bug in this crate, never
    /// the peer's doing.
    #[track_caller]
    fn check(&self, offset: usize, len: usize) {
        let end = offset.checked_add(len);
        assert!(
            end.is_some_and(|end| end <= self.map.len()),
            "shared memory access {offset:#x}+{len:#x} outside mapping of {:#x}",
            self.map.len()
        );
    }

    /// Pointer to `offset` (checked by the caller).
    fn ptr(&self, offset: usize) -> *mut u8 {
        self.map.as_mut_ptr().wrapping_add(offset)
    }

    /// Loads the u32 at `offset` (4-aligned) with one 32-bit access: for device registers
    /// mapped from a PCI BAR (the GUI channel's identification registers in a VM).
    ///
    /// # Panics
    /// If `offset` is unaligned or outside the mapping (a caller bug).
    #[track_caller]
    pub fn load_u32(&self, offset: usize) -> u32 {
        self.atomic_u32(offset).load(Ordering::SeqCst)
    }

    /// Stores `value` at `offset` (4-aligned) with one 32-bit access: ringing a doorbell
    /// register (in a VM the store traps to the VMM, or completes in KVM's ioeventfd).
    ///
    /// # Panics
    /// If `offset` is unaligned or outside the mapping (a caller bug).
    #[track_caller]
    pub fn store_u32(&self, offset: usize, value: u32) {
        self.atomic_u32(offset).store(value, Ordering::SeqCst);
    }

    /// The u32 at `offset` (4-aligned) as an atomic.
    #[track_caller]
    pub(crate) fn atomic_u32(&self, offset: usize) -> &AtomicU32 {
        self.check(offset, size_of::<u32>());
        assert!(offset % align_of::<AtomicU32>() == 0, "unaligned atomic");
        let ptr = self.ptr(offset).cast::<u32>();
        // SAFETY: `ptr` is inside the mapping (checked) and 4-aligned (the mapping is
        // page-aligned and `offset` is 4-aligned). The mapping lives as long as `&self`.
        // All our accesses to these bytes are atomic; the peer's are in another process.
        unsafe { AtomicU32::from_ptr(ptr) }
    }

    fn atomic_u8(&self, offset: usize) -> &AtomicU8 {
        let ptr = self.ptr(offset);
        // SAFETY: callers checked `offset` is inside the mapping; u8 needs no alignment;
        // the mapping lives as long as `&self`.
        unsafe { AtomicU8::from_ptr(ptr) }
    }

    fn atomic_u64(&self, offset: usize) -> &AtomicU64 {
        let ptr = self.ptr(offset).cast::<u64>();
        debug_assert!(ptr.is_aligned());
        // SAFETY: callers checked `offset..offset + 8` is inside the mapping and that the
        // address is 8-aligned; the mapping lives as long as `&self`.
        unsafe { AtomicU64::from_ptr(ptr) }
    }

    /// Number of leading bytes before `offset` reaches an 8-aligned address, at most `len`.
    fn head_len(&self, offset: usize, len: usize) -> usize {
        let misalign = self.ptr(offset).addr() % WORD;
        ((WORD - misalign) % WORD).min(len)
    }

    /// Copies `dst.len()` bytes from `offset` with relaxed atomic loads (aligned 8-byte
    /// words, single bytes at the edges). Each shared byte is read exactly once; a
    /// concurrent writer can only change which values we get.
    #[track_caller]
    pub(crate) fn read_racy(&self, offset: usize, dst: &mut [u8]) {
        self.check(offset, dst.len());
        let head = self.head_len(offset, dst.len());
        let (head_dst, rest) = dst.split_at_mut(head);
        for (i, b) in head_dst.iter_mut().enumerate() {
            *b = self.atomic_u8(offset + i).load(Ordering::Relaxed);
        }
        let mut at = offset + head;
        let mut words = rest.chunks_exact_mut(WORD);
        for chunk in &mut words {
            let w = self.atomic_u64(at).load(Ordering::Relaxed);
            chunk.copy_from_slice(&w.to_ne_bytes());
            at += WORD;
        }
        for b in words.into_remainder() {
            *b = self.atomic_u8(at).load(Ordering::Relaxed);
            at += 1;
        }
    }

    /// Copies `src` to `offset` with relaxed atomic stores (the mirror of
    /// [`read_racy`](Self::read_racy)).
    #[track_caller]
    pub(crate) fn write_racy(&self, offset: usize, src: &[u8]) {
        self.check(offset, src.len());
        let head = self.head_len(offset, src.len());
        let (head_src, rest) = src.split_at(head);
        for (i, &b) in head_src.iter().enumerate() {
            self.atomic_u8(offset + i).store(b, Ordering::Relaxed);
        }
        let mut at = offset + head;
        let mut words = rest.chunks_exact(WORD);
        for chunk in &mut words {
            let mut w = [0u8; WORD];
            w.copy_from_slice(chunk);
            self.atomic_u64(at)
                .store(u64::from_ne_bytes(w), Ordering::Relaxed);
            at += WORD;
        }
        for &b in words.remainder() {
            self.atomic_u8(at).store(b, Ordering::Relaxed);
            at += 1;
        }
    }

    /// Copies `dst.len()` bytes from `offset` with one `memcpy`: for pixels only, whose
    /// values are never used for any decision (see `DESIGN.md`).
    #[track_caller]
    pub(crate) fn read_bulk(&self, offset: usize, dst: &mut [u8]) {
        self.check(offset, dst.len());
        let src = self.ptr(offset).cast_const();
        // SAFETY: `src..src + len` is inside the mapping (checked), `dst` is a private
        // buffer of `len` bytes that cannot overlap the shared mapping (it is a Rust
        // allocation we hold `&mut` to). Concurrent peer writes only change pixel values.
        unsafe { std::ptr::copy_nonoverlapping(src, dst.as_mut_ptr(), dst.len()) }
    }

    /// Copies `src` to `offset` with one `memcpy` (pixels only).
    #[track_caller]
    pub(crate) fn write_bulk(&self, offset: usize, src: &[u8]) {
        self.check(offset, src.len());
        let dst = self.ptr(offset);
        // SAFETY: `dst..dst + len` is inside the mapping (checked); `src` is a Rust slice,
        // which cannot alias the mapping because we never create slices into it.
        unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), dst, src.len()) }
    }

    /// Copies `len` bytes from a foreign mapping at `src` to `offset` (pixels only) with
    /// streaming stores: call [`store_fence`](crate::stream_copy::store_fence) before
    /// publishing them. The ranges may overlap (a hostile client may hand the agent this
    /// very mapping as its own buffer).
    ///
    /// # Safety
    /// `src..src + len` must be valid for reads for the whole call (it may change under
    /// us: other processes write it, which only changes pixel values).
    #[cfg(feature = "wl-shm")]
    #[track_caller]
    pub(crate) unsafe fn write_from_raw(&self, offset: usize, src: *const u8, len: usize) {
        self.check(offset, len);
        let dst = self.ptr(offset);
        // SAFETY: `dst..dst + len` is inside the mapping (checked); the caller guarantees
        // `src..src + len` is readable; overlapping ranges are handled.
        unsafe { crate::stream_copy::copy_streaming(src, dst, len) }
    }

    /// Raw pointer to `offset..offset + len` (checked) for renderers that read pixels in
    /// place. Valid while this mapping lives.
    #[track_caller]
    pub(crate) fn raw_ptr(&self, offset: usize, len: usize) -> *const u8 {
        self.check(offset, len);
        self.ptr(offset).cast_const()
    }
}

#[cfg(test)]
#[allow(clippy::cast_possible_truncation)]
mod tests {
    use super::*;

    fn mem(len: usize) -> SharedMemory {
        let fd = rustix::fs::memfd_create("shared-test", rustix::fs::MemfdFlags::CLOEXEC).unwrap();
        rustix::fs::ftruncate(&fd, len as u64).unwrap();
        SharedMemory::map(&fd, 0, len).unwrap()
    }

    #[test]
    fn racy_copies_round_trip_at_every_alignment() {
        let m = mem(4096);
        let src: Vec<u8> = (0..200u32).map(|i| (i * 7 + 3) as u8).collect();
        for offset in 0..16 {
            for len in [0, 1, 7, 8, 9, 63, 200] {
                m.write_racy(offset, &src[..len]);
                let mut dst = vec![0u8; len];
                m.read_racy(offset, &mut dst);
                assert_eq!(dst, src[..len]);
                let mut bulk = vec![0u8; len];
                m.read_bulk(offset, &mut bulk);
                assert_eq!(bulk, src[..len]);
            }
        }
    }

    #[test]
    #[should_panic(expected = "outside mapping")]
    fn out_of_bounds_access_panics_instead_of_reading() {
        let m = mem(4096);
        let mut dst = [0u8; 8];
        m.read_racy(4090, &mut dst);
    }
}
