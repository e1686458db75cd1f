//! The dom0 compositor: one handler per qube connection (validate, then act), window
//! management, trust borders drawn outside guest pixels, focus-only input routing and the
//! mediated clipboard. Built by the frame-path and trust issues; today this crate holds
//! nothing else.
#![forbid(unsafe_code)]
