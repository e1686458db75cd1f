//! Error types. Peer misbehaviour is a [`RingError`] or [`ArenaError`]; local failures
//! (syscalls, configuration) are [`SetupError`]; [`SendError`] and [`RecvError`] wrap
//! what can go wrong during one operation.

use std::io;

/// The peer broke the ring protocol. Every variant means the peer is buggy or hostile:
/// the endpoint that saw it is poisoned and returns the same error from then on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RingError {
    /// The producer index is more than one ring size ahead of our consumer index.
    #[error(
        "producer index {producer} is out of range (consumer {consumer}, ring size {ring_size})"
    )]
    ProducerIndexOutOfRange {
        /// Producer index as published by the peer.
        producer: u32,
        /// Our own consumer index.
        consumer: u32,
        /// Ring size in bytes.
        ring_size: u32,
    },
    /// The consumer index is more than one ring size behind (or ahead of) our producer index.
    #[error(
        "consumer index {consumer} is out of range (producer {producer}, ring size {ring_size})"
    )]
    ConsumerIndexOutOfRange {
        /// Our own producer index.
        producer: u32,
        /// Consumer index as published by the peer.
        consumer: u32,
        /// Ring size in bytes.
        ring_size: u32,
    },
    /// Fewer published bytes than one frame header.
    #[error("{published} published bytes are too few for a frame header")]
    TruncatedFrameHeader {
        /// Bytes published but not yet consumed.
        published: u32,
    },
    /// A frame claims more bytes than the producer published.
    #[error("frame of {len} bytes exceeds the {published} published bytes")]
    FrameBeyondPublished {
        /// Payload length from the frame header (without the MORE bit).
        len: u32,
        /// Bytes published but not yet consumed, including the frame header.
        published: u32,
    },
    /// A non-final frame with no payload (would let a peer spin us forever).
    #[error("zero-length frame with the MORE flag")]
    EmptyFragment,
    /// The reassembled message would exceed the maximum message size.
    #[error("message of at least {len} bytes exceeds the maximum of {max}")]
    MessageTooLong {
        /// Bytes the message would have after this frame.
        len: usize,
        /// Configured maximum message size.
        max: usize,
    },
}

/// A pixel-arena region or rectangle from the peer (or a caller) is invalid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ArenaError {
    /// The region offset is not a multiple of the page size (4096).
    #[error("arena offset {offset:#x} is not page-aligned")]
    UnalignedOffset {
        /// Offset as given.
        offset: u64,
    },
    /// The region has no bytes.
    #[error("arena region is empty")]
    EmptyRegion,
    /// `offset + len` overflows a u64.
    #[error("arena region {offset:#x}+{len:#x} overflows")]
    RegionOverflow {
        /// Offset as given.
        offset: u64,
        /// Length as given.
        len: u64,
    },
    /// The region ends past the end of the arena.
    #[error("arena region {offset:#x}+{len:#x} exceeds the arena of {arena_size:#x} bytes")]
    RegionOutOfBounds {
        /// Offset as given.
        offset: u64,
        /// Length as given.
        len: u64,
        /// Size of the arena.
        arena_size: u64,
    },
    /// Zero or more than 16 bytes per pixel.
    #[error("{bytes_per_pixel} bytes per pixel is not supported")]
    BadBytesPerPixel {
        /// Bytes per pixel as given.
        bytes_per_pixel: u32,
    },
    /// A row of the image is wider than its stride.
    #[error("stride {stride} is smaller than a row of {row_bytes} bytes")]
    StrideTooSmall {
        /// Stride as given.
        stride: u64,
        /// `width * bytes_per_pixel`.
        row_bytes: u64,
    },
    /// The image (stride × height) does not fit in the region or buffer.
    #[error("image needs {needed} bytes but only {available} are there")]
    ImageTooLarge {
        /// Bytes the image needs (saturating).
        needed: u64,
        /// Bytes available in the region or buffer.
        available: u64,
    },
    /// The rectangle is not inside the image.
    #[error("rectangle {x},{y} {width}x{height} is outside the image")]
    RectOutOfImage {
        /// Left edge.
        x: u32,
        /// Top edge.
        y: u32,
        /// Width.
        width: u32,
        /// Height.
        height: u32,
    },
    /// A linear access runs past the end of the region.
    #[error("access at {at}+{len} runs past the region of {region_len} bytes")]
    AccessOutOfRegion {
        /// Offset inside the region.
        at: u64,
        /// Length of the access.
        len: u64,
        /// Length of the region.
        region_len: u64,
    },
    /// A pixman image needs 4 bytes per pixel, a stride that is a multiple of 4, and
    /// dimensions pixman can address.
    #[cfg(feature = "pixman")]
    #[error("{width}×{height} with stride {stride} cannot be a pixman image")]
    UnsupportedPixmanImage {
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
        /// Stride in bytes.
        stride: u32,
    },
    /// pixman refused to create the image (out of memory).
    #[cfg(feature = "pixman")]
    #[error("pixman could not create an image over the region")]
    PixmanCreate,
}

/// Creating, handing off or opening a shared region failed.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The [`Config`](crate::Config) is unusable.
    #[error("invalid configuration: {0}")]
    InvalidConfig(&'static str),
    /// A system call failed.
    #[error("{what} failed")]
    Io {
        /// The operation that failed.
        what: &'static str,
        /// The OS error.
        #[source]
        source: io::Error,
    },
    /// The header does not start with the magic bytes.
    #[error("bad magic {found:02x?}")]
    BadMagic {
        /// The first eight bytes of the region.
        found: [u8; 8],
    },
    /// The header has a layout version we do not speak.
    #[error("unsupported layout version {found}")]
    UnsupportedVersion {
        /// The version in the header.
        found: u32,
    },
    /// A header field is inconsistent (sizes, alignment, bounds, overlap).
    #[error("inconsistent header: {0}")]
    BadHeader(&'static str),
    /// The handoff message did not carry exactly three file descriptors.
    #[error("handoff carried {received} file descriptors, expected 3")]
    BadHandoff {
        /// Descriptors received.
        received: usize,
    },
}

impl SetupError {
    pub(crate) fn io(what: &'static str) -> impl FnOnce(io::Error) -> Self {
        move |source| Self::Io { what, source }
    }
}

/// [`Endpoint::send`](crate::Endpoint::send) or [`flush`](crate::Endpoint::flush) failed.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The message is longer than the configured maximum; nothing was sent.
    #[error("message of {len} bytes exceeds the maximum of {max}")]
    TooLong {
        /// Message length.
        len: usize,
        /// Configured maximum.
        max: usize,
    },
    /// The outgoing queue is full; the message was not accepted. Wait for the peer to drain
    /// (or give up on it) and retry.
    #[error("outgoing queue holds {pending} bytes; limit {limit}")]
    Backpressure {
        /// Bytes already queued.
        pending: usize,
        /// Configured queue limit.
        limit: usize,
    },
    /// The peer broke the ring protocol (sticky); says which rule.
    #[error(transparent)]
    Ring(#[from] RingError),
    /// Ringing the peer's doorbell failed.
    #[error("ringing the peer's doorbell failed")]
    Doorbell(#[source] io::Error),
    /// A blocking send gave up.
    #[error("timed out waiting for ring space")]
    TimedOut,
}

/// [`Endpoint::recv`](crate::Endpoint::recv) or a wait failed.
#[derive(Debug, thiserror::Error)]
pub enum RecvError {
    /// The peer broke the ring protocol (sticky); says which rule.
    #[error(transparent)]
    Ring(#[from] RingError),
    /// Ringing or waiting on a doorbell failed.
    #[error("doorbell failed")]
    Doorbell(#[source] io::Error),
}
