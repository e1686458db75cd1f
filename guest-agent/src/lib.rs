//! The guest agent: runs inside every qube as the Wayland compositor of that qube's apps,
//! flattens each toplevel and popup into one window image, writes the damaged pixels into
//! the shared-memory arena and tells dom0 about its windows over the `bulkhead-protocol`
//! wire. Built by the frame-path issue; today this crate holds nothing else.
#![forbid(unsafe_code)]
