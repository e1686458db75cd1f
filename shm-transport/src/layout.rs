//! The region layout: the header in page 0, its ring control blocks, and dom0's private
//! copy of the geometry ([`Layout`]). See `DESIGN.md` beside this crate for the picture.

use std::mem::{offset_of, size_of};

use crate::error::SetupError;

/// The first eight bytes of every region.
pub const MAGIC: [u8; 8] = *b"BULKHEAD";
/// Layout version written by dom0 and required by the agent.
pub const LAYOUT_VERSION: u32 = 1;
/// Page size the layout is aligned to (also the size of the header page).
pub const PAGE_SIZE: u64 = HEADER_SIZE as u64;
/// Size of the header page, as stored in [`Header::header_size`].
pub const HEADER_SIZE: u32 = 4096;
/// Smallest ring.
pub const MIN_RING_SIZE: u32 = 4096;
/// Largest ring (keeps `prod - cons` comparisons on u32 unambiguous).
pub const MAX_RING_SIZE: u32 = 1 << 30;
/// Largest arena (1 TiB; a sanity bound, not a promise that it can be mapped).
pub const MAX_ARENA_SIZE: u64 = 1 << 40;

/// The fixed part of the header at offset 0, little-endian, as dom0 writes it.
///
/// This struct documents the byte layout; the code encodes and decodes it field by field
/// from a private copy, never through a reference into shared memory.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    /// [`MAGIC`].
    pub magic: [u8; 8],
    /// [`LAYOUT_VERSION`].
    pub version: u32,
    /// Size of the header area (page 0): [`PAGE_SIZE`].
    pub header_size: u32,
    /// Size of the whole region in bytes.
    pub region_size: u64,
    /// Offset of the agent→dom0 ring's data.
    pub to_dom0_offset: u64,
    /// Offset of the dom0→agent ring's data.
    pub to_agent_offset: u64,
    /// Size of the agent→dom0 ring (power of two).
    pub to_dom0_size: u32,
    /// Size of the dom0→agent ring (power of two).
    pub to_agent_size: u32,
    /// Offset of the pixel arena.
    pub arena_offset: u64,
    /// Size of the pixel arena (multiple of [`PAGE_SIZE`]).
    pub arena_size: u64,
}

/// Encoded size of [`Header`].
pub const HEADER_BYTES: usize = size_of::<Header>();
const _: () = assert!(HEADER_BYTES == 64);
const _: () = assert!(offset_of!(Header, arena_size) == 56);

/// Offset of the agent→dom0 ring's control block within page 0.
pub const CONTROL_TO_DOM0: usize = 256;
/// Offset of the dom0→agent ring's control block within page 0.
pub const CONTROL_TO_AGENT: usize = 512;

/// Offsets of the u32 fields inside one ring control block, each on its own cache line.
pub mod control {
    /// Producer index (free-running byte count, wrapping). Written by the producer only.
    pub const PRODUCER: usize = 0;
    /// Consumer index (free-running byte count, wrapping). Written by the consumer only.
    pub const CONSUMER: usize = 64;
    /// Non-zero: the consumer sleeps until data arrives. Set by the consumer, cleared by
    /// the producer when it rings.
    pub const CONSUMER_WAITING: usize = 128;
    /// Non-zero: the producer sleeps until space frees up. Set by the producer, cleared by
    /// the consumer when it rings.
    pub const PRODUCER_WAITING: usize = 192;
    /// Size of one control block.
    pub const SIZE: usize = 256;
}

impl Header {
    /// Little-endian encoding.
    pub fn encode(&self) -> [u8; HEADER_BYTES] {
        let mut b = [0u8; HEADER_BYTES];
        b[0..8].copy_from_slice(&self.magic);
        b[8..12].copy_from_slice(&self.version.to_le_bytes());
        b[12..16].copy_from_slice(&self.header_size.to_le_bytes());
        b[16..24].copy_from_slice(&self.region_size.to_le_bytes());
        b[24..32].copy_from_slice(&self.to_dom0_offset.to_le_bytes());
        b[32..40].copy_from_slice(&self.to_agent_offset.to_le_bytes());
        b[40..44].copy_from_slice(&self.to_dom0_size.to_le_bytes());
        b[44..48].copy_from_slice(&self.to_agent_size.to_le_bytes());
        b[48..56].copy_from_slice(&self.arena_offset.to_le_bytes());
        b[56..64].copy_from_slice(&self.arena_size.to_le_bytes());
        b
    }

    /// Decodes a private copy of the header bytes (no validation).
    pub fn decode(b: &[u8; HEADER_BYTES]) -> Self {
        let u32_at = |i: usize| u32::from_le_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let u64_at = |i: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&b[i..i + 8]);
            u64::from_le_bytes(w)
        };
        let mut magic = [0u8; 8];
        magic.copy_from_slice(&b[0..8]);
        Self {
            magic,
            version: u32_at(8),
            header_size: u32_at(12),
            region_size: u64_at(16),
            to_dom0_offset: u64_at(24),
            to_agent_offset: u64_at(32),
            to_dom0_size: u32_at(40),
            to_agent_size: u32_at(44),
            arena_offset: u64_at(48),
            arena_size: u64_at(56),
        }
    }
}

/// Sizes and limits of a channel. Both sides pass one; only dom0's ring and arena sizes
/// shape the region, the agent takes those from the header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Size of each ring in bytes: a power of two, 4 KiB ..= 1 GiB.
    pub ring_size: u32,
    /// Size of the pixel arena: a non-zero multiple of 4096.
    pub arena_size: u64,
    /// Largest message this endpoint sends or accepts (at most
    /// [`bulkhead_protocol::MAX_MESSAGE_LEN`]).
    pub max_message_len: usize,
    /// Largest number of bytes `send` keeps queued when the ring is full (at least
    /// `max_message_len`).
    pub send_queue_limit: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            ring_size: 256 * 1024,
            arena_size: 64 * 1024 * 1024,
            max_message_len: bulkhead_protocol::MAX_MESSAGE_LEN,
            send_queue_limit: 2 * bulkhead_protocol::MAX_MESSAGE_LEN,
        }
    }
}

impl Config {
    /// Checks every field; [`SetupError::InvalidConfig`] names the first bad one.
    pub fn validate(&self) -> Result<(), SetupError> {
        if !valid_ring_size(self.ring_size) {
            return Err(SetupError::InvalidConfig(
                "ring_size must be a power of two in 4 KiB ..= 1 GiB",
            ));
        }
        if !valid_arena_size(self.arena_size) {
            return Err(SetupError::InvalidConfig(
                "arena_size must be a non-zero multiple of 4096, at most 1 TiB",
            ));
        }
        self.validate_limits()
    }

    pub(crate) fn validate_limits(&self) -> Result<(), SetupError> {
        if self.max_message_len == 0 || self.max_message_len > bulkhead_protocol::MAX_MESSAGE_LEN {
            return Err(SetupError::InvalidConfig(
                "max_message_len must be in 1 ..= bulkhead_protocol::MAX_MESSAGE_LEN",
            ));
        }
        if self.send_queue_limit < self.max_message_len {
            return Err(SetupError::InvalidConfig(
                "send_queue_limit must be at least max_message_len",
            ));
        }
        Ok(())
    }
}

fn valid_ring_size(size: u32) -> bool {
    size.is_power_of_two() && (MIN_RING_SIZE..=MAX_RING_SIZE).contains(&size)
}

fn valid_arena_size(size: u64) -> bool {
    size != 0 && size % PAGE_SIZE == 0 && size <= MAX_ARENA_SIZE
}

/// Where one ring lives in the region.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RingLayout {
    /// Offset of the control block (in page 0).
    pub control_offset: usize,
    /// Offset of the data area.
    pub data_offset: usize,
    /// Size of the data area (power of two).
    pub size: u32,
}

/// A private, validated copy of the region's geometry. dom0 builds it from its
/// [`Config`] and never re-reads the header; the agent builds it once from the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// Size of the whole region.
    pub region_size: usize,
    /// The agent→dom0 ring.
    pub to_dom0: RingLayout,
    /// The dom0→agent ring.
    pub to_agent: RingLayout,
    /// Offset of the pixel arena.
    pub arena_offset: usize,
    /// Size of the pixel arena.
    pub arena_size: u64,
}

impl Layout {
    /// The canonical layout for `config`: header page, agent→dom0 ring, dom0→agent ring,
    /// arena, back to back.
    pub fn for_config(config: &Config) -> Result<Self, SetupError> {
        config.validate()?;
        let ring = u64::from(config.ring_size);
        let to_dom0 = PAGE_SIZE;
        let to_agent = to_dom0 + ring;
        let arena = to_agent + ring;
        let region = arena + config.arena_size;
        let header = Header {
            magic: MAGIC,
            version: LAYOUT_VERSION,
            header_size: HEADER_SIZE,
            region_size: region,
            to_dom0_offset: to_dom0,
            to_agent_offset: to_agent,
            to_dom0_size: config.ring_size,
            to_agent_size: config.ring_size,
            arena_offset: arena,
            arena_size: config.arena_size,
        };
        Self::from_header(&header, region)
    }

    /// Validates a header found in a mapping of `mapped_len` bytes (the agent's side).
    pub fn from_header(h: &Header, mapped_len: u64) -> Result<Self, SetupError> {
        if h.magic != MAGIC {
            return Err(SetupError::BadMagic { found: h.magic });
        }
        if h.version != LAYOUT_VERSION {
            return Err(SetupError::UnsupportedVersion { found: h.version });
        }
        if h.header_size != HEADER_SIZE {
            return Err(SetupError::BadHeader("header_size is not 4096"));
        }
        if h.region_size > mapped_len {
            return Err(SetupError::BadHeader(
                "region_size exceeds the shared memory object",
            ));
        }
        if usize::try_from(h.region_size).is_err() {
            return Err(SetupError::BadHeader("region_size does not fit in memory"));
        }
        if !valid_ring_size(h.to_dom0_size) || !valid_ring_size(h.to_agent_size) {
            return Err(SetupError::BadHeader(
                "ring size is not a power of two in 4 KiB ..= 1 GiB",
            ));
        }
        if !valid_arena_size(h.arena_size) {
            return Err(SetupError::BadHeader(
                "arena size is not a non-zero multiple of 4096",
            ));
        }
        let areas = [
            (h.to_dom0_offset, u64::from(h.to_dom0_size)),
            (h.to_agent_offset, u64::from(h.to_agent_size)),
            (h.arena_offset, h.arena_size),
        ];
        let mut ends = [0u64; 3];
        for (i, &(offset, size)) in areas.iter().enumerate() {
            if offset % PAGE_SIZE != 0 {
                return Err(SetupError::BadHeader("area offset is not page-aligned"));
            }
            if offset < PAGE_SIZE {
                return Err(SetupError::BadHeader("area overlaps the header page"));
            }
            let end = offset
                .checked_add(size)
                .ok_or(SetupError::BadHeader("area end overflows"))?;
            if end > h.region_size {
                return Err(SetupError::BadHeader("area extends past region_size"));
            }
            ends[i] = end;
        }
        for i in 0..3 {
            for j in (i + 1)..3 {
                if areas[i].0 < ends[j] && areas[j].0 < ends[i] {
                    return Err(SetupError::BadHeader("areas overlap"));
                }
            }
        }
        // Every value below was bounded by region_size, which fits in usize.
        let to_usize = |v: u64| usize::try_from(v).unwrap_or(usize::MAX);
        Ok(Self {
            region_size: to_usize(h.region_size),
            to_dom0: RingLayout {
                control_offset: CONTROL_TO_DOM0,
                data_offset: to_usize(h.to_dom0_offset),
                size: h.to_dom0_size,
            },
            to_agent: RingLayout {
                control_offset: CONTROL_TO_AGENT,
                data_offset: to_usize(h.to_agent_offset),
                size: h.to_agent_size,
            },
            arena_offset: to_usize(h.arena_offset),
            arena_size: h.arena_size,
        })
    }

    /// The header dom0 writes for this layout.
    pub fn header(&self) -> Header {
        Header {
            magic: MAGIC,
            version: LAYOUT_VERSION,
            header_size: HEADER_SIZE,
            region_size: self.region_size as u64,
            to_dom0_offset: self.to_dom0.data_offset as u64,
            to_agent_offset: self.to_agent.data_offset as u64,
            to_dom0_size: self.to_dom0.size,
            to_agent_size: self.to_agent.size,
            arena_offset: self.arena_offset as u64,
            arena_size: self.arena_size,
        }
    }
}

#[cfg(test)]
#[allow(clippy::cast_possible_truncation)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips_and_validates() {
        let layout = Layout::for_config(&Config::default()).unwrap();
        let h = layout.header();
        assert_eq!(Header::decode(&h.encode()), h);
        assert_eq!(
            Layout::from_header(&h, layout.region_size as u64).unwrap(),
            layout
        );
        assert_eq!(layout.to_dom0.data_offset, 4096);
        assert_eq!(layout.arena_offset % 4096, 0);
    }

    #[test]
    fn overlapping_areas_are_refused() {
        let layout = Layout::for_config(&Config::default()).unwrap();
        let mut h = layout.header();
        h.to_agent_offset = h.to_dom0_offset;
        assert!(matches!(
            Layout::from_header(&h, h.region_size),
            Err(SetupError::BadHeader("areas overlap"))
        ));
    }

    #[test]
    fn bad_configs_are_refused() {
        let bad_ring = Config {
            ring_size: 5000,
            ..Config::default()
        };
        assert!(bad_ring.validate().is_err());
        let bad_arena = Config {
            arena_size: 4097,
            ..Config::default()
        };
        assert!(bad_arena.validate().is_err());
        let bad_queue = Config {
            send_queue_limit: 1,
            ..Config::default()
        };
        assert!(bad_queue.validate().is_err());
    }
}
