//! virtio-blk backed by a raw image file.
mod device;
pub use device::{Block, BlockError, SECTOR_SIZE};
