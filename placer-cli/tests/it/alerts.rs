//! The alerting rules in `dashboards/alerts.yml` cannot rot: promtool
//! checks them and runs their unit tests (`dashboards/alerts_test.yml`),
//! every rule has a wait, a severity and a summary naming its app (and
//! region), every alert is tested firing and quiet, and every metric a rule
//! names is one a real `fly-placer serve` exposes at `/metrics`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_yaml::Value;

use crate::kit::exposed::Exposed;
use crate::kit::prometheus::Prometheus;
use crate::kit::{default_config, locate, Workspace};

fn dashboards() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../dashboards")
}

fn read_yaml(name: &str) -> Value {
    serde_yaml::from_str(&std::fs::read_to_string(dashboards().join(name)).unwrap()).unwrap()
}

/// Every rule of every group in a rule file's text.
fn rules(file: &Value) -> Vec<Value> {
    let groups = file["groups"].as_sequence().expect("a groups: list");
    assert!(!groups.is_empty());
    groups
        .iter()
        .flat_map(|group| group["rules"].as_sequence().unwrap().clone())
        .collect()
}

fn text(value: &Value) -> &str {
    value.as_str().unwrap_or_default()
}

/// The names a rule file's expressions use that `exposed` does not have,
/// with the alert naming each.
fn unknown_names(rule_file: &str, exposed: &Exposed) -> Vec<(String, String)> {
    let file: Value = serde_yaml::from_str(rule_file).unwrap();
    rules(&file)
        .iter()
        .flat_map(|rule| {
            let alert = text(&rule["alert"]).to_owned();
            exposed
                .unknown(text(&rule["expr"]))
                .into_iter()
                .map(move |name| (alert.clone(), name))
        })
        .collect()
}

/// Runs promtool with `args` in the dashboards directory: its output when
/// it fails.
fn promtool(args: &[&str], dir: &Path) -> Result<String, String> {
    let output = Command::new(locate("promtool", "prometheus"))
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    if output.status.success() {
        Ok(said)
    } else {
        Err(said)
    }
}

#[test]
fn every_rule_waits_has_a_severity_and_a_summary_naming_its_app_and_region() {
    let rules = rules(&read_yaml("alerts.yml"));
    assert!(rules.len() >= 9, "{rules:?}");
    for rule in &rules {
        let alert = text(&rule["alert"]);
        assert!(alert.starts_with("FlyPlacer"), "{rule:?}");
        assert!(!text(&rule["for"]).is_empty(), "{alert} has no for:");
        assert!(
            ["critical", "warning", "info"].contains(&text(&rule["labels"]["severity"])),
            "{alert}: severity {:?}",
            rule["labels"]["severity"]
        );
        let summary = text(&rule["annotations"]["summary"]);
        assert!(summary.contains("{{ $labels.app }}"), "{alert}: {summary}");
        assert!(
            !text(&rule["annotations"]["description"]).is_empty(),
            "{alert} has no description"
        );
        let expr = text(&rule["expr"]);
        // Aggregated by job and app, so replicas and several placers stay
        // apart; per region when the rule is about a region.
        assert!(expr.contains("by (job, app"), "{alert}: {expr}");
        if expr.contains("by (job, app, region") {
            assert!(
                summary.contains("{{ $labels.region }}"),
                "{alert} is per region: {summary}"
            );
        }
    }
}

#[test]
fn every_alert_is_unit_tested_firing_and_quiet() {
    let alerts: Vec<String> = rules(&read_yaml("alerts.yml"))
        .iter()
        .map(|rule| text(&rule["alert"]).to_owned())
        .collect();
    let tests = read_yaml("alerts_test.yml");
    assert_eq!(tests["rule_files"][0], "alerts.yml");
    let cases: Vec<(String, usize)> = tests["tests"]
        .as_sequence()
        .unwrap()
        .iter()
        .flat_map(|test| test["alert_rule_test"].as_sequence().unwrap().clone())
        .map(|case| {
            let fired = case["exp_alerts"].as_sequence().map_or(0, Vec::len);
            (text(&case["alertname"]).to_owned(), fired)
        })
        .collect();
    for alert in &alerts {
        let firing = cases
            .iter()
            .any(|(name, fired)| name == alert && *fired > 0);
        let quiet = cases
            .iter()
            .any(|(name, fired)| name == alert && *fired == 0);
        assert!(firing, "{alert} is never tested firing in alerts_test.yml");
        assert!(quiet, "{alert} is never tested quiet in alerts_test.yml");
    }
    for (name, _) in &cases {
        assert!(
            alerts.contains(name),
            "alerts_test.yml tests {name}, no rule"
        );
    }
}

#[ignore = "needs promtool (Debian package prometheus)"]
#[test]
fn promtool_checks_the_rules_and_their_unit_tests_pass() {
    let checked = promtool(&["check", "rules", "alerts.yml"], &dashboards()).unwrap();
    assert!(checked.contains("SUCCESS"), "{checked}");
    let tested = promtool(&["test", "rules", "alerts_test.yml"], &dashboards()).unwrap();
    assert!(tested.contains("SUCCESS"), "{tested}");

    // A rule that no longer fires as its test expects fails the run: the
    // same tests over rules whose leader alert asks the wrong question.
    let scratch = tempfile::tempdir().unwrap();
    let rules = std::fs::read_to_string(dashboards().join("alerts.yml")).unwrap();
    let broken = rules.replace(
        "max by (job, app) (fly_placer_leader) == 0",
        "max by (job, app) (fly_placer_leader) == 1",
    );
    assert_ne!(broken, rules);
    std::fs::write(scratch.path().join("alerts.yml"), broken).unwrap();
    std::fs::copy(
        dashboards().join("alerts_test.yml"),
        scratch.path().join("alerts_test.yml"),
    )
    .unwrap();
    let failed = promtool(&["test", "rules", "alerts_test.yml"], scratch.path()).unwrap_err();
    assert!(failed.contains("FlyPlacerNoLeader"), "{failed}");
}

#[test]
fn every_metric_a_rule_names_is_in_a_real_metrics_scrape() {
    // The threshold policy on simulated traffic, and the latency policy
    // with a machine budget: between them every family is declared.
    let threshold = Workspace::new(&format!("{}\nservice:\n  interval: 1s\n", default_config()));
    let latency_config = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/latency.yml"),
    )
    .unwrap();
    let latency = Workspace::new(&format!("{latency_config}\nservice:\n  interval: 1s\n"));
    let mut servers = [threshold.serve(&[], &[]), latency.serve(&[], &[])];
    let mut exposed = Exposed::default();
    for server in &servers {
        // Some families have a series only after the first tick.
        let deadline = Instant::now() + Duration::from_secs(60);
        let scraped = loop {
            let scraped = Exposed::scrape(server);
            if scraped
                .family_of("fly_placer_last_tick_timestamp_seconds")
                .is_some()
            {
                break scraped;
            }
            assert!(Instant::now() < deadline, "no tick within a minute");
            std::thread::sleep(Duration::from_millis(200));
        };
        exposed.extend(scraped);
    }
    let shipped = std::fs::read_to_string(dashboards().join("alerts.yml")).unwrap();
    assert_eq!(unknown_names(&shipped, &exposed), []);

    // The check catches a rule naming a metric that does not exist.
    let misspelled = shipped.replace(
        "fly_placer_errors_total{stage=\"persist\"}",
        "fly_placer_persist_errors_total",
    );
    assert_ne!(misspelled, shipped);
    assert_eq!(
        unknown_names(&misspelled, &exposed),
        [(
            "FlyPlacerStateNotPersisted".to_owned(),
            "fly_placer_persist_errors_total".to_owned()
        )]
    );
    for server in &mut servers {
        assert!(server.stop().success(), "{}", server.log().join("\n"));
    }
}

#[ignore = "needs prometheus"]
#[test]
fn a_real_prometheus_evaluates_every_rule_without_error_over_a_scraped_fly_placer() {
    let workspace = Workspace::new(&format!("{}\nservice:\n  interval: 1s\n", default_config()));
    let mut server = workspace.serve(&[], &[]);
    let prometheus =
        Prometheus::start_with_rules(&[&server], Some(&dashboards().join("alerts.yml")));
    let alerts = rules(&read_yaml("alerts.yml")).len();
    // Every rule evaluated at least twice over live data, none with an
    // error (a matching error shows only on real series).
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let groups = prometheus.rule_groups();
        let evaluated: Vec<&serde_json::Value> = groups
            .iter()
            .flat_map(|group| group["rules"].as_array().unwrap())
            .collect();
        for rule in &evaluated {
            // `unknown` until its first evaluation.
            assert_ne!(rule["health"], "err", "{rule}");
            assert!(
                rule["lastError"].as_str().unwrap_or_default().is_empty(),
                "{rule}"
            );
        }
        let scraped = prometheus
            .query("fly_placer_last_tick_timestamp_seconds")
            .unwrap();
        if evaluated.len() == alerts
            && !scraped.is_empty()
            && evaluated.iter().all(|rule| {
                rule["health"] == "ok" && rule["lastEvaluation"] != "0001-01-01T00:00:00Z"
            })
        {
            break;
        }
        assert!(Instant::now() < deadline, "{groups:?}");
        std::thread::sleep(Duration::from_millis(500));
    }
    // A placer that just started, ticks every second and is healthy: none
    // fires.
    std::thread::sleep(Duration::from_secs(3));
    let firing: Vec<String> = prometheus
        .rule_groups()
        .iter()
        .flat_map(|group| group["rules"].as_array().unwrap().clone())
        .filter(|rule| rule["state"] != "inactive")
        .map(|rule| rule["name"].to_string())
        .collect();
    assert_eq!(firing, Vec::<String>::new());
    assert!(server.stop().success(), "{}", server.log().join("\n"));
}
