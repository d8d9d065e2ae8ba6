//! placer-fly: carries out fly-placer's placements on a Fly.io app, through
//! the [Machines API](https://fly.io/docs/machines/api/).
//!
//! - [`FlyMachinesActuator`] implements [`placer_core::RegionActuator`]: it
//!   reads which regions run the app from the API at every call, deploys a
//!   region by cloning a template machine into it, and removes one by
//!   destroying or stopping the machines fly-placer created there — never
//!   the app's last machine.
//! - Its errors say whether they are transient (HTTP 429 and 5xx, requests
//!   that got no answer, but never a create whose answer was lost) and how
//!   long the API asked to wait, so `placer_core::wrap::Retrying` retries
//!   them; [`TokioTimer`] runs that wrapper and `RateLimited` on tokio.
//! - Every request keeps to Fly's published limits per app and action
//!   ([`ApiLimits`], in the buckets of a [`RequestGate`] that actuators
//!   may share); a 429's `Retry-After` holds back only that app's action.
//!   A [`RequestCounter`] counts how the requests were answered (429s, 5xx,
//!   no answer), for the program's metrics.
//! - A machine is stopped, parked or destroyed under its lease; one whose
//!   lease another client holds is skipped for the tick.
//! - It reads which regions the platform places machines of the app's size
//!   in (`GET /v1/platform/regions`) about hourly and reports them to the
//!   engine; when they cannot be read, the built-in catalog stands in.
//! - With the `fake-api` feature, the `fake` module is a stateful fake of the
//!   Machines API on 127.0.0.1 for tests.
//!
//! ```no_run
//! # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::time::Duration;
//! use std::sync::Arc;
//! use placer_core::wrap::{RateLimited, RetryPolicy, Retrying};
//! use placer_core::RegionActuator;
//! use placer_fly::{ApiToken, FlyMachinesActuator, FlyOptions, TokioTimer};
//!
//! // An app-scoped deploy token: `fly tokens create deploy -a my-app`.
//! let token = ApiToken::new(std::env::var("FLY_API_TOKEN")?);
//! let mut options = FlyOptions::new("my-app".parse()?, token);
//! options.wait_for_start = Some(Duration::from_secs(60));
//!
//! let timer = Arc::new(TokioTimer::new());
//! // Fly's per-app limits are kept inside; `RateLimited` adds an optional
//! // cap on calls of its own.
//! let actuator = Retrying::new(
//!     RateLimited::new(FlyMachinesActuator::new(options)?, 5.0, 10, timer.clone()),
//!     RetryPolicy::default(),
//!     timer,
//! );
//! println!("running in {:?}", actuator.deployed_regions().await?);
//! actuator.deploy(&"fra".parse()?).await?;
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod actuator;
mod client;
mod counts;
mod error;
#[cfg(feature = "fake-api")]
pub mod fake;
mod gate;
mod ledger;
mod limits;
mod machine;
mod naming;
mod options;
mod org;
mod platform;
mod standby;
mod timer;
mod token;

pub use actuator::{FlyMachinesActuator, BACKEND, LEASED_ELSEWHERE, LISTING_REUSE};
pub use client::LEASE_NONCE_HEADER;
pub use counts::{RequestCounter, RequestCounts};
pub use error::{FlyError, Operation, Target, INSUFFICIENT_CAPACITY};
pub use gate::{Admission, RequestGate};
pub use limits::{ApiLimits, Limit};
pub use machine::{parse_machine_list, CheckStatus, Machine, MachineConfig};
pub use options::{
    FlyOptions, RateLimitOptions, RemovalMode, DEFAULT_PLATFORM_REGIONS_REFRESH, INTERNAL_API_URL,
    MANAGED_KEY, MANAGED_VALUE, PARKED_KEY, PROCESS_GROUP_KEY, PUBLIC_API_URL, ROLE_KEY,
    ROLE_RUNNING, ROLE_STANDBY,
};
pub use org::OrgApps;
pub use platform::PlatformRegionsCache;
pub use standby::standby_warnings;
pub use timer::TokioTimer;
pub use token::{authorization_header, ApiToken};
