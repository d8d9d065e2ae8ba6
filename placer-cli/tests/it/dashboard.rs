//! The Grafana dashboard in `dashboards/fly-placer.json` cannot rot: a real
//! Prometheus on loopback scrapes running `fly-placer`s — one on simulated
//! traffic with the threshold policy, one with the latency policy and a
//! machine budget, one whose traffic source is down — and every query of
//! every panel must parse and return data.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::{Duration, Instant};

use crate::kit::exposed::{metric_names, Exposed};
use crate::kit::prometheus::Prometheus;
use crate::kit::{default_config, free_port, Workspace};
use serde_json::Value;

/// Metrics that have series only after a rare event (a region the backend
/// could not deploy, a deploy in doubt, a region the platform deprecated): their queries must
/// parse, and the family must be declared in `/metrics`, but they may
/// return nothing here.
const EVENT_ONLY: &[&str] = &[
    "fly_placer_region_unavailable",
    "fly_placer_region_deploy_pending",
    "fly_placer_platform_region_unavailable",
];

fn dashboard() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../dashboards/fly-placer.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Every panel's title and queries.
fn queries(dashboard: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        let title = panel["title"].as_str().unwrap().to_owned();
        let targets = panel["targets"].as_array().unwrap();
        assert!(!targets.is_empty(), "panel {title} has no query");
        for target in targets {
            out.push((title.clone(), target["expr"].as_str().unwrap().to_owned()));
        }
    }
    out
}

/// What Grafana puts in place of the variables: all apps, and a rate
/// window of a few scrape intervals (the scrape interval here is 1s).
fn expand(expr: &str) -> String {
    expr.replace("$__rate_interval", "15s")
        .replace("$app", ".*")
}

const EVERY_SECOND: &str = "\nservice:\n  interval: 1s\n";

#[ignore = "needs prometheus"]
#[test]
fn every_panel_query_parses_and_returns_data_from_a_scraped_fly_placer() {
    let dashboard = dashboard();
    let queries = queries(&dashboard);
    assert!(queries.len() >= 10, "{queries:?}");

    // Threshold policy on simulated traffic, one region of it not a Fly
    // region (its traffic is ignored and counted).
    let threshold = Workspace::new(&format!(
        "{}{EVERY_SECOND}simulation:\n  regions: [ams, cdg, fra, iad, lhr, nrt, sin, sjc, sfo]\n",
        default_config()
    ));
    let mut threshold_server = threshold.serve(&[], &[]);
    // The latency policy with a machine budget, and machine counts.
    let latency_config = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/latency.yml"),
    )
    .unwrap();
    let latency = Workspace::new(&format!("{latency_config}{EVERY_SECOND}"));
    latency.write(
        "config/config.yml",
        &format!(
            "{}{EVERY_SECOND}machines:\n  requests_per_machine: 20\n  standby_per_region: 1\n",
            latency_config.replace(
                "  # budget:\n  #   machine_hours: 48          # per period: two machines' worth a day\n  #   period: 24h\n  #   starts: 1970-01-01T00:00:00Z",
                "  budget:\n    machine_hours: 48\n    period: 24h\n    starts: 1970-01-01T00:00:00Z"
            )
        ),
    );
    let mut latency_server = latency.serve(&[], &[]);
    // A traffic source that is down: failed ticks and errors.
    let port = free_port();
    let down = Workspace::new(&format!("{}{EVERY_SECOND}", default_config()));
    let url = format!("http://127.0.0.1:{port}");
    let mut down_server = down.serve(
        &[],
        &[
            ("FLY_PROMETHEUS_URL", url.as_str()),
            ("FLY_APP_NAME", "shop"),
        ],
    );

    let prometheus = Prometheus::start(&[&threshold_server, &latency_server, &down_server]);
    // A config change applied, then one rejected.
    threshold_server.wait_for_log("tick", Duration::from_secs(30));
    threshold.write(
        "config/config.yml",
        &format!(
            "{}{EVERY_SECOND}simulation:\n  regions: [ams, cdg, fra, iad, lhr, nrt, sin, sjc, sfo]\n",
            default_config().replace("cooldown_period: 10", "cooldown_period: 30")
        ),
    );
    threshold_server.wait_for_log("the new settings apply", Duration::from_secs(30));
    threshold.write("config/config.yml", "cooldown_period: [not a number\n");
    threshold_server.wait_for_log("config change rejected", Duration::from_secs(30));

    // Each query parses at once; data comes within a few scrapes.
    let deadline = Instant::now() + Duration::from_secs(90);
    let mut waiting: Vec<&(String, String)> = queries.iter().collect();
    loop {
        let mut still = Vec::new();
        for query in waiting {
            let (title, expr) = query;
            match prometheus.query(&expand(expr)) {
                Err(error) => panic!("panel {title}: {expr} does not parse: {error}"),
                Ok(result) if result.is_empty() => {
                    if !metric_names(expr)
                        .iter()
                        .any(|n| EVENT_ONLY.contains(&n.as_str()))
                    {
                        still.push(query);
                    }
                }
                Ok(_) => {}
            }
        }
        if still.is_empty() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no data for: {:?}",
            still
                .iter()
                .map(|(t, e)| format!("{t}: {e}"))
                .collect::<Vec<_>>()
        );
        waiting = still;
        std::thread::sleep(Duration::from_millis(500));
    }
    // Every metric a panel names is one fly-placer exposes, and every
    // metric it exposes has a panel.
    let mut exposed = Exposed::default();
    for server in [&threshold_server, &latency_server, &down_server] {
        exposed.extend(Exposed::scrape(server));
    }
    let declared = exposed.families();
    let mut used = BTreeSet::new();
    for (title, expr) in &queries {
        let unknown = exposed.unknown(expr);
        assert!(
            unknown.is_empty(),
            "panel {title}: {unknown:?} are not metrics fly-placer exposes ({declared:?})"
        );
        for name in metric_names(expr) {
            used.extend(exposed.family_of(&name).map(str::to_owned));
        }
    }
    let unused: Vec<&String> = declared.difference(&used).collect();
    assert!(
        unused.is_empty(),
        "metrics without a panel in dashboards/fly-placer.json: {unused:?}"
    );

    // The down source's errors, the ignored region and the budget made it
    // through with the values expected.
    let errors = prometheus
        .query("sum by (stage) (fly_placer_errors_total)")
        .unwrap();
    // Every stage is exported from 0; the down source's counted.
    assert!(
        errors
            .iter()
            .any(|s| s["metric"]["stage"] == "metrics" && s["value"][1] != "0"),
        "{errors:?}"
    );
    let ignored = prometheus
        .query("fly_placer_ignored_regions_total")
        .unwrap();
    assert!(
        ignored.iter().all(|s| s["metric"]["region"] == "sfo"),
        "{ignored:?}"
    );
    let budget = prometheus
        .query("max(fly_placer_budget_machine_hours)")
        .unwrap();
    assert_eq!(budget[0]["value"][1], "48", "{budget:?}");

    for server in [&mut threshold_server, &mut latency_server, &mut down_server] {
        assert!(server.stop().success(), "{}", server.log().join("\n"));
    }
}
