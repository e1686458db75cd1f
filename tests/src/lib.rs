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

use std::path::PathBuf;

/// Where the QEMU test hosts are built (`hypervisor-glue/testhost/build.sh`,
/// `compositor/tests/drm-testhost/build.sh`): `$BULKHEAD_CACHE`, else
/// `$XDG_CACHE_HOME/bulkhead/testhost`, else `~/.cache/bulkhead/testhost` — the scripts'
/// own default.
pub fn testhost_cache() -> PathBuf {
    let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(cache) = var("BULKHEAD_CACHE") {
        return PathBuf::from(cache);
    }
    let base = var("XDG_CACHE_HOME").map_or_else(
        || PathBuf::from(var("HOME").unwrap_or_else(|| "/".into())).join(".cache"),
        PathBuf::from,
    );
    base.join("bulkhead/testhost")
}
