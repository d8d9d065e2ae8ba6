//! Two `fly-placer serve` processes sharing their state in a real etcd,
//! live against the fake Fly Machines API and a fake Prometheus API: one
//! acts; when it is killed mid-tick the other takes over, goes on from the
//! stored state and makes no second machine; a leader cut off from etcd (or
//! paused) stops acting.
#![cfg(feature = "etcd")]

use std::time::{Duration, Instant};

use crate::kit::fake_traffic::FakeTraffic;
use crate::kit::{self, client, etcd, get_json, Server, Workspace};
use placer_fly::fake::{FakeMachinesApi, Fault, MachineSpec};
use serde_json::Value;

const APP: &str = "shop";
const TOKEN: &str = "FlyV1 fm2_test-token";

struct Setup {
    _runtime: tokio::runtime::Runtime,
    api: FakeMachinesApi,
    metrics: FakeTraffic,
    etcd: etcd::Etcd,
    workspace: Workspace,
}

/// Live, one action per tick, ticks only on `POST /trigger`, a 3 s lease.
fn setup() -> Setup {
    let etcd = etcd::Etcd::start();
    let runtime = kit::runtime();
    let metrics = FakeTraffic::start(&runtime, &[("fra", 5.0), ("nrt", 3.0), ("iad", 1.0)]);
    let api = runtime
        .block_on(FakeMachinesApi::start(APP, TOKEN))
        .unwrap();
    api.add_machine(MachineSpec::new("iad"));
    let workspace = Workspace::new(&format!(
        "dry_run: false\ncooldown_period: 3600\nsustain_ticks: 1\nmax_actions_per_tick: 1\n\
         service:\n  interval: 0\n\
         state:\n  lease_ttl: 3s\n  timeout: 1s\n\
         fly:\n  api_url: {}\n  retry:\n    max_attempts: 1\n",
        api.base_url()
    ));
    Setup {
        _runtime: runtime,
        api,
        metrics,
        etcd,
        workspace,
    }
}

impl Setup {
    fn serve(&self, data_dir: &str) -> Server {
        let state_url = self.etcd.url("placers");
        self.workspace.serve(
            &["--data-dir", data_dir],
            &[
                ("FLY_APP_NAME", APP),
                ("FLY_API_TOKEN", TOKEN),
                ("FLY_PROMETHEUS_URL", self.metrics.url.as_str()),
                ("PLACER_STATE_URL", state_url.as_str()),
            ],
        )
    }

    /// Creates and destroys sent to the fake so far.
    fn writes(&self) -> Vec<(String, String, Option<Value>)> {
        self.api
            .requests()
            .into_iter()
            .filter(|r| r.method == "POST" && r.path.ends_with("/machines") || r.method == "DELETE")
            .map(|r| (r.method, r.path, r.body))
            .collect()
    }

    /// Machines not destroyed, per region.
    fn alive_in(&self, region: &str) -> usize {
        self.api
            .machines()
            .iter()
            .filter(|m| m.region.as_str() == region && m.state != "destroyed")
            .count()
    }
}

fn health(server: &Server) -> Value {
    get_json(&server.url("/health"))
}

fn wait_for(what: &str, limit: Duration, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < limit, "no {what} within {limit:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A series' value in the server's `/metrics`.
fn metric(server: &Server, series: &str) -> Option<f64> {
    let text = client()
        .get(server.url("/metrics"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map(|value| value.parse().unwrap())
}

fn wait_for_role(server: &Server, role: &str) {
    wait_for(&format!("role {role}"), Duration::from_secs(30), || {
        health(server)["role"] == role
    });
}

/// `POST /trigger`: status and body.
fn trigger(server: &Server) -> (u16, Value) {
    let response = client().post(server.url("/trigger")).send().unwrap();
    (response.status().as_u16(), response.json().unwrap())
}

fn points(document: &Value, region: &str) -> u64 {
    document["regions"][region]["points"].as_u64().unwrap_or(0)
}

#[ignore = "needs etcd"]
#[test]
fn the_follower_takes_over_from_a_leader_killed_mid_tick_without_a_second_machine() {
    let setup = setup();
    let mut a = setup.serve("a");
    wait_for_role(&a, "leader");
    let b = setup.serve("b");
    wait_for_role(&b, "follower");
    assert_eq!(
        health(&b)["leader"],
        health(&a)["leader"],
        "both name the same leader"
    );

    // Only the leader ticks; the follower names it.
    let (status, body) = trigger(&b);
    assert_eq!(status, 409, "{body}");
    let leader = health(&a)["leader"].as_str().unwrap().to_owned();
    assert!(leader.ends_with(&format!("-{}", a.pid())), "{leader}");
    assert!(body["error"].as_str().unwrap().contains(&leader), "{body}");
    assert!(setup.writes().is_empty());

    // The leader's first tick deploys the busiest region.
    let (status, first) = trigger(&a);
    assert_eq!(status, 200, "{first}");
    assert_eq!(first["deployed"], serde_json::json!(["fra"]), "{first}");
    let saved_points = points(&first, "fra");
    // The follower shows what the leader saved.
    let (status, _) = trigger(&b);
    assert_eq!(status, 409);
    let follower_state = get_json(&b.url("/state"));
    assert_eq!(
        follower_state["history"]["regions"]["fra"]["points"], saved_points,
        "{follower_state}"
    );

    // The next create is carried out but answered only after a long while,
    // and the listing lags: the leader dies with the create in flight.
    setup.api.set_list_lag(Duration::from_secs(120));
    setup
        .api
        .inject_on("POST", "/machines", Fault::Slow(Duration::from_secs(60)));
    let base = a.url("/trigger");
    let in_flight = std::thread::spawn(move || client().post(base).send().map(|r| r.status()));
    wait_for("the create in flight", Duration::from_secs(30), || {
        setup.alive_in("nrt") == 1
    });
    a.kill();
    let _ = in_flight.join();
    let writes_before = setup.writes();
    assert_eq!(writes_before.len(), 2, "{writes_before:?}");

    // The follower takes over once the dead leader's lease runs out.
    wait_for_role(&b, "leader");

    // Its first tick goes on from the stored state (one more point than
    // the old leader saved) and keeps fra's cooldown.
    let (_, report) = trigger(&b);
    assert_eq!(points(&report, "fra"), saved_points + 1, "{report}");
    assert_eq!(report["removed"], serde_json::json!([]), "{report}");
    // It tries nrt again under the same name: the API refuses a second
    // machine, so nrt has exactly one.
    let writes = setup.writes();
    let nrt_creates: Vec<_> = writes
        .iter()
        .filter(|(method, _, body)| {
            method == "POST" && body.as_ref().is_some_and(|b| b["region"] == "nrt")
        })
        .collect();
    // One from the old leader, one from the new (refused: the name is taken).
    assert_eq!(nrt_creates.len(), 2, "{writes:?}");
    let names: Vec<_> = nrt_creates
        .iter()
        .map(|(_, _, body)| body.as_ref().unwrap()["name"].clone())
        .collect();
    assert!(names.windows(2).all(|pair| pair[0] == pair[1]), "{names:?}");
    assert_eq!(setup.alive_in("nrt"), 1);
    assert_eq!(setup.alive_in("fra"), 1);
    assert_eq!(setup.alive_in("iad"), 1);
}

#[ignore = "needs etcd"]
#[test]
fn a_leader_cut_off_from_etcd_steps_down_and_leads_again_once_it_is_back() {
    let mut setup = setup();
    let a = setup.serve("a");
    wait_for_role(&a, "leader");
    let (status, first) = trigger(&a);
    assert_eq!(status, 200, "{first}");
    let saved_points = points(&first, "fra");
    let writes = setup.writes().len();

    setup.etcd.stop();
    // No renewal: it steps down before its lease could expire, and acts no
    // more.
    wait_for_role(&a, "follower");
    assert!(health(&a)["leader"].is_null(), "{}", health(&a));
    // What FlyPlacerNoLeader reads; the interval is 0: ticks on trigger only.
    assert_eq!(metric(&a, r#"fly_placer_leader{app="shop"}"#), Some(0.0));
    assert_eq!(
        metric(&a, r#"fly_placer_interval_seconds{app="shop"}"#),
        Some(0.0)
    );
    let (status, body) = trigger(&a);
    assert_eq!(status, 409, "{body}");
    assert_eq!(setup.writes().len(), writes);

    setup.etcd.restart();
    wait_for_role(&a, "leader");
    assert_eq!(metric(&a, r#"fly_placer_leader{app="shop"}"#), Some(1.0));
    let (status, again) = trigger(&a);
    assert_eq!(status, 200, "{again}");
    // Nothing was lost: the history goes on from the stored state.
    assert_eq!(points(&again, "fra"), saved_points + 1, "{again}");
    assert_eq!(setup.alive_in("fra"), 1);
}

#[ignore = "needs etcd"]
#[test]
fn a_paused_leader_is_replaced_and_acts_no_more_when_it_wakes() {
    let setup = setup();
    let a = setup.serve("a");
    wait_for_role(&a, "leader");
    let b = setup.serve("b");
    wait_for_role(&b, "follower");

    etcd::signal(a.pid(), "STOP");
    wait_for_role(&b, "leader");
    let (status, report) = trigger(&b);
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["deployed"], serde_json::json!(["fra"]), "{report}");
    let writes = setup.writes();

    etcd::signal(a.pid(), "CONT");
    // Woken up, it still believes it leads for a moment at most: whatever
    // it is asked, it changes nothing, and it soon follows b.
    let (status, body) = trigger(&a);
    assert!(status == 409 || status == 200, "{status} {body}");
    wait_for_role(&a, "follower");
    let (status, body) = trigger(&a);
    assert_eq!(status, 409, "{body}");
    assert_eq!(setup.writes(), writes, "no change from the old leader");
    assert_eq!(setup.alive_in("fra"), 1);
}

#[ignore = "needs etcd"]
#[test]
fn a_dry_runs_simulated_deployment_carries_over_to_the_new_leader() {
    let etcd = etcd::Etcd::start();
    let runtime = kit::runtime();
    let metrics = FakeTraffic::start(&runtime, &[("fra", 5.0), ("nrt", 3.0), ("iad", 1.0)]);
    // Dry run without a Fly token: the deployment is simulated.
    let workspace = Workspace::new(
        "dry_run: true\ncooldown_period: 3600\nsustain_ticks: 1\nmax_actions_per_tick: 1\n\
         service:\n  interval: 0\n\
         simulation:\n  initial_deployment: [iad]\n\
         state:\n  lease_ttl: 3s\n  timeout: 1s\n",
    );
    let state_url = etcd.url("dry");
    let serve = |data_dir: &str| {
        workspace.serve(
            &["--data-dir", data_dir],
            &[
                ("PLACER_APP", APP),
                ("FLY_PROMETHEUS_URL", metrics.url.as_str()),
                ("PLACER_STATE_URL", state_url.as_str()),
            ],
        )
    };
    let mut a = serve("a");
    wait_for_role(&a, "leader");
    let b = serve("b");
    wait_for_role(&b, "follower");

    let (status, report) = trigger(&a);
    assert_eq!(status, 200, "{report}");
    assert_eq!(report["deployed"], serde_json::json!(["fra"]), "{report}");
    a.kill();

    wait_for_role(&b, "leader");
    let (status, report) = trigger(&b);
    assert_eq!(status, 200, "{report}");
    // b's own simulation file still says iad alone; it goes on from a's.
    assert_eq!(
        report["current_deployment"],
        serde_json::json!(["fra", "iad"]),
        "{report}"
    );
    assert_eq!(report["deployed"], serde_json::json!(["nrt"]), "{report}");
}
