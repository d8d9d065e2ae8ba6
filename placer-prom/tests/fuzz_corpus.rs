//! Runs the fuzz target's committed corpus (`fuzz/corpus/prom_response/`)
//! through the parser as an ordinary test, so every input that was ever
//! interesting keeps being checked without a fuzzing toolchain.

use placer_core::Timestamp;
use placer_prom::{parse_response, QueryOutcome};

#[path = "../../fuzz/checks/corpus.rs"]
mod corpus;

#[test]
fn every_corpus_input_is_parsed_or_refused_without_panicking() {
    let inputs = corpus::corpus_files("prom_response");
    assert!(
        inputs.len() >= 20,
        "the corpus at {} looks incomplete",
        corpus::corpus_dir("prom_response").display()
    );

    let at = Timestamp::from_unix_seconds(1_800_000_000);
    let mut accepted = 0;
    for (name, body) in &inputs {
        let outcome = std::panic::catch_unwind(|| {
            let parsed = parse_response(body, "region")?;
            for snapshot in &parsed.snapshots {
                for (region, count) in snapshot.iter() {
                    assert!(
                        count.is_finite() && count >= 0.0,
                        "{name}: unusable count {count} for {region} accepted"
                    );
                }
            }
            // What a tick does with an answer: it reports it, or the
            // error, in words.
            let _ = format!("{parsed:?}");
            let outcome = QueryOutcome::from_instant(parsed, at);
            let _ = format!("{outcome:?}");
            outcome.map(|_| ())
        });
        match outcome {
            Ok(Ok(())) => accepted += 1,
            Ok(Err(refused)) => {
                let _ = refused.to_string();
            }
            Err(_) => panic!("the parser panicked on {name}"),
        }
    }
    // The corpus holds good answers as well as broken ones.
    assert!(accepted >= 5, "only {accepted} corpus inputs were accepted");
}
