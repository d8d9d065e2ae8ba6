//! Runs the committed fuzz corpus through the machine-list parser, so the
//! cases the fuzzer starts from are checked on every test run.

#[path = "../../../fuzz/checks/corpus.rs"]
mod committed;

#[test]
fn the_fuzz_corpus_parses_as_its_names_say() {
    let mut seen = 0;
    for (name, body) in committed::corpus_files("fly_machines") {
        let parsed = placer_fly::parse_machine_list(&body);
        if name.starts_with("valid-") {
            let machines = parsed.unwrap_or_else(|err| panic!("{name}: {err}"));
            assert!(machines.iter().all(|m| !m.id.is_empty()), "{name}");
        } else if name.starts_with("invalid-") {
            let err = parsed.expect_err(&name);
            assert!(err.to_string().contains("line"), "{name}: {err}");
        }
        seen += 1;
    }
    assert!(
        seen >= 5,
        "expected the committed corpus in {}",
        committed::corpus_dir("fly_machines").display()
    );
}
