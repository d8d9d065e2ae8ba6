//! Shared by the fuzz target and the corpus test: the trace CSV reader.

use placer_lab::Trace;

/// Reads `text` as a trace: an accepted trace is well-formed and reads back
/// equal from its own `to_csv`.
pub fn check_trace(text: &str) -> Result<(), String> {
    let trace = Trace::from_csv(text).map_err(|err| err.to_string())?;
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
    Ok(())
}
