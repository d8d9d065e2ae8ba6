//! Runs the committed corpora of the engine's fuzz targets (`fuzz/corpus/`
//! `config_yaml` and `engine_state`; `trace_csv` is placer-lab's) as ordinary tests, with the
//! same checks as the targets, so every input that was ever interesting keeps
//! being checked on a stable toolchain.
//!
//! A file named `valid-*` must be accepted and one named `invalid-*` (or,
//! for configs, `cli-*`: sections only the CLI knows) must be refused; any
//! other name (inputs the fuzzer found) only has to pass the checks.

#[path = "../../fuzz/checks/corpus.rs"]
mod corpus;

use corpus::{run_corpus, Verdict};

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
