//! placer-fly: carries out fly-placer's placements on a Fly.io app, through
//! the [Machines API](https://fly.io/docs/machines/api/).
//!
//! - [`FlyMachinesActuator`] implements [`placer_core::RegionActuator`]: it
//!   reads which regions run the app from the API at every call, deploys a
//!   region by cloning a template machine into it, and removes one by
//!   destroying or stopping the machines fly-placer created there — never
//!   the app's last machine.
//! - [`Retrying`] and [`RateLimited`] wrap any actuator: retries with
//!   backoff for transient API failures, and a client-side rate limit.
//! - [`DryRunActuator`] simulates a deployment in a state file, for
//!   `dry_run: true`.
//! - With the `fake-api` feature, the `fake` module is a stateful fake of the
//!   Machines API on 127.0.0.1 for tests.
//!
//! ```no_run
//! # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use placer_core::{ApiToken, RegionActuator};
//! use placer_fly::{FlyMachinesActuator, FlySettings, RateLimited, RetryPolicy, Retrying};
//!
//! // An app-scoped deploy token: `fly tokens create deploy -a my-app`.
//! let token = ApiToken::new(std::env::var("FLY_API_TOKEN")?);
//! let mut settings = FlySettings::new("my-app", token);
//! settings.wait_for_start = Some(Duration::from_secs(60));
//!
//! let actuator = Retrying::new(
//!     RateLimited::new(FlyMachinesActuator::new(settings)?, 1.0, 3),
//!     RetryPolicy::default(),
//! );
//! println!("running in {:?}", actuator.deployed_regions().await?);
//! actuator.deploy(&"fra".parse()?).await?;
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod actuator;
mod client;
mod dry_run;
mod error;
#[cfg(feature = "fake-api")]
pub mod fake;
mod ledger;
mod machine;
mod rate_limit;
mod retry;
mod settings;
pub mod state_file;

pub use actuator::{FlyMachinesActuator, BACKEND};
pub use dry_run::{DryRunActuator, DryRunError};
pub use error::{FlyError, Operation, Target};
pub use machine::{parse_machine_list, CheckStatus, Machine, MachineConfig};
pub use rate_limit::RateLimited;
pub use retry::{retry_advice, RetryAdvice, RetryPolicy, Retrying};
pub use settings::{
    validate_app_name, FlySettings, RemovalMode, INTERNAL_API_URL, MANAGED_KEY, MANAGED_VALUE,
    PARKED_KEY, PROCESS_GROUP_KEY, PUBLIC_API_URL,
};
