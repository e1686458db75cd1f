//! A malicious agent writes straight into the shared region (through its memfd, as a peer
//! with write access would) and dom0 must answer with a specific error, never a panic,
//! a hang, or an out-of-bounds access (every shared access is bounds-checked and would
//! panic, so "no panic" also means "nothing out of bounds").
#![allow(clippy::cast_possible_truncation)] // test data: truncation is intended

use std::os::fd::OwnedFd;

use bulkhead_shm_transport::layout::{HEADER_BYTES, Header, control};
use bulkhead_shm_transport::{
    ArenaError, Config, Endpoint, MORE, RecvError, RingError, SendError, SetupError,
};

const RING: u32 = 4096;

fn config() -> Config {
    Config {
        ring_size: RING,
        arena_size: 1 << 20,
        max_message_len: 10_000,
        send_queue_limit: 20_000,
    }
}

/// The hostile agent: raw writes into the region.
struct Hostile {
    memfd: OwnedFd,
    control: usize,
    data: usize,
    prod: u32,
}

impl Hostile {
    fn poke(&self, offset: usize, bytes: &[u8]) {
        let n = rustix::io::pwrite(&self.memfd, bytes, offset as u64).unwrap();
        assert_eq!(n, bytes.len());
    }

    fn set_producer(&self, value: u32) {
        self.poke(self.control + control::PRODUCER, &value.to_le_bytes());
    }

    /// Writes a frame header word and payload at the current producer position
    /// (wrapping), without publishing.
    fn frame(&mut self, word: u32, payload: &[u8]) {
        let mut bytes = word.to_le_bytes().to_vec();
        bytes.extend_from_slice(&[0; 4]);
        bytes.extend_from_slice(payload);
        bytes.resize(bytes.len().next_multiple_of(8), 0);
        for (i, b) in bytes.iter().enumerate() {
            let at = self.prod.wrapping_add(i as u32) & (RING - 1);
            self.poke(self.data + at as usize, &[*b]);
        }
        self.prod = self.prod.wrapping_add(bytes.len() as u32);
    }

    fn publish(&self) {
        self.set_producer(self.prod);
    }
}

/// dom0's endpoint and a hostile agent aimed at the agent→dom0 ring.
fn setup() -> (Endpoint, Hostile) {
    let (dom0, handoff) = Endpoint::create_dom0(&config()).unwrap();
    let layout = *dom0.layout();
    let hostile = Hostile {
        memfd: handoff.memfd,
        control: layout.to_dom0.control_offset,
        data: layout.to_dom0.data_offset,
        prod: 0,
    };
    (dom0, hostile)
}

fn ring_error(r: Result<Option<Vec<u8>>, RecvError>) -> RingError {
    match r {
        Err(RecvError::Ring(e)) => e,
        other => panic!("expected a ring error, got {other:?}"),
    }
}

#[test]
fn producer_index_far_past_consumer_is_refused_and_sticky() {
    let (mut dom0, hostile) = setup();
    hostile.set_producer(RING + 8);
    let err = ring_error(dom0.recv());
    assert_eq!(
        err,
        RingError::ProducerIndexOutOfRange {
            producer: RING + 8,
            consumer: 0,
            ring_size: RING
        }
    );
    // Sticky: even after the peer "fixes" the index, the endpoint refuses use.
    hostile.set_producer(0);
    assert_eq!(ring_error(dom0.recv()), err);
    assert!(matches!(dom0.send(b"x"), Err(SendError::Ring(e)) if e == err));
    assert!(dom0.prepare_wait().is_err());
    assert_eq!(dom0.failure(), Some(&err));
}

#[test]
fn producer_index_behind_consumer_is_refused() {
    let (mut dom0, hostile) = setup();
    hostile.set_producer(u32::MAX - 7); // "-8": wraps to a huge distance
    assert!(matches!(
        ring_error(dom0.recv()),
        RingError::ProducerIndexOutOfRange { .. }
    ));
}

#[test]
fn all_ones_frame_length_is_refused() {
    let (mut dom0, mut hostile) = setup();
    hostile.frame(0xffff_ffff, &[1, 2, 3, 4, 5, 6, 7, 8]);
    hostile.publish();
    assert_eq!(
        ring_error(dom0.recv()),
        RingError::FrameBeyondPublished {
            len: 0x7fff_ffff,
            published: 16
        }
    );
}

#[test]
fn frame_longer_than_published_bytes_is_refused() {
    let (mut dom0, mut hostile) = setup();
    hostile.frame(100, &[7; 16]); // claims 100 bytes, writes 16
    hostile.set_producer(24);
    assert_eq!(
        ring_error(dom0.recv()),
        RingError::FrameBeyondPublished {
            len: 100,
            published: 24
        }
    );
}

#[test]
fn frame_length_of_whole_ring_is_refused() {
    let (mut dom0, mut hostile) = setup();
    // A frame as long as the ring can never fit next to its own header.
    hostile.frame(RING, &[]);
    hostile.set_producer(RING);
    assert_eq!(
        ring_error(dom0.recv()),
        RingError::FrameBeyondPublished {
            len: RING,
            published: RING
        }
    );
}

#[test]
fn published_bytes_short_of_a_header_are_refused() {
    let (mut dom0, mut hostile) = setup();
    hostile.frame(3, b"abc");
    hostile.set_producer(16 + 5); // one good frame, then 5 stray bytes
    assert_eq!(dom0.recv().unwrap().unwrap(), b"abc");
    assert_eq!(
        ring_error(dom0.recv()),
        RingError::TruncatedFrameHeader { published: 5 }
    );
}

#[test]
fn more_chain_beyond_max_message_is_refused_without_overallocating() {
    let (mut dom0, mut hostile) = setup();
    let chunk = vec![0xaa; 2000];
    let mut refused = None;
    for _ in 0..10 {
        hostile.frame(2000 | MORE, &chunk);
        hostile.publish();
        match dom0.recv() {
            Ok(None) => assert!(dom0.partial_recv_bytes() <= 10_000),
            Err(RecvError::Ring(e)) => {
                refused = Some(e);
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(
        refused,
        Some(RingError::MessageTooLong {
            len: 12_000,
            max: 10_000
        })
    );
}

#[test]
fn zero_length_more_frames_are_refused() {
    let (mut dom0, mut hostile) = setup();
    for _ in 0..100 {
        hostile.frame(MORE, &[]);
    }
    hostile.publish();
    assert_eq!(ring_error(dom0.recv()), RingError::EmptyFragment);
}

#[test]
fn peer_stopping_mid_message_does_not_hang_and_resumes() {
    let (mut dom0, mut hostile) = setup();
    hostile.frame(1000 | MORE, &[1; 1000]);
    hostile.publish();
    assert_eq!(dom0.recv().unwrap(), None);
    assert_eq!(dom0.recv().unwrap(), None);
    assert_eq!(dom0.partial_recv_bytes(), 1000);
    // Safe to sleep: nothing new is published.
    assert!(dom0.prepare_wait().unwrap());
    hostile.frame(5, &[2; 5]);
    hostile.publish();
    let msg = dom0.recv().unwrap().unwrap();
    assert_eq!(msg.len(), 1005);
    assert!(msg[..1000].iter().all(|&b| b == 1) && msg[1000..] == [2; 5]);
}

#[test]
fn frames_wrapping_around_the_ring_are_reassembled() {
    let (mut dom0, mut hostile) = setup();
    for round in 0..5u8 {
        let payload = vec![round; 3000];
        hostile.frame(3000, &payload);
        hostile.publish();
        assert_eq!(dom0.recv().unwrap().unwrap(), payload);
    }
}

#[test]
fn hostile_consumer_index_is_refused_by_the_producer() {
    let (mut dom0, hostile) = setup();
    let to_agent = dom0.layout().to_agent;
    // Fill most of the ring so the next send has to look at the consumer index.
    dom0.send(&[0; 3000]).unwrap();
    // The agent claims to have consumed bytes dom0 never produced.
    hostile.poke(
        to_agent.control_offset + control::CONSUMER,
        &(RING * 2).to_le_bytes(),
    );
    match dom0.send(&[0; 3000]) {
        Err(SendError::Ring(RingError::ConsumerIndexOutOfRange {
            producer: 3008,
            consumer,
            ring_size: RING,
        })) => assert_eq!(consumer, RING * 2),
        other => panic!("unexpected {other:?}"),
    }
    // Sticky.
    assert!(matches!(dom0.flush(), Err(SendError::Ring(_))));
}

#[test]
fn garbage_notify_flags_only_cause_extra_rings() {
    let (mut dom0, hostile) = setup();
    let to_agent = dom0.layout().to_agent;
    hostile.poke(
        to_agent.control_offset + control::CONSUMER_WAITING,
        &0xdead_beef_u32.to_le_bytes(),
    );
    dom0.send(b"ok").unwrap();
    assert!(dom0.failure().is_none());
}

#[test]
fn hostile_arena_slots_are_refused() {
    let (dom0, _hostile) = setup();
    let arena = dom0.arena();
    let size = arena.size();
    assert_eq!(
        arena.region(4095, 4096).unwrap_err(),
        ArenaError::UnalignedOffset { offset: 4095 }
    );
    assert_eq!(
        arena.region(size, 4096).unwrap_err(),
        ArenaError::RegionOutOfBounds {
            offset: size,
            len: 4096,
            arena_size: size
        }
    );
    assert_eq!(
        arena.region(0, size + 1).unwrap_err(),
        ArenaError::RegionOutOfBounds {
            offset: 0,
            len: size + 1,
            arena_size: size
        }
    );
    let high = u64::MAX - 4095; // page-aligned
    assert_eq!(
        arena.region(high, 8192).unwrap_err(),
        ArenaError::RegionOverflow {
            offset: high,
            len: 8192
        }
    );
    assert_eq!(
        arena.region(4096, u64::MAX).unwrap_err(),
        ArenaError::RegionOverflow {
            offset: 4096,
            len: u64::MAX
        }
    );
    assert_eq!(arena.region(0, 0).unwrap_err(), ArenaError::EmptyRegion);
    // A valid slot with a hostile image geometry.
    let region = arena.region(size - 4096, 4096).unwrap();
    let image = bulkhead_shm_transport::ImageLayout {
        width: u32::MAX,
        height: u32::MAX,
        stride: u32::MAX,
        bytes_per_pixel: 4,
    };
    let rect = bulkhead_shm_transport::Rect {
        x: 0,
        y: 0,
        width: 1,
        height: 1,
    };
    let mut out = vec![0u8; 64];
    assert!(matches!(
        region.read_rect(&image, rect, &mut out, 64),
        Err(ArenaError::StrideTooSmall { .. })
    ));
    let mut out = vec![0u8; 8];
    assert!(matches!(
        region.read(4090, &mut out),
        Err(ArenaError::AccessOutOfRegion { .. })
    ));
    assert!(matches!(
        region.read(u64::MAX, &mut out),
        Err(ArenaError::AccessOutOfRegion { .. })
    ));
}

/// dom0 makes a region, a corruption `f` is applied to its header, the agent opens it.
fn open_corrupted(f: impl FnOnce(&mut Header)) -> SetupError {
    let (_dom0, handoff) = Endpoint::create_dom0(&config()).unwrap();
    let mut bytes = [0u8; HEADER_BYTES];
    rustix::io::pread(&handoff.memfd, &mut bytes, 0).unwrap();
    let mut header = Header::decode(&bytes);
    f(&mut header);
    rustix::io::pwrite(&handoff.memfd, &header.encode(), 0).unwrap();
    Endpoint::open_agent(handoff, &config()).unwrap_err()
}

#[test]
fn corrupted_headers_are_refused_by_the_agent() {
    assert!(matches!(
        open_corrupted(|h| h.magic = *b"NOTBULKH"),
        SetupError::BadMagic { found } if &found == b"NOTBULKH"
    ));
    assert!(matches!(
        open_corrupted(|h| h.version = 99),
        SetupError::UnsupportedVersion { found: 99 }
    ));
    assert!(matches!(
        open_corrupted(|h| h.region_size += 4096),
        SetupError::BadHeader("region_size exceeds the shared memory object")
    ));
    assert!(matches!(
        open_corrupted(|h| h.to_dom0_size = 5000),
        SetupError::BadHeader(_)
    ));
    assert!(matches!(
        open_corrupted(|h| h.arena_offset += 1),
        SetupError::BadHeader("area offset is not page-aligned")
    ));
    assert!(matches!(
        open_corrupted(|h| h.arena_size = u64::MAX - 4095),
        SetupError::BadHeader(_)
    ));
    assert!(matches!(
        open_corrupted(|h| h.to_agent_offset = h.to_dom0_offset),
        SetupError::BadHeader("areas overlap")
    ));
    assert!(matches!(
        open_corrupted(|h| h.arena_offset = u64::MAX - 4095),
        SetupError::BadHeader(_)
    ));
    assert!(matches!(
        open_corrupted(|h| h.to_dom0_offset = 0),
        SetupError::BadHeader("area overlaps the header page")
    ));
}

#[test]
fn dom0_never_rereads_the_header() {
    let (mut dom0, hostile) = setup();
    let layout = *dom0.layout();
    // Trash the whole header page after creation.
    hostile.poke(0, &[0xff; HEADER_BYTES]);
    assert_eq!(*dom0.layout(), layout);
    assert_eq!(dom0.recv().unwrap(), None);
    assert!(dom0.arena().region(0, 4096).is_ok());
}

#[test]
fn the_peer_cannot_shrink_or_grow_the_region() {
    let (dom0, handoff) = Endpoint::create_dom0(&config()).unwrap();
    let size = dom0.layout().region_size as u64;
    assert_eq!(
        rustix::fs::ftruncate(&handoff.memfd, 4096),
        Err(rustix::io::Errno::PERM)
    );
    assert_eq!(
        rustix::fs::ftruncate(&handoff.memfd, size * 2),
        Err(rustix::io::Errno::PERM)
    );
    // Nor lift or add seals.
    assert!(
        rustix::fs::fcntl_add_seals(&handoff.memfd, rustix::fs::SealFlags::FUTURE_WRITE).is_err()
    );
    assert_eq!(
        rustix::fs::fstat(&handoff.memfd).unwrap().st_size as u64,
        size
    );
}
