//! The fuzz input is a script for a hostile agent: it writes arbitrary indices, frame
//! headers and bytes into the agent→dom0 ring (and the dom0→agent consumer index) of a
//! real region, and dom0's reader and writer run over it. They must never panic (every
//! shared-memory access is bounds-checked and would panic if out of range), and errors
//! must be sticky.
#![no_main]

use std::os::fd::OwnedFd;

use bulkhead_shm_transport::layout::control;
use bulkhead_shm_transport::{Config, Endpoint, Layout, MORE, RecvError};
use libfuzzer_sys::fuzz_target;

const RING: u32 = 4096;
const MAX: usize = 9000;

struct Agent {
    memfd: OwnedFd,
    layout: Layout,
    prod: u32,
}

impl Agent {
    fn poke(&self, offset: usize, bytes: &[u8]) {
        let _ = rustix::io::pwrite(&self.memfd, bytes, offset as u64);
    }

    /// Writes `bytes` at ring index `at`, wrapping (at most two writes).
    fn ring_write(&self, at: u32, bytes: &[u8]) {
        let bytes = &bytes[..bytes.len().min(RING as usize)];
        let pos = at & (RING - 1);
        let room = (RING - pos) as usize;
        let (a, b) = bytes.split_at(bytes.len().min(room));
        self.poke(self.layout.to_dom0.data_offset + pos as usize, a);
        self.poke(self.layout.to_dom0.data_offset, b);
    }

    fn publish(&self, value: u32) {
        self.poke(
            self.layout.to_dom0.control_offset + control::PRODUCER,
            &value.to_le_bytes(),
        );
    }
}

struct Script<'a>(&'a [u8]);

impl Script<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }

    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_le_bytes([self.byte()?, self.byte()?]))
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes([
            self.byte()?,
            self.byte()?,
            self.byte()?,
            self.byte()?,
        ]))
    }
}

fn recv(dom0: &mut Endpoint, sticky: &mut Option<RecvError>) {
    let result = dom0.recv();
    assert!(dom0.partial_recv_bytes() <= MAX);
    match (result, sticky.as_ref()) {
        (Err(RecvError::Ring(e)), Some(RecvError::Ring(first))) => assert_eq!(&e, first),
        (Err(e), None) => *sticky = Some(e),
        (Ok(msg), None) => assert!(msg.is_none_or(|m| m.len() <= MAX)),
        (other, Some(_)) => panic!("error was not sticky: {other:?}"),
    }
}

fuzz_target!(|data: &[u8]| {
    let config = Config {
        ring_size: RING,
        arena_size: 4096,
        max_message_len: MAX,
        send_queue_limit: 2 * MAX,
    };
    let (mut dom0, handoff) = Endpoint::create_dom0(&config).expect("create region");
    let mut agent = Agent {
        memfd: handoff.memfd,
        layout: *dom0.layout(),
        prod: 0,
    };
    let mut sticky = None;
    let mut script = Script(data);
    while let Some(op) = script.byte() {
        match op % 8 {
            0 => {
                let Some(v) = script.u32() else { break };
                agent.prod = v;
                agent.publish(v);
            }
            1 => {
                let Some(pos) = script.u16() else { break };
                let Some(v) = script.u32() else { break };
                agent.ring_write(u32::from(pos), &v.to_le_bytes());
            }
            2 | 3 => {
                // A well-formed frame, to get deep into reassembly.
                let Some(len) = script.u16() else { break };
                let len = u32::from(len) % 5000;
                let more = op % 8 == 3;
                let word = if more { len | MORE } else { len };
                let mut frame = word.to_le_bytes().to_vec();
                frame.extend_from_slice(&[0; 4]);
                frame.resize(8 + (len as usize).next_multiple_of(8), op);
                agent.ring_write(agent.prod, &frame);
                agent.prod = agent.prod.wrapping_add(frame.len() as u32);
                agent.publish(agent.prod);
            }
            4 => {
                let Some(delta) = script.u16() else { break };
                agent.publish(agent.prod.wrapping_add(u32::from(delta)));
            }
            5 => {
                let Some(v) = script.u32() else { break };
                agent.poke(
                    agent.layout.to_agent.control_offset + control::CONSUMER,
                    &v.to_le_bytes(),
                );
                let Some(len) = script.u16() else { break };
                let _ = dom0.send(&vec![0x5a; usize::from(len) % (MAX + 100)]);
                let _ = dom0.flush();
            }
            6 => {
                let Some(v) = script.u32() else { break };
                let field =
                    [control::CONSUMER_WAITING, control::PRODUCER_WAITING][usize::from(op >> 7)];
                agent.poke(
                    agent.layout.to_dom0.control_offset + field,
                    &v.to_le_bytes(),
                );
                let _ = dom0.prepare_wait();
            }
            _ => {
                for _ in 0..(op >> 4) + 1 {
                    recv(&mut dom0, &mut sticky);
                }
            }
        }
    }
    for _ in 0..4 {
        recv(&mut dom0, &mut sticky);
    }
});
