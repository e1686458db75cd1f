//! The shared-memory channel between a qube's guest agent and dom0.
//!
//! One region per qube holds a header page, two single-producer/single-consumer rings
//! (agent→dom0 and dom0→agent) carrying opaque messages (the `protocol` crate frames
//! them), and a pixel arena where the agent keeps its window buffers. Each side has an
//! incoming doorbell; peers ring it only when the other said it is waiting.
//!
//! The agent is hostile to dom0: every index, length and flag it writes is read once,
//! bounds-checked, and a violation is a sticky [`RingError`]. Messages are copied out of
//! shared memory once into private buffers. `DESIGN.md` beside this crate has the layout
//! and the memory-model reasoning.
//!
//! # Example
//!
//! ```
//! use bulkhead_shm_transport::{channel_pair, Config, ImageLayout, Rect, SendStatus};
//! use std::time::Duration;
//!
//! let config = Config { arena_size: 1 << 20, ..Config::default() };
//! // In production dom0 calls `Endpoint::create_dom0`, passes the `Handoff` to the agent
//! // with `send_handoff`, and the agent calls `receive_handoff` + `Endpoint::open_agent`.
//! let (mut dom0, mut agent) = channel_pair(&config)?;
//!
//! // The agent writes a damaged rectangle into its buffer in the arena, then tells dom0.
//! let image = ImageLayout { width: 64, height: 64, stride: 256, bytes_per_pixel: 4 };
//! let damage = Rect { x: 0, y: 0, width: 8, height: 8 };
//! let pixels = vec![0xffu8; 256 * 64];
//! agent.arena().region(0, 256 * 64)?.write_rect(&image, damage, &pixels, 256)?;
//! assert_eq!(agent.send(b"damage slot 0")?, SendStatus::Sent);
//!
//! // dom0 (usually after its doorbell fd polled readable) receives and validates.
//! let msg = dom0.recv_blocking(Duration::from_secs(1))?.expect("a message");
//! assert_eq!(msg, b"damage slot 0");
//! let region = dom0.arena().region(0, 256 * 64)?; // (offset, len) from the message
//! let mut copy = vec![0u8; 256 * 64];
//! region.read_rect(&image, damage, &mut copy, 256)?;
//! assert_eq!(copy[..32], [0xff; 32]);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Event loops
//!
//! Poll [`Endpoint::doorbell_fd`]. When it is readable: [`Endpoint::acknowledge_doorbell`],
//! [`Endpoint::flush`], [`Endpoint::recv`] until `None`; then [`Endpoint::prepare_wait`]:
//! `true` means sleep, `false` means there is work again.
#![allow(unsafe_code)]
#![warn(missing_docs)]

mod arena;
mod doorbell;
mod endpoint;
mod error;
pub mod gui_device;
pub mod layout;
#[cfg(feature = "pixman")]
mod pixman_image;
mod ring;
mod setup;
mod shared;
mod stream_copy;
#[cfg(test)]
#[allow(clippy::cast_possible_truncation)]
mod tests;
#[cfg(feature = "wl-shm")]
mod wl_shm_copy;

pub use arena::{Arena, ArenaOffset, ArenaRegion, ImageLayout, Rect};
pub use doorbell::{Doorbell, EventFd, IncomingDoorbell, RegisterDoorbell, wait_readable};
pub use endpoint::{Endpoint, Role};
pub use error::{ArenaError, RecvError, RingError, SendError, SetupError};
pub use layout::{Config, Layout};
pub use ring::{FRAME_HEADER, MORE, SendStatus};
pub use setup::{Handoff, channel_pair, receive_handoff, send_handoff};
pub use shared::SharedMemory;
#[cfg(feature = "wl-shm")]
pub use wl_shm_copy::{ClientBufferError, ShmFormat};

#[doc(hidden)]
pub mod bench_support;
