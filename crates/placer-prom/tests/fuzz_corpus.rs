//! Runs the fuzz target's committed corpus (`fuzz/corpus/prom_response/`)
//! through the parser as an ordinary test, so every input that was ever
//! interesting keeps being checked without a fuzzing toolchain.

use std::path::PathBuf;

use placer_core::Timestamp;
use placer_prom::{parse_response, QueryOutcome};

fn corpus_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/prom_response")
}

#[test]
fn every_corpus_input_is_parsed_or_refused_without_panicking() {
    let dir = corpus_dir();
    let mut inputs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot read the corpus at {}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_file())
        .collect();
    inputs.sort();
    assert!(
        inputs.len() >= 20,
        "the corpus at {} looks incomplete",
        dir.display()
    );

    let at = Timestamp::from_unix_seconds(1_800_000_000);
    let mut accepted = 0;
    for path in &inputs {
        let body = std::fs::read(path).unwrap();
        let outcome = std::panic::catch_unwind(|| {
            let parsed = parse_response(&body, "region")?;
            for snapshot in &parsed.snapshots {
                for (region, count) in snapshot.iter() {
                    assert!(
                        count.is_finite() && count >= 0.0,
                        "{}: unusable count {count} for {region} accepted",
                        path.display()
                    );
                }
            }
            QueryOutcome::from_instant(parsed, at).map(|_| ())
        });
        match outcome {
            Ok(Ok(())) => accepted += 1,
            Ok(Err(_refused)) => {}
            Err(_) => panic!("the parser panicked on {}", path.display()),
        }
    }
    // The corpus holds good answers as well as broken ones.
    assert!(accepted >= 5, "only {accepted} corpus inputs were accepted");
}
