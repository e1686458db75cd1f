//! The one-command demo (being written; see issue 2).
#![forbid(unsafe_code)]
fn main() {}
