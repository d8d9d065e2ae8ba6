//! Shared by the corpus tests (not by the targets): reading a target's
//! committed corpus.

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
