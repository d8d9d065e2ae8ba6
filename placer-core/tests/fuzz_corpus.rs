//! Runs the committed corpora of the engine's fuzz targets (`fuzz/corpus/`
//! `config_yaml` and `engine_state`; `trace_csv` is placer-lab's) as ordinary tests, with the
//! same checks as the targets, so every input that was ever interesting keeps
//! being checked on a stable toolchain.
//!
//! A file named `valid-*` must be accepted and one named `invalid-*` (or,
//! for configs, `cli-*`: sections only the CLI knows) must be refused; any
//! other name (inputs the fuzzer found) only has to pass the checks.

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

// The checks are the fuzz targets' own, shared from fuzz/checks/.
#[cfg(feature = "yaml")]
#[path = "../../fuzz/checks/config_engine.rs"]
mod config_engine;
#[cfg(feature = "yaml")]
#[path = "../../fuzz/checks/config_error.rs"]
mod config_error;
#[path = "../../fuzz/checks/state.rs"]
mod state;

#[cfg(feature = "yaml")]
fn check_config(data: &[u8]) -> Verdict {
    let text = std::str::from_utf8(data).map_err(|err| err.to_string())?;
    config_engine::check_engine_config(text)
}

#[cfg(feature = "yaml")]
#[test]
fn config_yaml_corpus() {
    run_corpus("config_yaml", &["invalid-", "cli-"], check_config);
}

#[test]
fn engine_state_corpus() {
    run_corpus("engine_state", &["invalid-"], state::check_state);
}
