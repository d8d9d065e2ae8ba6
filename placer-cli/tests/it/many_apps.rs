//! Several apps from one fly-placer, end to end on the simulation:
//! `simulation.apps`, the `apps:` section with per-app overrides, `once`,
//! `check-config`, the keyed endpoints, the `app` label, and hot reload.

use std::time::Duration;

use crate::kit::{self, client, default_config, get_json, Workspace};

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn once_simulates_several_apps_each_with_its_own_state() {
    let config = format!("{}\nsimulation:\n  seed: 42\n  apps: 3\n", default_config());
    let workspace = Workspace::new(&config);
    for round in 1..=2 {
        let output = workspace.run(&["once"], &[]);
        assert!(output.status.success(), "{}", stderr(&output));
        let reports: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
        let apps: Vec<&String> = reports.as_object().unwrap().keys().collect();
        assert_eq!(apps, ["sim-1", "sim-2", "sim-3"], "{reports}");
        for (app, report) in reports.as_object().unwrap() {
            assert_eq!(report["regions"]["iad"]["points"], round, "{app}: {report}");
        }
        // Each app draws its own traffic.
        assert_ne!(
            reports["sim-1"]["regions"]["iad"]["requests"],
            reports["sim-2"]["regions"]["iad"]["requests"]
        );
    }
    for app in ["sim-1", "sim-2", "sim-3"] {
        assert!(workspace
            .path(&format!("data/apps/{app}/engine_state_dry_run.json"))
            .exists());
        assert!(workspace
            .path(&format!("data/apps/{app}/deployment_state_dry_run.json"))
            .exists());
    }
    assert!(!workspace.path("data/engine_state_dry_run.json").exists());
}

const APPS: &str = "\
dry_run: true
traffic_threshold: 50
service:
  interval: 0
simulation:
  seed: 7
apps:
  shop-web:
    traffic_threshold: 80
  blog:
    cooldown_period: 5m
";

#[test]
fn check_config_prints_each_apps_effective_settings() {
    let workspace = Workspace::new(APPS);
    let output = workspace.run(&["check-config"], &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    let document: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    let shop = &document["apps"]["shop-web"];
    assert_eq!(shop["engine"]["traffic_threshold"], 80.0, "{document}");
    assert_eq!(shop["entries"], serde_json::json!(["shop-web"]));
    assert_eq!(
        document["apps"]["blog"]["engine"]["traffic_threshold"],
        50.0
    );
    assert_eq!(document["apps"]["blog"]["engine"]["cooldown_period"], "5m");
    assert!(shop["service"]["engine_state_file"]
        .as_str()
        .unwrap()
        .ends_with("apps/shop-web/engine_state_dry_run.json"));
}

#[test]
fn check_config_notes_a_pattern_that_cannot_match_without_fly_org() {
    let with_pattern = format!("{APPS}  shop-*:\n    traffic_threshold: 70\n");
    let workspace = Workspace::new(&with_pattern);
    let output = workspace.run(&["check-config"], &[]);
    let message = stderr(&output);
    assert!(output.status.success(), "{message}");
    assert!(
        message.contains("note: apps: patterns shop-* match no app without fly.org"),
        "{message}"
    );
    let with_org = Workspace::new(&format!("{with_pattern}fly:\n  org: acme\n"));
    let output = with_org.run(&["check-config"], &[]);
    let message = stderr(&output);
    assert!(output.status.success(), "{message}");
    assert!(!message.contains("fly.org"), "{message}");
}

#[test]
fn a_bad_key_in_an_override_is_refused_at_load_with_its_line() {
    let workspace =
        Workspace::new(&APPS.replace("    cooldown_period: 5m", "    cooldown_perod: 5m"));
    for command in [&["check-config"][..], &["once"][..]] {
        let output = workspace.run(command, &[]);
        assert_eq!(output.status.code(), Some(2), "{command:?}");
        let message = stderr(&output);
        assert!(
            message.contains("config/config.yml:11: unknown key `apps.blog.cooldown_perod` (did you mean `cooldown_period`?)"),
            "{message}"
        );
    }
}

#[test]
fn endpoints_answer_per_app_and_for_all() {
    let workspace = Workspace::new(APPS);
    let mut server = workspace.serve(&[], &[]);

    let response = client().post(server.url("/trigger")).send().unwrap();
    assert_eq!(response.status(), 200);
    let all: serde_json::Value = response.json().unwrap();
    assert_eq!(
        all.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["blog", "shop-web"]
    );
    let floor = |report: &serde_json::Value| {
        report["regions"]
            .as_object()
            .unwrap()
            .values()
            .map(|detail| detail["deploy_threshold"].as_f64().unwrap())
            .fold(f64::INFINITY, f64::min)
    };
    assert!(floor(&all["shop-web"]) >= 80.0, "{all}");
    assert!(floor(&all["blog"]) < 80.0, "{all}");

    let response = client()
        .post(server.url("/trigger?app=blog"))
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    let blog: serde_json::Value = response.json().unwrap();
    assert_eq!(blog["regions"]["iad"]["points"], 2, "{blog}");

    let state = get_json(&server.url("/state"));
    assert_eq!(state["blog"]["history"]["regions"]["iad"]["points"], 2);
    assert_eq!(state["shop-web"]["history"]["regions"]["iad"]["points"], 1);
    let one = get_json(&server.url("/state?app=shop-web"));
    assert_eq!(one["history"]["regions"]["iad"]["points"], 1, "{one}");
    let traffic = get_json(&server.url("/traffic?app=blog"));
    assert_eq!(traffic["at"], blog["at"]);
    let health = get_json(&server.url("/health"));
    assert_eq!(health["status"], "ok", "{health}");
    assert_eq!(
        health.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["apps", "failed_apps", "status", "version"]
    );
    assert_eq!(health["failed_apps"], serde_json::json!({}));
    let traffic = get_json(&server.url("/traffic"));
    assert_eq!(traffic["blog"]["at"], blog["at"], "{traffic}");
    assert_eq!(
        traffic.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["blog", "shop-web"]
    );
    assert_eq!(health["apps"]["blog"]["ticks"], 2);
    assert_eq!(get_json(&server.url("/health?app=shop-web"))["ticks"], 1);
    assert_eq!(
        get_json(&server.url("/apps"))["apps"],
        serde_json::json!(["blog", "shop-web"])
    );
    for path in ["/state?app=nope", "/health?app=nope"] {
        let response = client().get(server.url(path)).send().unwrap();
        assert_eq!(response.status(), 404, "{path}");
    }
    let response = client()
        .post(server.url("/trigger?app=nope"))
        .send()
        .unwrap();
    assert_eq!(response.status(), 404);

    let metrics = client()
        .get(server.url("/metrics"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    for line in [
        "fly_placer_ticks_total{app=\"blog\",result=\"ok\"} 2",
        "fly_placer_ticks_total{app=\"shop-web\",result=\"ok\"} 1",
        "fly_placer_config_valid{app=\"blog\"} 1",
        "fly_placer_dry_run{app=\"shop-web\"} 1",
    ] {
        assert!(metrics.contains(line), "{line} missing from\n{metrics}");
    }
    // Scrapers ask for gzip: the same text, compressed.
    let response = client()
        .get(server.url("/metrics"))
        .header("Accept-Encoding", "gzip")
        .send()
        .unwrap();
    assert_eq!(response.headers()["content-encoding"], "gzip");
    assert_eq!(response.headers()["vary"], "Accept-Encoding");
    let compressed = response.bytes().unwrap();
    let mut unpacked = String::new();
    std::io::Read::read_to_string(
        &mut flate2::read::GzDecoder::new(&compressed[..]),
        &mut unpacked,
    )
    .unwrap();
    assert_eq!(unpacked, metrics);
    assert!(compressed.len() < metrics.len() / 3, "{}", compressed.len());

    // A bad key in an override at reload: rejected, every app keeps its config.
    workspace.write(
        "config/config.yml",
        &APPS.replace("    traffic_threshold: 80", "    traffic_treshold: 90"),
    );
    server.wait_for_log("config change rejected", Duration::from_secs(10));
    let health = get_json(&server.url("/health"));
    for app in ["blog", "shop-web"] {
        let error = health["apps"][app]["config"]["error"].as_str().unwrap();
        assert!(error.contains("config/config.yml:9"), "{error}");
        assert!(error.contains("apps.shop-web.traffic_treshold"), "{error}");
    }
    let all = kit::trigger(&server);
    assert!(floor(&all["shop-web"]) >= 80.0, "{all}");
    assert!(floor(&all["blog"]) < 80.0, "{all}");

    // A valid change reaches its app from the next tick.
    workspace.write(
        "config/config.yml",
        &APPS.replace("    traffic_threshold: 80", "    traffic_threshold: 500"),
    );
    server.wait_for_log(
        "changed; the new settings apply from the next tick",
        Duration::from_secs(10),
    );
    let all = kit::trigger(&server);
    assert_eq!(floor(&all["shop-web"]), 500.0, "{all}");
    assert!(floor(&all["blog"]) < 80.0, "{all}");
    assert!(server.stop().success());
    assert!(workspace
        .path("data/apps/blog/engine_state_dry_run.json")
        .exists());
}
