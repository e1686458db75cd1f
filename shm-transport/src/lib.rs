//! The shared-memory channel (being written; see issue 2).
#![allow(unsafe_code)]
