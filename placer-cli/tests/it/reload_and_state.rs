//! Hot reload of the config file and recovery from unusable state files,
//! end to end.

use std::time::Duration;

use crate::kit::{self, default_config, get_json, trigger, Workspace};

fn deploy_threshold_floor(report: &serde_json::Value) -> f64 {
    report["regions"]
        .as_object()
        .unwrap()
        .values()
        .map(|detail| detail["deploy_threshold"].as_f64().unwrap())
        .fold(f64::INFINITY, f64::min)
}

#[test]
fn valid_change_applies_from_the_next_tick_and_a_bad_one_keeps_the_old_config() {
    let base = format!("{}\nservice:\n  interval: 0\n", default_config());
    let workspace = Workspace::new(&base);
    let mut server = workspace.serve(&[], &[]);
    let before = trigger(&server);
    assert!(deploy_threshold_floor(&before) >= 50.0);
    assert!(deploy_threshold_floor(&before) < 200.0);

    workspace.write(
        "config/config.yml",
        &base.replace("traffic_threshold: 50", "traffic_threshold: 500"),
    );
    server.wait_for_log(
        "changed; the new settings apply from the next tick",
        Duration::from_secs(10),
    );
    let after = trigger(&server);
    assert_eq!(deploy_threshold_floor(&after), 500.0);
    let applied = server.wait_for_log("applied:", Duration::from_secs(5));
    assert!(
        applied.contains("traffic_threshold: 50.0 → 500.0"),
        "{applied}"
    );

    // An invalid file: rejected, the 500 threshold stays, /health says why.
    workspace.write(
        "config/config.yml",
        &base.replace("traffic_threshold: 50", "traffic_threshold: lots"),
    );
    server.wait_for_log("config change rejected", Duration::from_secs(10));
    let health = get_json(&server.url("/health"));
    assert_eq!(health["status"], "degraded", "{health}");
    let error = health["config"]["error"].as_str().unwrap();
    assert!(error.contains("config/config.yml:"), "{error}");
    assert!(error.contains("traffic_threshold"), "{error}");
    let still = trigger(&server);
    assert_eq!(deploy_threshold_floor(&still), 500.0);
    let metrics = kit::client()
        .get(server.url("/metrics"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    assert!(
        metrics.contains("fly_placer_config_valid{app=\"default\"} 0"),
        "{metrics}"
    );

    // Fixing the file clears the error; the next tick applies it.
    workspace.write("config/config.yml", &base);
    let staged = "changed; the new settings apply from the next tick";
    server.wait_for_count(staged, 2, Duration::from_secs(10));
    let health = get_json(&server.url("/health"));
    assert!(health["config"]["error"].is_null(), "{health}");
    assert!(deploy_threshold_floor(&trigger(&server)) < 500.0);
    server.wait_for_count("applied:", 2, Duration::from_secs(5));
    server.stop();
}

#[test]
fn corrupt_state_file_is_kept_aside_and_the_engine_starts_fresh() {
    let workspace = Workspace::new(&default_config());
    let garbage = "{\"format_version\": 1, \"regions\": {\"iad\": ";
    workspace.write("data/engine_state_dry_run.json", garbage);
    let mut server = workspace.serve(&[], &[]);
    let line = server.wait_for_log("engine state file", Duration::from_secs(5));
    assert!(line.contains("ERROR"), "{line}");
    assert!(
        line.contains("engine_state_dry_run.json.corrupt-1"),
        "{line}"
    );
    assert_eq!(
        std::fs::read_to_string(workspace.path("data/engine_state_dry_run.json.corrupt-1"))
            .unwrap(),
        garbage
    );
    let report = trigger(&server);
    assert_eq!(report["regions"]["iad"]["points"], 1);
    assert!(server.stop().success());

    // A state from an unknown format version is kept aside the same way,
    // next to the first copy.
    workspace.write(
        "data/engine_state_dry_run.json",
        "{\"format_version\": 99, \"regions\": {}}",
    );
    let mut server = workspace.serve(&[], &[]);
    let line = server.wait_for_log("engine state file", Duration::from_secs(5));
    assert!(line.contains("format version 99"), "{line}");
    assert!(workspace
        .path("data/engine_state_dry_run.json.corrupt-2")
        .exists());
    assert!(workspace
        .path("data/engine_state_dry_run.json.corrupt-1")
        .exists());
    server.stop();
}

#[test]
fn corrupt_dry_run_deployment_is_kept_aside_too() {
    let workspace = Workspace::new(&default_config());
    workspace.write("data/deployment_state_dry_run.json", "[\"fra\",");
    let mut server = workspace.serve(&[], &[]);
    let line = server.wait_for_log("ERROR dry-run state file", Duration::from_secs(5));
    assert!(
        line.contains("deployment_state_dry_run.json.corrupt-1"),
        "{line}"
    );
    assert_eq!(
        std::fs::read_to_string(workspace.path("data/deployment_state_dry_run.json.corrupt-1"))
            .unwrap(),
        "[\"fra\","
    );
    // A fresh simulated deployment from always_running_regions.
    let report = trigger(&server);
    assert_eq!(report["current_deployment"], serde_json::json!(["fra"]));
    server.stop();
    let fresh =
        std::fs::read_to_string(workspace.path("data/deployment_state_dry_run.json")).unwrap();
    assert!(fresh.contains("\"fra\""), "{fresh}");
}

#[test]
fn a_change_that_cannot_run_is_rejected_and_one_that_can_rebuilds_the_source() {
    let base = format!(
        "{}\nservice:\n  interval: 0\nsimulation:\n  seed: 1\n",
        default_config()
    );
    let workspace = Workspace::new(&base);
    let mut server = workspace.serve(&[], &[]);

    // Valid YAML, but live mode without an app or token cannot start.
    workspace.write(
        "config/config.yml",
        &base.replace("dry_run: True", "dry_run: false"),
    );
    server.wait_for_log("changed; the new settings apply", Duration::from_secs(10));
    let report = trigger(&server);
    assert_eq!(report["dry_run"], true, "the old config stays in force");
    let health = get_json(&server.url("/health"));
    let error = health["config"]["error"].as_str().unwrap();
    assert!(error.contains("FLY_API_TOKEN"), "{error}");

    // Another seed: a new simulation, named in /health.
    workspace.write("config/config.yml", &base.replace("seed: 1", "seed: 2"));
    server.wait_for_count(
        "changed; the new settings apply",
        2,
        Duration::from_secs(10),
    );
    trigger(&server);
    let health = get_json(&server.url("/health"));
    assert!(health["config"]["error"].is_null(), "{health}");
    assert!(
        health["traffic"].as_str().unwrap().contains("seed 2"),
        "{health}"
    );
    server.stop();
}

#[test]
fn a_reload_that_names_another_app_is_rejected_and_the_app_stays() {
    let base = format!(
        "{}\nservice:\n  interval: 0\nprometheus:\n  url: http://127.0.0.1:1\nfly:\n  app: shop\n",
        default_config()
    );
    let workspace = Workspace::new(&base);
    let mut server = workspace.serve(&[], &[]);
    assert_eq!(
        get_json(&server.url("/apps"))["apps"],
        serde_json::json!(["shop"])
    );

    workspace.write("config/config.yml", &base.replace("app: shop", "app: blog"));
    server.wait_for_log(
        "changed; the new settings apply from the next tick",
        Duration::from_secs(10),
    );
    kit::client().post(server.url("/trigger")).send().unwrap();
    let rejected = server.wait_for_log("config change rejected", Duration::from_secs(10));
    assert!(
        rejected.contains("\"blog\" instead of \"shop\""),
        "{rejected}"
    );
    assert!(rejected.contains("restart"), "{rejected}");
    let health = get_json(&server.url("/health"));
    let error = health["config"]["error"].as_str().unwrap();
    assert!(error.contains("restart"), "{error}");
    assert_eq!(
        get_json(&server.url("/apps"))["apps"],
        serde_json::json!(["shop"])
    );
    let state_files: Vec<String> = std::fs::read_dir(workspace.dir.path().join("data"))
        .map(|dir| {
            dir.map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    assert!(
        !state_files.iter().any(|name| name.contains("blog")),
        "{state_files:?}"
    );
}
