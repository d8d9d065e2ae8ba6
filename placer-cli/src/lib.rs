//! placer-cli: the `fly-placer` service and command line.
//!
//! The binary is thin; everything lives here so tests and benchmarks can
//! reuse it. [`run`] takes parsed arguments and the environment and runs a
//! command. The pieces, one concept each:
//!
//! - [`cli`]: commands and flags; [`environment`]: the variables read;
//!   [`settings`]: the `service:`, `prometheus:`, `fly:` and `simulation:`
//!   sections of the config file; [`config_file`]: reading it;
//!   [`resolve`]: flags + environment + file → the settings in force.
//! - [`backends`]: the traffic source and actuator those settings name;
//!   [`SimulatedSource`] (from placer-lab): traffic for running out of the
//!   box.
//! - [`data_lock`]: one active placer per data directory.
//! - [`state_store`]: where engine state is kept (files, or etcd shared by
//!   several placers) and which placer leads.
//! - [`runtime`]: one app at work. [`AppRunner`] holds the app's placer,
//!   backends, stored state ([`runtime::store`]) and config; it ticks one at
//!   a time and applies a changed config to itself.
//! - [`service`]: the process. [`Service`] holds the runners by app name
//!   (one, or several with an `apps:` section: [`apps`]), the config file watch ([`service::reload`]), metrics
//!   ([`service::metrics`]), the endpoints' documents
//!   ([`service::status`]), the API ([`service::http`]) and [`serve()`]: the
//!   server with its periodic loop and graceful shutdown.
//! - `gen-trace`, `backtest` and `recommend` work on recorded or generated
//!   traffic: they wire trace files and Prometheus history to placer-lab's
//!   scenarios, replay, quality report and recommendation.
//!
//! Imports go one way: the commands use the service, the service uses the
//! runtime, the runtime uses the settings and backends.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod apps;
pub mod apps_traffic;
pub mod backends;
pub mod cli;
mod commands;
pub mod config_file;
pub mod data_lock;
pub mod effective;
pub mod environment;
mod log_lines;
pub mod logging;
mod offline;
pub mod resolve;
pub mod runtime;
pub mod service;
pub mod settings;
pub mod state_store;

pub use cli::Cli;
pub use commands::{run, EXIT_BAD_SETTINGS, EXIT_FAILURE, EXIT_LOCKED, EXIT_OK};
pub use environment::Environment;
pub use placer_core::secret::Secret;
pub use placer_lab::{DeployedRegions, SimulatedSource};
pub use runtime::{AppRunner, Inputs, Role, StartError, TickError, TickResult};
pub use service::{serve, Service, CONFIG_POLL_INTERVAL};
