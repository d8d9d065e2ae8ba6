//! # placer-lab
//!
//! Everything offline around the [`placer_core`] engine: recorded and
//! generated traffic, replaying it through the engine, and judging the
//! result. Its users are the `fly-placer` CLI (`gen-trace`, `backtest`,
//! `recommend`, and simulated traffic for a first run), the benchmarks and
//! tests; it uses the engine's public API only, so anything done here can be
//! done by any embedder.
//!
//! - [`trace`]: a [`Trace`] is a sequence of traffic snapshots, one per tick,
//!   with a CSV form.
//! - [`scenario`]: six named synthetic traffic shapes, generated from a seed.
//! - [`backtest`]: replay a trace through the engine's own tick code with an
//!   in-memory source and actuator; the deployed set per tick is a
//!   [`Timeline`].
//! - [`seed_rule`]: the seed project's rule as shipped, for comparison.
//! - [`quality`]: the placement-quality report, with its reference rows
//!   (static, seed, best-static-K, oracle-K), found by [`FixedK`] on the
//!   engine's one facility-location solver.
//! - [`recommend`]: a one-off pick of the best `k` regions for some traffic.
//! - [`SimulatedSource`]: made-up traffic so a service runs out of the box.
//!
//! ```
//! # futures::executor::block_on(async {
//! use std::time::Duration;
//! use placer_core::{network::LatencyModel, PlacerConfig, Region};
//! use placer_lab::{backtest, quality, scenario};
//!
//! let hour = Duration::from_secs(3600);
//! let trace = scenario::generate(scenario::Scenario::FlashCrowd, hour, 7, scenario::DEFAULT_STEP)?;
//! let initial = ["iad".parse::<Region>()?].into();
//! let replay = backtest::replay(&PlacerConfig::default(), &trace, &initial, |_| {}).await?;
//! let model = LatencyModel::distance();
//! let report =
//!     quality::report(&trace, "threshold", &replay.timeline, &model, &Default::default())?;
//! assert!(report.rows.iter().any(|row| row.policy == "oracle-K"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod backtest;
mod fixed_k;
pub mod quality;
pub mod recommend;
pub mod regions;
pub mod scenario;
pub mod seed_rule;
mod simulated;
mod timeline;
pub mod trace;
pub mod window;

pub use fixed_k::{set_cost, FixedK, Pick, WeightError};
pub use quality::{QualityOptions, QualityReport, QualityRow};
pub use seed_rule::{replay_seed_rule, SeedDecision, SeedRule, SeedRuleParams};
pub use simulated::{DeployedRegions, SimulatedSource};
pub use timeline::Timeline;
pub use trace::{Trace, TraceError};
