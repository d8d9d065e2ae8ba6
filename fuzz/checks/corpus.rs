//! Shared by the corpus tests (not by the targets): reading a target's
//! committed corpus, and holding a check to what each file's name promises.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

/// Every file of `target`'s corpus (`fuzz/corpus/<target>/`) as its name and
/// bytes, in name order. Panics, naming the folder, when it cannot be read
/// or holds no file. The including test crate sits in `<name>/` at the top level.
pub fn corpus_files(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = corpus_dir(target);
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
    paths
        .into_iter()
        .map(|path| {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&path).unwrap())
        })
        .collect()
}

/// `fuzz/corpus/<target>/`, from the including crate's folder.
pub fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target)
}

/// What a check made of one input: `Ok` when the reader accepted it, the
/// reader's error otherwise.
#[allow(dead_code)] // Only the corpus tests that run a check use it.
pub type Verdict = Result<(), String>;

/// Runs `check` on every file of `target`'s corpus and holds it to what the
/// file's name promises: a `valid-*` file must be accepted, one starting
/// with any of `refused_prefixes` refused.
#[allow(dead_code)] // Only the corpus tests that run a check use it.
pub fn run_corpus(target: &str, refused_prefixes: &[&str], check: impl Fn(&[u8]) -> Verdict) {
    let mut accepted_count = 0;
    let mut refused_count = 0;
    for (name, data) in corpus_files(target) {
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
