//! Shared helpers for Bulkhead's cross-crate integration tests.
//!
//! - [`desktop`]: the host desktop fixture (DESIGN.md, test tier 2): a headless
//!   `bulkhead-compositor` and one `bulkhead-guest-agent` per qube as host processes in a
//!   private `XDG_RUNTIME_DIR`, real Wayland clients started against the agents, the control
//!   socket polled with a deadline, every process killed when the fixture is dropped.
//! - [`screen`]: the compositor's PNG screenshots decoded, and the checks of a window's
//!   trust frame pixel by pixel.
#![forbid(unsafe_code)]

pub mod desktop;
pub mod screen;
