//! Fuzzes the trace CSV reader: any text must give a trace or an error,
//! never a panic, and a trace that is accepted must read back equal from
//! its own `to_csv`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use placer_core::Trace;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let trace = match Trace::from_csv(text) {
        Ok(trace) => trace,
        Err(err) => {
            let _ = err.to_string();
            return;
        }
    };
    assert!(!trace.is_empty());
    assert!(!trace.tick_interval().is_zero());
    for pair in trace.ticks().windows(2) {
        assert!(pair[0].at() < pair[1].at(), "ticks out of order");
    }
    for snapshot in trace.ticks() {
        for (_, requests) in snapshot.iter() {
            assert!(requests.is_finite() && requests >= 0.0);
        }
    }
    let written = trace.to_csv();
    let again = Trace::from_csv(&written)
        .unwrap_or_else(|err| panic!("written trace is refused: {err}\n{written}"));
    assert_eq!(
        again, trace,
        "written trace reads back different\n{written}"
    );
});
