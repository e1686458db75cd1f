//! The benchmarks' Wayland client (wayland-client; buffers written with plain file writes
//! into a memfd, no mmap).
//!
//! - `frames`: a toplevel of `--size` committing frames of incompressible (xorshift random)
//!   ARGB pixels (opaque, with an opaque region saying so), damaging everything (`--damage full`) or one 64×64 square
//!   (`--damage square`). Each frame waits for its frame callback before the next is drawn.
//!   After `--warmup` frames it prints `ready` and waits for a line on stdin, then runs
//!   `--frames` frames and prints `result frames=N seconds=S p50_us=… p99_us=… mean_us=…`,
//!   the latency being `wl_surface.commit` → its frame callback's `done`; then
//!   `commits NS NS …`, the CLOCK_MONOTONIC of each measured commit (the harness pairs them
//!   with the compositor's `frame usable monotonic_ns=` log lines).
//! - `keys`: a small toplevel; prints `focused` when it gets keyboard focus, then
//!   `key CODE STATE MONOTONIC_NS` for every `wl_keyboard.key` (CLOCK_MONOTONIC, comparable
//!   with the harness's clock).
//! - `animate`: a toplevel of `--size` repainting itself whole at its frame-callback pace
//!   until killed; prints `frames N MONOTONIC_NS` (frames so far, CLOCK_MONOTONIC) once a
//!   second.
#![forbid(unsafe_code)]
#![allow(clippy::print_stdout, reason = "the benchmark harness reads stdout")]

use std::fs::File;
use std::io::{BufRead, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::FileExt;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::{Parser, ValueEnum};
use wayland_client::protocol::{
    wl_buffer, wl_callback, wl_compositor, wl_keyboard, wl_region, wl_registry, wl_seat, wl_shm,
    wl_shm_pool, wl_surface,
};
use wayland_client::{Connection, Dispatch, EventQueue, QueueHandle, WEnum};
use wayland_protocols::xdg::shell::client::{xdg_surface, xdg_toplevel, xdg_wm_base};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Mode {
    Frames,
    Keys,
    Animate,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Damage {
    Full,
    Square,
}

#[derive(Debug, Parser)]
struct Args {
    #[arg(long, value_enum)]
    mode: Mode,
    #[arg(long, value_enum, default_value_t = Damage::Full)]
    damage: Damage,
    /// WIDTHxHEIGHT.
    #[arg(long, default_value = "1920x1080")]
    size: String,
    #[arg(long, default_value_t = 200)]
    frames: usize,
    #[arg(long, default_value_t = 20)]
    warmup: usize,
    /// Window title.
    #[arg(long, default_value = "bench")]
    title: String,
}

/// Side of the damaged square.
const SQUARE: u32 = 64;

#[derive(Debug, Default)]
struct Client {
    compositor: Option<wl_compositor::WlCompositor>,
    shm: Option<wl_shm::WlShm>,
    wm: Option<xdg_wm_base::XdgWmBase>,
    seat: Option<wl_seat::WlSeat>,
    keyboard: Option<wl_keyboard::WlKeyboard>,
    configured: bool,
    closed: bool,
    /// Buffers the compositor has released (index into the buffer list).
    busy: [bool; 2],
    frame_done: bool,
    focused: bool,
}

impl Dispatch<wl_registry::WlRegistry, ()> for Client {
    fn event(
        state: &mut Self,
        registry: &wl_registry::WlRegistry,
        event: wl_registry::Event,
        _: &(),
        _: &Connection,
        qh: &QueueHandle<Self>,
    ) {
        if let wl_registry::Event::Global {
            name,
            interface,
            version,
        } = event
        {
            match interface.as_str() {
                "wl_compositor" => {
                    state.compositor = Some(registry.bind(name, version.min(4), qh, ()));
                }
                "wl_shm" => state.shm = Some(registry.bind(name, 1, qh, ())),
                "xdg_wm_base" => state.wm = Some(registry.bind(name, 1, qh, ())),
                "wl_seat" if state.seat.is_none() => {
                    state.seat = Some(registry.bind(name, version.min(5), qh, ()));
                }
                _ => {}
            }
        }
    }
}

impl Dispatch<xdg_wm_base::XdgWmBase, ()> for Client {
    fn event(
        _: &mut Self,
        wm: &xdg_wm_base::XdgWmBase,
        event: xdg_wm_base::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let xdg_wm_base::Event::Ping { serial } = event {
            wm.pong(serial);
        }
    }
}

impl Dispatch<xdg_surface::XdgSurface, ()> for Client {
    fn event(
        state: &mut Self,
        surface: &xdg_surface::XdgSurface,
        event: xdg_surface::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let xdg_surface::Event::Configure { serial } = event {
            surface.ack_configure(serial);
            state.configured = true;
        }
    }
}

impl Dispatch<xdg_toplevel::XdgToplevel, ()> for Client {
    fn event(
        state: &mut Self,
        _: &xdg_toplevel::XdgToplevel,
        event: xdg_toplevel::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let xdg_toplevel::Event::Close = event {
            state.closed = true;
        }
    }
}

impl Dispatch<wl_buffer::WlBuffer, usize> for Client {
    fn event(
        state: &mut Self,
        _: &wl_buffer::WlBuffer,
        event: wl_buffer::Event,
        index: &usize,
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let wl_buffer::Event::Release = event {
            state.busy[*index] = false;
        }
    }
}

impl Dispatch<wl_callback::WlCallback, ()> for Client {
    fn event(
        state: &mut Self,
        _: &wl_callback::WlCallback,
        event: wl_callback::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        if let wl_callback::Event::Done { .. } = event {
            state.frame_done = true;
        }
    }
}

impl Dispatch<wl_seat::WlSeat, ()> for Client {
    fn event(
        state: &mut Self,
        seat: &wl_seat::WlSeat,
        event: wl_seat::Event,
        _: &(),
        _: &Connection,
        qh: &QueueHandle<Self>,
    ) {
        if let wl_seat::Event::Capabilities {
            capabilities: WEnum::Value(caps),
        } = event
            && caps.contains(wl_seat::Capability::Keyboard)
            && state.keyboard.is_none()
        {
            state.keyboard = Some(seat.get_keyboard(qh, ()));
        }
    }
}

impl Dispatch<wl_keyboard::WlKeyboard, ()> for Client {
    fn event(
        state: &mut Self,
        _: &wl_keyboard::WlKeyboard,
        event: wl_keyboard::Event,
        _: &(),
        _: &Connection,
        _: &QueueHandle<Self>,
    ) {
        match event {
            wl_keyboard::Event::Enter { .. } => {
                state.focused = true;
                println!("focused");
            }
            wl_keyboard::Event::Key {
                key,
                state: key_state,
                ..
            } => {
                let ns = monotonic_ns();
                let pressed = matches!(key_state, WEnum::Value(wl_keyboard::KeyState::Pressed));
                println!("key {key} {} {ns}", u8::from(pressed));
            }
            _ => {}
        }
        let _ = std::io::stdout().flush();
    }
}

wayland_client::delegate_noop!(Client: ignore wl_compositor::WlCompositor);
wayland_client::delegate_noop!(Client: ignore wl_shm::WlShm);
wayland_client::delegate_noop!(Client: ignore wl_shm_pool::WlShmPool);
wayland_client::delegate_noop!(Client: ignore wl_surface::WlSurface);
wayland_client::delegate_noop!(Client: ignore wl_region::WlRegion);

/// CLOCK_MONOTONIC in nanoseconds (the same clock in every process).
fn monotonic_ns() -> u128 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
    u128::try_from(t.tv_sec).unwrap_or(0) * 1_000_000_000 + u128::try_from(t.tv_nsec).unwrap_or(0)
}

/// Incompressible pixels: xorshift64 output, alpha forced opaque.
struct Noise(u64);

impl Noise {
    fn fill(&mut self, out: &mut [u8]) {
        for chunk in out.chunks_exact_mut(8) {
            let mut x = self.0;
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            self.0 = x;
            chunk.copy_from_slice(&(x | 0xff00_0000_ff00_0000).to_le_bytes());
        }
    }
}

struct Window {
    surface: wl_surface::WlSurface,
    buffers: Vec<wl_buffer::WlBuffer>,
    file: File,
    width: u32,
    height: u32,
    queue: EventQueue<Client>,
    client: Client,
    /// CLOCK_MONOTONIC of every commit, in nanoseconds.
    commits: Vec<u128>,
}

fn parse_size(s: &str) -> Result<(u32, u32)> {
    let (w, h) = s.split_once('x').context("--size is WIDTHxHEIGHT")?;
    Ok((w.parse()?, h.parse()?))
}

impl Window {
    fn open(args: &Args, keyboard: bool) -> Result<Window> {
        let (width, height) = parse_size(&args.size)?;
        let conn = Connection::connect_to_env().context("no Wayland display")?;
        let mut queue = conn.new_event_queue();
        let qh = queue.handle();
        conn.display().get_registry(&qh, ());
        let mut client = Client::default();
        queue.roundtrip(&mut client)?;
        let compositor = client.compositor.clone().context("no wl_compositor")?;
        let shm = client.shm.clone().context("no wl_shm")?;
        let wm = client.wm.clone().context("no xdg_wm_base")?;
        if keyboard {
            // The seat's capabilities, then the keyboard.
            queue.roundtrip(&mut client)?;
            if client.keyboard.is_none() {
                bail!("the compositor has no keyboard");
            }
        }
        let surface = compositor.create_surface(&qh, ());
        let xdg = wm.get_xdg_surface(&surface, &qh, ());
        let toplevel = xdg.get_toplevel(&qh, ());
        toplevel.set_title(args.title.clone());
        // Every pixel drawn is opaque (alpha 0xff), and the client says so, as a
        // well-behaved client does: compositors then copy its pixels instead of blending them.
        let opaque = compositor.create_region(&qh, ());
        opaque.add(0, 0, i32::try_from(width)?, i32::try_from(height)?);
        surface.set_opaque_region(Some(&opaque));
        surface.commit();
        while !client.configured {
            queue.blocking_dispatch(&mut client)?;
        }

        let frame = u64::from(width) * u64::from(height) * 4;
        let fd = rustix::fs::memfd_create("bench-client", rustix::fs::MemfdFlags::CLOEXEC)?;
        let file = File::from(fd);
        file.set_len(frame * 2)?;
        let pool = shm.create_pool(
            file.as_fd(),
            i32::try_from(frame * 2).context("buffers too large")?,
            &qh,
            (),
        );
        let stride = i32::try_from(width * 4)?;
        let buffers = (0..2)
            .map(|i| {
                pool.create_buffer(
                    i32::try_from(frame).unwrap_or(0) * i32::try_from(i).unwrap_or(0),
                    i32::try_from(width).unwrap_or(0),
                    i32::try_from(height).unwrap_or(0),
                    stride,
                    wl_shm::Format::Argb8888,
                    &qh,
                    i,
                )
            })
            .collect();
        Ok(Window {
            surface,
            buffers,
            file,
            width,
            height,
            queue,
            client,
            commits: Vec::new(),
        })
    }

    /// Writes `rect` of buffer `index` with noise.
    fn paint(
        &self,
        index: usize,
        rect: (u32, u32, u32, u32),
        noise: &mut Noise,
        row: &mut Vec<u8>,
    ) -> Result<()> {
        let (x, y, w, h) = rect;
        let frame = u64::from(self.width) * u64::from(self.height) * 4;
        let base = frame * index as u64;
        if x == 0 && w == self.width {
            row.resize((w * h * 4) as usize, 0);
            noise.fill(row);
            self.file
                .write_all_at(row, base + u64::from(y) * u64::from(self.width) * 4)?;
        } else {
            row.resize((w * 4) as usize, 0);
            for line in y..y + h {
                noise.fill(row);
                let at = base + (u64::from(line) * u64::from(self.width) + u64::from(x)) * 4;
                self.file.write_all_at(row, at)?;
            }
        }
        Ok(())
    }

    /// Attaches buffer `index`, damages `rect`, asks for a frame callback and commits;
    /// returns when the callback is done, with the time from the commit.
    fn commit_and_wait(&mut self, index: usize, rect: (u32, u32, u32, u32)) -> Result<Duration> {
        let qh = self.queue.handle();
        let (x, y, w, h) = rect;
        self.surface.attach(Some(&self.buffers[index]), 0, 0);
        self.surface.damage_buffer(
            i32::try_from(x)?,
            i32::try_from(y)?,
            i32::try_from(w)?,
            i32::try_from(h)?,
        );
        self.surface.frame(&qh, ());
        self.client.frame_done = false;
        self.client.busy[index] = true;
        let start = Instant::now();
        self.commits.push(monotonic_ns());
        self.surface.commit();
        self.queue.flush()?;
        while !self.client.frame_done {
            self.queue.blocking_dispatch(&mut self.client)?;
            if self.client.closed {
                bail!("the window was closed");
            }
        }
        Ok(start.elapsed())
    }

    /// A buffer the compositor does not hold, waiting for a release if needed.
    fn free_buffer(&mut self, preferred: usize) -> Result<usize> {
        loop {
            if !self.client.busy[preferred] {
                return Ok(preferred);
            }
            if !self.client.busy[1 - preferred] {
                return Ok(1 - preferred);
            }
            self.queue.blocking_dispatch(&mut self.client)?;
        }
    }
}

fn frames(args: &Args) -> Result<()> {
    let mut window = Window::open(args, false)?;
    let (w, h) = (window.width, window.height);
    let mut noise = Noise(0x9e37_79b9_7f4a_7c15);
    let mut row = Vec::new();
    // The first frame is whole in both buffers, so every later damage is the only change.
    for i in 0..2 {
        window.paint(i, (0, 0, w, h), &mut noise, &mut row)?;
    }
    let first = window.free_buffer(0)?;
    window.commit_and_wait(first, (0, 0, w, h))?;
    let rect = match args.damage {
        Damage::Full => (0, 0, w, h),
        Damage::Square => ((w - SQUARE) / 2, (h - SQUARE) / 2, SQUARE, SQUARE),
    };
    let mut next = 1;
    let mut run = |window: &mut Window, count: usize, lat: &mut Vec<Duration>| -> Result<()> {
        for _ in 0..count {
            let index = window.free_buffer(next)?;
            window.paint(index, rect, &mut noise, &mut row)?;
            lat.push(window.commit_and_wait(index, rect)?);
            next = 1 - index;
        }
        Ok(())
    };
    let mut warm = Vec::new();
    run(&mut window, args.warmup, &mut warm)?;
    println!("ready");
    std::io::stdout().flush()?;
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let mut lat = Vec::with_capacity(args.frames);
    window.commits.clear();
    let start = Instant::now();
    run(&mut window, args.frames, &mut lat)?;
    let seconds = start.elapsed().as_secs_f64();
    lat.sort();
    let pct = |p: usize| lat[(lat.len() * p / 100).min(lat.len() - 1)].as_secs_f64() * 1e6;
    let mean = lat.iter().map(Duration::as_secs_f64).sum::<f64>() / lat.len() as f64 * 1e6;
    println!(
        "result frames={} seconds={seconds:.6} p50_us={:.1} p99_us={:.1} mean_us={mean:.1}",
        lat.len(),
        pct(50),
        pct(99)
    );
    let commits: Vec<String> = window.commits.iter().map(u128::to_string).collect();
    println!("commits {}", commits.join(" "));
    std::io::stdout().flush()?;
    Ok(())
}

fn keys(args: &Args) -> Result<()> {
    let mut window = Window::open(args, true)?;
    let (w, h) = (window.width, window.height);
    let mut noise = Noise(1);
    let mut row = Vec::new();
    window.paint(0, (0, 0, w, h), &mut noise, &mut row)?;
    window.commit_and_wait(0, (0, 0, w, h))?;
    loop {
        window.queue.blocking_dispatch(&mut window.client)?;
        if window.client.closed {
            return Ok(());
        }
    }
}

fn animate(args: &Args) -> Result<()> {
    let mut window = Window::open(args, false)?;
    let (w, h) = (window.width, window.height);
    let mut noise = Noise(u64::from(std::process::id()) | 1);
    let mut row = Vec::new();
    // Two different noise images, alternated: every frame changes every pixel, and the
    // client spends nothing on drawing (the compositor's cost is what is measured).
    for i in 0..2 {
        window.paint(i, (0, 0, w, h), &mut noise, &mut row)?;
    }
    let mut count = 0u64;
    let mut last = Instant::now();
    let mut next = 0;
    loop {
        let index = window.free_buffer(next)?;
        window.commit_and_wait(index, (0, 0, w, h))?;
        next = 1 - index;
        count += 1;
        if last.elapsed() >= Duration::from_secs(1) {
            println!("frames {count} {}", monotonic_ns());
            std::io::stdout().flush()?;
            last = Instant::now();
        }
    }
}

fn main() -> Result<()> {
    let args = Args::parse();
    match args.mode {
        Mode::Frames => frames(&args),
        Mode::Keys => keys(&args),
        Mode::Animate => animate(&args),
    }
}
