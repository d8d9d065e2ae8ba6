//! Helpers shared by the unit tests of the planner and the policies.

use crate::{EngineState, PlacerConfig, Region, Timestamp, TrafficSnapshot};

/// When the recorded history starts.
pub(crate) const T0: i64 = 1_800_000_000;

/// A region from its code.
pub(crate) fn r(code: &str) -> Region {
    code.parse().unwrap()
}

/// Records `ticks` observations of the same per-region traffic, one a
/// minute from [`T0`].
pub(crate) fn state_with(
    config: &PlacerConfig,
    traffic: &[(&str, f64)],
    ticks: usize,
) -> EngineState {
    let mut state = EngineState::default();
    for i in 0..ticks {
        let at = Timestamp::from_unix_seconds(T0 + 60 * i as i64);
        state.record(
            &TrafficSnapshot::new(at, traffic.iter().copied()).unwrap(),
            config,
        );
    }
    state
}
