//! Conformance checks for `MetricsSource` implementations.
