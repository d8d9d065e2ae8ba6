//! A runner on its own: the runtime works without the service around it.

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::{Arc, Mutex};

use clap::Parser;
use placer_core::Region;

use super::*;
use crate::cli::Cli;
use crate::config;
use crate::config::file::LoadedConfig;

/// A host that hands over what a test stages and records what it is told.
#[derive(Default)]
struct Recorder {
    staged: Mutex<Option<LoadedConfig>>,
    applied: Mutex<Vec<Applied>>,
    rejected: Mutex<Vec<String>>,
    deployments: Mutex<Vec<BTreeSet<Region>>>,
    /// Warm-start turns to refuse before granting one; turns asked for.
    refused_turns: Mutex<usize>,
    turns_asked: Mutex<usize>,
}

impl Host for Recorder {
    fn staged_config(&self, _runner: &AppRunner) -> Option<LoadedConfig> {
        self.staged.lock().unwrap().take()
    }

    fn config_applied(&self, _runner: &AppRunner, applied: &Applied) {
        self.applied.lock().unwrap().push(applied.clone());
    }

    fn config_rejected(&self, _runner: &AppRunner, message: String) {
        self.rejected.lock().unwrap().push(message);
    }

    fn warm_start_turn(&self) -> bool {
        *self.turns_asked.lock().unwrap() += 1;
        let mut refused = self.refused_turns.lock().unwrap();
        match refused.checked_sub(1) {
            Some(left) => {
                *refused = left;
                false
            }
            None => true,
        }
    }

    fn tick_finished(&self, _runner: &AppRunner, tick: &FinishedTick<'_>) {
        self.deployments
            .lock()
            .unwrap()
            .push(tick.deployment.clone());
    }
}

const CONFIG: &str = "dry_run: true\nalways_running_regions: [fra]\nsimulation:\n  seed: 7\n";

fn parse(text: &str) -> LoadedConfig {
    config::file::parse(text, Path::new("config.yml")).unwrap()
}

fn files(dir: &Path) -> crate::store::OpenedStore {
    crate::store::OpenedStore {
        store: Arc::new(crate::store::file::FileStore::new(dir)),
        leadership: crate::store::Leadership::sole(),
    }
}

async fn runner(data_dir: &Path) -> Arc<AppRunner> {
    let argv = [
        "fly-placer",
        "--data-dir",
        data_dir.to_str().unwrap(),
        "once",
    ];
    let inputs = Inputs {
        args: Cli::try_parse_from(argv).unwrap().global,
        env: crate::config::environment::Environment::from_lookup(|_| None),
        fallback_seed: 1,
    };
    Arc::new(
        AppRunner::start(inputs, Role::Once, parse(CONFIG), files(data_dir))
            .await
            .unwrap(),
    )
}

#[tokio::test]
async fn ticks_save_state_and_keep_the_tracked_deployment() {
    let dir = tempfile::tempdir().unwrap();
    let runner = runner(dir.path()).await;
    let host = Arc::new(Recorder::default());
    for _ in 0..3 {
        let report = runner.tick(host.clone()).await.unwrap();
        assert!(report.is_ok());
    }
    let view = runner.view().clone();
    assert_eq!(view.ticks, 3);
    assert_eq!(host.deployments.lock().unwrap().len(), 3);
    assert_eq!(host.deployments.lock().unwrap()[2], view.deployment);
    // The simulated source reads what the actuator listed and changed.
    assert_eq!(runner.deployed.get(), view.deployment);
    assert!(dir.path().join("engine_state_dry_run.json").exists());
}

#[tokio::test]
async fn a_staged_config_applies_at_the_next_tick_or_is_rejected_whole() {
    let dir = tempfile::tempdir().unwrap();
    let runner = runner(dir.path()).await;
    let host = Arc::new(Recorder::default());

    *host.staged.lock().unwrap() = Some(parse(&format!("{CONFIG}traffic_threshold: 80\n")));
    runner.tick(host.clone()).await.unwrap();
    let applied = host.applied.lock().unwrap().clone();
    assert_eq!(applied.len(), 1);
    assert_eq!(applied[0].changes, ["traffic_threshold: 50.0 → 80.0"]);
    assert!(!applied[0].interval_changed);
    assert_eq!(runner.view().config.traffic_threshold, 80.0);

    // Live without Fly credentials cannot resolve: nothing changes.
    *host.staged.lock().unwrap() = Some(parse("dry_run: false\n"));
    runner.tick(host.clone()).await.unwrap();
    let rejected = host.rejected.lock().unwrap().clone();
    assert_eq!(rejected.len(), 1, "{rejected:?}");
    assert!(runner.view().config.dry_run);
    assert!(runner.settings().dry_run);
    assert_eq!(runner.view().config.traffic_threshold, 80.0);
}

#[tokio::test]
async fn a_config_that_moves_the_data_dir_takes_the_new_directorys_lock_first() {
    use crate::store::data_lock::DataDirLock;

    let dir = tempfile::tempdir().unwrap();
    let (first, second) = (dir.path().join("first"), dir.path().join("second"));
    let config = |data: &Path| {
        parse(&format!(
            "{CONFIG}service:\n  data_dir: {}\n",
            data.display()
        ))
    };
    let inputs = Inputs {
        args: Cli::try_parse_from(["fly-placer", "once"]).unwrap().global,
        env: crate::config::environment::Environment::from_lookup(|_| None),
        fallback_seed: 1,
    };
    let runner = Arc::new(
        AppRunner::start(inputs, Role::Once, config(&first), files(&first))
            .await
            .unwrap(),
    );
    let host = Arc::new(Recorder::default());

    // Another placer holds the new directory: the change is refused whole.
    let other = DataDirLock::try_acquire(&second).unwrap();
    *host.staged.lock().unwrap() = Some(config(&second));
    runner.tick(host.clone()).await.unwrap();
    let rejected = host.rejected.lock().unwrap().clone();
    assert_eq!(rejected.len(), 1, "{rejected:?}");
    assert!(
        rejected[0].contains("is in use by another fly-placer"),
        "{rejected:?}"
    );
    assert_eq!(runner.settings().data_dir, first);
    assert!(DataDirLock::try_acquire(&first).is_err());

    // Once it is free, the runner moves, and lets the old directory go.
    drop(other);
    *host.staged.lock().unwrap() = Some(config(&second));
    runner.tick(host.clone()).await.unwrap();
    assert_eq!(host.applied.lock().unwrap().len(), 1);
    assert_eq!(runner.settings().data_dir, second);
    assert!(DataDirLock::try_acquire(&second).is_err());
    DataDirLock::try_acquire(&first).unwrap();
}

#[tokio::test]
async fn a_warm_start_put_off_is_taken_at_a_later_tick_and_only_by_a_forecaster() {
    let dir = tempfile::tempdir().unwrap();
    let runner = runner(dir.path()).await;
    let host = Arc::new(Recorder::default());
    // The threshold policy keeps no forecaster: it never asks for a turn.
    runner.tick(host.clone()).await.unwrap();
    assert_eq!(*host.turns_asked.lock().unwrap(), 0);

    let dir = tempfile::tempdir().unwrap();
    let argv = [
        "fly-placer",
        "--data-dir",
        dir.path().to_str().unwrap(),
        "once",
    ];
    let inputs = Inputs {
        args: Cli::try_parse_from(argv).unwrap().global,
        env: crate::config::environment::Environment::from_lookup(|_| None),
        fallback_seed: 1,
    };
    let latency = parse(&format!("{CONFIG}policy: latency\n"));
    let runner = Arc::new(
        AppRunner::start(inputs, Role::Once, latency, files(dir.path()))
            .await
            .unwrap(),
    );
    let host = Arc::new(Recorder::default());
    *host.refused_turns.lock().unwrap() = 2;
    for tick in 1..=4 {
        let report = runner.tick(host.clone()).await.unwrap();
        // Ticking on observed traffic while its warm start waits.
        assert!(report.is_ok(), "tick {tick}");
        let learned = runner
            .view()
            .state
            .forecast()
            .forecaster()
            .unwrap()
            .last_learned();
        assert_eq!(learned, Some(report.at), "tick {tick}");
    }
    // Asked at the first three ticks, refused twice, warmed at the third.
    assert_eq!(*host.turns_asked.lock().unwrap(), 3);
    let engine = runner.engine.lock().await;
    assert!(engine.backfilled && !engine.warm_start_put_off);
}
