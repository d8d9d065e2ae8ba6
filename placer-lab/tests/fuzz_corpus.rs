//! Runs the committed corpus of the trace reader's fuzz target
//! (`fuzz/corpus/trace_csv`) as an ordinary test, with the target's own
//! check, so every input that was ever interesting keeps being checked on a
//! stable toolchain.
//!
//! A file named `valid-*` must be accepted and one named `invalid-*` must be
//! refused; any other name (inputs the fuzzer found) only has to pass the
//! check.

#[path = "../../fuzz/checks/corpus.rs"]
mod corpus;

use corpus::{run_corpus, Verdict};

// The check is the fuzz target's own, shared from fuzz/checks/.
#[path = "../../fuzz/checks/trace.rs"]
mod trace;

fn check_trace(data: &[u8]) -> Verdict {
    let text = std::str::from_utf8(data).map_err(|err| err.to_string())?;
    trace::check_trace(text)
}

#[test]
fn trace_csv_corpus() {
    run_corpus("trace_csv", &["invalid-"], check_trace);
}
