//! Runs the committed fuzz corpus through the machine-list parser, so the
//! cases the fuzzer starts from are checked on every test run.

use std::path::PathBuf;

#[test]
fn the_fuzz_corpus_parses_as_its_names_say() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/corpus/fly_machines");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|err| panic!("{}: {err}", dir.display())) {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let body = std::fs::read(&path).unwrap();
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
        dir.display()
    );
}
