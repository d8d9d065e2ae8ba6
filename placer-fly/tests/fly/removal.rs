//! Removing a region in destroy mode: machines are stopped the way the
//! template's `stop_config` says, waited for, and destroyed without force;
//! force only for a machine that does not stop within
//! `force_destroy_after`. Tokio's clock is paused: the fake's stops and
//! waits take simulated time only.

use std::time::Duration;

use placer_core::RegionActuator;
use placer_fly::fake::{FakeMachinesApi, MachineSpec, StopRecord};
use placer_fly::{FlyMachinesActuator, RemovalMode};
use serde_json::json;

use crate::support::*;

/// An app whose template machine in `iad` stops with SIGTERM and 30 s to
/// exit, and a region `fra` fly-placer deployed by cloning it; returns the
/// id of the machine in `fra`.
async fn app_with_fra(api: &FakeMachinesApi, actuator: &FlyMachinesActuator) -> String {
    api.add_machine(MachineSpec::new("iad").config_field(
        "stop_config",
        json!({"signal": "SIGTERM", "timeout": "30s"}),
    ));
    actuator.deploy(&region("fra")).await.unwrap();
    let id = live_in(api, "fra")[0].id.clone();
    api.take_requests();
    id
}

fn machine_path(id: &str) -> String {
    format!("/v1/apps/{APP}/machines/{id}")
}

#[tokio::test(start_paused = true)]
async fn removal_stops_with_the_templates_signal_and_timeout_waits_then_destroys_unforced() {
    let api = FakeMachinesApi::start(APP, TOKEN).await.unwrap();
    let actuator = actuator(settings(&api));
    let id = app_with_fra(&api, &actuator).await;
    // The process takes 20 s to shut down.
    api.set_stop_delay(Duration::from_secs(20));

    actuator.remove(&region("fra")).await.unwrap();

    assert_eq!(
        api.stops(),
        [StopRecord {
            machine: id.clone(),
            signal: Some("SIGTERM".into()),
            timeout: Some(Duration::from_secs(30)),
        }]
    );
    let path = machine_path(&id);
    assert_eq!(
        calls(&api),
        [
            // (the deploy's listing is reused) Under the machine's lease,
            // released after.
            format!("POST {path}/lease"),
            format!("POST {path}/stop"),
            format!("GET {path}/wait?state=stopped&timeout=60&instance_id=01FAKE00000002"),
            format!("DELETE {path}"),
            format!("DELETE {path}/lease"),
        ]
    );
    let requests = api.requests();
    assert_eq!(
        requests[1].body,
        Some(json!({"signal": "SIGTERM", "timeout": "30s"}))
    );
    assert_eq!(requests[3].response.as_ref().unwrap().status, 200);
    assert!(live_in(&api, "fra").is_empty());
    assert_eq!(
        actuator.deployed_regions().await.unwrap(),
        [region("iad")].into()
    );
}

#[tokio::test(start_paused = true)]
async fn a_machine_that_never_stops_is_destroyed_with_force_after_the_bounded_wait() {
    let api = FakeMachinesApi::start(APP, TOKEN).await.unwrap();
    let mut settings = settings(&api);
    settings.force_destroy_after = Duration::from_secs(150);
    let actuator = actuator(settings);
    let id = app_with_fra(&api, &actuator).await;
    api.set_stops_hang(true);

    actuator.remove(&region("fra")).await.unwrap();

    let path = machine_path(&id);
    let wait = |seconds: u64| {
        format!("GET {path}/wait?state=stopped&timeout={seconds}&instance_id=01FAKE00000002")
    };
    assert_eq!(
        calls(&api),
        [
            // (the deploy's listing is reused)
            format!("POST {path}/lease"),
            format!("POST {path}/stop"),
            // At most a minute per wait, 150 s in all.
            wait(60),
            wait(60),
            wait(30),
            format!("DELETE {path}?force=true"),
            format!("DELETE {path}/lease"),
        ]
    );
    let waits: Vec<u16> = api
        .requests()
        .iter()
        .filter(|r| r.path.contains("/wait"))
        .map(|r| r.response.as_ref().unwrap().status)
        .collect();
    assert_eq!(waits, [408, 408, 408]);
    assert!(live_in(&api, "fra").is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_machine_started_again_before_the_destroy_is_destroyed_with_force() {
    let api = FakeMachinesApi::start(APP, TOKEN).await.unwrap();
    let actuator = actuator(settings(&api));
    let id = app_with_fra(&api, &actuator).await;
    // Fly's proxy starts it again between the wait and the destroy.
    api.inject_on(
        "DELETE",
        &id,
        placer_fly::fake::Fault::Error {
            status: 412,
            message: "machine is started, not stopped".into(),
        },
    );

    actuator.remove(&region("fra")).await.unwrap();

    let deletes: Vec<String> = calls(&api)
        .into_iter()
        .filter(|c| c.starts_with("DELETE"))
        .collect();
    let path = machine_path(&id);
    assert_eq!(
        deletes,
        [
            format!("DELETE {path}"),
            format!("DELETE {path}?force=true"),
            format!("DELETE {path}/lease"),
        ]
    );
    assert!(live_in(&api, "fra").is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_zero_bound_destroys_with_force_at_once() {
    let api = FakeMachinesApi::start(APP, TOKEN).await.unwrap();
    let mut settings = settings(&api);
    settings.force_destroy_after = Duration::ZERO;
    let actuator = actuator(settings);
    let id = app_with_fra(&api, &actuator).await;

    actuator.remove(&region("fra")).await.unwrap();

    assert_eq!(
        calls(&api),
        [
            // (the deploy's listing is reused)
            format!("POST {}/lease", machine_path(&id)),
            format!("DELETE {}?force=true", machine_path(&id)),
            format!("DELETE {}/lease", machine_path(&id)),
        ]
    );
    assert!(api.stops().is_empty());
}

#[tokio::test(start_paused = true)]
async fn stop_mode_stops_with_the_templates_signal_and_timeout_too() {
    let api = FakeMachinesApi::start(APP, TOKEN).await.unwrap();
    let mut settings = settings(&api);
    settings.removal = RemovalMode::Stop;
    let actuator = actuator(settings);
    let id = app_with_fra(&api, &actuator).await;

    actuator.remove(&region("fra")).await.unwrap();

    assert_eq!(
        api.stops(),
        [StopRecord {
            machine: id,
            signal: Some("SIGTERM".into()),
            timeout: Some(Duration::from_secs(30)),
        }]
    );
}

/// The fake kills a process that outlives the stop's timeout, as Fly does,
/// and refuses to destroy a machine without force until it is stopped.
#[tokio::test(start_paused = true)]
async fn the_fake_honours_the_stop_timeout_and_refuses_unforced_destroys_until_stopped() {
    let api = FakeMachinesApi::start(APP, TOKEN).await.unwrap();
    let id = api.add_machine(MachineSpec::new("fra"));
    api.set_stop_delay(Duration::from_secs(600));
    let http = reqwest::Client::new();
    let auth = placer_fly::authorization_header(&placer_fly::ApiToken::new(TOKEN));
    let url = format!("{}{}", api.base_url(), machine_path(&id));
    let send = |method: &str, url: String, body: Option<serde_json::Value>| {
        let mut request = http
            .request(method.parse().unwrap(), url)
            .header("authorization", &auth);
        if let Some(body) = body {
            request = request.json(&body);
        }
        async move { request.send().await.unwrap().status().as_u16() }
    };
    let state = |api: &FakeMachinesApi| {
        api.machines()
            .into_iter()
            .find(|m| m.id == id)
            .unwrap()
            .state
    };

    assert_eq!(send("DELETE", url.clone(), None).await, 412, "started");
    let bad = Some(json!({"signal": "SIGTERM", "timeout": "soon"}));
    assert_eq!(send("POST", format!("{url}/stop"), bad).await, 400);
    let stop = Some(json!({"signal": "SIGTERM", "timeout": 10_000_000_000_u64}));
    assert_eq!(send("POST", format!("{url}/stop"), stop).await, 200);
    assert_eq!(state(&api), "stopping");
    assert_eq!(send("DELETE", url.clone(), None).await, 412, "stopping");

    tokio::time::sleep(Duration::from_secs(10)).await;
    assert_eq!(state(&api), "stopped", "killed after the 10 s timeout");
    assert_eq!(send("DELETE", url, None).await, 200);
    assert_eq!(state(&api), "destroyed");
}
