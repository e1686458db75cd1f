//! A first-fit page allocator over the shared pixel arena.
//!
//! Each window owns up to two buffers in the arena; resizes free and allocate. Offsets are
//! page aligned (the wire contract requires aligned buffer offsets) and sizes are rounded up
//! to whole pages. The free list is kept sorted and coalesced.

use std::ops::Range;

/// Alignment and granularity of arena buffers, in bytes.
pub const PAGE: u64 = 4096;

/// The free space of the arena.
#[derive(Debug, Clone)]
pub struct ArenaAllocator {
    len: u64,
    /// Free ranges, sorted by start, never adjacent, never empty.
    free: Vec<Range<u64>>,
}

impl ArenaAllocator {
    /// An allocator over `len` bytes (rounded down to whole pages), all free.
    pub fn new(len: u64) -> Self {
        let len = len / PAGE * PAGE;
        let mut free = Vec::new();
        if len > 0 {
            free.push(0..len);
        }
        ArenaAllocator { len, free }
    }

    /// Usable size in bytes.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// True if the arena has no usable page.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes currently free.
    pub fn free_bytes(&self) -> u64 {
        self.free.iter().map(|r| r.end - r.start).sum()
    }

    /// Allocates at least `bytes` (non-zero) at the lowest fitting offset.
    pub fn alloc(&mut self, bytes: u64) -> Option<Range<u64>> {
        if bytes == 0 {
            return None;
        }
        let size = bytes.checked_next_multiple_of(PAGE)?;
        let index = self.free.iter().position(|r| r.end - r.start >= size)?;
        let range = &mut self.free[index];
        let start = range.start;
        range.start += size;
        if range.is_empty() {
            self.free.remove(index);
        }
        Some(start..start + size)
    }

    /// Returns a range obtained from [`alloc`](Self::alloc). Freeing anything else is a bug
    /// in the caller and is ignored (with a debug assertion).
    pub fn free(&mut self, range: Range<u64>) {
        let valid = !range.is_empty()
            && range.end <= self.len
            && range.start % PAGE == 0
            && range.end % PAGE == 0
            && !self
                .free
                .iter()
                .any(|f| f.start < range.end && range.start < f.end);
        debug_assert!(valid, "freeing {range:?}, which is not allocated");
        if !valid {
            tracing::error!(?range, "arena free of a range that is not allocated");
            return;
        }
        let index = self.free.partition_point(|f| f.start < range.start);
        self.free.insert(index, range);
        // Coalesce with the next, then with the previous.
        if index + 1 < self.free.len() && self.free[index].end == self.free[index + 1].start {
            let next = self.free.remove(index + 1);
            self.free[index].end = next.end;
        }
        if index > 0 && self.free[index - 1].end == self.free[index].start {
            let this = self.free.remove(index);
            self.free[index - 1].end = this.end;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_fit_and_rounding() {
        let mut a = ArenaAllocator::new(10 * PAGE + 7);
        assert_eq!(a.len(), 10 * PAGE);
        assert_eq!(a.alloc(1), Some(0..PAGE));
        assert_eq!(a.alloc(PAGE + 1), Some(PAGE..3 * PAGE));
        assert_eq!(a.alloc(0), None);
        assert_eq!(a.free_bytes(), 7 * PAGE);
    }

    #[test]
    fn freed_space_is_reused_first_fit_and_coalesced() {
        let mut a = ArenaAllocator::new(8 * PAGE);
        let x = a.alloc(2 * PAGE).unwrap();
        let y = a.alloc(2 * PAGE).unwrap();
        let z = a.alloc(2 * PAGE).unwrap();
        a.free(x.clone());
        // Too big for the hole at 0: goes after z.
        assert_eq!(a.alloc(3 * PAGE), None);
        a.free(y);
        // x and y coalesced: 4 pages at 0.
        assert_eq!(a.alloc(3 * PAGE), Some(0..3 * PAGE));
        a.free(0..3 * PAGE);
        a.free(z);
        assert_eq!(a.free_bytes(), 8 * PAGE);
        assert_eq!(a.alloc(8 * PAGE), Some(0..8 * PAGE));
        assert_eq!(a.alloc(1), None);
    }

    #[test]
    fn never_hands_out_overlapping_ranges() {
        let mut a = ArenaAllocator::new(64 * PAGE);
        let mut live: Vec<Range<u64>> = Vec::new();
        // A deterministic pseudo-random sequence of allocations and frees.
        let mut seed = 0x2545_f491_u64;
        for _ in 0..2000 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            if seed % 3 == 0 && !live.is_empty() {
                let i = usize::try_from(seed / 3 % live.len() as u64).unwrap();
                a.free(live.swap_remove(i));
            } else if let Some(r) = a.alloc(seed % (5 * PAGE) + 1) {
                assert!(live.iter().all(|l| l.end <= r.start || r.end <= l.start));
                assert!(r.end <= a.len());
                live.push(r);
            }
            let used: u64 = live.iter().map(|r| r.end - r.start).sum();
            assert_eq!(used + a.free_bytes(), a.len());
        }
    }
}
