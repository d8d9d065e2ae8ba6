//! The regions Fly places machines in, end to end: the fake Machines API
//! says `mad` and `gig` are deprecated and `syd` has no room, users enter
//! Fly's edge there, and the latency policy, live, creates no machine in
//! any of them — until `syd` has room again and the next read of the
//! platform's regions says so. `/health`, the status page and the metrics
//! say where the picture came from.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use crate::kit::fake_traffic::FakeTraffic;
use crate::kit::{self, client, get_json, Server, Workspace};
use placer_fly::fake::{FakeMachinesApi, Fault, MachineSpec};

const APP: &str = "shop";
const TOKEN: &str = "FlyV1 fm2_test-token";

/// The latency policy, live, acting at once on what it sees, ticking every
/// second and reading the platform's regions every two.
fn config(api: &FakeMachinesApi) -> String {
    format!(
        "dry_run: false\npolicy: latency\ncooldown_period: 1\nmin_regions: 1\n\
         max_actions_per_tick: 5\nmachine_startup: 0s\n\
         latency:\n  persist_ticks: 1\n  improvement_margin: 0.01\n  urgent_improvement: 0.05\n\
         \x20 stabilization_window: 1s\n  region_cost_ms: 1.0\n  min_region_saving: 1\n\
         forecast:\n  method: none\n\
         service:\n  interval: 1s\n\
         fly:\n  api_url: {}\n  platform_regions_refresh: 2s\n  retry:\n    max_attempts: 1\n",
        api.base_url()
    )
}

/// The regions fly-placer asked the fake to create a machine in.
fn created_in(api: &FakeMachinesApi) -> BTreeSet<String> {
    api.requests()
        .iter()
        .filter(|r| r.method == "POST" && r.path == "/v1/apps/shop/machines")
        .filter_map(|r| Some(r.body.as_ref()?["region"].as_str()?.to_owned()))
        .collect()
}

/// Polls `/health` until the app has ticked `ticks` times.
fn wait_for_ticks(server: &Server, ticks: u64) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let health = get_json(&server.url("/health"));
        if health["ticks"].as_u64().unwrap_or(0) >= ticks {
            return health;
        }
        assert!(Instant::now() < deadline, "too few ticks: {health}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn deprecated_and_full_regions_get_no_machine_until_the_platform_has_room() {
    let runtime = kit::runtime();
    let traffic = FakeTraffic::start(
        &runtime,
        &[("mad", 5.0), ("gig", 4.0), ("syd", 6.0), ("iad", 1.0)],
    );
    let api = runtime
        .block_on(FakeMachinesApi::start(APP, TOKEN))
        .unwrap();
    api.add_machine(MachineSpec::new("iad"));
    api.set_region_deprecated("mad", true);
    api.set_region_deprecated("gig", true);
    api.set_region_capacity("syd", Some(0));
    // One 429 on the way: counted among the Machines API's answers.
    api.inject(Fault::TooManyRequests {
        retry_after_secs: 1,
    });
    let workspace = Workspace::new(&config(&api));
    let env = [
        ("FLY_APP_NAME", APP),
        ("FLY_API_TOKEN", TOKEN),
        ("FLY_PROMETHEUS_URL", traffic.url.as_str()),
    ];
    let server = workspace.serve(&[], &env);

    let health = wait_for_ticks(&server, 5);
    let platform = &health["platform"];
    assert_eq!(platform["source"], "platform", "{health}");
    assert_eq!(platform["deployable"], 17, "{health}");
    assert_eq!(platform["unavailable"]["mad"], "deprecated", "{health}");
    assert_eq!(platform["unavailable"]["gig"], "deprecated", "{health}");
    assert_eq!(platform["unavailable"]["syd"], "full", "{health}");
    let page = get_json(&server.url("/api/status"));
    let line = page["platform_regions"].as_str().unwrap();
    assert!(line.starts_with("from the platform (read "), "{line}");
    assert!(line.contains("17 regions take machines"), "{line}");
    assert!(line.contains("at capacity: syd"), "{line}");
    let metrics = client()
        .get(server.url("/metrics"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(
        metrics.contains(r#"fly_placer_platform_regions{app="shop",source="platform"} 17"#),
        "{metrics}"
    );
    // What the alerting rules read: the regions that take no machine and
    // why, the Machines API's answers, leadership and the interval.
    for series in [
        r#"fly_placer_platform_region_unavailable{app="shop",region="gig",why="deprecated"} 1"#,
        r#"fly_placer_platform_region_unavailable{app="shop",region="mad",why="deprecated"} 1"#,
        r#"fly_placer_platform_region_unavailable{app="shop",region="syd",why="full"} 1"#,
        r#"fly_placer_fly_api_requests_total{app="shop",outcome="rate_limited"} 1"#,
        r#"fly_placer_leader{app="shop"} 1"#,
        r#"fly_placer_interval_seconds{app="shop"} 1"#,
    ] {
        assert!(metrics.contains(series), "{series}\n{metrics}");
    }
    let answered_ok: f64 = metrics
        .lines()
        .find_map(|line| {
            line.strip_prefix(r#"fly_placer_fly_api_requests_total{app="shop",outcome="ok"} "#)
        })
        .unwrap()
        .parse()
        .unwrap();
    assert!(answered_ok >= 5.0, "{metrics}");

    // Users enter at mad, gig and syd; no machine is asked for there, and
    // they are served from regions that take machines.
    let asked = created_in(&api);
    for edge in ["mad", "gig", "syd"] {
        assert!(!asked.contains(edge), "a create in {edge}: {asked:?}");
    }
    let live = api.live_regions();
    assert!(
        live.len() > 1,
        "the users are served from nearer regions: {live:?}"
    );
    for region in &live {
        assert!(
            placer_core::network::platform::COMPUTE_REGIONS.contains(&region.as_str())
                && region != "syd",
            "{region} in {live:?}"
        );
    }

    // syd has room again: at the next read (two seconds), syd is deployed.
    api.set_region_capacity("syd", Some(10));
    let deadline = Instant::now() + Duration::from_secs(30);
    while !api.live_regions().contains(&"syd".to_owned()) {
        assert!(
            Instant::now() < deadline,
            "syd never deployed: {:?}, {}",
            api.live_regions(),
            get_json(&server.url("/health"))
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // The machine is made during a tick; /health shows that tick's picture
    // once the tick is over.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let health = get_json(&server.url("/health"));
        if health["platform"]["unavailable"].get("syd").is_none() {
            break;
        }
        assert!(Instant::now() < deadline, "{health}");
        std::thread::sleep(Duration::from_millis(200));
    }
    let asked = created_in(&api);
    assert!(
        !asked.contains("mad") && !asked.contains("gig"),
        "{asked:?}"
    );
}

#[test]
fn a_token_that_may_not_read_the_regions_falls_back_to_the_catalog_and_says_so() {
    let runtime = kit::runtime();
    let traffic = FakeTraffic::start(&runtime, &[("iad", 1.0)]);
    let api = runtime
        .block_on(FakeMachinesApi::start(APP, TOKEN))
        .unwrap();
    api.add_machine(MachineSpec::new("iad"));
    api.set_platform_regions_failure(Some(placer_fly::fake::PlatformFailure::Error {
        status: 403,
        message: "unauthorized to read platform regions".into(),
    }));
    let workspace = Workspace::new(&config(&api));
    let env = [
        ("FLY_APP_NAME", APP),
        ("FLY_API_TOKEN", TOKEN),
        ("FLY_PROMETHEUS_URL", traffic.url.as_str()),
    ];
    let mut server = workspace.serve(&[], &env);

    // Several reads fail the same way (one every two seconds): one line.
    let health = wait_for_ticks(&server, 6);
    let platform = &health["platform"];
    assert_eq!(platform["source"], "fallback", "{health}");
    assert_eq!(platform["deployable"], 18, "{health}");
    let reason = platform["reason"].as_str().unwrap();
    assert!(reason.starts_with("HTTP 403"), "{reason}");
    assert_eq!(
        health["status"], "ok",
        "a fallback is not a failure: {health}"
    );
    let reads = api
        .requests()
        .iter()
        .filter(|r| r.path.starts_with("/v1/platform/regions"))
        .count();
    assert!(reads >= 2, "read again at each refresh: {reads}");
    server.wait_for_log("cannot read the platform's regions", Duration::from_secs(5));
    assert_eq!(server.count_log("cannot read the platform's regions"), 1);
    assert!(server
        .log()
        .iter()
        .all(|line| !line.contains("fm2_test-token")));
    let line = get_json(&server.url("/api/status"))["platform_regions"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        line.starts_with("built-in catalog: the platform could not be read at "),
        "{line}"
    );
    let metrics = client()
        .get(server.url("/metrics"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(
        metrics.contains(r#"fly_placer_platform_regions{app="shop",source="fallback"} 18"#),
        "{metrics}"
    );
}
