//! Conformance suites every implementation of the engine's traits must pass.
//!
//! Each backend's tests call these functions with a freshly built instance,
//! so the in-memory, dry-run, Fly and Prometheus implementations are held to
//! one contract.

mod actuator;
mod source;

#[allow(unused_imports)]
pub use actuator::*;
#[allow(unused_imports)]
pub use source::*;
