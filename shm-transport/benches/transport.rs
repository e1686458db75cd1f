//! Throughput of the ring against a Unix socket, and of the frame path (arena write +
//! damage message + doorbell) against a plain memcpy. Run:
//! `cargo bench -p bulkhead-shm-transport -- --warm-up-time 1 --measurement-time 3`.
#![allow(clippy::cast_possible_truncation)] // test data: truncation is intended

use std::hint::black_box;
use std::io::{BufReader, BufWriter, Read, Write};
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use bulkhead_shm_transport::bench_support::Scratch;
use bulkhead_shm_transport::{
    Config, Endpoint, ImageLayout, Rect, SendError, SendStatus, channel_pair,
};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

const BATCH: u64 = 10_000;
const SIZES: [usize; 2] = [64, 4096];
const TIMEOUT: Option<Duration> = Some(Duration::from_secs(10));

fn throughput(size: usize) -> Throughput {
    Throughput::ElementsAndBytes {
        elements: BATCH,
        bytes: BATCH * size as u64,
    }
}

/// Sends `count` messages of `size` bytes from a thread; returns when all arrived.
fn ring_transfer(size: usize, count: u64) -> Duration {
    let (mut dom0, mut agent) = channel_pair(&Config {
        arena_size: 4096,
        ..Config::default()
    })
    .unwrap();
    let start = Instant::now();
    let producer = std::thread::spawn(move || {
        let msg = vec![0xabu8; size];
        for _ in 0..count {
            loop {
                match agent.send(&msg) {
                    Ok(SendStatus::Sent) => break,
                    Ok(SendStatus::Queued { .. }) => {
                        while agent.flush().unwrap() != SendStatus::Sent {
                            agent.wait(TIMEOUT).unwrap();
                        }
                        break;
                    }
                    Err(SendError::Backpressure { .. }) => {
                        agent.flush().unwrap();
                        agent.wait(TIMEOUT).unwrap();
                    }
                    Err(e) => panic!("{e}"),
                }
            }
        }
        agent
    });
    let mut received = 0;
    while received < count {
        match dom0.recv().unwrap() {
            Some(m) => {
                black_box(m);
                received += 1;
            }
            None => {
                dom0.wait(TIMEOUT).unwrap();
            }
        }
    }
    let elapsed = start.elapsed();
    drop(producer.join().unwrap());
    elapsed
}

/// The same over a Unix stream socket with u32 length prefixes. `buffered`: 64 KiB
/// userspace buffers on both ends (few syscalls); otherwise one write per message.
fn socket_transfer(size: usize, count: u64, buffered: bool) -> Duration {
    let (a, b) = UnixStream::pair().unwrap();
    let start = Instant::now();
    let producer = std::thread::spawn(move || {
        let mut frame = (size as u32).to_le_bytes().to_vec();
        frame.extend(std::iter::repeat_n(0xabu8, size));
        if buffered {
            let mut w = BufWriter::with_capacity(64 * 1024, &a);
            for _ in 0..count {
                w.write_all(&frame).unwrap();
            }
            w.flush().unwrap();
        } else {
            let mut w = &a;
            for _ in 0..count {
                w.write_all(&frame).unwrap();
            }
        }
    });
    let capacity = if buffered { 64 * 1024 } else { 0 };
    let mut r = BufReader::with_capacity(capacity.max(1), &b);
    for _ in 0..count {
        let mut len = [0u8; 4];
        r.read_exact(&mut len).unwrap();
        let mut msg = vec![0u8; u32::from_le_bytes(len) as usize];
        r.read_exact(&mut msg).unwrap();
        black_box(msg);
    }
    let elapsed = start.elapsed();
    producer.join().unwrap();
    elapsed
}

fn messages(c: &mut Criterion) {
    let mut group = c.benchmark_group("messages");
    for size in SIZES {
        group.throughput(throughput(size));
        group.bench_with_input(BenchmarkId::new("shm_ring", size), &size, |b, &size| {
            b.iter_custom(|iters| ring_transfer(size, iters * BATCH));
        });
        group.bench_with_input(
            BenchmarkId::new("unix_socket_buffered", size),
            &size,
            |b, &size| b.iter_custom(|iters| socket_transfer(size, iters * BATCH, true)),
        );
        group.bench_with_input(
            BenchmarkId::new("unix_socket_write_per_message", size),
            &size,
            |b, &size| b.iter_custom(|iters| socket_transfer(size, iters * BATCH, false)),
        );
    }
    group.finish();
}

const WIDTH: u32 = 1920;
const HEIGHT: u32 = 1080;
const FRAME: usize = (WIDTH * HEIGHT * 4) as usize;

fn frame(c: &mut Criterion) {
    let mut group = c.benchmark_group("frame_1920x1080x4");
    group.throughput(Throughput::Bytes(FRAME as u64));
    let src = vec![0x5au8; FRAME];

    let (mut dom0, mut agent): (Endpoint, Endpoint) = channel_pair(&Config::default()).unwrap();
    let image = ImageLayout {
        width: WIDTH,
        height: HEIGHT,
        stride: WIDTH * 4,
        bytes_per_pixel: 4,
    };
    let full = Rect {
        x: 0,
        y: 0,
        width: WIDTH,
        height: HEIGHT,
    };
    let damage = [0u8; 32];
    group.bench_function("arena_write_and_notify", |b| {
        b.iter(|| {
            // dom0 is asleep, so the damage message rings its doorbell.
            assert!(dom0.prepare_wait().unwrap());
            let arena = agent.arena().clone();
            let region = arena.region(0, FRAME as u64).unwrap();
            region
                .write_rect(&image, full, black_box(&src), (WIDTH * 4) as usize)
                .unwrap();
            agent.send(&damage).unwrap();
            dom0.acknowledge_doorbell().unwrap();
            black_box(dom0.recv().unwrap().unwrap());
        });
    });

    let mut dst = vec![0u8; FRAME];
    group.bench_function("memcpy", |b| {
        b.iter(|| {
            dst.copy_from_slice(black_box(&src));
            black_box(&mut dst);
        });
    });
    group.finish();
}

/// The ring's racy word copy against memcpy, out of a shared mapping.
fn copy_strategies(c: &mut Criterion) {
    let mut group = c.benchmark_group("copy_out_of_shared_memory");
    let scratch = Scratch::new(1 << 20).unwrap();
    scratch.write_racy(0, &vec![1u8; 1 << 20]);
    for size in [64usize, 4096, 256 * 1024] {
        group.throughput(Throughput::Bytes(size as u64));
        let mut dst = vec![0u8; size];
        group.bench_with_input(BenchmarkId::new("atomic_words", size), &size, |b, _| {
            b.iter(|| scratch.read_racy(black_box(8), &mut dst));
        });
        group.bench_with_input(BenchmarkId::new("memcpy", size), &size, |b, _| {
            b.iter(|| scratch.read_bulk(black_box(8), &mut dst));
        });
    }
    group.finish();
}

/// One `send` into a full ring whose outgoing queue already holds `depth` messages: the
/// cost must not grow with the queue (a flooding sender would otherwise go quadratic).
fn send_with_full_queue(c: &mut Criterion) {
    let mut group = c.benchmark_group("send_into_full_ring");
    for depth in [1_000usize, 10_000, 100_000] {
        group.bench_with_input(BenchmarkId::new("queued", depth), &depth, |b, &depth| {
            let (_dom0, mut agent) = channel_pair(&Config {
                ring_size: 4096,
                arena_size: 4096,
                max_message_len: 64,
                send_queue_limit: 1 << 30,
            })
            .unwrap();
            let msg = [7u8; 32];
            for _ in 0..depth {
                agent.send(&msg).unwrap();
            }
            b.iter(|| black_box(agent.send(&msg).unwrap()));
        });
    }
    group.finish();
}

criterion_group!(
    benches,
    messages,
    frame,
    copy_strategies,
    send_with_full_queue
);
criterion_main!(benches);
