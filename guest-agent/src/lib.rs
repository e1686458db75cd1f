//! The guest agent: runs inside every qube as the Wayland compositor of that qube's apps,
//! flattens each toplevel and popup into one window image, writes the damaged pixels into
//! the shared-memory arena and tells dom0 about its windows.
//!
//! Layout: [`handlers`] has one file per Wayland protocol; [`window`] the window model,
//! flattening, double buffering and damage copying; [`link`] the connection to dom0
//! ([`link::DomLink`]); [`dom0`] and [`input`] act on dom0's events; [`server`] ties them
//! to an event loop.
//!
//! Logging: `error!` is a bug in the agent, `warn!` bad input from dom0 or a client,
//! `info!` lifecycle, `debug!`/`trace!` flow.
#![forbid(unsafe_code)]

pub mod arena;
pub mod clipboard;
pub mod dom0;
pub mod handlers;
pub mod input;
pub mod link;
pub mod server;
pub mod state;
pub mod window;

pub use server::{Config, Server, ServerError};
