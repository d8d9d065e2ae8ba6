//! Shared by the integration tests that run real Prometheus-compatible servers.
#![allow(dead_code)] // each test binary uses its own part of the helpers

pub mod backend;
pub mod checks;
pub mod stub;
pub mod traffic;
