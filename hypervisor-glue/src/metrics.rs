//! What a VMM process costs: resident memory, split into the guest's RAM and everything else
//! (the VMM's own overhead). Works for any process, so the same rule measures QEMU.

use serde::{Deserialize, Serialize};

/// Resident memory of a VMM process, in KiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryUsage {
    /// Whole-process resident set.
    pub rss_kib: u64,
    /// Resident part of the guest-RAM mappings.
    pub guest_rss_kib: u64,
    /// `rss_kib - guest_rss_kib`: what the VMM itself costs.
    pub overhead_kib: u64,
}

/// Guest RAM mappings are recognised by size: at least `guest_bytes` and at most 4 MiB more
/// (QEMU pads its RAM block for alignment).
const SLACK: u64 = 4 << 20;

/// Splits the resident memory in an `smaps` text. `guest_bytes` is the guest's RAM size; when
/// it is above the 3 GiB hole our VMM maps two pieces, so any mapping that is part of the
/// RAM split also counts.
pub fn parse_smaps(smaps: &str, guest_ranges: &[u64]) -> MemoryUsage {
    let mut rss = 0;
    let mut guest = 0;
    let mut current_is_guest = false;
    for line in smaps.lines() {
        let mut words = line.split_whitespace();
        let Some(first) = words.next() else { continue };
        if let Some((start, end)) = first.split_once('-') {
            if let (Ok(s), Ok(e)) = (u64::from_str_radix(start, 16), u64::from_str_radix(end, 16)) {
                let size = e.saturating_sub(s);
                current_is_guest = guest_ranges.iter().any(|g| size >= *g && size <= g + SLACK);
                continue;
            }
        }
        if first == "Rss:" {
            let kib: u64 = words.next().and_then(|w| w.parse().ok()).unwrap_or(0);
            rss += kib;
            if current_is_guest {
                guest += kib;
            }
        }
    }
    MemoryUsage {
        rss_kib: rss,
        guest_rss_kib: guest,
        overhead_kib: rss - guest,
    }
}

/// Reads `/proc/<pid>/smaps` (`pid` `None`: this process).
pub fn memory_usage(pid: Option<u32>, guest_ranges: &[u64]) -> std::io::Result<MemoryUsage> {
    let path = match pid {
        Some(p) => format!("/proc/{p}/smaps"),
        None => "/proc/self/smaps".to_owned(),
    };
    Ok(parse_smaps(&std::fs::read_to_string(path)?, guest_ranges))
}

/// `/proc/self/smaps`, opened once (before the seccomp filter forbids opening files) and
/// re-read from the start on every sample.
#[derive(Debug)]
pub struct SelfSmaps {
    file: std::fs::File,
}

impl SelfSmaps {
    /// Opens this process's `smaps`.
    pub fn open() -> std::io::Result<Self> {
        Ok(Self {
            file: std::fs::File::open("/proc/self/smaps")?,
        })
    }

    /// Samples this process's memory use.
    pub fn sample(&mut self, guest_ranges: &[u64]) -> std::io::Result<MemoryUsage> {
        use std::io::{Read, Seek, SeekFrom};
        self.file.seek(SeekFrom::Start(0))?;
        let mut text = String::new();
        self.file.read_to_string(&mut text)?;
        Ok(parse_smaps(&text, guest_ranges))
    }
}

/// The median of `values` (upper median for an even count); `None` when empty.
pub fn median(values: &[f64]) -> Option<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SMAPS: &str = "\
55d0c0000000-55d0c0100000 r-xp 00000000 08:01 123 /usr/bin/vmm
Size:               1024 kB
Rss:                 800 kB
7f0000000000-7f0010000000 rw-p 00000000 00:00 0
Size:             262144 kB
Rss:               40000 kB
7f1000000000-7f1000200000 rw-p 00000000 00:00 0
Size:               2048 kB
Rss:                1000 kB
";

    #[test]
    fn guest_mapping_is_split_off() {
        let u = parse_smaps(SMAPS, &[256 << 20]);
        assert_eq!(u.rss_kib, 41800);
        assert_eq!(u.guest_rss_kib, 40000);
        assert_eq!(u.overhead_kib, 1800);
    }

    #[test]
    fn no_guest_mapping() {
        let u = parse_smaps(SMAPS, &[1 << 30]);
        assert_eq!(u.guest_rss_kib, 0);
        assert_eq!(u.overhead_kib, u.rss_kib);
    }

    #[test]
    fn this_process_can_be_measured() {
        let u = memory_usage(None, &[1 << 40]).unwrap();
        assert!(u.rss_kib > 0);
    }

    #[test]
    fn self_smaps_rereads() {
        let mut s = SelfSmaps::open().unwrap();
        let a = s.sample(&[1 << 40]).unwrap();
        let b = s.sample(&[1 << 40]).unwrap();
        assert!(a.rss_kib > 0 && b.rss_kib > 0);
    }

    #[test]
    fn medians() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[1.0, 4.0]), Some(4.0));
    }
}
