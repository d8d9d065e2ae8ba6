//! Runs the committed corpus of the trace reader's fuzz target
//! (`fuzz/corpus/trace_csv`) as an ordinary test, with the target's own
//! check, so every input that was ever interesting keeps being checked on a
//! stable toolchain.
//!
//! A file named `valid-*` must be accepted and one named `invalid-*` must be
//! refused; any other name (inputs the fuzzer found) only has to pass the
//! check.

use std::panic::{catch_unwind, AssertUnwindSafe};

#[path = "../../fuzz/checks/corpus.rs"]
mod corpus;

/// What a check made of one input: `Ok` when the reader accepted it, the
/// reader's error otherwise.
type Verdict = Result<(), String>;

/// Runs `check` on every file of `target`'s corpus and holds it to what the
/// file's name promises.
fn run_corpus(target: &str, refused_prefixes: &[&str], check: impl Fn(&[u8]) -> Verdict) {
    let mut accepted_count = 0;
    let mut refused_count = 0;
    for (name, data) in corpus::corpus_files(target) {
        let verdict = catch_unwind(AssertUnwindSafe(|| check(&data)))
            .unwrap_or_else(|_| panic!("{target}/{name}: a check panicked (see above)"));
        if let (true, Err(reason)) = (name.starts_with("valid-"), &verdict) {
            panic!("{target}/{name} should be accepted, was refused: {reason}");
        }
        if refused_prefixes
            .iter()
            .any(|prefix| name.starts_with(prefix))
        {
            assert!(verdict.is_err(), "{target}/{name} should be refused");
        }
        if verdict.is_ok() {
            accepted_count += 1;
        } else {
            refused_count += 1;
        }
    }
    // A corpus needs both kinds to exercise the reader and the checks.
    assert!(accepted_count > 0, "{target}: no input is accepted");
    assert!(refused_count > 0, "{target}: no input is refused");
}

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
