//! What the desktop tests share beyond the fixture in `bulkhead_tests`.
#![allow(dead_code)]

/// The guest agent's small Wayland test client (a toplevel of known colours, subsurfaces,
/// xdg_popups), shared by path rather than copied: it stays one file, owned by the agent.
#[path = "../../../guest-agent/tests/common/client.rs"]
pub mod client;
