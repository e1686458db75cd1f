//! The block backend: requests (virtio 1.2, section 5.2.6) served from a raw file, or a
//! read-only template with a copy-on-write overlay ([`super::cow`]), with positioned reads
//! and writes. Every request is checked against the disk's size before the
//! file is touched; a bad request gets `VIRTIO_BLK_S_IOERR`, never a panic. Data moves in
//! bounded chunks, so a hostile descriptor chain cannot make the VMM allocate much.

use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;

use virtio_queue::{Queue, QueueT};
use vm_memory::GuestMemoryMmap;

use super::cow::{CowError, CowImage, OverlayKind};
use crate::devices::virtio::{VIRTIO_F_VERSION_1, VirtioBackend};

/// Bytes per sector.
pub const SECTOR_SIZE: u64 = 512;

const VIRTIO_ID_BLOCK: u16 = 2;
const VIRTIO_BLK_F_RO: u64 = 1 << 5;
const VIRTIO_BLK_F_FLUSH: u64 = 1 << 9;

const T_IN: u32 = 0;
const T_OUT: u32 = 1;
const T_FLUSH: u32 = 4;
const T_GET_ID: u32 = 8;

const S_OK: u8 = 0;
const S_IOERR: u8 = 1;
const S_UNSUPP: u8 = 2;

const ID_LEN: usize = 20;
const CHUNK: usize = 64 * 1024;

/// Errors opening a disk.
#[derive(Debug, thiserror::Error)]
pub enum BlockError {
    /// The image could not be opened.
    #[error("cannot open disk image {path}")]
    Open {
        /// The path.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The image's size is not a whole number of sectors.
    #[error("disk image {path} is {size} bytes, not a multiple of 512")]
    Size {
        /// The path.
        path: String,
        /// Its size.
        size: u64,
    },
    /// The template or its overlay is unusable.
    #[error(transparent)]
    Cow(#[from] CowError),
}

/// Where a disk's bytes are.
#[derive(Debug)]
enum Image {
    /// A raw file, read and written in place.
    Raw(File),
    /// A template with a copy-on-write overlay.
    Cow(CowImage),
}

impl Image {
    fn read_at(&self, buf: &mut [u8], pos: u64) -> std::io::Result<()> {
        match self {
            Image::Raw(f) => f.read_exact_at(buf, pos),
            Image::Cow(c) => c.read_at(buf, pos),
        }
    }

    fn write_at(&mut self, buf: &[u8], pos: u64) -> std::io::Result<()> {
        match self {
            Image::Raw(f) => f.write_all_at(buf, pos),
            Image::Cow(c) => c.write_at(buf, pos),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Image::Raw(f) => f.sync_data(),
            Image::Cow(c) => c.flush(),
        }
    }
}

/// Up to 20 bytes of the image's file name: the disk's serial (`GET_ID`).
fn disk_id(path: &Path) -> [u8; ID_LEN] {
    let mut id = [0u8; ID_LEN];
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    for (d, s) in id.iter_mut().zip(name.bytes()) {
        *d = s;
    }
    id
}

/// A virtio-blk disk.
#[derive(Debug)]
pub struct Block {
    image: Image,
    size: u64,
    read_only: bool,
    id: [u8; ID_LEN],
    requests: u64,
    errors: u64,
}

impl Block {
    /// Opens `path` (read-only if asked).
    pub fn open(path: &Path, read_only: bool) -> Result<Self, BlockError> {
        let open_err = |source| BlockError::Open {
            path: path.display().to_string(),
            source,
        };
        let file = File::options()
            .read(true)
            .write(!read_only)
            .open(path)
            .map_err(open_err)?;
        let size = file.metadata().map_err(open_err)?.len();
        if size % SECTOR_SIZE != 0 {
            return Err(BlockError::Size {
                path: path.display().to_string(),
                size,
            });
        }
        Ok(Self {
            image: Image::Raw(file),
            size,
            read_only,
            id: disk_id(path),
            requests: 0,
            errors: 0,
        })
    }

    /// Opens `template` read-only under a copy-on-write overlay: the guest may write, the
    /// template never changes.
    pub fn open_cow(template: &Path, overlay: &OverlayKind) -> Result<Self, BlockError> {
        let image = CowImage::open(template, overlay)?;
        let size = image.size();
        if size % SECTOR_SIZE != 0 {
            return Err(BlockError::Size {
                path: template.display().to_string(),
                size,
            });
        }
        Ok(Self {
            image: Image::Cow(image),
            size,
            read_only: false,
            id: disk_id(template),
            requests: 0,
            errors: 0,
        })
    }

    /// Disk size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Requests served and refused so far.
    pub fn counters(&self) -> (u64, u64) {
        (self.requests, self.errors)
    }

    /// Whether `len` bytes at `sector` are inside the disk.
    fn in_range(&self, sector: u64, len: u64) -> Option<u64> {
        let start = sector.checked_mul(SECTOR_SIZE)?;
        (start.checked_add(len)? <= self.size).then_some(start)
    }

    /// Serves one request given its readable and writable parts. Returns the status and the
    /// number of data bytes written to the guest.
    fn serve(&mut self, reader: &mut impl Read, data: &mut impl Write, data_len: u64) -> (u8, u64) {
        let mut header = [0u8; 16];
        if reader.read_exact(&mut header).is_err() {
            return (S_IOERR, 0);
        }
        let kind = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
        let mut sector_bytes = [0u8; 8];
        sector_bytes.copy_from_slice(&header[8..16]);
        let sector = u64::from_le_bytes(sector_bytes);
        let mut buf = vec![0u8; CHUNK];
        match kind {
            T_IN => {
                let Some(mut pos) = self.in_range(sector, data_len) else {
                    return (S_IOERR, 0);
                };
                let mut left = data_len;
                while left > 0 {
                    let n = usize::try_from(left.min(CHUNK as u64)).unwrap_or(CHUNK);
                    if self.image.read_at(&mut buf[..n], pos).is_err()
                        || data.write_all(&buf[..n]).is_err()
                    {
                        return (S_IOERR, data_len - left);
                    }
                    pos += n as u64;
                    left -= n as u64;
                }
                (S_OK, data_len)
            }
            T_OUT => {
                if self.read_only {
                    return (S_IOERR, 0);
                }
                let mut pos = match self.in_range(sector, 0) {
                    Some(p) => p,
                    None => return (S_IOERR, 0),
                };
                loop {
                    let n = match reader.read(&mut buf) {
                        Ok(0) => break,
                        Ok(n) => n,
                        Err(_) => return (S_IOERR, 0),
                    };
                    let inside = pos
                        .checked_add(n as u64)
                        .is_some_and(|end| end <= self.size);
                    if !inside || self.image.write_at(&buf[..n], pos).is_err() {
                        return (S_IOERR, 0);
                    }
                    pos += n as u64;
                }
                (S_OK, 0)
            }
            T_FLUSH => {
                if self.read_only || self.image.flush().is_ok() {
                    (S_OK, 0)
                } else {
                    (S_IOERR, 0)
                }
            }
            T_GET_ID => {
                let n = usize::try_from(data_len).unwrap_or(0).min(ID_LEN);
                match data.write_all(&self.id[..n]) {
                    Ok(()) => (S_OK, n as u64),
                    Err(_) => (S_IOERR, 0),
                }
            }
            _ => (S_UNSUPP, 0),
        }
    }
}

impl VirtioBackend for Block {
    fn device_type(&self) -> u16 {
        VIRTIO_ID_BLOCK
    }

    fn pci_class(&self) -> u32 {
        // Mass storage, other.
        0x01_80_00
    }

    fn features(&self) -> u64 {
        VIRTIO_F_VERSION_1 | VIRTIO_BLK_F_FLUSH | if self.read_only { VIRTIO_BLK_F_RO } else { 0 }
    }

    fn queue_count(&self) -> usize {
        1
    }

    fn read_config(&self, offset: u64, data: &mut [u8]) {
        // struct virtio_blk_config: capacity (sectors) is the only field we fill.
        let capacity = (self.size / SECTOR_SIZE).to_le_bytes();
        for (i, d) in data.iter_mut().enumerate() {
            let at = usize::try_from(offset)
                .unwrap_or(usize::MAX)
                .saturating_add(i);
            *d = capacity.get(at).copied().unwrap_or(0);
        }
    }

    fn process_queue(&mut self, _index: usize, queue: &mut Queue, mem: &GuestMemoryMmap) -> bool {
        let mut used = false;
        while let Some(chain) = queue.pop_descriptor_chain(mem) {
            let head = chain.head_index();
            let written = match (chain.clone().reader(mem), chain.writer(mem)) {
                (Ok(mut reader), Ok(mut writer)) => {
                    let total = writer.available_bytes();
                    if total == 0 {
                        self.errors += 1;
                        tracing::warn!("virtio-blk request without a status byte");
                        0
                    } else {
                        match writer.split_at(total - 1) {
                            Ok(mut status) => {
                                let data_len = (total - 1) as u64;
                                let (code, n) = self.serve(&mut reader, &mut writer, data_len);
                                if code != S_OK {
                                    self.errors += 1;
                                }
                                self.requests += 1;
                                let _ = status.write_all(&[code]);
                                n + 1
                            }
                            Err(_) => 0,
                        }
                    }
                }
                _ => {
                    self.errors += 1;
                    tracing::warn!("virtio-blk: malformed descriptor chain");
                    0
                }
            };
            let len = u32::try_from(written).unwrap_or(0);
            if let Err(e) = queue.add_used(mem, head, len) {
                tracing::warn!("virtio-blk: cannot return a buffer: {e}");
            }
            used = true;
        }
        used
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    fn disk(read_only: bool) -> (Block, std::path::PathBuf) {
        // One file per call: tests run in parallel threads of one process.
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!(
            "bulkhead-blk-{}-{}-{n}",
            std::process::id(),
            u8::from(read_only)
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("disk.img");
        let mut content = vec![0u8; 4096];
        content[512..516].copy_from_slice(b"ABCD");
        std::fs::write(&path, &content).unwrap();
        (Block::open(&path, read_only).unwrap(), path)
    }

    fn header(kind: u32, sector: u64) -> Vec<u8> {
        let mut h = kind.to_le_bytes().to_vec();
        h.extend_from_slice(&[0; 4]);
        h.extend_from_slice(&sector.to_le_bytes());
        h
    }

    #[test]
    fn read_sector() {
        let (mut b, _) = disk(false);
        let mut out = Vec::new();
        let (code, n) = b.serve(&mut Cursor::new(header(T_IN, 1)), &mut out, 512);
        assert_eq!((code, n), (S_OK, 512));
        assert_eq!(&out[..4], b"ABCD");
    }

    #[test]
    fn out_of_range_is_an_error() {
        let (mut b, _) = disk(false);
        let mut out = Vec::new();
        assert_eq!(
            b.serve(&mut Cursor::new(header(T_IN, 8)), &mut out, 512).0,
            S_IOERR
        );
        assert_eq!(
            b.serve(&mut Cursor::new(header(T_IN, 7)), &mut out, 1024).0,
            S_IOERR
        );
        assert_eq!(
            b.serve(&mut Cursor::new(header(T_IN, u64::MAX)), &mut out, 512)
                .0,
            S_IOERR
        );
        let mut w = header(T_OUT, 7);
        w.extend_from_slice(&[1u8; 1024]);
        assert_eq!(b.serve(&mut Cursor::new(w), &mut out, 0).0, S_IOERR);
        assert!(out.is_empty());
    }

    #[test]
    fn write_then_read() {
        let (mut b, path) = disk(false);
        let mut w = header(T_OUT, 2);
        w.extend_from_slice(&[7u8; 512]);
        assert_eq!(b.serve(&mut Cursor::new(w), &mut Vec::new(), 0).0, S_OK);
        assert_eq!(std::fs::read(&path).unwrap()[1024..1536], [7u8; 512]);
    }

    #[test]
    fn read_only_refuses_writes_and_says_so() {
        let (mut b, path) = disk(true);
        let mut w = header(T_OUT, 0);
        w.extend_from_slice(&[7u8; 512]);
        assert_eq!(b.serve(&mut Cursor::new(w), &mut Vec::new(), 0).0, S_IOERR);
        assert_eq!(std::fs::read(&path).unwrap()[..512], [0u8; 512]);
        assert_ne!(b.features() & VIRTIO_BLK_F_RO, 0);
    }

    #[test]
    fn capacity_in_config_and_id() {
        let (mut b, _) = disk(false);
        let mut cap = [0u8; 8];
        b.read_config(0, &mut cap);
        assert_eq!(u64::from_le_bytes(cap), 8);
        let mut id = Vec::new();
        assert_eq!(
            b.serve(&mut Cursor::new(header(T_GET_ID, 0)), &mut id, 20)
                .0,
            S_OK
        );
        assert!(id.starts_with(b"disk.img"));
        assert_eq!(
            b.serve(&mut Cursor::new(header(99, 0)), &mut id, 0).0,
            S_UNSUPP
        );
        assert_eq!(
            b.serve(&mut Cursor::new(vec![0u8; 3]), &mut id, 0).0,
            S_IOERR
        );
    }

    #[test]
    fn odd_sized_image_is_refused() {
        let path = std::env::temp_dir().join(format!("bulkhead-odd-{}.img", std::process::id()));
        std::fs::write(&path, [0u8; 100]).unwrap();
        assert!(matches!(
            Block::open(&path, true),
            Err(BlockError::Size { .. })
        ));
        assert!(matches!(
            Block::open(Path::new("/nonexistent.img"), true),
            Err(BlockError::Open { .. })
        ));
    }
}
