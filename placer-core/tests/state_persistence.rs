//! A persisted engine state reads back exactly: every count and average the
//! engine computed survives a write and a read bit for bit, so a restart
//! does not change what the engine decides.

use placer_core::config::ThresholdMode;
use placer_core::{EngineState, Placer, PlacerConfig, Timestamp, TrafficSnapshot};
use proptest::prelude::*;

proptest! {
    #[test]
    fn written_state_reads_back_bit_for_bit(
        ticks in prop::collection::vec(
            prop::collection::vec((0usize..4, 0.0f64..1e9), 0..4),
            1..30,
        ),
    ) {
        let config = PlacerConfig::default().with_thresholds(ThresholdMode::VolatilityAware);
        let codes = ["iad", "fra", "syd", "gru"];
        let mut placer = Placer::new(config).unwrap();
        for (index, counts) in ticks.iter().enumerate() {
            let at = Timestamp::from_unix_seconds(1_800_000_000 + 60 * index as i64);
            let mut counts: Vec<(&str, f64)> =
                counts.iter().map(|&(code, n)| (codes[code], n)).collect();
            counts.sort_by_key(|&(code, _)| code);
            counts.dedup_by_key(|&mut (code, _)| code);
            placer.observe(&TrafficSnapshot::new(at, counts).unwrap());
        }
        let state = placer.state();
        let json = serde_json::to_string(&state).unwrap();
        let restored: EngineState = serde_json::from_str(&json).unwrap();
        prop_assert_eq!(&restored, state);
    }
}
