//! Two-process stress test: dom0 (this test) and an agent (this test binary re-executed
//! with an environment variable selecting the child role) exchange many messages in both
//! directions at once over a region handed off through a Unix socket. Every message
//! carries a sequence number and a checksum; nothing may be lost, duplicated, reordered
//! or corrupted.
#![allow(clippy::cast_possible_truncation)] // test data: truncation is intended
#![allow(clippy::print_stdout)] // the child reports to the parent on stdout

use std::io::ErrorKind;
use std::os::unix::net::{UnixListener, UnixStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bulkhead_shm_transport::{
    Config, Endpoint, Role, SendError, SendStatus, receive_handoff, send_handoff,
};

const CHILD_ENV: &str = "BULKHEAD_SHM_STRESS_SOCKET";
/// Messages per direction.
const COUNT: u64 = if cfg!(debug_assertions) {
    100_000
} else {
    1_000_000
};
const HEADER: usize = 20; // seq u64, len u32, checksum u64
const STALL: Duration = Duration::from_secs(30);

fn mix(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^ (x >> 33)
}

/// Payload size of message `seq` in direction `dir`: mostly small, some up to 16 KiB,
/// one in 2000 larger than the 256 KiB ring.
fn payload_len(dir: u64, seq: u64) -> usize {
    let r = mix(seq.wrapping_mul(2).wrapping_add(dir));
    let pick = (r >> 32) as usize;
    match r % 2000 {
        0 => 256 * 1024 + pick % (300 * 1024),
        1..=100 => 4096 + pick % (12 * 1024),
        101..=600 => 128 + pick % 3968,
        _ => pick % 128,
    }
}

fn checksum(bytes: &[u8]) -> u64 {
    let mut h = 0x9e37_79b9_7f4a_7c15u64;
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let w = u64::from_le_bytes(c.try_into().unwrap());
        h = (h ^ w).rotate_left(23).wrapping_mul(0x100_0000_01b3);
    }
    for &b in chunks.remainder() {
        h = (h ^ u64::from(b))
            .rotate_left(23)
            .wrapping_mul(0x100_0000_01b3);
    }
    h
}

fn make_message(dir: u64, seq: u64) -> Vec<u8> {
    let len = payload_len(dir, seq);
    let mut msg = vec![0u8; HEADER + len];
    let mut x = mix(seq ^ (dir << 63)) | 1;
    for c in msg[HEADER..].chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        c.copy_from_slice(&x.to_le_bytes()[..c.len()]);
    }
    let sum = checksum(&msg[HEADER..]);
    msg[0..8].copy_from_slice(&seq.to_le_bytes());
    msg[8..12].copy_from_slice(&(len as u32).to_le_bytes());
    msg[12..20].copy_from_slice(&sum.to_le_bytes());
    msg
}

fn verify(dir: u64, expected_seq: u64, msg: &[u8]) {
    assert!(msg.len() >= HEADER, "runt message {}", msg.len());
    let seq = u64::from_le_bytes(msg[0..8].try_into().unwrap());
    let len = u32::from_le_bytes(msg[8..12].try_into().unwrap()) as usize;
    let sum = u64::from_le_bytes(msg[12..20].try_into().unwrap());
    assert_eq!(seq, expected_seq, "lost, duplicated or reordered message");
    assert_eq!(len, payload_len(dir, seq), "wrong length for seq {seq}");
    assert_eq!(msg.len(), HEADER + len, "truncated message {seq}");
    assert_eq!(checksum(&msg[HEADER..]), sum, "corrupted message {seq}");
}

/// One side's event loop: send COUNT messages and receive COUNT, interleaved.
fn run(mut ep: Endpoint) -> (u64, u64) {
    let (out_dir, in_dir) = match ep.role() {
        Role::Dom0 => (1, 0),
        Role::Agent => (0, 1),
    };
    let (mut sent, mut received) = (0u64, 0u64);
    let mut waits = 0u64;
    while sent < COUNT || received < COUNT || ep.pending_send_bytes() > 0 {
        let mut progress = false;
        if ep.pending_send_bytes() > 0 {
            let before = ep.pending_send_bytes();
            ep.flush().unwrap();
            progress |= ep.pending_send_bytes() != before;
        }
        while sent < COUNT && ep.pending_send_bytes() == 0 {
            match ep.send(&make_message(out_dir, sent)) {
                Ok(SendStatus::Sent | SendStatus::Queued { .. }) => {
                    sent += 1;
                    progress = true;
                }
                Err(SendError::Backpressure { .. }) => break,
                Err(e) => panic!("send failed: {e}"),
            }
        }
        for _ in 0..64 {
            match ep.recv().unwrap() {
                Some(msg) => {
                    verify(in_dir, received, &msg);
                    received += 1;
                    progress = true;
                }
                None => break,
            }
        }
        if !progress {
            waits += 1;
            assert!(ep.wait(Some(STALL)).unwrap(), "stalled: lost wake-up?");
        }
    }
    // The peer may still be sending nothing; make sure nothing extra arrives.
    assert_eq!(ep.recv().unwrap(), None, "duplicate or extra message");
    (received, waits)
}

/// The agent's role. Does nothing unless started by `two_process_stress`.
#[test]
fn stress_child_role() {
    let Ok(path) = std::env::var(CHILD_ENV) else {
        return;
    };
    let sock = UnixStream::connect(path).unwrap();
    let handoff = receive_handoff(&sock).unwrap();
    let ep = Endpoint::open_agent(handoff, &Config::default()).unwrap();
    let (received, waits) = run(ep);
    println!("agent received {received} messages, slept {waits} times");
}

#[test]
fn two_process_stress() {
    let path =
        std::env::temp_dir().join(format!("bulkhead-shm-stress-{}.sock", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path).unwrap();
    listener.set_nonblocking(true).unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "stress_child_role",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, &path)
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + STALL;
    let sock = loop {
        match listener.accept() {
            Ok((sock, _)) => break sock,
            Err(e) if e.kind() == ErrorKind::WouldBlock => {
                assert!(child.try_wait().unwrap().is_none(), "child exited early");
                assert!(Instant::now() < deadline, "child never connected");
                std::thread::sleep(Duration::from_millis(5));
            }
            Err(e) => panic!("accept: {e}"),
        }
    };
    let _ = std::fs::remove_file(&path);
    let (dom0, handoff) = Endpoint::create_dom0(&Config::default()).unwrap();
    send_handoff(&sock, &handoff).unwrap();
    drop(handoff);
    let started = Instant::now();
    let (received, waits) = run(dom0);
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "agent failed:\n{stdout}");
    assert!(
        stdout.contains(&format!("agent received {COUNT} messages")),
        "agent role did not run:\n{stdout}"
    );
    assert_eq!(received, COUNT);
    println!(
        "dom0 received {received} messages, slept {waits} times; {:?} for 2 x {COUNT}",
        started.elapsed()
    );
}
