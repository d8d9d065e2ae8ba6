//! The network the engine reasons about: where Fly's regions are
//! ([`geo`]), how long a round trip between two of them takes
//! ([`LatencyModel`], [`RttTable`]), which of them take machines now
//! ([`platform`]), and which regions serve a set of users
//! best ([`solver`], the one facility-location solver).
//!
//! The latency policy decides with these; offline tools (backtests, quality
//! reports, recommendations) use the same pieces, so a reference placement
//! and a live one are found the same way.

pub mod geo;
pub mod platform;
mod rtt;
mod rtt_table;
pub mod solver;

pub use rtt::{
    nearest_deployed, LatencyMatrixError, LatencyModel, BASE_RTT_MS, RTT_MS_PER_KM,
    UNCATALOGUED_RTT_MS, UNSERVED_RTT_MS,
};
pub use rtt_table::RttTable;
