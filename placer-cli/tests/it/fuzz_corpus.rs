//! Runs the `config_yaml` fuzz target's committed corpus
//! (`fuzz/corpus/config_yaml/`) through the whole-file config reader as an
//! ordinary test, with the target's checks on the CLI side.
//!
//! `valid-*` and `cli-valid-*` files must be accepted, `invalid-*` and
//! `cli-invalid-*` files refused; other names (inputs the fuzzer found) only
//! have to pass the checks.

use std::panic::{catch_unwind, AssertUnwindSafe};

#[path = "../../../fuzz/checks/corpus.rs"]
mod corpus;

// The target's own checks, shared from fuzz/checks/.
#[path = "../../../fuzz/checks/config_cli.rs"]
mod config_cli;
#[path = "../../../fuzz/checks/config_error.rs"]
mod config_error;

use config_cli::check_cli_config as check;

#[test]
fn config_yaml_corpus_through_the_whole_file_reader() {
    let files = corpus::corpus_files("config_yaml");
    let mut accepted = 0;
    for (name, bytes) in &files {
        let expect_accepted = name.starts_with("valid-") || name.starts_with("cli-valid-");
        let expect_refused = name.starts_with("invalid-") || name.starts_with("cli-invalid-");
        let Ok(text) = std::str::from_utf8(bytes) else {
            // A config file is text; the reader never sees other bytes.
            assert!(!expect_accepted, "{name} is not UTF-8");
            continue;
        };
        let verdict = catch_unwind(AssertUnwindSafe(|| check(text)))
            .unwrap_or_else(|_| panic!("{name}: a check panicked (see above)"));
        match verdict {
            Ok(()) => {
                assert!(!expect_refused, "{name} should be refused");
                accepted += 1;
            }
            Err(reason) => assert!(
                !expect_accepted,
                "{name} should be accepted, was refused: {reason}"
            ),
        }
    }
    assert!(accepted > 0, "no corpus input is accepted");
    assert!(accepted < files.len(), "no corpus input is refused");
}
