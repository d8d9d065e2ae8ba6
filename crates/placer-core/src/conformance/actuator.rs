//! Conformance checks for `RegionActuator` implementations.
