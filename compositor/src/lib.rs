//! The dom0 compositor of Bulkhead: the window model of every qube's windows, trust frames
//! drawn outside guest pixels, rendering with smithay's pixman renderer, the backends
//! (headless, nested winit, the DRM/KMS session) and the dom0 control socket.
//!
//! Layout (STYLE.md: decide in pure functions, act in a thin shell):
//! - [`desktop`]: the pure model (qubes, windows, stacking, focus, placement, layout math);
//! - [`render`]: turns the model into smithay render elements (frames, titles, content);
//! - [`backend`]: where frames go (`Headless` offscreen image, `Winit` nested window, `Drm`
//!   the real session: libseat, udev, libinput, KMS outputs);
//! - [`control`]: the control socket's request/response types and server;
//! - [`input`]: dom0's input decisions (keys to the focused qube only, the pointer only to
//!   the focused qube's window under it, click-to-focus, Super+drag, every Super chord and
//!   dom0's other shortcuts kept in dom0) as pure functions, the xkb
//!   keymap, and the shell that sends the decided events (real and injected alike);
//! - [`clipboard`]: the mediated clipboard (gesture, serial, policy, wipe) and its shell;
//! - [`notice`]: dom0's on-screen notices, drawn above every guest window;
//! - [`qube`]: one socket per qube, one connection per agent: decode, validate, then act;
//! - [`state`]: `State { backend, dom0, qubes }`, the split state the event loop drives;
//!   the connection handlers act through `Dom0::apply` and `Dom0::commit_frame`;
//! - [`window_policy`]: the per-qube window policy file (fullscreen allowed or not);
//! - [`cli`]: the binary's arguments.
//!
//! Log levels: `error!` is a bug in our code (or a renderer failure), `warn!` is bad input
//! from a qube or a peer (refused requests, bad control requests), `info!` is lifecycle
//! (outputs, sockets, screenshots), `debug!`/`trace!` are flow (requests, focus, frames).
#![forbid(unsafe_code)]

pub mod backend;
pub mod cli;
pub mod clipboard;
pub mod control;
pub mod desktop;
pub mod input;
pub mod notice;
pub mod qube;
pub mod render;
pub mod state;
pub mod window_policy;
