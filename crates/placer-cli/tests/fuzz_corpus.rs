//! Runs the `config_yaml` fuzz target's committed corpus
//! (`fuzz/corpus/config_yaml/`) through the whole-file config reader as an
//! ordinary test, with the target's checks on the CLI side.
//!
//! `valid-*` and `cli-valid-*` files must be accepted, `invalid-*` and
//! `cli-invalid-*` files refused; other names (inputs the fuzzer found) only
//! have to pass the checks.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use placer_cli::config_file::parse;
use placer_core::config::{from_yaml, ConfigError};

fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/config_yaml")
}

// Repeats the CLI half of fuzz/fuzz_targets/config_yaml.rs; keep them in step.
fn check(text: &str) -> Result<(), String> {
    let whole_file = parse(text, Path::new("fuzz.yml"));
    match &whole_file {
        Ok(loaded) => loaded
            .engine
            .validate()
            .expect("a config the CLI accepts is valid"),
        Err(err) => check_error(err, text),
    }
    if let Ok(config) = from_yaml(text, "fuzz.yml") {
        let loaded = whole_file
            .as_ref()
            .expect("the CLI accepts what the engine accepts");
        assert_eq!(loaded.engine, config);
    }
    whole_file.map(|_| ()).map_err(|err| err.to_string())
}

fn check_error(err: &ConfigError, text: &str) {
    let message = err.to_string();
    assert!(message.starts_with("fuzz.yml"), "{message}");
    if let Some(line) = err.line() {
        assert!(
            line >= 1 && line <= yaml_lines(text) + 1,
            "line {line} is outside the text: {message}"
        );
    }
}

/// Lines as the YAML parser numbers them: a line ends at `\r\n`, `\n`, a
/// lone `\r`, or one of the Unicode breaks NEL, LS and PS.
fn yaml_lines(text: &str) -> usize {
    let breaks = text
        .replace("\r\n", "\n")
        .chars()
        .filter(|c| matches!(c, '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}'))
        .count();
    breaks + 1
}

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
