//! Runs the `config_yaml` fuzz target's committed corpus
//! (`fuzz/corpus/config_yaml/`) through the whole-file config reader as an
//! ordinary test, with the target's checks on the CLI side.
//!
//! `valid-*` and `cli-valid-*` files must be accepted, `invalid-*` and
//! `cli-invalid-*` files refused; other names (inputs the fuzzer found) only
//! have to pass the checks.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/config_yaml")
}

// The target's own checks, shared from fuzz/checks/.
#[path = "../../../fuzz/checks/config_cli.rs"]
mod config_cli;
#[path = "../../../fuzz/checks/config_error.rs"]
mod config_error;

use config_cli::check_cli_config as check;

#[test]
fn config_yaml_corpus_through_the_whole_file_reader() {
    let dir = corpus_dir();
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read the corpus at {}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_file())
        .collect();
    paths.sort();
    assert!(
        !paths.is_empty(),
        "the corpus at {} is empty",
        dir.display()
    );

    let mut accepted = 0;
    for path in &paths {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let expect_accepted = name.starts_with("valid-") || name.starts_with("cli-valid-");
        let expect_refused = name.starts_with("invalid-") || name.starts_with("cli-invalid-");
        let bytes = std::fs::read(path).unwrap();
        let Ok(text) = std::str::from_utf8(&bytes) else {
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
    assert!(accepted < paths.len(), "no corpus input is refused");
}
