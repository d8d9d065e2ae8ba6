//! Several apps from one fly-placer against a real VictoriaMetrics and the
//! fake Machines API: each app placed in its own hot regions from one
//! query per tick, an app that cannot be placed failing alone, apps
//! matched by a pattern picked up and dropped as the organization changes,
//! and apps ticking together within the Machines API limits they share.

use std::time::{Duration, Instant};

use crate::kit::victoria::VictoriaMetrics;
use crate::kit::{self, client, get_json, Workspace};
use placer_fly::fake::{FakeMachinesApi, MachineSpec};

const TOKEN: &str = "FlyV1 fm2_test-token";

#[ignore = "needs victoria-metrics"]
#[test]
fn each_app_is_placed_in_its_own_regions_and_a_failing_one_fails_alone() {
    let metrics = VictoriaMetrics::start();
    // shop is busy in fra, blog in syd; vault in ams, but its template
    // machine mounts a volume.
    metrics.load_apps_traffic(&[
        ("shop", &[("fra", 3.0), ("iad", 1.0)][..]),
        ("blog", &[("syd", 3.0), ("iad", 1.0)][..]),
        ("vault", &[("ams", 3.0), ("iad", 1.0)][..]),
    ]);
    let runtime = kit::runtime();
    let api = runtime
        .block_on(FakeMachinesApi::start("shop", TOKEN))
        .unwrap();
    api.add_app("blog");
    api.add_app("vault");
    api.add_machine(MachineSpec::new("iad"));
    api.add_machine(MachineSpec::new("iad").app("blog"));
    api.add_machine(MachineSpec::new("iad").app("vault").config_field(
        "mounts",
        serde_json::json!([{"volume": "vol_1", "path": "/data"}]),
    ));
    let config = format!(
        "dry_run: false\ncooldown_period: 10\nsustain_ticks: 1\n\
         apps: [shop, blog, vault]\n\
         service:\n  interval: 0\n\
         fly:\n  api_url: {}\n  retry:\n    max_attempts: 1\n",
        api.base_url()
    );
    let workspace = Workspace::new(&config);
    let env = [
        ("FLY_API_TOKEN", TOKEN),
        ("FLY_PROMETHEUS_URL", metrics.url.as_str()),
    ];
    let mut server = workspace.serve(&[], &env);
    let queries_before = metrics.settled_query_count();

    let response = client().post(server.url("/trigger")).send().unwrap();
    let reports: serde_json::Value = response.json().unwrap();
    // One query for the three apps.
    assert_eq!(
        reports["shop"]["deployed"],
        serde_json::json!(["fra"]),
        "{reports}"
    );
    assert_eq!(
        reports["blog"]["deployed"],
        serde_json::json!(["syd"]),
        "{reports}"
    );
    assert_eq!(api.live_regions_of("shop"), ["fra", "iad"]);
    assert_eq!(api.live_regions_of("blog"), ["iad", "syd"]);
    // vault alone failed, saying why; nothing was created for it.
    assert_eq!(api.live_regions_of("vault"), ["iad"]);
    let failed = &reports["vault"]["actions"][0];
    assert_eq!(failed["region"], "ams", "{reports}");
    let error = failed["outcome"]["error"].as_str().unwrap_or_default();
    assert!(error.contains("mounts a volume"), "{reports}");
    let health = get_json(&server.url("/health"));
    assert_eq!(health["status"], "degraded");
    assert_eq!(health["apps"]["shop"]["status"], "ok", "{health}");
    assert_eq!(health["apps"]["vault"]["status"], "degraded", "{health}");
    assert!(server.stop().success());
    assert!(workspace.path("data/apps/shop/engine_state.json").exists());
    // One query for the three apps' tick. VictoriaMetrics counts a request
    // once its connection is done with it: read the count once it has
    // settled after the placer stopped.
    assert_eq!(
        metrics.settled_query_count() - queries_before,
        1,
        "{reports}"
    );
}

/// Polls `GET /apps` until `wanted` holds, for at most 30 s.
fn wait_for_apps(server: &kit::Server, wanted: impl Fn(&[String]) -> bool) -> Vec<String> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let apps: Vec<String> =
            serde_json::from_value(get_json(&server.url("/apps"))["apps"].clone()).unwrap();
        if wanted(&apps) {
            return apps;
        }
        assert!(Instant::now() < deadline, "apps never matched: {apps:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn pattern_apps_are_picked_up_and_dropped_as_the_org_changes() {
    let runtime = kit::runtime();
    let api = runtime
        .block_on(FakeMachinesApi::start("shop-web", TOKEN))
        .unwrap();
    api.set_org("acme");
    api.add_app("blog");
    api.add_machine(MachineSpec::new("iad"));
    api.add_machine(MachineSpec::new("iad").app("blog"));
    let config = format!(
        "dry_run: true\n\
         apps:\n  shop-*:\n    traffic_threshold: 80\n\
         service:\n  interval: 0\n  apps_refresh: 1s\n\
         simulation:\n  seed: 3\n\
         fly:\n  org: acme\n  api_url: {}\n  retry:\n    max_attempts: 1\n",
        api.base_url()
    );
    let workspace = Workspace::new(&config);
    let mut server = workspace.serve(&[], &[("FLY_API_TOKEN", TOKEN)]);
    assert_eq!(wait_for_apps(&server, |_| true), ["shop-web"]);

    // An app created mid-run is picked up at the next refresh.
    api.add_app("shop-eu");
    api.add_machine(MachineSpec::new("cdg").app("shop-eu"));
    wait_for_apps(&server, |apps| apps == ["shop-eu", "shop-web"]);
    let report = kit::trigger(&server);
    assert_eq!(
        report["shop-eu"]["current_deployment"],
        serde_json::json!(["cdg"]),
        "{report}"
    );

    // A deleted one is dropped, its state kept aside.
    api.delete_app("shop-web");
    wait_for_apps(&server, |apps| apps == ["shop-eu"]);
    server.wait_for_log("dropped", Duration::from_secs(10));
    let aside: Vec<String> = std::fs::read_dir(workspace.path("data/apps"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("shop-web.dropped-"))
        .collect();
    assert_eq!(aside.len(), 1, "{aside:?}");
    assert!(workspace
        .path(&format!("data/apps/{}/engine_state_dry_run.json", aside[0]))
        .exists());
    assert!(server.stop().success());
}

/// `n` apps named `app-1`… in one fake organization, one machine in iad each.
fn fake_with_apps(runtime: &tokio::runtime::Runtime, n: usize) -> (FakeMachinesApi, Vec<String>) {
    let names: Vec<String> = (1..=n).map(|i| format!("app-{i}")).collect();
    let api = runtime
        .block_on(FakeMachinesApi::start(&names[0], TOKEN))
        .unwrap();
    for name in &names {
        api.add_app(name);
        api.add_machine(MachineSpec::new("iad").app(name));
    }
    (api, names)
}

#[test]
fn apps_ticking_together_share_one_cap_on_requests_in_flight() {
    // Six apps, live, each answer held back: without one cap for all of
    // them, their listings and creates would all be open at once.
    let runtime = kit::runtime();
    let (api, names) = fake_with_apps(&runtime, 6);
    api.set_answer_delay(Duration::from_millis(200));
    let config = format!(
        "dry_run: false\ncooldown_period: 10\nsustain_ticks: 1\n\
         apps: [{}]\n\
         service:\n  interval: 0\n\
         simulation:\n  seed: 7\n\
         fly:\n  api_url: {}\n  max_in_flight: 2\n  retry:\n    max_attempts: 1\n  \
         rate_limit:\n    requests_per_second: 1000\n    burst: 1000\n",
        names.join(", "),
        api.base_url()
    );
    let workspace = Workspace::new(&config);
    let mut server = workspace.serve(&[], &[("FLY_API_TOKEN", TOKEN)]);
    for _ in 0..2 {
        let reports = kit::trigger(&server);
        for name in &names {
            assert_eq!(reports[name]["error"], serde_json::Value::Null, "{reports}");
        }
    }
    assert!(server.stop().success());
    let requests = api.requests();
    // Every app listed its machines at start and at both ticks.
    for name in &names {
        let listings = requests
            .iter()
            .filter(|r| r.method == "GET" && r.path == format!("/v1/apps/{name}/machines"))
            .count();
        assert!(listings >= 3, "{name}: {listings} listings");
    }
    // Requests of several apps were open together, never more than the cap.
    assert_eq!(api.most_in_flight(), 2, "{} requests", requests.len());
}

#[test]
fn apps_ticking_together_share_one_rate_limit() {
    // Five apps observed (dry run): every Machines API call they make is
    // one listing, so the listings the fake receives are the calls the
    // limit counts. 2 calls per second with a burst of 2 for all of them.
    const RATE: f64 = 2.0;
    const BURST: f64 = 2.0;
    let runtime = kit::runtime();
    let (api, names) = fake_with_apps(&runtime, 5);
    let config = format!(
        "dry_run: true\n\
         apps: [{}]\n\
         service:\n  interval: 0\n\
         simulation:\n  seed: 7\n\
         fly:\n  api_url: {}\n  max_in_flight: 16\n  retry:\n    max_attempts: 1\n  \
         rate_limit:\n    requests_per_second: {RATE}\n    burst: {BURST}\n",
        names.join(", "),
        api.base_url()
    );
    let workspace = Workspace::new(&config);
    let mut server = workspace.serve(&[], &[("FLY_API_TOKEN", TOKEN)]);
    for _ in 0..2 {
        let reports = kit::trigger(&server);
        assert_eq!(reports.as_object().unwrap().len(), names.len(), "{reports}");
    }
    assert!(server.stop().success());

    let calls: Vec<tokio::time::Instant> = api
        .requests()
        .iter()
        .filter(|r| r.method == "GET" && r.path.ends_with("/machines"))
        .map(|r| r.received)
        .collect();
    // One listing per app at start and at each of the two ticks.
    assert_eq!(calls.len(), 3 * names.len());
    // However the calls fall, any stretch of time holds at most the burst
    // plus what the rate refills meanwhile. One call more is allowed for
    // the way between the limiter and the fake (up to 1 / RATE = 0.5 s
    // late): with a limit per app, 5 apps × a burst of 2 would arrive at
    // once.
    let mut most_over = f64::MIN;
    for (i, first) in calls.iter().enumerate() {
        for (j, last) in calls.iter().enumerate().skip(i) {
            let window = last.duration_since(*first).as_secs_f64();
            let allowed = BURST + RATE * window + 1.0;
            let count = (j - i + 1) as f64;
            most_over = most_over.max(count - (BURST + RATE * window));
            assert!(
                count <= allowed,
                "{count} calls within {window:.3} s: more than {allowed:.1}"
            );
        }
    }
    eprintln!("the most calls over the limit in any stretch: {most_over:.2}");
}

#[test]
fn a_changed_rate_limit_reaches_every_app_at_the_next_tick() {
    // Five observed apps at 1 call per second: their five listings of a
    // tick take four seconds. After a reload to 1,000 a second they go out
    // at once.
    let runtime = kit::runtime();
    let (api, names) = fake_with_apps(&runtime, 5);
    let config = |rate: u32| {
        format!(
            "dry_run: true\n\
             apps: [{}]\n\
             service:\n  interval: 0\n\
             simulation:\n  seed: 7\n\
             fly:\n  api_url: {}\n  retry:\n    max_attempts: 1\n  \
             rate_limit:\n    requests_per_second: {rate}\n    burst: 1\n",
            names.join(", "),
            api.base_url()
        )
    };
    let workspace = Workspace::new(&config(1));
    let mut server = workspace.serve(&[], &[("FLY_API_TOKEN", TOKEN)]);
    let listings_of_a_tick = |server: &kit::Server| {
        api.take_requests();
        kit::trigger(server);
        let listed: Vec<tokio::time::Instant> = api
            .requests()
            .iter()
            .filter(|r| r.method == "GET" && r.path.ends_with("/machines"))
            .map(|r| r.received)
            .collect();
        assert_eq!(listed.len(), names.len());
        listed[listed.len() - 1].duration_since(listed[0])
    };
    let limited = listings_of_a_tick(&server);
    assert!(limited >= Duration::from_secs(3), "{limited:?}");

    workspace.write("config/config.yml", &config(1000));
    server.wait_for_log(
        "changed; the new settings apply from the next tick",
        Duration::from_secs(10),
    );
    let lifted = listings_of_a_tick(&server);
    assert!(lifted < Duration::from_secs(1), "{lifted:?}");
    server.wait_for_log("fly.rate_limit for every app", Duration::from_secs(5));
    assert!(server.stop().success());
}

/// One tick of 1,000 apps against a fake that enforces Fly's published
/// limits per app and action (1/s with bursts of 3, 5/s with bursts of 10
/// for getting one machine) and answers 429 beyond them: the tick's time
/// and the 429s, printed for BENCHMARKS.md. A measurement, never a timed
/// assertion; it only checks that every app got a report.
///
/// `MANY_APPS` sets the number of apps, `MANY_APPS_ANSWER_MS` holds every
/// answer of the fake back that long (a distant API; 0 by default), and
/// `MANY_APPS_IN_FLIGHT` sets `fly.max_in_flight` (its default, 64, when
/// unset).
#[ignore = "measurement: one tick of 1,000 apps; run with --ignored --nocapture"]
#[test]
fn a_tick_of_a_thousand_apps_within_flys_limits() {
    let knob = |name: &str, default: usize| -> usize {
        std::env::var(name)
            .ok()
            .and_then(|n| n.parse().ok())
            .unwrap_or(default)
    };
    let apps = knob("MANY_APPS", 1000);
    let answer_ms = knob("MANY_APPS_ANSWER_MS", 0);
    let in_flight = knob("MANY_APPS_IN_FLIGHT", 64);
    let runtime = kit::runtime();
    let (api, names) = fake_with_apps(&runtime, apps);
    api.set_limits(Some(placer_fly::ApiLimits::default()));
    api.set_answer_delay(Duration::from_millis(answer_ms as u64));
    // Live, with simulated traffic: some apps deploy a region at the tick.
    let config = format!(
        "dry_run: false\ncooldown_period: 10\nsustain_ticks: 1\n\
         apps: [{}]\n\
         service:\n  interval: 0\n\
         simulation:\n  seed: 7\n\
         fly:\n  api_url: {}\n  max_in_flight: {in_flight}\n  retry:\n    max_attempts: 1\n",
        names.join(", "),
        api.base_url()
    );
    let workspace = Workspace::new(&config);
    let started = Instant::now();
    let mut server = workspace.serve(&[], &[("FLY_API_TOKEN", TOKEN)]);
    let start_took = started.elapsed();
    let before = api.requests().len();
    let throttled_at_start = api.throttled();

    let started = Instant::now();
    let reports = kit::trigger(&server);
    let tick_took = started.elapsed();
    assert!(server.stop().success());

    assert_eq!(reports.as_object().unwrap().len(), apps);
    let failed = names
        .iter()
        .filter(|name| !reports[name.as_str()]["error"].is_null())
        .count();
    let requests = api.requests();
    let tick: Vec<_> = requests[before..].iter().collect();
    let count = |method: &str, suffix: &str| {
        tick.iter()
            .filter(|r| r.method == method && r.path.ends_with(suffix))
            .count()
    };
    eprintln!("answers held back {answer_ms} ms, fly.max_in_flight {in_flight}");
    eprintln!(
        "{apps} apps; start until listening: {:.2} s ({} requests, {} answered 429)",
        start_took.as_secs_f64(),
        before,
        throttled_at_start
    );
    eprintln!(
        "one tick (POST /trigger): {:.2} s; {} requests ({} listings, {} creates); \
         {} answered 429 beyond Fly's limits; {failed} apps failed; at most {} requests in flight",
        tick_took.as_secs_f64(),
        tick.len(),
        count("GET", "/machines"),
        count("POST", "/machines"),
        api.throttled() - throttled_at_start,
        api.most_in_flight()
    );
}

/// An app name of 30 characters: `tenant-00042-production-web-eu`.
fn long_app_name(i: usize) -> String {
    format!("tenant-{i:05}-production-web-eu")
}

#[ignore = "needs victoria-metrics"]
#[test]
fn a_tick_of_two_thousand_apps_with_long_names_fits_the_servers_query_limit() {
    // One query naming 2,000 apps of 30 characters would be about 62 KiB,
    // four times VictoriaMetrics' default -search.maxQueryLen (16 KiB).
    const APPS: usize = 2000;
    let metrics = VictoriaMetrics::start();
    let regions = ["ams", "fra", "lhr", "nrt", "sin", "syd", "gru", "jnb"];
    let names: Vec<String> = (0..APPS).map(long_app_name).collect();
    assert_eq!(names[42].len(), 30);
    // Each app is busy in a region of its own choosing, and quiet in iad.
    let busy = |i: usize| regions[i % regions.len()];
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let mut text = String::new();
    for (i, app) in names.iter().enumerate() {
        for (region, per_second) in [(busy(i), 2.0 + (i % 7) as f64), ("iad", 0.5)] {
            for minute in 0..=20 {
                let at = now_ms - (20 - minute) * 60_000;
                let value = per_second * 60.0 * minute as f64;
                text.push_str(&format!(
                    "fly_edge_http_responses_count{{app=\"{app}\",region=\"{region}\",status=\"200\"}} {value} {at}\n"
                ));
            }
        }
    }
    metrics.import(&text, 2 * APPS);

    let runtime = kit::runtime();
    let api = runtime
        .block_on(FakeMachinesApi::start(&names[0], TOKEN))
        .unwrap();
    for name in &names {
        api.add_app(name);
        api.add_machine(MachineSpec::new("iad").app(name));
    }
    let config = format!(
        "dry_run: true\n\
         apps: [{}]\n\
         service:\n  interval: 0\n\
         fly:\n  api_url: {}\n  retry:\n    max_attempts: 1\n",
        names.join(", "),
        api.base_url()
    );
    let workspace = Workspace::new(&config);
    let env = [
        ("FLY_API_TOKEN", TOKEN),
        ("FLY_PROMETHEUS_URL", metrics.url.as_str()),
    ];
    let mut server = workspace.serve(&[], &env);
    let queries_before = metrics.settled_query_count();
    let reports = kit::trigger(&server);
    assert!(server.stop().success());

    let reports = reports.as_object().unwrap();
    assert_eq!(reports.len(), APPS);
    for (i, name) in names.iter().enumerate() {
        let report = &reports[name];
        assert_eq!(report["error"], serde_json::Value::Null, "{name}: {report}");
        // Its own traffic: its busy region at its own rate, per 5 minutes.
        let requests = report["regions"][busy(i)]["requests"].as_f64();
        let expected = (2.0 + (i % 7) as f64) * 300.0;
        assert!(
            requests.is_some_and(|r| (r - expected).abs() < expected * 0.05),
            "{name}: {requests:?} requests in {}, expected about {expected}: {report}",
            busy(i)
        );
    }
    // As many queries as the apps were packed into, each within the limit.
    let batches = placer_prom::PrometheusOptions::default()
        .apps_queries(&names)
        .unwrap();
    assert!(batches.len() > 1);
    assert!(batches
        .iter()
        .all(|batch| batch.query.len() <= placer_prom::DEFAULT_MAX_QUERY_BYTES));
    assert_eq!(
        metrics.settled_query_count() - queries_before,
        batches.len() as u64
    );
}

#[test]
fn a_stop_during_a_tick_of_every_app_waits_for_the_apps_ticking_only() {
    // More apps than tick at once (64), every answer held back: when
    // SIGTERM comes, the first 64 are in their listings and the others
    // wait for a turn. Those skip the tick, so the stop does not wait for
    // a tick of every app (minutes with 10,000).
    let runtime = kit::runtime();
    let (api, names) = fake_with_apps(&runtime, 80);
    let config = format!(
        "dry_run: true\n\
         apps: [{}]\n\
         service:\n  interval: 0\n\
         simulation:\n  seed: 7\n\
         fly:\n  api_url: {}\n  retry:\n    max_attempts: 1\n",
        names.join(", "),
        api.base_url()
    );
    let workspace = Workspace::new(&config);
    let mut server = workspace.serve(&[], &[("FLY_API_TOKEN", TOKEN)]);
    api.set_answer_delay(Duration::from_millis(2000));
    let before = api.requests().len();
    let url = server.url("/trigger");
    let answer = std::thread::spawn(move || client().post(url).send().unwrap());
    let deadline = Instant::now() + Duration::from_secs(20);
    while api.requests().len() < before + 64 {
        assert!(
            Instant::now() < deadline,
            "the tick's listings did not come"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(server.stop().success());

    let response = answer.join().unwrap();
    assert_eq!(response.status(), 502);
    let reports: serde_json::Value = response.json().unwrap();
    let skipped: Vec<&String> = names
        .iter()
        .filter(|name| reports[name.as_str()]["error"] == "the service is shutting down")
        .collect();
    let ticked = names
        .iter()
        .filter(|name| reports[name.as_str()]["at"].is_string())
        .count();
    assert_eq!((ticked, skipped.len()), (64, 16), "{reports}");
    // Nothing was asked of the fake for the apps that skipped.
    let requests = api.requests();
    for name in skipped {
        let prefix = format!("/v1/apps/{name}/");
        assert!(
            !requests[before..]
                .iter()
                .any(|r| r.path.starts_with(&prefix)),
            "{name} was listed"
        );
    }
}
