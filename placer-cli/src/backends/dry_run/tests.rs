//! The dry-run actuator and its state file.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use placer_core::conformance::{check_region_actuator, check_scaling_actuator};
use placer_core::{MachineCount, Region, RegionActuator, Timestamp};

use super::{DryRunActuator, DryRunError};

fn region(code: &str) -> Region {
    code.parse().unwrap()
}

/// A clock that starts at 2026-11-28T10:00:00Z and moves a minute per reading.
fn ticking_clock() -> impl Fn() -> Timestamp + Send + Sync + 'static {
    let minute = Arc::new(AtomicI64::new(0));
    move || {
        let n = minute.fetch_add(1, Ordering::SeqCst);
        Timestamp::from_unix_seconds(1_795_860_000 + 60 * n)
    }
}

#[tokio::test]
async fn the_state_file_records_regions_and_when_they_changed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir
        .path()
        .join("data")
        .join("deployment_state_dry_run.json");
    let actuator = DryRunActuator::open(&path, [region("iad"), region("fra")].into())
        .unwrap()
        .with_clock(ticking_clock());
    assert!(actuator.is_simulation());

    actuator.deploy(&region("cdg")).await.unwrap();
    actuator.remove(&region("fra")).await.unwrap();
    actuator.remove(&region("lhr")).await.unwrap(); // never deployed: no change

    assert_eq!(actuator.regions(), [region("cdg"), region("iad")].into());
    insta::assert_snapshot!(std::fs::read_to_string(&path).unwrap());
}

#[tokio::test]
async fn the_simulation_is_restored_from_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let first = DryRunActuator::open(&path, [region("iad")].into()).unwrap();
    first.deploy(&region("fra")).await.unwrap();
    let deployed_at = first.changed_at(&region("fra")).unwrap();
    drop(first);

    // The initial set is ignored once a state file exists.
    let second = DryRunActuator::open(&path, [region("nrt")].into()).unwrap();
    assert_eq!(
        second.deployed_regions().await.unwrap(),
        [region("fra"), region("iad")].into()
    );
    assert_eq!(second.changed_at(&region("fra")), Some(deployed_at));
    assert_eq!(
        second.changed_at(&region("iad")),
        None,
        "initial regions have no change time"
    );
    assert!(second.recovered_from().is_none());
}

#[tokio::test]
async fn a_corrupt_file_is_moved_aside_never_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    for (n, garbage) in ["{not json", r#"{"regions": {"IAD": {"deployed": true}}}"#]
        .iter()
        .enumerate()
    {
        std::fs::write(&path, garbage).unwrap();
        let actuator = DryRunActuator::open(&path, [region("iad")].into()).unwrap();
        let Some(DryRunError::Corrupt { moved_to, .. }) = actuator.recovered_from() else {
            panic!("expected a Corrupt warning");
        };
        let expected = dir.path().join(format!("state.json.corrupt-{}", n + 1));
        assert_eq!(moved_to, &expected);
        assert_eq!(std::fs::read_to_string(moved_to).unwrap(), *garbage);
        let warning = actuator.recovered_from().unwrap().to_string();
        assert!(
            warning.contains("state.json") && warning.contains("corrupt-"),
            "{warning}"
        );
        assert_eq!(actuator.regions(), [region("iad")].into(), "fresh start");
    }
    // The fresh state was written and reads back.
    let reopened = DryRunActuator::open(&path, Default::default()).unwrap();
    assert!(reopened.recovered_from().is_none());
}

#[test]
fn an_unreadable_state_file_is_an_error_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    std::fs::create_dir(&path).unwrap();
    let err = DryRunActuator::open(&path, Default::default()).unwrap_err();
    assert!(
        matches!(err, DryRunError::Io { action: "read", .. }),
        "{err}"
    );
    assert!(err.to_string().contains("state.json"), "{err}");
}

#[tokio::test]
async fn writes_leave_no_temporary_files_behind() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    let actuator = DryRunActuator::open(&path, Default::default()).unwrap();
    for code in ["fra", "cdg", "ams"] {
        actuator.deploy(&region(code)).await.unwrap();
        actuator.remove(&region(code)).await.unwrap();
    }
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(names, ["state.json"]);
}

#[tokio::test]
async fn it_conforms_to_the_actuator_contract() {
    let dir = tempfile::tempdir().unwrap();
    let actuator =
        DryRunActuator::open(dir.path().join("state.json"), [region("iad")].into()).unwrap();
    check_region_actuator(&actuator, [region("fra"), region("cdg")]).await;
    check_scaling_actuator(&actuator, region("fra")).await;
}

#[tokio::test]
async fn counts_are_kept_in_the_file_and_old_files_still_load() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.json");
    // A file written before counts: deployed regions, no machines.
    std::fs::write(
        &path,
        r#"{"regions": {"iad": {"deployed": true, "changed_at": null},
                        "lhr": {"deployed": false, "changed_at": "2026-11-28T10:00:00Z"}}}"#,
    )
    .unwrap();
    let actuator = DryRunActuator::open(&path, Default::default())
        .unwrap()
        .with_clock(ticking_clock());
    assert_eq!(
        actuator.deployment().await.unwrap(),
        [(region("iad"), MachineCount::ONE)].into()
    );
    actuator
        .scale(&region("fra"), MachineCount::new(3, 1))
        .await
        .unwrap();
    actuator
        .scale(&region("cdg"), MachineCount::new(0, 2))
        .await
        .unwrap();
    actuator
        .scale(&region("iad"), MachineCount::ONE)
        .await
        .unwrap(); // as it is: no change
    insta::assert_snapshot!(std::fs::read_to_string(&path).unwrap());

    let reopened = DryRunActuator::open(&path, Default::default()).unwrap();
    assert_eq!(
        reopened.deployment().await.unwrap(),
        [
            (region("cdg"), MachineCount::new(0, 2)),
            (region("fra"), MachineCount::new(3, 1)),
            (region("iad"), MachineCount::ONE),
        ]
        .into()
    );
    assert_eq!(
        reopened.deployed_regions().await.unwrap(),
        [region("fra"), region("iad")].into(),
        "a region with standbys only is not deployed"
    );
    assert_eq!(reopened.changed_at(&region("iad")), None);
}

#[tokio::test]
async fn a_deployment_handed_over_replaces_the_simulation_or_leaves_it_as_it_was() {
    let dir = tempfile::tempdir().unwrap();
    let one = DryRunActuator::open(dir.path().join("a.json"), [region("iad")].into()).unwrap();
    one.deploy(&region("fra")).await.unwrap();
    let other = DryRunActuator::open(dir.path().join("b.json"), Default::default()).unwrap();
    other.replace_from_json(&one.to_json(), "a").unwrap();
    assert_eq!(other.regions(), one.regions());
    // Written to its own file too: a reopened simulation has it.
    let reopened = DryRunActuator::open(dir.path().join("b.json"), Default::default()).unwrap();
    assert_eq!(reopened.regions(), one.regions());

    let err = other.replace_from_json(b"[]", "a").unwrap_err();
    assert!(matches!(err, DryRunError::Invalid { .. }), "{err}");
    assert_eq!(other.regions(), one.regions());
}
