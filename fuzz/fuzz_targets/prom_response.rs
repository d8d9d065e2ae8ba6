//! Feeds arbitrary bytes to the Prometheus response parser.
//!
//! Whatever the body, parsing must return `Ok` or `Err`, never panic (nor
//! may printing what it returned), and
//! whatever it accepts must be usable traffic: finite, non-negative counts.
//! Run with `cargo +nightly fuzz run prom_response` from this directory; the
//! committed corpus under `corpus/prom_response/` is the starting point.
#![no_main]

use libfuzzer_sys::fuzz_target;
use placer_core::Timestamp;
use placer_prom::{parse_response, QueryOutcome};

fuzz_target!(|body: &[u8]| {
    let parsed = match parse_response(body, "region") {
        Ok(parsed) => parsed,
        Err(err) => {
            let _ = err.to_string();
            return;
        }
    };
    let _ = format!("{parsed:?}");
    for snapshot in &parsed.snapshots {
        for (_, count) in snapshot.iter() {
            assert!(
                count.is_finite() && count >= 0.0,
                "unusable count {count} accepted"
            );
        }
    }
    let at = Timestamp::from_unix_seconds(1_800_000_000);
    match QueryOutcome::from_instant(parsed, at) {
        Ok(outcome) => {
            assert_eq!(outcome.snapshot.at(), at);
            let _ = format!("{outcome:?}");
        }
        Err(err) => {
            let _ = err.to_string();
        }
    }
});
