//! `fly-placer` end to end against a real VictoriaMetrics and the fake Fly
//! Machines API: live placement, dry-run that never changes a machine, and
//! a graceful stop in the middle of a tick.

use std::time::Duration;

use crate::kit::victoria::VictoriaMetrics;
use crate::kit::{self, client, get_json, trigger, Workspace};
use placer_fly::fake::{FakeMachinesApi, Fault, MachineSpec};

const APP: &str = "shop";
const TOKEN: &str = "FlyV1 fm2_test-token";

/// The fake app: a machine in iad (deployed by `fly deploy`) and one in lhr
/// that fly-placer created earlier.
fn fake_app(runtime: &tokio::runtime::Runtime) -> (FakeMachinesApi, String) {
    let api = runtime
        .block_on(FakeMachinesApi::start(APP, TOKEN))
        .unwrap();
    api.add_machine(MachineSpec::new("iad"));
    let lhr = api.add_machine(MachineSpec::new("lhr").managed());
    (api, lhr)
}

fn config(dry_run: bool, api_url: &str) -> String {
    format!(
        "dry_run: {dry_run}\ncooldown_period: 10\nsustain_ticks: 1\nexcluded_regions: [nrt]\n\
         service:\n  interval: 0\n\
         fly:\n  api_url: {api_url}\n  retry:\n    max_attempts: 1\n"
    )
}

fn fly_env<'a>(extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut env = vec![("FLY_APP_NAME", APP), ("FLY_API_TOKEN", TOKEN)];
    env.extend_from_slice(extra);
    env
}

#[ignore = "needs victoria-metrics"]
#[test]
fn live_placement_follows_real_metrics_onto_the_machines_api() {
    let metrics = VictoriaMetrics::start();
    // Requests per second: busy fra (no machine), some iad, none in lhr.
    metrics.load_traffic(APP, &[("fra", 3.0), ("iad", 1.0), ("lhr", 0.0)]);
    let runtime = kit::runtime();
    let (api, lhr_machine) = fake_app(&runtime);

    let workspace = Workspace::new(&config(false, &api.base_url()));
    let env = fly_env(&[("FLY_PROMETHEUS_URL", metrics.url.as_str())]);
    let mut server = workspace.serve(&[], &env);
    let log = server.log().join("\n");
    assert!(
        log.contains("traffic: Prometheus at http://127.0.0.1:"),
        "{log}"
    );
    assert!(
        log.contains("live: machines are created and removed"),
        "{log}"
    );
    api.take_requests();

    let report = trigger(&server);
    assert_eq!(report["error"], serde_json::Value::Null, "{report}");
    assert_eq!(report["dry_run"], false);
    assert_eq!(
        report["current_deployment"],
        serde_json::json!(["iad", "lhr"])
    );
    assert_eq!(report["deployed"], serde_json::json!(["fra"]), "{report}");
    assert_eq!(report["removed"], serde_json::json!(["lhr"]), "{report}");
    assert_eq!(
        report["updated_deployment"],
        serde_json::json!(["fra", "iad"])
    );
    let fra = report["regions"]["fra"]["requests"].as_f64().unwrap();
    assert!(
        (800.0..=1000.0).contains(&fra),
        "fra saw {fra} requests in 5 minutes"
    );

    // The machines that exist afterwards.
    assert_eq!(api.live_regions(), ["fra", "iad"]);
    let requests = api.take_requests();
    let changes: Vec<(String, String)> = requests
        .iter()
        .filter(|r| r.method != "GET")
        .map(|r| (r.method.clone(), r.path.clone()))
        .collect();
    assert!(
        changes
            .iter()
            .any(|(m, p)| m == "POST" && p == "/v1/apps/shop/machines"),
        "{changes:?}"
    );
    assert!(
        changes.iter().any(|(m, p)| m == "DELETE"
            && p.starts_with(&format!("/v1/apps/shop/machines/{lhr_machine}"))),
        "{changes:?}"
    );
    assert!(requests.iter().all(|r| r
        .headers
        .get("authorization")
        .is_some_and(|h| !h.contains("test-token"))));

    // Real traffic shows on the read endpoints; the next tick respects the
    // cooldown and changes nothing.
    let traffic = get_json(&server.url("/traffic"));
    assert!(traffic["source"]
        .as_str()
        .unwrap()
        .starts_with("Prometheus"));
    assert_eq!(
        traffic["traffic"].as_object().unwrap().len(),
        3,
        "{traffic}"
    );
    let again = trigger(&server);
    assert_eq!(again["deployed"], serde_json::json!([]));
    assert_eq!(
        again["current_deployment"],
        serde_json::json!(["fra", "iad"])
    );
    assert!(server.stop().success());
    assert!(!server.log().join("\n").contains("test-token"));
    let state = std::fs::read_to_string(workspace.path("data/engine_state.json")).unwrap();
    assert!(
        state.contains("\"deploy\""),
        "the deploy's cooldown is kept: {state}"
    );
}

#[test]
fn dry_run_with_fly_credentials_never_calls_a_mutating_endpoint() {
    let runtime = kit::runtime();
    let (api, _) = fake_app(&runtime);
    let config = format!(
        "{}simulation:\n  seed: 7\n  regions: [fra, iad, lhr, sin]\n",
        config(true, &api.base_url())
    );
    let workspace = Workspace::new(&config);
    let mut server = workspace.serve(&[], &fly_env(&[]));
    assert!(server
        .log()
        .join("\n")
        .contains("observed only: dry run, nothing is changed"));
    let mut planned = 0;
    for _ in 0..8 {
        let report = trigger(&server);
        assert!(report["error"].is_null(), "{report}");
        // The real deployment is observed as it is, every time.
        assert_eq!(
            report["current_deployment"],
            serde_json::json!(["iad", "lhr"])
        );
        for action in report["actions"].as_array().unwrap() {
            assert_eq!(action["outcome"], "dry_run", "{action}");
            planned += 1;
        }
    }
    assert!(
        planned > 0,
        "the simulated traffic never asked for a change"
    );
    let requests = api.requests();
    assert!(!requests.is_empty());
    for request in &requests {
        assert_eq!(
            request.method, "GET",
            "dry run sent {} {}",
            request.method, request.path
        );
    }
    assert_eq!(api.live_regions(), ["iad", "lhr"]);
    assert_eq!(
        get_json(&server.url("/state"))["deployment"],
        serde_json::json!(["iad", "lhr"])
    );
    server.stop();
}

#[test]
fn stopping_finishes_the_tick_in_flight_and_saves_its_state() {
    let runtime = kit::runtime();
    let (api, _) = fake_app(&runtime);
    let workspace = Workspace::new(&config(true, &api.base_url()));
    let mut server = workspace.serve(&[], &fly_env(&[]));
    // The tick's listing of the machines takes two seconds.
    api.inject_on("GET", "/machines", Fault::Slow(Duration::from_secs(2)));
    let url = server.url("/trigger");
    let in_flight = std::thread::spawn(move || client().post(url).send().unwrap());
    std::thread::sleep(Duration::from_millis(500));
    let status = server.stop();
    assert!(status.success(), "{}", server.log().join("\n"));

    let response = in_flight.join().unwrap();
    assert_eq!(response.status(), 200);
    let report: serde_json::Value = response.json().unwrap();
    assert!(report["error"].is_null(), "{report}");
    let log = server.log().join("\n");
    let stop_at = log.find("finishing the tick in flight").unwrap();
    let tick_at = log.find("tick (dry run)").unwrap();
    assert!(stop_at < tick_at, "the tick ended after the signal:\n{log}");
    let saved: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(workspace.path("data/engine_state_dry_run.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(saved["last_observation"], report["at"]);
}

#[test]
fn once_lists_the_machines_once() {
    let runtime = kit::runtime();
    let (api, _) = fake_app(&runtime);
    let config = format!(
        "{}simulation:\n  seed: 7\n  regions: [fra, iad, lhr, sin]\n",
        config(false, &api.base_url())
    );
    let workspace = Workspace::new(&config);
    let output = workspace.run(&["once"], &fly_env(&[]));
    let stderr = String::from_utf8_lossy(&output.stderr);
    let report: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(report["error"].is_null(), "{report}\n{stderr}");
    let lists: Vec<String> = api
        .requests()
        .iter()
        .filter(|r| r.method == "GET" && r.path == format!("/v1/apps/{APP}/machines"))
        .map(|r| r.path.clone())
        .collect();
    assert_eq!(
        lists.len(),
        1,
        "{:?}\n{stderr}",
        api.requests()
            .iter()
            .map(|r| format!("{} {}", r.method, r.path))
            .collect::<Vec<_>>()
    );
}
