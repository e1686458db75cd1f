//! Unit and property tests of the endpoint pair (rings, backpressure, doorbells).

use std::collections::VecDeque;
use std::time::Duration;

use proptest::prelude::*;

use crate::{Config, Endpoint, RecvError, SendError, SendStatus, channel_pair, wait_readable};

fn small_config() -> Config {
    Config {
        ring_size: 4096,
        arena_size: 4096,
        max_message_len: 20_000,
        send_queue_limit: 40_000,
    }
}

fn pattern(seed: u32, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

fn bell_rung(ep: &Endpoint) -> bool {
    wait_readable(ep.doorbell_fd(), Some(Duration::ZERO)).unwrap()
}

#[test]
fn messages_of_edge_sizes_arrive_intact() {
    let (mut dom0, mut agent) = channel_pair(&small_config()).unwrap();
    // 4088 = ring minus one frame header: an exact fit.
    for len in [0, 1, 7, 8, 9, 4087, 4088, 4089, 4096, 12_345, 20_000] {
        let msg = pattern(len as u32, len);
        let mut status = agent.send(&msg).unwrap();
        let mut got = None;
        while got.is_none() {
            got = dom0.recv().unwrap();
            if status != SendStatus::Sent {
                status = agent.flush().unwrap();
            }
        }
        assert!(got.unwrap() == msg, "len {len}");
        assert_eq!(agent.flush().unwrap(), SendStatus::Sent);
    }
}

#[test]
fn too_long_and_backpressure_are_reported() {
    let (_dom0, mut agent) = channel_pair(&small_config()).unwrap();
    assert!(matches!(
        agent.send(&[0; 20_001]),
        Err(SendError::TooLong {
            len: 20_001,
            max: 20_000
        })
    ));
    // Fill the ring and the queue: 4 KiB ring + 40 KB queue.
    let msg = vec![1u8; 10_000];
    let mut accepted = 0;
    let err = loop {
        match agent.send(&msg) {
            Ok(_) => accepted += 1,
            Err(e) => break e,
        }
    };
    assert!(matches!(err, SendError::Backpressure { limit: 40_000, .. }));
    assert!(accepted >= 4);
    assert!(agent.pending_send_bytes() <= 40_000);
    // Backpressure is not sticky.
    assert!(agent.failure().is_none());
}

#[test]
fn peer_is_rung_only_when_waiting() {
    let (mut dom0, mut agent) = channel_pair(&small_config()).unwrap();
    agent.send(b"one").unwrap();
    assert!(!bell_rung(&dom0), "nobody waited: no syscall expected");
    // dom0 prepares to sleep: data is already there, so it must not sleep.
    assert!(!dom0.prepare_wait().unwrap());
    assert_eq!(dom0.recv().unwrap().unwrap(), b"one");
    // Now the ring is empty: safe to sleep, and the next send must ring.
    assert!(dom0.prepare_wait().unwrap());
    agent.send(b"two").unwrap();
    assert!(
        bell_rung(&dom0),
        "lost wake-up: consumer waited but was not rung"
    );
    dom0.acknowledge_doorbell().unwrap();
    assert!(!bell_rung(&dom0));
    // The flag was consumed by that ring: the next send does not ring again.
    agent.send(b"three").unwrap();
    assert!(!bell_rung(&dom0));
}

#[test]
fn producer_waiting_for_space_is_woken() {
    let (mut dom0, mut agent) = channel_pair(&small_config()).unwrap();
    let big = pattern(7, 15_000);
    assert!(matches!(
        agent.send(&big).unwrap(),
        SendStatus::Queued { .. }
    ));
    assert!(agent.prepare_wait().unwrap());
    assert!(!bell_rung(&agent));
    // dom0 frees space: the agent asked for it, so dom0 rings.
    assert_eq!(dom0.recv().unwrap(), None);
    assert!(bell_rung(&agent));
    let mut got = None;
    while got.is_none() {
        agent.acknowledge_doorbell().unwrap();
        agent.flush().unwrap();
        got = dom0.recv().unwrap();
    }
    assert!(got.unwrap() == big);
}

/// Two threads ping-pong through blocking waits with a generous timeout: a lost wake-up
/// shows up as a timed-out wait and fails the test.
#[test]
fn no_lost_wake_up_under_ping_pong() {
    const ROUNDS: u32 = if cfg!(debug_assertions) {
        5_000
    } else {
        50_000
    };
    let (mut dom0, mut agent) = channel_pair(&small_config()).unwrap();
    let echo = std::thread::spawn(move || {
        for _ in 0..ROUNDS {
            let msg = loop {
                if let Some(m) = agent.recv().unwrap() {
                    break m;
                }
                assert!(
                    agent.wait(Some(Duration::from_secs(20))).unwrap(),
                    "agent: lost wake-up"
                );
            };
            agent.send_blocking(&msg, Duration::from_secs(20)).unwrap();
        }
    });
    for i in 0..ROUNDS {
        let msg = i.to_le_bytes();
        dom0.send_blocking(&msg, Duration::from_secs(20)).unwrap();
        let back = loop {
            if let Some(m) = dom0.recv().unwrap() {
                break m;
            }
            assert!(
                dom0.wait(Some(Duration::from_secs(20))).unwrap(),
                "dom0: lost wake-up"
            );
        };
        assert_eq!(back, msg);
    }
    echo.join().unwrap();
}

#[test]
fn endpoint_is_send() {
    fn assert_send<T: Send>() {}
    assert_send::<Endpoint>();
}

#[derive(Debug, Clone)]
enum Op {
    AgentSend(usize),
    Dom0Send(usize),
    AgentRecv(u8),
    Dom0Recv(u8),
    Flush,
}

fn size() -> impl Strategy<Value = usize> {
    prop_oneof![
        Just(0usize),
        0usize..64,
        Just(4088usize),
        Just(4096usize),
        4080usize..4100,
        0usize..20_001,
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        size().prop_map(Op::AgentSend),
        size().prop_map(Op::Dom0Send),
        (1u8..5).prop_map(Op::AgentRecv),
        (1u8..5).prop_map(Op::Dom0Recv),
        Just(Op::Flush),
    ]
}

fn do_send(ep: &mut Endpoint, model: &mut VecDeque<Vec<u8>>, seed: &mut u32, len: usize) {
    *seed += 1;
    let msg = pattern(*seed, len);
    match ep.send(&msg) {
        Ok(_) => model.push_back(msg),
        Err(SendError::Backpressure { .. }) => {}
        Err(e) => panic!("send failed: {e}"),
    }
}

fn do_recv(ep: &mut Endpoint, model: &mut VecDeque<Vec<u8>>, n: u8) -> Result<(), RecvError> {
    for _ in 0..n {
        match ep.recv()? {
            Some(msg) => {
                let want = model.pop_front().expect("unexpected extra message");
                assert!(
                    msg == want,
                    "wrong message: got {} bytes, want {}",
                    msg.len(),
                    want.len()
                );
            }
            None => break,
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn random_traffic_arrives_intact_and_in_order(ops in proptest::collection::vec(op(), 1..80)) {
        let (mut dom0, mut agent) = channel_pair(&small_config()).unwrap();
        let mut to_dom0 = VecDeque::new();
        let mut to_agent = VecDeque::new();
        let mut seed = 0u32;
        for op in ops {
            match op {
                Op::AgentSend(len) => do_send(&mut agent, &mut to_dom0, &mut seed, len),
                Op::Dom0Send(len) => do_send(&mut dom0, &mut to_agent, &mut seed, len),
                Op::AgentRecv(n) => do_recv(&mut agent, &mut to_agent, n).unwrap(),
                Op::Dom0Recv(n) => do_recv(&mut dom0, &mut to_dom0, n).unwrap(),
                Op::Flush => {
                    agent.flush().unwrap();
                    dom0.flush().unwrap();
                }
            }
        }
        // Drain everything.
        let mut rounds = 0;
        while !to_dom0.is_empty() || !to_agent.is_empty() {
            agent.flush().unwrap();
            dom0.flush().unwrap();
            do_recv(&mut dom0, &mut to_dom0, 255).unwrap();
            do_recv(&mut agent, &mut to_agent, 255).unwrap();
            rounds += 1;
            prop_assert!(rounds < 10_000, "no progress");
        }
        prop_assert_eq!(dom0.recv().unwrap(), None);
        prop_assert_eq!(agent.recv().unwrap(), None);
        prop_assert_eq!(agent.pending_send_bytes(), 0);
    }
}

/// A sender flooding a full ring: each `send` looks at the queue's head only, never at
/// the whole queue (O(1) per send, so a flood costs O(messages), not O(messages²)); and
/// everything still arrives, in order, once the reader drains.
#[test]
fn sending_into_a_full_ring_does_not_walk_the_queue() {
    let config = Config {
        ring_size: 4096,
        arena_size: 4096,
        max_message_len: 64,
        send_queue_limit: 64 << 20,
    };
    let (mut dom0, mut agent) = channel_pair(&config).unwrap();
    let mut sent = 0u32;
    // Fill the ring, then queue 20,000 more.
    while agent.pending_send_bytes() == 0 {
        agent.send(&sent.to_le_bytes()).unwrap();
        sent += 1;
    }
    let before = agent.queue_examined();
    for _ in 0..20_000 {
        assert!(matches!(
            agent.send(&sent.to_le_bytes()).unwrap(),
            SendStatus::Queued { .. }
        ));
        sent += 1;
    }
    let examined = agent.queue_examined() - before;
    assert!(
        examined <= 20_000,
        "20,000 sends into a full ring looked at {examined} queued messages"
    );
    let mut next = 0u32;
    while next < sent {
        while let Some(msg) = dom0.recv().unwrap() {
            assert_eq!(msg, next.to_le_bytes());
            next += 1;
        }
        agent.flush().unwrap();
    }
    assert_eq!(agent.flush().unwrap(), SendStatus::Sent);
}

#[test]
fn a_second_mapping_carries_the_agents_pixels_to_dom0() {
    let config = small_config();
    let (dom0, handoff) = Endpoint::create_dom0(&config).unwrap();
    let second = crate::SharedMemory::map(&handoff.memfd, 0, dom0.layout().region_size).unwrap();
    let too_small = crate::SharedMemory::map(&handoff.memfd, 0, 4096).unwrap();
    let mut agent = Endpoint::open_agent(handoff, &config).unwrap();
    assert!(agent.use_arena_mapping(too_small).is_err());
    agent.use_arena_mapping(second).unwrap();
    agent
        .arena()
        .region(0, 4096)
        .unwrap()
        .write(100, b"pixels")
        .unwrap();
    let mut seen = [0u8; 6];
    dom0.arena()
        .region(0, 4096)
        .unwrap()
        .read(100, &mut seen)
        .unwrap();
    assert_eq!(&seen, b"pixels");
}
