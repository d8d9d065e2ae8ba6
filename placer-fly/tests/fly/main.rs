//! Integration tests of placer-fly, against the fake Machines API on
//! 127.0.0.1 (never the real one).

mod actuator;
mod api_limits;
mod capacity;
mod conformance;
mod consistency;
mod contract;
mod corpus;
mod idempotent;
mod leases;
mod platform;
mod properties;
mod rate_limit;
mod removal;
mod retry;
mod scaling;
mod secrets;
mod snapshots;
mod support;
