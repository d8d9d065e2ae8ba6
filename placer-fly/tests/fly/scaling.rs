//! Scaling a region to a count of running machines and standbys: names,
//! roles, what counts as running, Fly's proxy, machines fly-placer did not
//! make, and no duplicate under lost answers, restarts and two processes.

use std::time::Duration;

use placer_core::conformance::check_scaling_actuator;
use placer_core::wrap::{RetryPolicy, Retrying};
use placer_core::{ActuatorError, MachineCount, RegionActuator};
use placer_fly::fake::{FakeMachinesApi, Fault, MachineSpec};
use placer_fly::{RemovalMode, ROLE_KEY};

use crate::support::*;

fn quick() -> RetryPolicy {
    RetryPolicy::default()
        .with_max_attempts(4)
        .with_base_delay(Duration::from_millis(10))
        .with_max_delay(Duration::from_millis(50))
        .with_tick_budget(Duration::from_secs(10))
        .with_jitter(0.0)
}

fn count(running: u32, standby: u32) -> MachineCount {
    MachineCount::new(running, standby)
}

/// `(name, state, role)` of the live machines in `code`, by name.
fn roster(api: &FakeMachinesApi, code: &str) -> Vec<(String, String, String)> {
    let mut machines: Vec<_> = live_in(api, code)
        .into_iter()
        .map(|m| {
            let role = m.config.metadata.get(ROLE_KEY).cloned().unwrap_or_default();
            (m.name, m.state, role)
        })
        .collect();
    machines.sort();
    machines
}

fn id_of(api: &FakeMachinesApi, name: &str) -> String {
    api.machines()
        .into_iter()
        .find(|m| m.name == name && m.state != "destroyed")
        .unwrap_or_else(|| panic!("no live machine {name}"))
        .id
}

async fn count_in(actuator: &dyn RegionActuator, code: &str) -> MachineCount {
    actuator
        .deployment()
        .await
        .unwrap()
        .get(&region(code))
        .copied()
        .unwrap_or_default()
}

fn posts(api: &FakeMachinesApi) -> usize {
    calls(api)
        .iter()
        .filter(|c| c.starts_with("POST") && c.ends_with("/machines"))
        .count()
}

#[tokio::test]
async fn fly_actuator_passes_the_scaling_suite() {
    let api = fake_with_app().await;
    check_scaling_actuator(&actuator(settings(&api)), region("fra")).await;
    assert_eq!(api.live_regions(), ["iad"]);
}

#[tokio::test]
async fn fly_actuator_passes_the_scaling_suite_with_a_lagging_listing() {
    let api = fake_with_app().await;
    api.set_list_lag(Duration::from_secs(30));
    check_scaling_actuator(&actuator(settings(&api)), region("fra")).await;
    assert_eq!(api.live_regions(), ["iad"]);
}

#[tokio::test]
async fn fly_actuator_passes_the_scaling_suite_in_stop_mode() {
    let api = fake_with_app().await;
    let mut settings = settings(&api);
    settings.removal = RemovalMode::Stop;
    check_scaling_actuator(&actuator(settings), region("fra")).await;
    assert!(
        api.machines()
            .iter()
            .filter(|m| m.region.as_str() == "fra")
            .all(|m| m.is_parked()),
        "every machine of fra is parked at the end"
    );
}

#[tokio::test]
async fn machines_are_numbered_and_standbys_created_stopped() {
    let api = fake_with_app().await;
    let actuator = actuator(settings(&api));
    actuator.scale(&region("fra"), count(3, 1)).await.unwrap();
    let running = |n: u32| {
        (
            format!("fly-placer-app-fra-{n}"),
            "started".to_owned(),
            "running".to_owned(),
        )
    };
    assert_eq!(
        roster(&api, "fra"),
        [
            running(1),
            running(2),
            running(3),
            (
                "fly-placer-app-fra-4".to_owned(),
                "created".to_owned(),
                "standby".to_owned()
            ),
        ]
    );
    let creates: Vec<bool> = api
        .requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/machines"))
        .map(|r| r.body.as_ref().unwrap()["skip_launch"].as_bool().unwrap())
        .collect();
    assert_eq!(
        creates,
        [false, false, false, true],
        "skip_launch per create"
    );
    assert_eq!(count_in(&actuator, "fra").await, count(3, 1));
    assert!(actuator
        .deployed_regions()
        .await
        .unwrap()
        .contains(&region("fra")));

    // Asked again: nothing is created or destroyed.
    api.take_requests();
    actuator.scale(&region("fra"), count(3, 1)).await.unwrap();
    assert!(
        calls(&api).iter().all(|c| c.starts_with("GET")),
        "{:?}",
        calls(&api)
    );
}

#[tokio::test]
async fn scaling_down_destroys_the_newest_first() {
    let api = fake_with_app().await;
    let actuator = actuator(settings(&api));
    actuator.scale(&region("fra"), count(4, 2)).await.unwrap();
    actuator.scale(&region("fra"), count(2, 1)).await.unwrap();
    let names: Vec<String> = roster(&api, "fra").into_iter().map(|m| m.0).collect();
    assert_eq!(
        names,
        [
            "fly-placer-app-fra-1",
            "fly-placer-app-fra-2",
            "fly-placer-app-fra-5"
        ],
        "running 3 and 4, standby 6 went"
    );
    assert_eq!(count_in(&actuator, "fra").await, count(2, 1));
    // Scaling up again fills the lowest free numbers.
    actuator.scale(&region("fra"), count(3, 1)).await.unwrap();
    let names: Vec<String> = roster(&api, "fra").into_iter().map(|m| m.0).collect();
    assert_eq!(
        names,
        [
            "fly-placer-app-fra-1",
            "fly-placer-app-fra-2",
            "fly-placer-app-fra-3",
            "fly-placer-app-fra-5"
        ]
    );
}

#[tokio::test]
async fn a_machine_deployed_before_counts_is_machine_one() {
    let api = fake_with_app().await;
    // As fly-placer created it with one machine per region: no role.
    api.add_machine(
        MachineSpec::new("fra")
            .managed()
            .name("fly-placer-app-fra-1"),
    );
    let actuator = actuator(settings(&api));
    assert_eq!(count_in(&actuator, "fra").await, MachineCount::ONE);
    actuator.deploy(&region("fra")).await.unwrap();
    assert_eq!(posts(&api), 0, "deployed already");
    actuator.scale(&region("fra"), count(2, 0)).await.unwrap();
    let names: Vec<String> = roster(&api, "fra").into_iter().map(|m| m.0).collect();
    assert_eq!(names, ["fly-placer-app-fra-1", "fly-placer-app-fra-2"]);
}

#[tokio::test]
async fn a_standby_the_proxy_started_counts_as_running_and_is_left_alone() {
    let api = fake_with_app().await;
    let actuator = actuator(settings(&api));
    actuator.scale(&region("fra"), count(1, 1)).await.unwrap();
    let standby = id_of(&api, "fly-placer-app-fra-2");

    // A spike: the proxy starts the standby.
    assert!(api.proxy_start(&standby));
    assert_eq!(count_in(&actuator, "fra").await, count(2, 0));
    api.take_requests();
    // The placer asks for what it asked before: no new standby, no stop.
    actuator.scale(&region("fra"), count(1, 1)).await.unwrap();
    assert!(
        calls(&api).iter().all(|c| c.starts_with("GET")),
        "{:?}",
        calls(&api)
    );
    // Nor without standbys: the proxy runs it.
    actuator.scale(&region("fra"), count(1, 0)).await.unwrap();
    assert_eq!(roster(&api, "fra").len(), 2);
    // Removing the region leaves it to the proxy, and says the region is busy.
    let err = actuator
        .scale(&region("fra"), MachineCount::NONE)
        .await
        .unwrap_err();
    assert!(matches!(err, ActuatorError::Busy { .. }), "{err}");
    assert!(err.to_string().contains("started by Fly's proxy"), "{err}");
    assert_eq!(count_in(&actuator, "fra").await, count(1, 0));
    assert_eq!(api.stops().len(), 1, "only the running machine was stopped");

    // The spike is over: the proxy stops it; it is a standby again, and goes.
    assert!(api.proxy_stop(&standby));
    assert_eq!(count_in(&actuator, "fra").await, count(0, 1));
    actuator
        .scale(&region("fra"), MachineCount::NONE)
        .await
        .unwrap();
    assert!(live_in(&api, "fra").is_empty());
}

#[tokio::test]
async fn an_idle_running_machine_the_proxy_stopped_still_counts_as_running() {
    let api = fake_with_app().await;
    let actuator = actuator(settings(&api));
    actuator.scale(&region("fra"), count(2, 1)).await.unwrap();
    assert!(api.proxy_stop(&id_of(&api, "fly-placer-app-fra-2")));
    assert_eq!(count_in(&actuator, "fra").await, count(2, 1));
    api.take_requests();
    actuator.scale(&region("fra"), count(2, 1)).await.unwrap();
    assert_eq!(posts(&api), 0, "nothing created in its place");
}

#[tokio::test]
async fn machines_fly_placer_did_not_make_count_and_are_never_touched() {
    let api = fake_with_app().await;
    let human = api.add_machine(MachineSpec::new("fra").name("made-by-hand"));
    let human_standby = api.add_machine(
        MachineSpec::new("fra")
            .name("stopped-by-hand")
            .state("stopped"),
    );
    let actuator = actuator(settings(&api));
    assert_eq!(
        count_in(&actuator, "fra").await,
        count(2, 0),
        "machines without a role run"
    );
    actuator.scale(&region("fra"), count(4, 1)).await.unwrap();
    assert_eq!(count_in(&actuator, "fra").await, count(4, 1));
    actuator.scale(&region("fra"), count(1, 0)).await.unwrap();
    assert_eq!(
        count_in(&actuator, "fra").await,
        count(2, 0),
        "ours are gone, theirs stay"
    );
    let err = actuator
        .scale(&region("fra"), MachineCount::NONE)
        .await
        .unwrap_err();
    assert!(matches!(err, ActuatorError::Refused { .. }), "{err}");
    let live: Vec<String> = live_in(&api, "fra").into_iter().map(|m| m.id).collect();
    assert_eq!(live.len(), 2);
    assert!(live.contains(&human) && live.contains(&human_standby));
    assert!(
        api.stops()
            .iter()
            .all(|s| s.machine != human && s.machine != human_standby),
        "never stopped"
    );
}

/// The next create makes the machine, then answers 500.
fn create_then_500(api: &FakeMachinesApi) {
    api.inject_on(
        "POST",
        "/machines",
        Fault::ErrorAfterChange {
            status: 500,
            message: "internal error".into(),
        },
    );
}

const REGIONS: [&str; 3] = ["fra", "cdg", "ams"];

/// Scales each region to 3 + 1 a few times over `span`, while the listing
/// lags and the first create of each region loses its answer.
async fn scale_through_lost_answers(
    api: &FakeMachinesApi,
    actuator: &dyn RegionActuator,
    span: Duration,
) {
    let started = tokio::time::Instant::now();
    while started.elapsed() < span {
        for code in REGIONS {
            let _ = actuator.scale(&region(code), count(3, 1)).await;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for code in REGIONS {
        let machines = roster(api, code);
        assert_eq!(machines.len(), 4, "{code}: {machines:?}");
    }
}

#[tokio::test]
async fn lost_answers_and_retries_make_no_second_machine_at_counts_above_one() {
    let api = fake_with_app().await;
    api.set_list_lag(Duration::from_millis(300));
    let actuator = Retrying::new(actuator(settings(&api)), quick(), timer());
    for code in REGIONS {
        create_then_500(&api);
        let _ = actuator.scale(&region(code), count(3, 1)).await;
    }
    scale_through_lost_answers(&api, &actuator, Duration::from_millis(900)).await;
    for code in REGIONS {
        assert_eq!(count_in(&actuator, code).await, count(3, 1), "{code}");
    }
}

#[tokio::test]
async fn a_restart_while_a_create_is_in_doubt_makes_no_second_machine_at_counts_above_one() {
    let api = fake_with_app().await;
    api.set_list_lag(Duration::from_millis(300));
    for code in REGIONS {
        create_then_500(&api);
        let before = actuator(settings(&api));
        before.scale(&region(code), count(3, 1)).await.unwrap_err();
    }
    // A new process: the same app, nothing remembered.
    let after = Retrying::new(actuator(settings(&api)), quick(), timer());
    scale_through_lost_answers(&api, &after, Duration::from_millis(900)).await;
}

#[tokio::test]
async fn two_processes_scaling_the_same_region_make_each_machine_once() {
    let api = fake_with_app().await;
    let one = actuator(settings(&api));
    let other = actuator(settings(&api));
    let target = count(3, 2);
    let fra = region("fra");
    let (a, b) = tokio::join!(one.scale(&fra, target), other.scale(&fra, target));
    a.unwrap();
    b.unwrap();
    let names: Vec<String> = roster(&api, "fra").into_iter().map(|m| m.0).collect();
    assert_eq!(names.len(), 5, "{names:?}");
    assert_eq!(count_in(&one, "fra").await, target);
}

#[tokio::test]
async fn each_machine_of_a_scale_keeps_to_flys_per_app_limits() {
    let api = fake_with_app().await;
    api.set_limits(Some(placer_fly::ApiLimits::default()));
    let mut settings = settings(&api);
    settings.api_limits = placer_fly::ApiLimits::default();
    let actuator = actuator(settings);
    let started = std::time::Instant::now();
    actuator.scale(&region("fra"), count(4, 1)).await.unwrap();
    assert_eq!(api.throttled(), 0, "nothing beyond Fly's limits");
    assert_eq!(posts(&api), 5, "one create per machine");
    // Five creates at one a second after a burst of three.
    assert!(started.elapsed() >= Duration::from_millis(1900));
    actuator.scale(&region("fra"), count(1, 0)).await.unwrap();
    assert_eq!(api.throttled(), 0);
    assert_eq!(count_in(&actuator, "fra").await, count(1, 0));
}
