//! `fly-placer serve` end to end: the real binary, on a free loopback port.

use std::time::Duration;

use crate::kit::{client, default_config, get_json, trigger, Workspace};

#[test]
fn out_of_the_box_run_serves_the_seed_api_on_simulated_traffic() {
    let workspace = Workspace::new(&default_config());
    let mut server = workspace.serve(&[], &[]);
    let log = server.log().join("\n");
    assert!(
        log.contains("traffic: built-in simulation (FLY_PROMETHEUS_URL is not set)"),
        "{log}"
    );
    assert!(log.contains("dry run"), "{log}");

    let first = trigger(&server);
    for key in [
        "deployed",
        "removed",
        "skipped",
        "current_deployment",
        "updated_deployment",
    ] {
        assert!(
            first.get(key).is_some_and(|v| v.is_array()),
            "{key} in {first}"
        );
    }
    assert_eq!(first["dry_run"], true);
    // always_running_regions: [fra] is the simulated deployment's start.
    assert_eq!(first["current_deployment"], serde_json::json!(["fra"]));
    // The seed's excluded and not-allowed regions are skipped with its words.
    let skipped = first["skipped"].as_array().unwrap();
    let reason_of = |code: &str| {
        skipped
            .iter()
            .find(|s| s["region"] == code)
            .map(|s| s["reason"].as_str().unwrap().to_owned())
    };
    assert_eq!(
        reason_of("nrt").as_deref(),
        Some("Region is in excluded_regions list")
    );
    assert_eq!(
        reason_of("sin").as_deref(),
        Some("Region is not in allowed_regions list")
    );

    // Repeated triggers build up history: the adaptive thresholds at work.
    let mut last = first;
    for _ in 0..4 {
        let next = trigger(&server);
        assert_eq!(next["current_deployment"], last["updated_deployment"]);
        last = next;
    }
    let iad_points = last["regions"]["iad"]["points"].as_u64().unwrap();
    assert_eq!(iad_points, 5);

    let health = get_json(&server.url("/health"));
    assert_eq!(health["status"], "ok", "{health}");
    assert_eq!(health["ticks"], 5);
    assert_eq!(health["dry_run"], true);
    assert!(health["config"]["error"].is_null());

    let state = get_json(&server.url("/state"));
    assert_eq!(state["deployment"], last["updated_deployment"], "{state}");
    assert_eq!(state["history"]["regions"]["iad"]["points"], 5);

    let traffic = get_json(&server.url("/traffic"));
    assert_eq!(
        traffic["traffic"].as_object().unwrap().len(),
        8,
        "{traffic}"
    );
    assert_eq!(traffic["at"], last["at"]);

    let metrics = client().get(server.url("/metrics")).send().unwrap();
    assert!(metrics.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("application/openmetrics-text"));
    let text = metrics.text().unwrap();
    assert!(
        text.contains("fly_placer_ticks_total{app=\"default\",result=\"ok\"} 5"),
        "{text}"
    );
    assert!(text.contains("fly_placer_region_requests{app=\"default\",region=\"iad\"}"));
    assert!(text.contains("fly_placer_skips_total{app=\"default\",reason=\"excluded\"} 5"));

    // A wrong method is answered in JSON, like every other error.
    for (method, path, allowed) in [
        (reqwest::Method::GET, "/trigger", "POST"),
        (reqwest::Method::DELETE, "/health", "GET"),
    ] {
        let answer = client()
            .request(method.clone(), server.url(path))
            .send()
            .unwrap();
        assert_eq!(answer.status(), 405, "{method} {path}");
        assert_eq!(answer.headers()["allow"], allowed, "{method} {path}");
        let body: serde_json::Value = answer.json().unwrap();
        assert!(
            body["error"].as_str().unwrap().contains(allowed),
            "{method} {path}: {body}"
        );
    }
    // So is a query string that cannot be read.
    for path in ["/health?app=a&app=b", "/state?app=a&app=b"] {
        let answer = client().get(server.url(path)).send().unwrap();
        assert_eq!(answer.status(), 400, "{path}");
        let body: serde_json::Value = answer.json().unwrap();
        assert!(
            body["error"]
                .as_str()
                .unwrap()
                .contains("duplicate field `app`"),
            "{path}: {body}"
        );
    }

    assert!(server.stop().success(), "{}", server.log().join("\n"));
    let saved: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(workspace.path("data/engine_state_dry_run.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(saved["format_version"], 1);
    assert_eq!(
        saved["regions"]["iad"]["history"].as_array().unwrap().len(),
        5
    );
}

#[test]
fn a_seed_replays_the_same_traffic_and_state_survives_a_restart() {
    let config = format!("{}\nsimulation:\n  seed: 42\n", default_config());
    let first_run = Workspace::new(&config);
    let second_run = Workspace::new(&config);
    let mut a = first_run.serve(&[], &[]);
    let mut b = second_run.serve(&[], &[]);
    for _ in 0..3 {
        let (ra, rb) = (trigger(&a), trigger(&b));
        let requests = |r: &serde_json::Value| {
            r["regions"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v["requests"].clone()))
                .collect::<Vec<_>>()
        };
        assert_eq!(requests(&ra), requests(&rb));
        assert_eq!(ra["deployed"], rb["deployed"]);
    }
    assert!(a.stop().success());
    b.stop();

    // A restart picks up the history where it stopped.
    let mut again = first_run.serve(&[], &[]);
    again.wait_for_log("engine state restored from", Duration::from_secs(5));
    let report = trigger(&again);
    assert_eq!(report["regions"]["iad"]["points"], 4);
    again.stop();
}

#[test]
fn a_trigger_during_a_tick_gets_that_ticks_report() {
    let workspace = Workspace::new(&format!("{}\nservice:\n  interval: 0\n", default_config()));
    let mut server = workspace.serve(&[], &[]);
    let url = server.url("/trigger");
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || {
                let report: serde_json::Value = client().post(url).send().unwrap().json().unwrap();
                // Each tick adds one point of history: the count names the tick.
                report["regions"]["iad"]["points"].as_u64().unwrap()
            })
        })
        .collect();
    let ticks_seen: Vec<u64> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let health = get_json(&server.url("/health"));
    let ticks = health["ticks"].as_u64().unwrap();
    let distinct: std::collections::BTreeSet<_> = ticks_seen.iter().copied().collect();
    // Every answer is the report of a tick that ran, and the ticks ran one
    // after the other: their history counts are 1, 2, … with no gap.
    assert_eq!(distinct, (1..=ticks).collect(), "{ticks_seen:?}");
    let state = get_json(&server.url("/state"));
    assert_eq!(state["history"]["regions"]["iad"]["points"], ticks.min(20));
    server.stop();
}

#[test]
fn trigger_token_is_required_when_set() {
    let workspace = Workspace::new(&default_config());
    let mut server = workspace.serve(&[], &[("PLACER_TRIGGER_TOKEN", "let-me-in")]);
    let denied = client().post(server.url("/trigger")).send().unwrap();
    assert_eq!(denied.status(), 401);
    assert_eq!(denied.headers()["www-authenticate"], "Bearer");
    let wrong = client()
        .post(server.url("/trigger"))
        .bearer_auth("let-me-out")
        .send()
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let allowed = client()
        .post(server.url("/trigger"))
        .bearer_auth("let-me-in")
        .send()
        .unwrap();
    assert_eq!(allowed.status(), 200);
    // Reading stays open.
    assert_eq!(get_json(&server.url("/health"))["ticks"], 1);
    server.stop();
    assert!(!server.log().join("\n").contains("let-me-in"));
}

#[test]
fn periodic_ticks_run_at_the_configured_interval() {
    let workspace = Workspace::new(&format!(
        "{}\nservice:\n  interval: 300ms\n",
        default_config()
    ));
    let mut server = workspace.serve(&[], &[]);
    server.wait_for_log("tick (dry run)", Duration::from_secs(10));
    std::thread::sleep(Duration::from_millis(1200));
    let ticks = get_json(&server.url("/health"))["ticks"].as_u64().unwrap();
    assert!(ticks >= 2, "only {ticks} periodic ticks");
    server.stop();
}

#[test]
fn serve_on_a_taken_port_exits_1_naming_the_address() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let workspace = Workspace::new(&default_config());
    let output = workspace.run(&["serve", "--listen", &address], &[]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!("cannot listen on {address}")),
        "{stderr}"
    );
    drop(taken);
}
