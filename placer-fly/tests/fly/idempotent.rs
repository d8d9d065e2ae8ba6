//! Creates are idempotent: a create whose answer was an error although the
//! machine was made, repeated while the listing lags, after a restart or by
//! another process, never makes a second machine in the region.

use std::time::Duration;

use placer_core::wrap::{RetryPolicy, Retrying};
use placer_core::RegionActuator;
use placer_fly::fake::{FakeMachinesApi, Fault, MachineSpec};

use crate::support::*;

const REGIONS: [&str; 3] = ["fra", "cdg", "ams"];

fn quick() -> RetryPolicy {
    RetryPolicy::default()
        .with_max_attempts(4)
        .with_base_delay(Duration::from_millis(10))
        .with_max_delay(Duration::from_millis(50))
        .with_tick_budget(Duration::from_secs(10))
        .with_jitter(0.0)
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

fn posts(api: &FakeMachinesApi) -> usize {
    calls(api).iter().filter(|c| c.starts_with("POST")).count()
}

#[tokio::test]
async fn a_create_answered_500_after_making_the_machine_is_not_repeated_by_retries() {
    let api = fake_with_app().await;
    api.set_list_lag(Duration::from_secs(30));
    let actuator = Retrying::new(actuator(settings(&api)), quick(), timer());

    for code in REGIONS {
        create_then_500(&api);
        // Retried: the retry creates under the same name, the API refuses
        // it, and the listing does not show the machine yet.
        let _ = actuator.deploy(&region(code)).await;
        // Later ticks, while the listing still lags.
        for _ in 0..3 {
            let _ = actuator.deploy(&region(code)).await;
        }
    }
    for code in REGIONS {
        assert_eq!(live_in(&api, code).len(), 1, "{code}");
    }
}

#[tokio::test]
async fn a_restart_while_the_create_is_in_doubt_makes_no_second_machine() {
    let api = fake_with_app().await;
    api.set_list_lag(Duration::from_secs(30));
    let no_retries = quick().with_max_attempts(1);
    for code in REGIONS {
        create_then_500(&api);
        let before = Retrying::new(actuator(settings(&api)), no_retries.clone(), timer());
        before.deploy(&region(code)).await.unwrap_err();
    }
    // A new process: the same app, nothing remembered.
    let after = Retrying::new(actuator(settings(&api)), quick(), timer());
    for code in REGIONS {
        let _ = after.deploy(&region(code)).await;
    }
    for code in REGIONS {
        assert_eq!(live_in(&api, code).len(), 1, "{code}");
    }
}

#[tokio::test]
async fn a_listed_machine_holding_the_name_is_adopted() {
    let api = fake_with_app().await;
    api.set_list_lag(Duration::from_millis(300));
    create_then_500(&api);
    let before = actuator(settings(&api));
    before.deploy(&region("fra")).await.unwrap_err();
    tokio::time::sleep(Duration::from_millis(400)).await;
    // The listing shows it now: deployed, nothing created.
    let after = actuator(settings(&api));
    after.deploy(&region("fra")).await.unwrap();
    assert_eq!(posts(&api), 1);
    assert_eq!(live_in(&api, "fra").len(), 1);
    assert!(after
        .deployed_regions()
        .await
        .unwrap()
        .contains(&region("fra")));
}

#[tokio::test]
async fn names_held_by_gone_machines_are_skipped() {
    let api = fake_with_app().await;
    // A failed machine of an earlier deploy still holds the first name.
    api.add_machine(
        MachineSpec::new("fra")
            .managed()
            .name("fly-placer-app-fra-1")
            .state("failed"),
    );
    let actuator = actuator(settings(&api));
    actuator.deploy(&region("fra")).await.unwrap();
    let live: Vec<String> = api
        .machines()
        .into_iter()
        .filter(|m| m.region.as_str() == "fra" && m.state == "started")
        .map(|m| m.name)
        .collect();
    assert_eq!(live, ["fly-placer-app-fra-2"]);
    assert_eq!(posts(&api), 1, "the listing names the taken name");
}

#[tokio::test]
async fn the_fake_refuses_a_taken_name_with_409() {
    let api = fake_with_app().await;
    let client = reqwest::Client::new();
    let url = format!("{}/v1/apps/{APP}/machines", api.base_url());
    let body = serde_json::json!({
        "name": "web-1", "region": "fra",
        "config": {"image": "registry.fly.io/my-app:1"},
    });
    let send = || {
        client
            .post(&url)
            .header(
                "authorization",
                placer_fly::authorization_header(&placer_fly::ApiToken::new(TOKEN)),
            )
            .json(&body)
            .send()
    };
    assert_eq!(send().await.unwrap().status(), 200);
    let refused = send().await.unwrap();
    assert_eq!(refused.status(), 409);
    assert_eq!(live_in(&api, "fra").len(), 1);
}

#[tokio::test]
async fn the_fake_lets_machines_share_a_name_when_told_to() {
    let api = fake_with_app().await;
    api.set_unique_names(false);
    let client = reqwest::Client::new();
    let url = format!("{}/v1/apps/{APP}/machines", api.base_url());
    let body = serde_json::json!({
        "name": "web-1", "region": "fra",
        "config": {"image": "registry.fly.io/my-app:1"},
    });
    for _ in 0..2 {
        let answer = client
            .post(&url)
            .header(
                "authorization",
                placer_fly::authorization_header(&placer_fly::ApiToken::new(TOKEN)),
            )
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200);
    }
    let named: Vec<_> = live_in(&api, "fra").into_iter().map(|m| m.name).collect();
    assert_eq!(named, ["web-1", "web-1"]);
}

#[tokio::test]
async fn a_create_answered_500_after_making_the_machine_is_in_doubt() {
    let api = fake_with_app().await;
    api.set_list_lag(Duration::from_secs(30));
    create_then_500(&api);
    let actuator = Retrying::new(actuator(settings(&api)), quick(), timer());
    let err = actuator.deploy(&region("fra")).await.unwrap_err();
    assert!(err.may_have_taken_effect(), "{err}");
    assert_eq!(posts(&api), 1, "not retried");
    assert_eq!(live_in(&api, "fra").len(), 1);
}

#[tokio::test]
async fn two_processes_deploying_the_same_region_make_one_machine() {
    let api = fake_with_app().await;
    api.set_list_lag(Duration::from_secs(30));
    let first = actuator(settings(&api));
    let second = actuator(settings(&api));
    first.deploy(&region("fra")).await.unwrap();
    // The second one lists without the new machine and derives the same
    // name: the API refuses it.
    let err = second.deploy(&region("fra")).await.unwrap_err();
    assert!(err.to_string().contains("fly-placer-app-fra-1"), "{err}");
    assert_eq!(live_in(&api, "fra").len(), 1);
}
