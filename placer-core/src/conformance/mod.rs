//! Conformance suites every implementation of the engine's traits must pass.
//!
//! Each backend's tests call these functions with a freshly built instance,
//! so the in-memory, dry-run, Fly and Prometheus implementations are held to
//! one contract.
//!
//! Behind the `conformance` feature: backends enable it in their
//! `dev-dependencies`, so the engine itself does not carry the suites.
//!
//! [`MockSource`] and [`MockActuator`] are mockall mocks of the two traits,
//! declared once here for every crate's tests that script what a backend
//! answers and check what the engine or a wrapper asks of it.

mod actuator;
mod mocks;
mod source;

pub use mocks::{MockActuator, MockSource};

#[allow(unused_imports)]
pub use actuator::*;
#[allow(unused_imports)]
pub use source::*;
