//! Guest physical memory: the fixed layout every qube boots with, and the anonymous mapping
//! that backs it. The memory belongs to the VMM process alone; it is unmapped (and so given
//! back to the host) when the [`GuestRam`] is dropped.
//!
//! The map (see `DESIGN.md` beside this crate for the whole picture):
//!
//! | guest-physical            | what                                                  |
//! |---------------------------|-------------------------------------------------------|
//! | `0x0500`                  | GDT (4 entries)                                       |
//! | `0x0520`                  | IDT (empty; the kernel installs its own)              |
//! | `0x7000`                  | zero page (`boot_params`)                             |
//! | `0x8ff0`                  | initial stack pointer                                 |
//! | `0x9000`..`0xc000`        | identity page tables (PML4, PDPT, PD: first 1 GiB)    |
//! | `0x2_0000`                | kernel command line                                   |
//! | `0x9_fc00`..`0xa_0000`    | MP table (Linux scans the last KiB of base memory)    |
//! | `0x10_0000`               | kernel (bzImage protected-mode part)                  |
//! | below `min(RAM, 3 GiB)`   | initramfs, page aligned, as high as it fits           |
//! | `0xc000_0000`..`4 GiB`    | 32-bit MMIO hole: PCI BARs, IOAPIC, LAPIC             |
//! | `4 GiB`..                 | RAM above 3 GiB, when the qube has that much          |

use vm_memory::{
    GuestAddress, GuestMemoryBackend, GuestMemoryMmap, GuestMemoryRegion, GuestRegionMmap,
    MmapRegion,
};

/// GDT location.
pub const GDT_START: GuestAddress = GuestAddress(0x500);
/// IDT location.
pub const IDT_START: GuestAddress = GuestAddress(0x520);
/// The zero page handed to the kernel in `rsi`.
pub const ZERO_PAGE_START: GuestAddress = GuestAddress(0x7000);
/// Initial stack pointer of the boot vCPU.
pub const BOOT_STACK_POINTER: u64 = 0x8ff0;
/// Page map level 4.
pub const PML4_START: GuestAddress = GuestAddress(0x9000);
/// Page directory pointer table.
pub const PDPTE_START: GuestAddress = GuestAddress(0xa000);
/// Page directory (512 × 2 MiB pages = 1 GiB identity mapped).
pub const PDE_START: GuestAddress = GuestAddress(0xb000);
/// Kernel command line.
pub const CMDLINE_START: GuestAddress = GuestAddress(0x2_0000);
/// Longest command line we hand over (the kernel's own limit is 2 KiB on x86).
pub const CMDLINE_MAX_SIZE: usize = 2048;
/// Start of the extended BIOS data area; the MP table lives here.
pub const EBDA_START: GuestAddress = GuestAddress(0x9_fc00);
/// Where high memory (and the kernel) starts.
pub const HIMEM_START: GuestAddress = GuestAddress(0x10_0000);
/// Start of the 32-bit MMIO hole.
pub const MMIO_HOLE_START: u64 = 0xc000_0000;
/// End of the 32-bit MMIO hole (4 GiB).
pub const MMIO_HOLE_END: u64 = 0x1_0000_0000;
/// IOAPIC base address.
pub const IOAPIC_START: u64 = 0xfec0_0000;
/// Local APIC base address.
pub const LAPIC_START: u64 = 0xfee0_0000;
/// PCI BARs are placed from here upward, inside the hole.
pub const PCI_MMIO_START: u64 = MMIO_HOLE_START;
/// End of the window PCI BARs may use (below the IOAPIC).
pub const PCI_MMIO_END: u64 = 0xfc00_0000;

/// Smallest guest memory we accept: a stock kernel and a small initramfs need more than this
/// anyway, but below it the fixed layout above does not even fit.
pub const MIN_MEM_SIZE: u64 = 16 << 20;

/// Errors from building guest memory.
#[derive(Debug, thiserror::Error)]
pub enum MemoryError {
    /// Less memory than the fixed layout needs.
    #[error("guest memory of {0} bytes is below the minimum of {MIN_MEM_SIZE} bytes")]
    TooSmall(u64),
    /// The host refused the mapping.
    #[error("cannot map guest memory (too little host memory or address space?)")]
    Map(#[source] std::io::Error),
    /// More memory than this host's address space can map.
    #[error("guest memory of {0} bytes cannot be mapped on this host")]
    TooLarge(u64),
    /// vm-memory refused the mapping as a region.
    #[error("cannot use the guest memory mapping")]
    Region(#[source] vm_memory::mmap::MmapRegionError),
    /// vm-memory refused the set of regions.
    #[error("cannot arrange the guest memory regions")]
    Regions(#[source] vm_memory::GuestRegionCollectionError),
}

/// The RAM ranges of a guest with `mem_size` bytes: below the MMIO hole, and the rest above
/// 4 GiB.
pub fn ram_ranges(mem_size: u64) -> Vec<(GuestAddress, u64)> {
    if mem_size <= MMIO_HOLE_START {
        vec![(GuestAddress(0), mem_size)]
    } else {
        vec![
            (GuestAddress(0), MMIO_HOLE_START),
            (GuestAddress(MMIO_HOLE_END), mem_size - MMIO_HOLE_START),
        ]
    }
}

/// Host alignment of guest RAM: one x86_64 huge page.
pub const HUGE_PAGE_SIZE: usize = 2 << 20;

/// Guest RAM: its regions as a [`GuestMemoryMmap`] (what every user reads and writes through,
/// by `Deref`), over anonymous private mappings this value owns and unmaps when dropped.
///
/// Each region is mapped at a 2 MiB-aligned host address and marked `MADV_HUGEPAGE`. Guest
/// regions start on 2 MiB boundaries too, so host and guest addresses agree modulo 2 MiB, which
/// KVM needs before it maps guest memory with 2 MiB pages in its nested page tables (when the
/// host backs the range with transparent huge pages). A plain `mmap` is only 4 KiB-aligned:
/// then every first touch of a 4 KiB guest page is a separate nested page fault, a VM exit
/// (DESIGN.md, boot timing: this was most of the bzImage decompressor's extra time).
#[derive(Debug)]
pub struct GuestRam {
    mem: GuestMemoryMmap,
    /// `(host address, length)` of every mapping (guest RAM and the reserved, inaccessible
    /// space around it), for `munmap`.
    maps: Vec<(usize, usize)>,
}

impl std::ops::Deref for GuestRam {
    type Target = GuestMemoryMmap;

    fn deref(&self) -> &GuestMemoryMmap {
        &self.mem
    }
}

impl Drop for GuestRam {
    fn drop(&mut self) {
        for &(addr, len) in &self.maps {
            // SAFETY: `addr..addr + len` is a mapping this value created and owns alone; the
            // regions in `self.mem` that point into it were built with `build_raw` (they never
            // unmap) and are dropped right after this, unused: `&mut self` means no borrow of
            // guest memory is alive.
            unsafe { libc::munmap(addr as *mut libc::c_void, len) };
        }
    }
}

const RAM_PROT: i32 = libc::PROT_READ | libc::PROT_WRITE;
const RAM_FLAGS: i32 = libc::MAP_ANONYMOUS | libc::MAP_NORESERVE | libc::MAP_PRIVATE;

/// Reserves `len + 2 MiB` of address space (`PROT_NONE`, no memory) and makes its first
/// [`HUGE_PAGE_SIZE`]-aligned `len` bytes readable and writable. Returns the reservation
/// `(start, length)` (what to unmap) and the aligned address.
///
/// The unaligned head and the tail stay reserved, inaccessible, rather than unmapped: unmapped,
/// the next mapping (a thread stack, placed top-down right below) would end on the 2 MiB
/// boundary where guest RAM starts, and with transparent huge pages set to `always` the host
/// would back that stack with a 2 MiB page.
fn map_aligned(len: usize) -> std::io::Result<((usize, usize), usize)> {
    let total = len
        .checked_add(HUGE_PAGE_SIZE)
        .ok_or_else(|| std::io::Error::from_raw_os_error(libc::ENOMEM))?;
    // SAFETY: a fresh anonymous reservation at an address the kernel picks; nothing aliases it.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            total,
            libc::PROT_NONE,
            RAM_FLAGS,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED {
        return Err(std::io::Error::last_os_error());
    }
    let start = p as usize;
    let aligned = start.next_multiple_of(HUGE_PAGE_SIZE);
    // SAFETY: `aligned..aligned + len` lies inside the reservation just made (`aligned - start`
    // is below 2 MiB); nothing refers to it yet.
    if unsafe { libc::mprotect(aligned as *mut libc::c_void, len, RAM_PROT) } != 0 {
        let err = std::io::Error::last_os_error();
        // SAFETY: the reservation just made, unused.
        unsafe { libc::munmap(p, total) };
        return Err(err);
    }
    // Only advice: without transparent huge pages (or with them disabled) the memory works
    // the same with 4 KiB pages, so a refusal is not an error.
    // SAFETY: `aligned..aligned + len` is inside the reservation; advice changes no contents.
    unsafe { libc::madvise(aligned as *mut libc::c_void, len, libc::MADV_HUGEPAGE) };
    Ok(((start, total), aligned))
}

/// Maps `mem_size` bytes of anonymous, private guest memory (see [`GuestRam`]).
pub fn create_guest_memory(mem_size: u64) -> Result<GuestRam, MemoryError> {
    if mem_size < MIN_MEM_SIZE {
        return Err(MemoryError::TooSmall(mem_size));
    }
    let mut regions = Vec::new();
    // On an error `guard` is dropped with what was mapped so far, and unmaps it.
    let mut guard = GuestRam {
        mem: GuestMemoryMmap::default(),
        maps: Vec::new(),
    };
    for (start, len) in ram_ranges(mem_size) {
        let len = usize::try_from(len).map_err(|_| MemoryError::TooLarge(mem_size))?;
        let (reservation, addr) = map_aligned(len).map_err(MemoryError::Map)?;
        guard.maps.push(reservation);
        // SAFETY: `addr..addr + len` is the live anonymous mapping just made with exactly
        // these protections and flags; `GuestRam` owns it and outlives the region.
        let region = unsafe { MmapRegion::build_raw(addr as *mut u8, len, RAM_PROT, RAM_FLAGS) }
            .map_err(MemoryError::Region)?;
        regions.push(GuestRegionMmap::new(region, start).ok_or(MemoryError::TooLarge(mem_size))?);
    }
    guard.mem = GuestMemoryMmap::from_regions(regions).map_err(MemoryError::Regions)?;
    Ok(guard)
}

/// Overwrites every resident page of guest RAM with zeros; returns the bytes wiped. Call
/// once no vCPU runs, right before the memory is dropped (unmapped): the host kernel zeroes
/// freed pages only when it hands them out again, so without this a qube's last secrets
/// would sit in free host memory until then. Pages the guest never touched are not resident
/// and are skipped (touching them would only allocate zeroed pages).
pub fn wipe(mem: &GuestMemoryMmap) -> u64 {
    const PAGE: usize = 4096;
    let mut wiped = 0u64;
    for region in mem.iter() {
        let base = region.as_ptr();
        let Ok(len) = usize::try_from(region.len()) else {
            continue;
        };
        let pages = len / PAGE;
        let mut resident = vec![0u8; pages];
        // SAFETY: `base..base + len` is the region's live, page-aligned mapping; `resident`
        // has one byte per page, as mincore requires.
        let rc = unsafe { libc::mincore(base.cast(), len, resident.as_mut_ptr()) };
        if rc != 0 {
            // Cannot tell what is resident: wipe the whole region.
            resident.fill(1);
        }
        let mut page = 0;
        while page < pages {
            if resident[page] & 1 == 0 {
                page += 1;
                continue;
            }
            let start = page;
            while page < pages && resident[page] & 1 != 0 {
                page += 1;
            }
            let run = (page - start) * PAGE;
            let at = base.wrapping_add(start * PAGE);
            // SAFETY: `at..at + run` lies inside the region's mapping (page indices below
            // `pages`), no vCPU runs any more (the caller's contract) and nothing holds a
            // Rust reference into guest memory; explicit_bzero is not optimised away.
            unsafe { libc::explicit_bzero(at.cast(), run) };
            wiped += run as u64;
        }
    }
    wiped
}

/// End of the RAM below the MMIO hole (exclusive).
pub fn low_ram_end(mem_size: u64) -> u64 {
    mem_size.min(MMIO_HOLE_START)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_guest_is_one_range() {
        assert_eq!(ram_ranges(256 << 20), vec![(GuestAddress(0), 256 << 20)]);
    }

    #[test]
    fn large_guest_skips_the_hole() {
        let r = ram_ranges(4 << 30);
        assert_eq!(r[0], (GuestAddress(0), MMIO_HOLE_START));
        assert_eq!(
            r[1],
            (GuestAddress(MMIO_HOLE_END), (4 << 30) - MMIO_HOLE_START)
        );
        assert_eq!(r.iter().map(|x| x.1).sum::<u64>(), 4 << 30);
    }

    #[test]
    fn too_small_is_refused() {
        assert!(matches!(
            create_guest_memory(1 << 20),
            Err(MemoryError::TooSmall(_))
        ));
    }

    #[test]
    fn wipe_zeroes_what_the_guest_wrote() {
        use vm_memory::Bytes;
        let mem = create_guest_memory(32 << 20).unwrap();
        mem.write_slice(&[0xa5; 8192], GuestAddress(0x10_0000))
            .unwrap();
        mem.write_slice(&[0x5a; 100], GuestAddress(0x1ff_0000))
            .unwrap();
        let wiped = wipe(&mem);
        assert!(wiped >= 3 * 4096, "{wiped}");
        assert!(wiped < 32 << 20, "untouched pages are skipped: {wiped}");
        let mut back = [1u8; 8192];
        mem.read_slice(&mut back, GuestAddress(0x10_0000)).unwrap();
        assert_eq!(back, [0; 8192]);
        mem.read_slice(&mut back[..100], GuestAddress(0x1ff_0000))
            .unwrap();
        assert_eq!(back[..100], [0; 100]);
    }

    #[test]
    fn ram_is_huge_page_aligned_on_the_host() {
        let mem = create_guest_memory(5 << 30).unwrap();
        assert_eq!(mem.num_regions(), 2);
        for region in mem.iter() {
            let host = region.as_ptr() as usize;
            assert_eq!(host % HUGE_PAGE_SIZE, 0, "{host:#x}");
            assert_eq!(region.start_addr().0 % HUGE_PAGE_SIZE as u64, 0);
        }
    }

    #[test]
    fn memory_is_mapped() {
        let mem = create_guest_memory(32 << 20).unwrap();
        assert_eq!(mem.num_regions(), 1);
        assert_eq!(mem.iter().next().unwrap().len(), 32 << 20);
    }

    // The fixed layout must not overlap itself.
    const _: () = assert!(PDE_START.0 + 0x1000 <= CMDLINE_START.0);
    const _: () = assert!(CMDLINE_START.0 + CMDLINE_MAX_SIZE as u64 <= EBDA_START.0);
    const _: () = assert!(EBDA_START.0 < HIMEM_START.0);
    const _: () = assert!(PCI_MMIO_END <= IOAPIC_START);
}
