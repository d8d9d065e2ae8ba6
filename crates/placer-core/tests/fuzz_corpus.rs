//! Runs the committed corpora of the engine's fuzz targets (`fuzz/corpus/`
//! `config_yaml`, `trace_csv` and `engine_state`) as ordinary tests, with the
//! same checks as the targets, so every input that was ever interesting keeps
//! being checked on a stable toolchain.
//!
//! A file named `valid-*` must be accepted and one named `invalid-*` (or,
//! for configs, `cli-*`: sections only the CLI knows) must be refused; any
//! other name (inputs the fuzzer found) only has to pass the checks.

use std::collections::BTreeSet;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

use placer_core::config::{from_yaml, ConfigError, PolicyKind, ThresholdMode};
use placer_core::{
    Action, EngineState, Placer, PlacerConfig, PlannedAction, Region, Timestamp, Trace,
};

/// Every file of one target's corpus, by name, in name order.
fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target);
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

/// What a check made of one input: `Ok` when the reader accepted it, the
/// reader's error otherwise.
type Verdict = Result<(), String>;

/// Runs `check` on every file of `target`'s corpus and holds it to what the
/// file's name promises.
fn run_corpus(target: &str, refused_prefixes: &[&str], check: impl Fn(&[u8]) -> Verdict) {
    let mut accepted_count = 0;
    let mut refused_count = 0;
    for (name, data) in corpus(target) {
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

// The checks below repeat those in fuzz/fuzz_targets/; keep them in step.

fn check_config(data: &[u8]) -> Verdict {
    let text = std::str::from_utf8(data).map_err(|err| err.to_string())?;
    match from_yaml(text, "fuzz.yml") {
        Ok(config) => {
            config.validate().expect("an accepted config is valid");
            let written = serde_yaml::to_string(&config).expect("a config serializes");
            let again = from_yaml(&written, "written.yml")
                .unwrap_or_else(|err| panic!("written config is refused: {err}\n{written}"));
            assert_eq!(
                again, config,
                "written config reads back different\n{written}"
            );
            Ok(())
        }
        Err(err) => {
            check_config_error(&err, text);
            Err(err.to_string())
        }
    }
}

fn check_config_error(err: &ConfigError, text: &str) {
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

fn check_trace(data: &[u8]) -> Verdict {
    let text = std::str::from_utf8(data).map_err(|err| err.to_string())?;
    let trace = Trace::from_csv(text).map_err(|err| err.to_string())?;
    assert!(!trace.is_empty());
    assert!(!trace.tick_interval().is_zero());
    for pair in trace.ticks().windows(2) {
        assert!(pair[0].at() < pair[1].at(), "ticks out of order");
    }
    for snapshot in trace.ticks() {
        for (_, requests) in snapshot.iter() {
            assert!(requests.is_finite() && requests >= 0.0);
        }
    }
    let written = trace.to_csv();
    let again = Trace::from_csv(&written)
        .unwrap_or_else(|err| panic!("written trace is refused: {err}\n{written}"));
    assert_eq!(
        again, trace,
        "written trace reads back different\n{written}"
    );
    Ok(())
}

fn check_state(data: &[u8]) -> Verdict {
    let state = serde_json::from_slice::<EngineState>(data).map_err(|err| err.to_string())?;
    let written = serde_json::to_vec(&state).expect("a state serializes");
    let again: EngineState = serde_json::from_slice(&written).expect("a written state is accepted");
    assert_eq!(again, state);

    let now = state
        .last_observation()
        .unwrap_or(Timestamp::from_unix_seconds(1_800_000_000));
    let last_deployed: BTreeSet<Region> = state
        .regions()
        .filter(|(_, s)| {
            s.last_action
                .is_some_and(|last| last.action == Action::Deploy)
        })
        .map(|(region, _)| *region)
        .collect();
    let remembered: BTreeSet<Region> = state.regions().map(|(region, _)| *region).collect();
    let configs = [
        PlacerConfig::default(),
        PlacerConfig {
            thresholds: ThresholdMode::VolatilityAware,
            ..PlacerConfig::default()
        },
        PlacerConfig {
            policy: PolicyKind::Latency,
            ..PlacerConfig::default()
        },
    ];
    for config in configs {
        let placer = Placer::with_state(config.clone(), state.clone()).expect("a valid config");
        for deployed in [&last_deployed, &remembered] {
            for metrics_usable in [true, false] {
                let plan = placer.plan(deployed, now, metrics_usable);
                check_plan(&plan.actions, deployed, &config, metrics_usable);
            }
        }
    }
    Ok(())
}

fn check_plan(
    actions: &[PlannedAction],
    deployed: &BTreeSet<Region>,
    config: &PlacerConfig,
    metrics_usable: bool,
) {
    assert!(actions.len() <= config.max_actions_per_tick);
    let mut after = deployed.clone();
    for planned in actions {
        match planned.action {
            Action::Deploy => assert!(after.insert(planned.region), "{planned:?}: deployed"),
            Action::Remove => {
                assert!(metrics_usable, "removal without usable metrics");
                assert!(after.remove(&planned.region), "{planned:?}: not deployed");
            }
            Action::None => panic!("a planned action that does nothing: {planned:?}"),
        }
    }
    assert!(after.len() >= deployed.len().min(config.min_regions));
}

#[test]
fn config_yaml_corpus() {
    run_corpus("config_yaml", &["invalid-", "cli-"], check_config);
}

#[test]
fn trace_csv_corpus() {
    run_corpus("trace_csv", &["invalid-"], check_trace);
}

#[test]
fn engine_state_corpus() {
    run_corpus("engine_state", &["invalid-"], check_state);
}
