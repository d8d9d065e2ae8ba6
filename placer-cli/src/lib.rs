//! placer-cli: the `fly-placer` service and command line.
//!
//! The binary is thin: it parses the flags ([`Cli`]), sets up logging
//! ([`logging::init`]) and hands both, with the [`Environment`], to
//! [`run`], which runs the command and returns its exit code.
//!
//! Inside, the crate is in layers, each a private module that imports only
//! the ones before it: `cli` (flags, exit codes) < `store` (where state is
//! kept) < `config` (the settings in force) < `backends` (traffic source
//! and actuator) < `runtime` (one app at work) < `service` (the process)
//! < `commands`. A unit test reads every file's `crate::` paths and fails
//! on one that goes the wrong way.
//!
//! What else is exported is what the tests and the fuzz checks use: the
//! state store seam and its etcd store, and the config file's parser.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod backends;
mod cli;
mod commands;
mod config;
mod runtime;
mod service;
mod store;

pub use cli::logging;
pub use cli::{Cli, EXIT_BAD_SETTINGS, EXIT_FAILURE, EXIT_LOCKED, EXIT_OK};
pub use commands::run;
pub use config::environment::Environment;
pub use config::file::parse as parse_config;
pub use placer_core::secret::Secret;
#[cfg(feature = "etcd")]
pub use store::etcd::EtcdStore;
pub use store::{
    load_json, save_json, Leadership, NotLeader, Restored, Role, StateItem, StateKey, StateStore,
    StateUrl, StoreError, StoreSettings,
};

#[cfg(test)]
mod layers_test;
