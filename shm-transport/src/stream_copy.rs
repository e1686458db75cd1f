//! Copying pixels into shared memory with streaming (non-temporal) stores.
//!
//! The agent's copy of a client's frame goes to an arena buffer it last wrote two frames
//! ago and dom0 read since: not in the cache. A plain `memmove` first reads every
//! destination line into the cache ("read for ownership"), then writes it back — three
//! passes over memory for one copy. Streaming stores write whole lines without reading
//! them: two passes (measured in the frame benchmark: about 20% less time per full-HD copy).
//! The data is then not in the cache, which costs nothing here: dom0 reads it from another
//! core a frame later.
//!
//! Streaming stores are weakly ordered: [`store_fence`] must run before anything tells the
//! peer the bytes are there.

/// Copies `len` bytes from `src` to `dst`. Ranges that overlap in this address space are
/// copied with `memmove`. The same memory seen through two mappings (a hostile client
/// handing the agent the arena's own file as its pool) only garbles that client's pixels,
/// as any other writer racing the copy would.
///
/// # Safety
/// `src..src + len` must be valid for reads and `dst..dst + len` for writes for the whole
/// call; other processes may change either (only pixel values change).
#[cfg(feature = "wl-shm")]
pub(crate) unsafe fn copy_streaming(src: *const u8, dst: *mut u8, len: usize) {
    let (s, d) = (src as usize, dst as usize);
    let overlap = s < d.saturating_add(len) && d < s.saturating_add(len);
    if overlap || !cfg!(target_arch = "x86_64") {
        // SAFETY: the caller guarantees both ranges; `copy` allows them to overlap.
        unsafe { std::ptr::copy(src, dst, len) };
        return;
    }
    #[cfg(target_arch = "x86_64")]
    // SAFETY: as above, and the ranges do not overlap.
    unsafe {
        stream_x86_64(src, dst, len);
    }
}

/// Orders every streaming or write-combining store before the stores that follow (the
/// message that publishes the pixels). `sfence` on x86_64; elsewhere a release fence.
pub(crate) fn store_fence() {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `sfence` has no preconditions; SSE is part of the x86_64 baseline.
    unsafe {
        std::arch::x86_64::_mm_sfence();
    }
    #[cfg(not(target_arch = "x86_64"))]
    std::sync::atomic::fence(std::sync::atomic::Ordering::Release);
}

/// SSE2 (the x86_64 baseline, so no feature detection): unaligned 16-byte loads, aligned
/// 16-byte streaming stores, four per 64-byte line; the unaligned head and tail with
/// `memcpy`.
///
/// # Safety
/// `src..src + len` readable, `dst..dst + len` writable, the two not overlapping.
#[cfg(all(feature = "wl-shm", target_arch = "x86_64"))]
unsafe fn stream_x86_64(src: *const u8, dst: *mut u8, len: usize) {
    use std::arch::x86_64::{__m128i, _mm_loadu_si128, _mm_stream_si128};
    const LANE: usize = 16;
    const LINE: usize = 64;
    let head = dst.align_offset(LANE).min(len);
    // SAFETY: `head <= len`: inside both ranges, which do not overlap.
    unsafe { std::ptr::copy_nonoverlapping(src, dst, head) };
    let mut at = head;
    while at + LINE <= len {
        // `at + 64 <= len`: the line is inside both ranges; `dst + at` is 16-aligned
        // (`at - head` is a multiple of 16 and `dst + head` is aligned).
        for lane in 0..LINE / LANE {
            let s = src.wrapping_add(at + lane * LANE).cast::<__m128i>();
            let d = dst.wrapping_add(at + lane * LANE).cast::<__m128i>();
            // SAFETY: `s..s + 16` is inside the source range (above); unaligned is fine.
            let v = unsafe { _mm_loadu_si128(s) };
            // SAFETY: `d..d + 16` is inside the destination range and 16-aligned.
            unsafe { _mm_stream_si128(d, v) };
        }
        at += LINE;
    }
    let (s, d) = (src.wrapping_add(at), dst.wrapping_add(at));
    // SAFETY: `at <= len`: the rest lies inside both ranges.
    unsafe { std::ptr::copy_nonoverlapping(s, d, len - at) };
}

#[cfg(all(test, feature = "wl-shm"))]
mod tests {
    use super::*;

    #[test]
    fn copies_every_length_at_every_alignment() {
        let src: Vec<u8> = (0..700u32).map(|i| (i * 7 + 3).to_le_bytes()[0]).collect();
        for src_off in 0..17 {
            for dst_off in 0..17 {
                for len in [0, 1, 15, 16, 17, 63, 64, 65, 130, 640] {
                    let mut dst = vec![0xeeu8; 720];
                    let from = src.as_ptr().wrapping_add(src_off);
                    let to = dst.as_mut_ptr().wrapping_add(dst_off);
                    // SAFETY: both ranges lie inside their vectors and do not overlap.
                    unsafe { copy_streaming(from, to, len) };
                    store_fence();
                    assert_eq!(
                        &dst[dst_off..dst_off + len],
                        &src[src_off..src_off + len],
                        "src+{src_off} dst+{dst_off} len {len}"
                    );
                    assert!(dst[..dst_off].iter().all(|&b| b == 0xee));
                    assert!(dst[dst_off + len..].iter().all(|&b| b == 0xee));
                }
            }
        }
    }

    #[test]
    fn overlapping_ranges_are_moved_like_memmove() {
        for (from, to) in [(0, 40), (40, 0), (3, 5), (5, 3)] {
            let mut buf: Vec<u8> = (0..300u32).map(|i| i.to_le_bytes()[0]).collect();
            let mut expected = buf.clone();
            expected.copy_within(from..from + 200, to);
            let p = buf.as_mut_ptr();
            let (s, d) = (p.wrapping_add(from).cast_const(), p.wrapping_add(to));
            // SAFETY: both ranges lie inside `buf`.
            unsafe { copy_streaming(s, d, 200) };
            assert_eq!(buf, expected, "{from} → {to}");
        }
    }
}
