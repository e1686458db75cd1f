//! virtio-blk backed by a raw image file, or by a read-only template under a copy-on-write
//! overlay ([`cow`]).
pub mod cow;
mod device;
pub use cow::{CowError, CowImage, OverlayKind};
pub use device::{Block, BlockError, SECTOR_SIZE};
