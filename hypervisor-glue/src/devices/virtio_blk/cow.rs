//! A copy-on-write layer over a read-only template image: the guest sees one disk of the
//! template's size; what it writes goes to an *overlay* file, the template is only ever
//! opened read-only.
//!
//! # Overlay format (version 1)
//!
//! One sparse file, all integers little-endian:
//!
//! | offset | size | field |
//! |--------|------|-------|
//! | 0      | 8    | magic `"BKCOW\0\0\0"` |
//! | 8      | 4    | format version, 1 |
//! | 12     | 4    | cluster size in bytes: 65536 |
//! | 16     | 8    | disk size (= the template's size when the overlay was made) |
//! | 24     | 8    | the template's modification time when the overlay was made (ns since the epoch) |
//! | 4096   | ⌈clusters / 8⌉, padded to 4096 | allocation bitmap: bit *i* (byte *i*/8, bit *i*%8) set = cluster *i* is in the overlay |
//! | data   | clusters × 65536 | cluster *i* at `data + i × 65536`, where `data` is the end of the padded bitmap |
//!
//! Reads take each cluster from the overlay when its bit is set, else from the template.
//! The first write into a cluster copies the template's cluster into the overlay, then
//! applies the write. Crash consistency: new bitmap bits live in memory until the guest
//! flushes (or the disk is dropped); a flush first syncs the data, then writes and syncs
//! the bitmap, so a persisted bit never points at data that is not on disk. Writes the
//! guest never flushed may be lost, as on any disk with a write cache.
//!
//! An overlay made over another template (size or modification time differ) is refused:
//! its clusters would mix with foreign data.
//!
//! Disposable layers are unnamed files (`O_TMPFILE`) in a directory: they never appear in
//! it and vanish with the VMM, even when it is killed.

use std::fs::File;
use std::io;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

/// Bytes per cluster.
pub const CLUSTER_SIZE: u64 = CLUSTER_SIZE_U32 as u64;
const CLUSTER_SIZE_U32: u32 = 64 * 1024;
/// The overlay's magic.
pub const COW_MAGIC: [u8; 8] = *b"BKCOW\0\0\0";
/// The overlay format version.
pub const COW_VERSION: u32 = 1;
const HEADER_SIZE: u64 = 4096;
const PAGE: u64 = 4096;

/// Why a copy-on-write disk could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum CowError {
    /// A file could not be opened, created or read.
    #[error("{what} {path}")]
    Io {
        /// What we tried.
        what: &'static str,
        /// On which file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The overlay is not one of ours, or damaged.
    #[error(
        "{path} is not a usable Bulkhead overlay: {why} (remove it to start afresh from the template)"
    )]
    Corrupt {
        /// The overlay.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// The overlay was made over another template.
    #[error(
        "overlay {overlay} was made over another template than {template} ({why}): remove the \
         overlay to start afresh from this template"
    )]
    TemplateChanged {
        /// The overlay.
        overlay: PathBuf,
        /// The template.
        template: PathBuf,
        /// What differs.
        why: String,
    },
    /// The template and the overlay are the same file.
    #[error("the overlay {0} is the template itself")]
    SameFile(PathBuf),
}

/// Where the writes go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OverlayKind {
    /// A named overlay file, created when missing and kept across runs.
    Persistent(PathBuf),
    /// An unnamed file in this directory, gone when the VMM ends.
    Disposable(PathBuf),
}

/// The template's size and modification time, which an overlay is bound to.
fn template_identity(template: &File, path: &Path) -> Result<(u64, u64), CowError> {
    let meta = template.metadata().map_err(|source| CowError::Io {
        what: "cannot measure the template",
        path: path.to_path_buf(),
        source,
    })?;
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    Ok((meta.len(), mtime))
}

/// Size of the padded bitmap for a disk of `size` bytes.
fn bitmap_bytes(size: u64) -> u64 {
    size.div_ceil(CLUSTER_SIZE)
        .div_ceil(8)
        .next_multiple_of(PAGE)
}

/// A template image with a copy-on-write overlay.
#[derive(Debug)]
pub struct CowImage {
    template: File,
    overlay: File,
    overlay_path: PathBuf,
    size: u64,
    data_offset: u64,
    /// One bit per cluster: in the overlay.
    bitmap: Vec<u8>,
    /// Bitmap bytes changed since the last flush (indices into `bitmap`).
    dirty: Vec<usize>,
}

impl CowImage {
    /// Opens `template` read-only and the overlay described by `kind` (made if missing).
    pub fn open(template_path: &Path, kind: &OverlayKind) -> Result<Self, CowError> {
        let template = File::open(template_path).map_err(|source| CowError::Io {
            what: "cannot open the template",
            path: template_path.to_path_buf(),
            source,
        })?;
        let (size, mtime) = template_identity(&template, template_path)?;
        let (overlay, overlay_path, fresh) = match kind {
            OverlayKind::Persistent(path) => {
                if let (Ok(a), Ok(b)) = (
                    std::fs::canonicalize(path),
                    std::fs::canonicalize(template_path),
                ) {
                    if a == b {
                        return Err(CowError::SameFile(path.clone()));
                    }
                }
                match File::options()
                    .read(true)
                    .write(true)
                    .create_new(true)
                    .open(path)
                {
                    Ok(file) => (file, path.clone(), true),
                    Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                        let file = File::options().read(true).write(true).open(path).map_err(
                            |source| CowError::Io {
                                what: "cannot open the overlay",
                                path: path.clone(),
                                source,
                            },
                        )?;
                        (file, path.clone(), false)
                    }
                    Err(source) => {
                        return Err(CowError::Io {
                            what: "cannot create the overlay",
                            path: path.clone(),
                            source,
                        });
                    }
                }
            }
            OverlayKind::Disposable(dir) => {
                let file = File::options()
                    .read(true)
                    .write(true)
                    .custom_flags(libc::O_TMPFILE)
                    .mode(0o600)
                    .open(dir)
                    .map_err(|source| CowError::Io {
                        what: "cannot create a disposable overlay (an unnamed O_TMPFILE) in",
                        path: dir.clone(),
                        source,
                    })?;
                (file, dir.join("(disposable)"), true)
            }
        };
        let bitmap_len = bitmap_bytes(size);
        let data_offset = HEADER_SIZE + bitmap_len;
        let io_err = |what: &'static str| {
            let path = overlay_path.clone();
            move |source| CowError::Io { what, path, source }
        };
        let bitmap_len = usize::try_from(bitmap_len).map_err(|_| CowError::Corrupt {
            path: overlay_path.clone(),
            why: "disk too large".into(),
        })?;
        let mut bitmap = vec![0u8; bitmap_len];
        if fresh {
            let mut header = [0u8; 32];
            header[0..8].copy_from_slice(&COW_MAGIC);
            header[8..12].copy_from_slice(&COW_VERSION.to_le_bytes());
            header[12..16].copy_from_slice(&CLUSTER_SIZE_U32.to_le_bytes());
            header[16..24].copy_from_slice(&size.to_le_bytes());
            header[24..32].copy_from_slice(&mtime.to_le_bytes());
            let total = data_offset + size.div_ceil(CLUSTER_SIZE) * CLUSTER_SIZE;
            overlay
                .set_len(total)
                .map_err(io_err("cannot size the overlay"))?;
            overlay
                .write_all_at(&header, 0)
                .map_err(io_err("cannot write the overlay header"))?;
            overlay
                .sync_all()
                .map_err(io_err("cannot sync the overlay"))?;
        } else {
            let mut header = [0u8; 32];
            overlay
                .read_exact_at(&mut header, 0)
                .map_err(|_| CowError::Corrupt {
                    path: overlay_path.clone(),
                    why: "shorter than its header".into(),
                })?;
            let u32_at = |o: usize| {
                u32::from_le_bytes([header[o], header[o + 1], header[o + 2], header[o + 3]])
            };
            let u64_at = |o: usize| {
                let mut b = [0u8; 8];
                b.copy_from_slice(&header[o..o + 8]);
                u64::from_le_bytes(b)
            };
            let corrupt = |why: String| CowError::Corrupt {
                path: overlay_path.clone(),
                why,
            };
            if header[0..8] != COW_MAGIC {
                return Err(corrupt("no BKCOW magic".into()));
            }
            if u32_at(8) != COW_VERSION {
                return Err(corrupt(format!("format version {}", u32_at(8))));
            }
            if u64::from(u32_at(12)) != CLUSTER_SIZE {
                return Err(corrupt(format!("cluster size {}", u32_at(12))));
            }
            if u64_at(16) != size {
                return Err(CowError::TemplateChanged {
                    overlay: overlay_path.clone(),
                    template: template_path.to_path_buf(),
                    why: format!("size {} then, {size} now", u64_at(16)),
                });
            }
            if u64_at(24) != mtime {
                return Err(CowError::TemplateChanged {
                    overlay: overlay_path.clone(),
                    template: template_path.to_path_buf(),
                    why: "modified since".into(),
                });
            }
            overlay
                .read_exact_at(&mut bitmap, HEADER_SIZE)
                .map_err(|_| corrupt("shorter than its bitmap".into()))?;
            let clusters = size.div_ceil(CLUSTER_SIZE);
            let used_bits = bitmap
                .iter()
                .enumerate()
                .filter(|(_, b)| **b != 0)
                .flat_map(|(i, b)| {
                    (0..8)
                        .filter(move |bit| b & (1 << bit) != 0)
                        .map(move |bit| i as u64 * 8 + bit)
                })
                .max();
            if used_bits.is_some_and(|last| last >= clusters) {
                return Err(corrupt(
                    "bitmap marks clusters past the end of the disk".into(),
                ));
            }
            let have = overlay
                .metadata()
                .map_err(io_err("cannot measure the overlay"))?
                .len();
            if have < data_offset + clusters * CLUSTER_SIZE {
                return Err(corrupt(format!("{have} bytes, shorter than its data area")));
            }
        }
        Ok(Self {
            template,
            overlay,
            overlay_path,
            size,
            data_offset,
            bitmap,
            dirty: Vec::new(),
        })
    }

    /// Disk size in bytes (the template's).
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Clusters held by the overlay.
    pub fn allocated_clusters(&self) -> u64 {
        self.bitmap.iter().map(|b| u64::from(b.count_ones())).sum()
    }

    fn allocated(&self, cluster: u64) -> bool {
        let byte = usize::try_from(cluster / 8).unwrap_or(usize::MAX);
        self.bitmap
            .get(byte)
            .is_some_and(|b| b & (1 << (cluster % 8)) != 0)
    }

    fn mark(&mut self, cluster: u64) {
        let byte = usize::try_from(cluster / 8).unwrap_or(usize::MAX);
        if let Some(b) = self.bitmap.get_mut(byte) {
            *b |= 1 << (cluster % 8);
            self.dirty.push(byte);
        }
    }

    fn check(&self, pos: u64, len: usize) -> io::Result<()> {
        match pos.checked_add(len as u64) {
            Some(end) if end <= self.size => Ok(()),
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "access past the end of the disk",
            )),
        }
    }

    /// Reads `buf.len()` bytes at `pos`.
    pub fn read_at(&self, buf: &mut [u8], pos: u64) -> io::Result<()> {
        self.check(pos, buf.len())?;
        let mut done = 0usize;
        while done < buf.len() {
            let at = pos + done as u64;
            let cluster = at / CLUSTER_SIZE;
            let within = at % CLUSTER_SIZE;
            let n = usize::try_from((CLUSTER_SIZE - within).min((buf.len() - done) as u64))
                .unwrap_or(0);
            let part = &mut buf[done..done + n];
            if self.allocated(cluster) {
                self.overlay
                    .read_exact_at(part, self.data_offset + cluster * CLUSTER_SIZE + within)?;
            } else {
                self.template.read_exact_at(part, at)?;
            }
            done += n;
        }
        Ok(())
    }

    /// Writes `buf` at `pos` (into the overlay).
    pub fn write_at(&mut self, buf: &[u8], pos: u64) -> io::Result<()> {
        self.check(pos, buf.len())?;
        let mut done = 0usize;
        let mut copy = Vec::new();
        while done < buf.len() {
            let at = pos + done as u64;
            let cluster = at / CLUSTER_SIZE;
            let within = at % CLUSTER_SIZE;
            let n = usize::try_from((CLUSTER_SIZE - within).min((buf.len() - done) as u64))
                .unwrap_or(0);
            let base = self.data_offset + cluster * CLUSTER_SIZE;
            if !self.allocated(cluster) && n as u64 != CLUSTER_SIZE {
                // First touch, partial: the rest of the cluster comes from the template.
                let start = cluster * CLUSTER_SIZE;
                let len = usize::try_from(CLUSTER_SIZE.min(self.size - start)).unwrap_or(0);
                copy.resize(len, 0);
                self.template.read_exact_at(&mut copy, start)?;
                let within = usize::try_from(within).unwrap_or(0);
                copy[within..within + n].copy_from_slice(&buf[done..done + n]);
                self.overlay.write_all_at(&copy, base)?;
            } else {
                self.overlay
                    .write_all_at(&buf[done..done + n], base + within)?;
            }
            if !self.allocated(cluster) {
                self.mark(cluster);
            }
            done += n;
        }
        Ok(())
    }

    /// Makes every write so far durable: data first, then the bitmap that points at it.
    pub fn flush(&mut self) -> io::Result<()> {
        self.overlay.sync_data()?;
        if self.dirty.is_empty() {
            return Ok(());
        }
        self.dirty.sort_unstable();
        self.dirty.dedup();
        for &byte in &self.dirty {
            self.overlay
                .write_all_at(&self.bitmap[byte..=byte], HEADER_SIZE + byte as u64)?;
        }
        self.dirty.clear();
        self.overlay.sync_data()
    }

    /// The overlay's path (a placeholder for a disposable one).
    pub fn overlay_path(&self) -> &Path {
        &self.overlay_path
    }
}

impl Drop for CowImage {
    fn drop(&mut self) {
        if let Err(e) = self.flush() {
            tracing::error!(overlay = %self.overlay_path.display(), "cannot flush the overlay: {e}");
        }
    }
}

#[cfg(test)]
#[allow(clippy::cast_possible_truncation)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    struct Files {
        dir: tempfile::TempDir,
    }

    impl Files {
        fn new(template: &[u8]) -> Self {
            let dir = tempfile::tempdir().unwrap();
            std::fs::write(dir.path().join("template.img"), template).unwrap();
            Files { dir }
        }
        fn template(&self) -> PathBuf {
            self.dir.path().join("template.img")
        }
        fn overlay(&self) -> OverlayKind {
            OverlayKind::Persistent(self.dir.path().join("overlay.cow"))
        }
    }

    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i * 31 + 7) as u8).collect()
    }

    #[test]
    fn writes_go_to_the_overlay_and_survive_reopening() {
        let template = pattern(3 * CLUSTER_SIZE as usize + 4096);
        let f = Files::new(&template);
        let mut disk = CowImage::open(&f.template(), &f.overlay()).unwrap();
        assert_eq!(disk.size(), template.len() as u64);
        disk.write_at(&[0xaa; 1000], CLUSTER_SIZE - 500).unwrap();
        disk.write_at(&[0xbb; 100], 3 * CLUSTER_SIZE + 10).unwrap();
        assert_eq!(disk.allocated_clusters(), 3);
        drop(disk);
        assert_eq!(std::fs::read(f.template()).unwrap(), template);

        let disk = CowImage::open(&f.template(), &f.overlay()).unwrap();
        let mut all = vec![0u8; template.len()];
        disk.read_at(&mut all, 0).unwrap();
        let mut expect = template.clone();
        let s = CLUSTER_SIZE as usize - 500;
        expect[s..s + 1000].fill(0xaa);
        let s = 3 * CLUSTER_SIZE as usize + 10;
        expect[s..s + 100].fill(0xbb);
        assert_eq!(all, expect);
    }

    #[test]
    fn accesses_past_the_end_fail() {
        let f = Files::new(&pattern(8192));
        let mut disk = CowImage::open(&f.template(), &f.overlay()).unwrap();
        assert!(disk.write_at(&[1; 2], 8191).is_err());
        assert!(disk.read_at(&mut [0; 1], 8192).is_err());
        assert!(disk.read_at(&mut [0; 1], u64::MAX).is_err());
    }

    #[test]
    fn a_foreign_or_damaged_overlay_is_refused() {
        let f = Files::new(&pattern(8192));
        let OverlayKind::Persistent(path) = f.overlay() else {
            unreachable!()
        };
        std::fs::write(&path, b"not an overlay at all").unwrap();
        let err = CowImage::open(&f.template(), &f.overlay()).unwrap_err();
        assert!(matches!(err, CowError::Corrupt { .. }), "{err}");
        assert!(err.to_string().contains("remove it"), "{err}");

        std::fs::remove_file(&path).unwrap();
        drop(CowImage::open(&f.template(), &f.overlay()).unwrap());
        // The template grows: the overlay belongs to the old one.
        std::fs::write(f.template(), pattern(16384)).unwrap();
        let err = CowImage::open(&f.template(), &f.overlay()).unwrap_err();
        assert!(matches!(err, CowError::TemplateChanged { .. }), "{err}");

        // A bitmap bit past the end of the disk.
        std::fs::remove_file(&path).unwrap();
        drop(CowImage::open(&f.template(), &f.overlay()).unwrap());
        let file = File::options().write(true).open(&path).unwrap();
        file.write_all_at(&[0x80], HEADER_SIZE).unwrap();
        let err = CowImage::open(&f.template(), &f.overlay()).unwrap_err();
        assert!(matches!(err, CowError::Corrupt { .. }), "{err}");

        let same = OverlayKind::Persistent(f.template());
        assert!(matches!(
            CowImage::open(&f.template(), &same),
            Err(CowError::SameFile(_))
        ));
    }

    #[test]
    fn disposable_overlays_leave_nothing_behind() {
        let f = Files::new(&pattern(CLUSTER_SIZE as usize));
        let scratch = tempfile::tempdir().unwrap();
        let kind = OverlayKind::Disposable(scratch.path().to_path_buf());
        let mut disk = CowImage::open(&f.template(), &kind).unwrap();
        disk.write_at(&[9; 512], 0).unwrap();
        let mut back = [0u8; 512];
        disk.read_at(&mut back, 0).unwrap();
        assert_eq!(back, [9; 512]);
        assert_eq!(std::fs::read_dir(scratch.path()).unwrap().count(), 0);
        drop(disk);
        assert_eq!(std::fs::read_dir(scratch.path()).unwrap().count(), 0);
        // And a second one starts from the template again.
        let disk = CowImage::open(&f.template(), &kind).unwrap();
        disk.read_at(&mut back, 0).unwrap();
        assert_eq!(back[..], pattern(512)[..]);
    }

    #[derive(Debug, Clone)]
    enum Op {
        Write { pos: u64, len: usize, byte: u8 },
        Flush,
        Reopen,
    }

    fn op(size: u64) -> impl Strategy<Value = Op> {
        prop_oneof![
            6 => (0..size, 1..(3 * CLUSTER_SIZE as usize), any::<u8>())
                .prop_map(move |(pos, len, byte)| Op::Write { pos, len: len.min((size - pos) as usize), byte }),
            1 => Just(Op::Flush),
            1 => Just(Op::Reopen),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]

        /// Reads always return the last data written (across flushes and reopening), and
        /// the template never changes.
        #[test]
        fn reads_return_the_last_write_and_the_template_stays(
            ops in proptest::collection::vec(op(5 * CLUSTER_SIZE + 1536), 1..24)
        ) {
            let size = 5 * CLUSTER_SIZE as usize + 1536;
            let template = pattern(size);
            let f = Files::new(&template);
            let mut model = template.clone();
            let mut disk = CowImage::open(&f.template(), &f.overlay()).unwrap();
            for op in ops {
                match op {
                    Op::Write { pos, len, byte } => {
                        let data = vec![byte; len];
                        disk.write_at(&data, pos).unwrap();
                        model[pos as usize..pos as usize + len].copy_from_slice(&data);
                    }
                    Op::Flush => disk.flush().unwrap(),
                    Op::Reopen => {
                        drop(disk);
                        disk = CowImage::open(&f.template(), &f.overlay()).unwrap();
                    }
                }
                let mut all = vec![0u8; size];
                disk.read_at(&mut all, 0).unwrap();
                prop_assert!(all == model, "disk differs from the model");
            }
            drop(disk);
            prop_assert!(std::fs::read(f.template()).unwrap() == template);
        }
    }
}
