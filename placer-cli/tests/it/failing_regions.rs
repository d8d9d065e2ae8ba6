//! Regions that fail or are refused, end to end against a fake Prometheus
//! API and the fake Fly Machines API: traffic labelled with a code Fly does
//! not have, a region at capacity, a machine a person made in a quiet
//! region, and one whose lease another client holds.

use crate::kit::fake_traffic::FakeTraffic;
use crate::kit::{self, Workspace};
use placer_fly::fake::{FakeMachinesApi, MachineSpec};
use serde_json::{json, Value};

const APP: &str = "shop";
const TOKEN: &str = "FlyV1 fm2_test-token";

/// The fake app with a machine in iad, made by `fly deploy`.
fn fake_app(runtime: &tokio::runtime::Runtime) -> FakeMachinesApi {
    let api = runtime
        .block_on(FakeMachinesApi::start(APP, TOKEN))
        .unwrap();
    api.add_machine(MachineSpec::new("iad"));
    api
}

/// A live workspace acting on one region per tick.
fn workspace(api: &FakeMachinesApi) -> Workspace {
    Workspace::new(&format!(
        "dry_run: false\ncooldown_period: 10\nsustain_ticks: 1\nmax_actions_per_tick: 1\n\
         fly:\n  api_url: {}\n  retry:\n    max_attempts: 1\n",
        api.base_url()
    ))
}

/// Runs `once`: its exit code, its report and its log.
fn once(workspace: &Workspace, metrics: &FakeTraffic) -> (Option<i32>, Value, String) {
    let env = [
        ("FLY_APP_NAME", APP),
        ("FLY_API_TOKEN", TOKEN),
        ("FLY_PROMETHEUS_URL", metrics.url.as_str()),
    ];
    let output = workspace.run(&["once"], &env);
    let log = String::from_utf8_lossy(&output.stderr).into_owned();
    let report = serde_json::from_slice(&output.stdout)
        .unwrap_or_else(|err| panic!("no report ({err}): {log}"));
    (output.status.code(), report, log)
}

fn creates(api: &FakeMachinesApi) -> usize {
    api.take_requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path == "/v1/apps/shop/machines")
        .count()
}

#[test]
fn traffic_labelled_with_a_code_fly_does_not_have_is_never_deployed() {
    let runtime = kit::runtime();
    let metrics = FakeTraffic::start(&runtime, &[("zzz", 5.0), ("iad", 1.0)]);
    let api = fake_app(&runtime);
    let workspace = workspace(&api);
    for _ in 0..2 {
        let (code, report, log) = once(&workspace, &metrics);
        assert_eq!(code, Some(0), "{log}");
        assert_eq!(report["ignored_regions"], json!(["zzz"]), "{report}");
        assert_eq!(report["deployed"], json!([]), "{report}");
        assert!(report["regions"].get("zzz").is_none(), "{report}");
        assert!(
            log.contains("ignoring the traffic labelled zzz: not a Fly region"),
            "{log}"
        );
    }
    assert_eq!(creates(&api), 0);
    assert_eq!(api.live_regions(), ["iad"]);
}

#[test]
fn a_region_at_capacity_does_not_block_the_others() {
    let runtime = kit::runtime();
    let metrics = FakeTraffic::start(&runtime, &[("syd", 5.0), ("nrt", 3.0), ("iad", 1.0)]);
    let api = fake_app(&runtime);
    api.set_region_unavailable("syd", Some((422, "insufficient capacity in syd")));
    let workspace = workspace(&api);

    // The busiest region is tried first, and fails.
    let (code, first, log) = once(&workspace, &metrics);
    assert_eq!(code, Some(1), "{log}");
    assert!(
        first["actions"][0]["outcome"]["error"]
            .as_str()
            .is_some_and(|e| e.contains("insufficient capacity in syd")),
        "{first}"
    );
    // It sits out; the action slot goes to nrt.
    let (code, second, log) = once(&workspace, &metrics);
    assert_eq!(code, Some(0), "{log}");
    assert_eq!(second["deployed"], json!(["nrt"]), "{second}");
    let syd = second["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["region"] == "syd")
        .unwrap();
    let reason = syd["reason"].as_str().unwrap();
    assert!(
        reason.starts_with("Region unavailable since ")
            && reason.contains(
                "(HTTP 422: insufficient capacity in syd); its users are served from nrt"
            ),
        "{reason}"
    );
    assert_eq!(creates(&api), 2, "syd once, nrt once");
    assert_eq!(api.live_regions(), ["iad", "nrt"]);
    // The backoff is kept with the engine state, for the next run.
    let state: Value = serde_json::from_str(
        &std::fs::read_to_string(workspace.path("data/engine_state.json")).unwrap(),
    )
    .unwrap();
    let syd = &state["backoffs"]["syd"];
    assert_eq!(syd["action"], "deploy", "{state}");
    assert_eq!(syd["refusals"], 1, "{state}");
    assert_eq!(
        syd["reason"], "HTTP 422: insufficient capacity in syd",
        "{state}"
    );
}

#[test]
fn a_machine_a_person_made_in_a_quiet_region_is_a_skip_not_an_error() {
    let runtime = kit::runtime();
    let metrics = FakeTraffic::start(&runtime, &[("iad", 5.0), ("lhr", 0.0)]);
    let api = fake_app(&runtime);
    // Not marked as fly-placer's: made by a person.
    api.add_machine(MachineSpec::new("lhr"));
    let workspace = workspace(&api);

    let (code, first, log) = once(&workspace, &metrics);
    assert_eq!(code, Some(0), "{log}");
    let action = &first["actions"][0];
    assert_eq!(action["region"], "lhr", "{first}");
    assert_eq!(action["action"], "remove", "{first}");
    assert!(
        action["outcome"]["skipped"]
            .as_str()
            .is_some_and(|why| why.contains("fly-placer did not create")),
        "{first}"
    );
    assert_eq!(first["removed"], json!([]));
    assert_eq!(first["updated_deployment"], json!(["iad", "lhr"]));

    // Not asked again on the next tick: a skip with its reason, no action.
    let (code, second, log) = once(&workspace, &metrics);
    assert_eq!(code, Some(0), "{log}");
    assert_eq!(second["actions"], json!([]), "{second}");
    let lhr = second["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["region"] == "lhr")
        .unwrap();
    assert!(
        lhr["reason"]
            .as_str()
            .unwrap()
            .starts_with("Removal refused since "),
        "{lhr}"
    );
    assert_eq!(api.live_regions(), ["iad", "lhr"]);
}

#[test]
fn a_removal_another_client_holds_the_lease_of_is_counted_as_busy_every_tick() {
    let runtime = kit::runtime();
    let metrics = FakeTraffic::start(&runtime, &[("iad", 5.0), ("lhr", 0.0)]);
    let api = fake_app(&runtime);
    // fly-placer's machine in a quiet region, which a `fly deploy` holds.
    let id = api.add_machine(MachineSpec::new("lhr").managed());
    api.hold_lease(&id, std::time::Duration::from_secs(600))
        .expect("the lease is free");
    let workspace = workspace(&api);
    workspace.write(
        "config/config.yml",
        &format!(
            "{}service:\n  interval: 1s\n",
            std::fs::read_to_string(workspace.path("config/config.yml")).unwrap()
        ),
    );
    let env = [
        ("FLY_APP_NAME", APP),
        ("FLY_API_TOKEN", TOKEN),
        ("FLY_PROMETHEUS_URL", metrics.url.as_str()),
    ];
    let mut server = workspace.serve(&[], &env);
    let busy = || {
        let text = kit::client()
            .get(server.url("/metrics"))
            .send()
            .unwrap()
            .text()
            .unwrap();
        text.lines()
            .find_map(|line| line.strip_prefix(r#"fly_placer_lease_busy_total{app="shop"} "#))
            .map(|value| value.parse::<f64>().unwrap())
    };
    assert_eq!(busy(), Some(0.0), "exported from zero");
    // Asked again at each tick, with no backoff: counted each time.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while busy() < Some(2.0) {
        assert!(
            std::time::Instant::now() < deadline,
            "{:?}\n{}",
            busy(),
            server.log().join("\n")
        );
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert_eq!(api.live_regions(), ["iad", "lhr"]);
    assert!(server.stop().success(), "{}", server.log().join("\n"));
}
