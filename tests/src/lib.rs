//! Shared helpers for Bulkhead's cross-crate integration tests.
#![forbid(unsafe_code)]
