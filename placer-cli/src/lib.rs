//! placer-cli: the `fly-placer` service and command line.
//!
//! The binary is thin; everything lives here so tests and benchmarks can
//! reuse it. [`run`] takes parsed arguments and the environment and runs a
//! command.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod backends;
pub mod cli;
mod commands;
pub mod config;
pub mod runtime;
pub mod service;
pub mod store;

pub use cli::logging;
pub use cli::{Cli, EXIT_BAD_SETTINGS, EXIT_FAILURE, EXIT_LOCKED, EXIT_OK};
pub use commands::run;
pub use config::environment::Environment;
pub use config::file::parse as parse_config;
pub use placer_core::Secret;
pub use placer_lab::{DeployedRegions, SimulatedSource};
pub use runtime::{AppRunner, Inputs, StartError, TickError, TickResult};
pub use service::{serve, Service, CONFIG_POLL_INTERVAL};
#[cfg(feature = "etcd")]
pub use store::etcd::EtcdStore;
pub use store::{
    load_json, save_json, Leadership, Restored, Role, StateItem, StateKey, StateStore, StateUrl,
    StoreError, StoreSettings,
};

#[cfg(test)]
mod layers_test;
