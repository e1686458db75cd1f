//! The guest agent: runs inside every qube as the Wayland compositor of that qube's apps,
//! renders each toplevel and popup (with its subsurfaces) straight into its window buffer
//! in the shared-memory arena, damaged parts only, and tells dom0 about its windows.
//!
//! Layout: [`handlers`] has one file per Wayland protocol; [`window`] the window model,
//! rendering into the arena, double buffering and frame pacing; [`arena`] the page
//! allocator; [`link`] the connection to dom0 ([`link::DomLink`]); [`dom0`], [`input`] and
//! [`clipboard`] act on dom0's messages, [`launch`] starts the programs dom0 asks for; [`server`] ties them to an event loop.
//!
//! Logging: `error!` is a bug in the agent, `warn!` bad input from dom0 or a client,
//! `info!` lifecycle, `debug!`/`trace!` flow.
#![forbid(unsafe_code)]

pub mod arena;
pub mod clipboard;
pub mod dom0;
pub mod handlers;
pub mod input;
pub mod launch;
pub mod link;
pub mod server;
pub mod state;
pub mod window;

pub use server::{Config, Server, ServerError};
