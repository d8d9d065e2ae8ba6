//! No second machine without trusting a status code: against the fake Fly
//! Machines API with its name check off (two machines may share a name), a
//! create answered 500 after it made the machine, with a listing that lags,
//! leaves exactly one machine in the region — across the ticks of one
//! process, across restarts (a new process reading the saved state file),
//! and across a leader failover (two replicas sharing their state in etcd).

use std::time::Duration;

use crate::kit::fake_traffic::FakeTraffic;
use crate::kit::{self, client, get_json, Server, Workspace};
use placer_fly::fake::{FakeMachinesApi, Fault, MachineSpec};
use serde_json::{json, Value};

const APP: &str = "shop";
const TOKEN: &str = "FlyV1 fm2_test-token";

/// The fake app with a machine in iad and names that need not be unique.
fn fake_app(runtime: &tokio::runtime::Runtime, list_lag: Duration) -> FakeMachinesApi {
    let api = runtime
        .block_on(FakeMachinesApi::start(APP, TOKEN))
        .unwrap();
    api.add_machine(MachineSpec::new("iad"));
    api.set_unique_names(false);
    api.set_list_lag(list_lag);
    api
}

/// Live, one action per tick, ticks only when asked; Fly calls retried as
/// by default.
fn config(api: &FakeMachinesApi, pending_grace: &str, extra: &str) -> String {
    format!(
        "dry_run: false\ncooldown_period: 3600\nsustain_ticks: 1\nmax_actions_per_tick: 1\n\
         pending_grace: {pending_grace}\nservice:\n  interval: 0\n{extra}\
         fly:\n  api_url: {}\n",
        api.base_url()
    )
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

/// The names of the creates sent so far, in order.
fn creates(api: &FakeMachinesApi) -> Vec<String> {
    api.requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path == "/v1/apps/shop/machines")
        .map(|r| r.body.unwrap()["name"].as_str().unwrap().to_owned())
        .collect()
}

/// Machines not destroyed in `region`, whatever the listing shows.
fn alive_in(api: &FakeMachinesApi, region: &str) -> usize {
    api.machines()
        .iter()
        .filter(|m| m.region.as_str() == region && m.state != "destroyed")
        .count()
}

fn env(metrics: &FakeTraffic) -> [(&'static str, &str); 3] {
    [
        ("FLY_APP_NAME", APP),
        ("FLY_API_TOKEN", TOKEN),
        ("FLY_PROMETHEUS_URL", metrics.url.as_str()),
    ]
}

/// Runs `once` (a new process each time): its report.
fn once(workspace: &Workspace, metrics: &FakeTraffic) -> Value {
    let output = workspace.run(&["once"], &env(metrics));
    let log = String::from_utf8_lossy(&output.stderr).into_owned();
    serde_json::from_slice(&output.stdout).unwrap_or_else(|err| panic!("no report ({err}): {log}"))
}

/// The first tick's create is in doubt: it failed, and fra is pending.
fn assert_in_doubt(report: &Value) {
    assert_eq!(
        report["actions"].as_array().map(Vec::len),
        Some(1),
        "{report}"
    );
    let error = report["actions"][0]["outcome"]["error"]
        .as_str()
        .unwrap_or("");
    assert!(error.contains("may have taken effect"), "{report}");
    assert_eq!(report["pending"], json!(["fra"]), "{report}");
    assert_eq!(report["deployed"], json!([]), "{report}");
}

/// A later tick while the listing still lags: nothing done, fra pending.
fn assert_still_pending(report: &Value) {
    assert_eq!(report["actions"], json!([]), "{report}");
    assert_eq!(report["pending"], json!(["fra"]), "{report}");
    assert_eq!(report["current_deployment"], json!(["iad"]), "{report}");
    let fra = report["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["region"] == "fra")
        .unwrap_or_else(|| panic!("fra not skipped: {report}"));
    assert!(
        fra["reason"]
            .as_str()
            .unwrap()
            .starts_with("Deploy in doubt since"),
        "{fra}"
    );
}

const LAG: Duration = Duration::from_secs(6);

#[test]
fn ticks_of_one_process_make_one_machine_while_the_listing_lags() {
    let runtime = kit::runtime();
    let metrics = FakeTraffic::start(&runtime, &[("fra", 5.0), ("iad", 1.0)]);
    let api = fake_app(&runtime, LAG);
    create_then_500(&api);
    let workspace = Workspace::new(&config(&api, "60s", ""));
    let server = workspace.serve(&[], &env(&metrics));

    assert_in_doubt(&kit::trigger(&server));
    assert_eq!(alive_in(&api, "fra"), 1, "the fake made it");
    for _ in 0..3 {
        assert_still_pending(&kit::trigger(&server));
    }
    let health = get_json(&server.url("/health"));
    assert_eq!(health["pending"], json!(["fra"]), "{health}");
    let state = get_json(&server.url("/state"));
    assert_eq!(state["pending"][0]["region"], "fra", "{state}");

    // The listing catches up: fra is deployed, no longer pending.
    std::thread::sleep(LAG);
    let report = kit::trigger(&server);
    assert_eq!(report["actions"], json!([]), "{report}");
    assert_eq!(
        report["current_deployment"],
        json!(["fra", "iad"]),
        "{report}"
    );
    assert!(report.get("pending").is_none(), "{report}");
    assert_eq!(creates(&api).len(), 1);
    assert_eq!(alive_in(&api, "fra"), 1);
    let health = get_json(&server.url("/health"));
    assert!(health.get("pending").is_none(), "{health}");
}

#[test]
fn a_restarted_process_reads_the_pending_deploy_and_makes_no_second_machine() {
    let runtime = kit::runtime();
    let metrics = FakeTraffic::start(&runtime, &[("fra", 5.0), ("iad", 1.0)]);
    let api = fake_app(&runtime, LAG);
    create_then_500(&api);
    let workspace = Workspace::new(&config(&api, "60s", ""));

    assert_in_doubt(&once(&workspace, &metrics));
    let saved = std::fs::read_to_string(workspace.path("data/engine_state.json")).unwrap();
    let saved: Value = serde_json::from_str(&saved).unwrap();
    assert!(saved["pending"]["fra"]["since"].is_string(), "{saved}");
    // New processes, nothing in memory: the saved state says fra is pending.
    for _ in 0..2 {
        assert_still_pending(&once(&workspace, &metrics));
    }
    std::thread::sleep(LAG);
    let report = once(&workspace, &metrics);
    assert_eq!(report["actions"], json!([]), "{report}");
    assert_eq!(
        report["current_deployment"],
        json!(["fra", "iad"]),
        "{report}"
    );
    assert_eq!(creates(&api).len(), 1);
    assert_eq!(alive_in(&api, "fra"), 1);
    let saved = std::fs::read_to_string(workspace.path("data/engine_state.json")).unwrap();
    let saved: Value = serde_json::from_str(&saved).unwrap();
    assert!(saved.get("pending").is_none(), "{saved}");
}

#[test]
fn after_the_grace_period_one_more_create_goes_out_under_the_same_name() {
    let runtime = kit::runtime();
    let metrics = FakeTraffic::start(&runtime, &[("fra", 5.0), ("iad", 1.0)]);
    let api = fake_app(&runtime, LAG);
    // This create made nothing, but its answer says as little as one that did.
    api.inject_on(
        "POST",
        "/machines",
        Fault::Error {
            status: 500,
            message: "internal error".into(),
        },
    );
    let grace = LAG + Duration::from_secs(2);
    let workspace = Workspace::new(&config(&api, &format!("{}s", grace.as_secs()), ""));

    assert_in_doubt(&once(&workspace, &metrics));
    assert_still_pending(&once(&workspace, &metrics));
    assert_eq!(alive_in(&api, "fra"), 0);
    std::thread::sleep(grace);
    let report = once(&workspace, &metrics);
    assert_eq!(report["deployed"], json!(["fra"]), "{report}");
    let names = creates(&api);
    assert_eq!(names.len(), 2, "{names:?}");
    assert_eq!(names[0], names[1], "the same name, the second guard");
    assert_eq!(alive_in(&api, "fra"), 1);
}

#[cfg(feature = "etcd")]
#[ignore = "needs etcd"]
#[test]
fn a_new_leader_reads_the_pending_deploy_and_makes_no_second_machine() {
    use crate::kit::etcd;

    let etcd = etcd::Etcd::start();
    let runtime = kit::runtime();
    let metrics = FakeTraffic::start(&runtime, &[("fra", 5.0), ("iad", 1.0)]);
    // Longer than the failover takes, so the new leader's tick sees the
    // listing without the machine.
    let api = fake_app(&runtime, Duration::from_secs(60));
    create_then_500(&api);
    let workspace = Workspace::new(&config(
        &api,
        "5m",
        "state:\n  lease_ttl: 3s\n  timeout: 1s\n",
    ));
    let state_url = etcd.url("placers");
    let mut env = env(&metrics).to_vec();
    env.push(("PLACER_STATE_URL", state_url.as_str()));
    let serve = |data_dir: &str| workspace.serve(&["--data-dir", data_dir], &env);
    let role = |server: &Server| get_json(&server.url("/health"))["role"].clone();
    let wait_for_role = |server: &Server, wanted: &str| {
        let started = std::time::Instant::now();
        while role(server) != wanted {
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "never {wanted}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    };

    let mut a = serve("a");
    wait_for_role(&a, "leader");
    let b = serve("b");
    wait_for_role(&b, "follower");

    assert_in_doubt(&kit::trigger(&a));
    a.kill();
    wait_for_role(&b, "leader");
    let response = client().post(b.url("/trigger")).send().unwrap();
    assert_eq!(response.status(), 200);
    assert_still_pending(&response.json().unwrap());
    assert_eq!(creates(&api).len(), 1);
    assert_eq!(alive_in(&api, "fra"), 1);
}
