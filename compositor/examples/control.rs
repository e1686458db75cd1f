//! A minimal control-socket client for scripts (the DRM test guest uses it): sends each
//! request given as a JSON argument and prints each response as one JSON line.
//!
//! ```text
//! cargo run --example control -- /run/bulkhead/control.sock '{"cmd":"list-windows"}'
//! ```

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result, bail};
use bulkhead_compositor::control::{Request, send_requests};

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let Some(socket) = args.next() else {
        bail!("usage: control SOCKET REQUEST_JSON...");
    };
    let requests = args
        .map(|a| serde_json::from_str::<Request>(&a).with_context(|| format!("request {a}")))
        .collect::<Result<Vec<_>>>()?;
    let responses = send_requests(Path::new(&socket), &requests)
        .with_context(|| format!("control socket {socket}"))?;
    let mut out = std::io::stdout().lock();
    for r in responses {
        writeln!(out, "{}", serde_json::to_string(&r)?)?;
    }
    Ok(())
}
