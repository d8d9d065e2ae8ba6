//! Wrappers that add behaviour to any [`RegionActuator`](crate::RegionActuator),
//! whatever the backend: [`Retrying`] (transient failures, with backoff),
//! [`RateLimited`] (a client-side token bucket) and [`ReadOnly`] (lists,
//! never changes). Each implements the trait itself, so they stack:
//!
//! ```
//! # futures::executor::block_on(async {
//! use std::sync::Arc;
//! use placer_core::wrap::{InstantTimer, RateLimited, RetryPolicy, Retrying};
//! use placer_core::{InMemoryActuator, RegionActuator};
//!
//! let timer = Arc::new(InstantTimer::new());
//! let actuator = Retrying::new(
//!     RateLimited::new(InMemoryActuator::new([]), 5.0, 10, timer.clone()),
//!     RetryPolicy::default(),
//!     timer,
//! );
//! actuator.deploy(&"fra".parse().unwrap()).await.unwrap();
//! # });
//! ```
//!
//! The engine reads no clock and starts no runtime, so waiting is left to a
//! [`Timer`] the program provides: placer-fly's `TokioTimer` in a tokio
//! program, [`InstantTimer`] in tests and simulations (it only counts the
//! time it was asked to wait).

mod rate_limit;
mod read_only;
mod retry;
mod timer;

pub use rate_limit::{RateLimited, RateLimiter};
pub use read_only::ReadOnly;
pub use retry::{RetryPolicy, Retrying};
pub use timer::{InstantTimer, Timer};

#[cfg(test)]
mod tests;
