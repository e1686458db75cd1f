//! Qube labels and their colours (being written; see issue 2).
#![forbid(unsafe_code)]
