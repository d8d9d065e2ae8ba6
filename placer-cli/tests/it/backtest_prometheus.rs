//! `backtest --prometheus` and `recommend --prometheus` end to end against a
//! real VictoriaMetrics holding eight days of an app's traffic, with the
//! points-per-series limit Prometheus has (11,000), so the history must be
//! fetched in several range queries.

use std::time::{SystemTime, UNIX_EPOCH};

use crate::kit::victoria::VictoriaMetrics;
use crate::kit::{client, Workspace};
use placer_core::Timestamp;
use placer_lab::Trace;
use serde_json::Value;

const APP: &str = "shop";
const MINUTE_MS: i64 = 60_000;
const DAY_MS: i64 = 86_400_000;

/// Nine days of Fly's request counter before `end_ms`, one sample a minute,
/// and half an hour after it (so the series are current and an instant
/// query finds them): fra at 3 requests/s throughout, iad at 1/s, and syd
/// idle until four days before `end_ms`, then at 2/s.
fn history(end_ms: i64) -> String {
    let start_ms = end_ms - 9 * DAY_MS;
    let syd_from = end_ms - 4 * DAY_MS;
    let mut text = String::new();
    let mut at = start_ms;
    while at <= end_ms + 30 * MINUTE_MS {
        let seconds = |from: i64| ((at - from).max(0) / 1000) as f64;
        for (region, value) in [
            ("fra", 3.0 * seconds(start_ms)),
            ("iad", seconds(start_ms)),
            ("syd", 2.0 * seconds(syd_from)),
        ] {
            text.push_str(&format!(
                "fly_edge_http_responses_count{{app=\"{APP}\",region=\"{region}\",status=\"200\"}} {value} {at}\n"
            ));
        }
        at += MINUTE_MS;
    }
    text
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[ignore = "needs victoria-metrics"]
#[test]
fn eight_days_of_real_history_are_fetched_in_pieces_and_replayed() {
    let metrics = VictoriaMetrics::start_with(&["-search.maxPointsPerTimeseries=11000"]);
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let end_ms = now_ms / MINUTE_MS * MINUTE_MS - 10 * MINUTE_MS;
    metrics.import(&history(end_ms), 3);
    let until = Timestamp::from_unix_millis(end_ms).to_string();
    let start_seconds = (end_ms - 8 * DAY_MS) / 1000;

    // One query for the whole range is more than the server answers.
    let response = client()
        .post(format!("{}/api/v1/query_range", metrics.url))
        .form(&[
            ("query", format!("sum by (region) (increase(fly_edge_http_responses_count{{app=\"{APP}\"}}[5m]))")),
            ("start", start_seconds.to_string()),
            ("end", (end_ms / 1000).to_string()),
            ("step", "60".to_owned()),
        ])
        .send()
        .unwrap();
    assert!(
        !response.status().is_success(),
        "the server accepted 11,521 points in one query, so this test would not show the split"
    );

    let workspace = Workspace::new("dry_run: true\npolicy: latency\n");
    let env = [("FLY_PROMETHEUS_URL", metrics.url.as_str())];
    let output = workspace.run(
        &[
            "backtest",
            "--prometheus",
            "--app",
            APP,
            "--since",
            "8d",
            "--step",
            "1m",
            "--until",
            &until,
            "--json",
            "--decisions",
            "decisions.jsonl",
            "--save-trace",
            "history.csv",
        ],
        &env,
    );
    let log = stderr(&output);
    assert!(output.status.success(), "{log}");
    assert!(log.contains("in 2 range queries"), "{log}");

    // Every minute of the eight days, once, in order.
    let trace: Trace = std::fs::read_to_string(workspace.path("history.csv"))
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(trace.len(), 8 * 24 * 60 + 1);
    assert_eq!(trace.ticks()[0].at().unix_millis(), end_ms - 8 * DAY_MS);
    assert_eq!(trace.ticks().last().unwrap().at().unix_millis(), end_ms);
    for pair in trace.ticks().windows(2) {
        assert_eq!(
            pair[1].at().unix_millis() - pair[0].at().unix_millis(),
            MINUTE_MS
        );
    }
    // Requests in the five minutes before each tick, as the service sees them.
    let middle = &trace.ticks()[trace.len() / 2];
    let fra = middle.requests(&"fra".parse().unwrap());
    assert!((fra - 900.0).abs() < 9.0, "fra {fra}");
    let early_syd = trace.ticks()[60].requests(&"syd".parse().unwrap());
    let late_syd = trace
        .ticks()
        .last()
        .unwrap()
        .requests(&"syd".parse().unwrap());
    assert_eq!(early_syd, 0.0);
    assert!((late_syd - 600.0).abs() < 6.0, "syd {late_syd}");

    let decisions = std::fs::read_to_string(workspace.path("decisions.jsonl")).unwrap();
    assert_eq!(decisions.lines().count(), trace.len());
    let report: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(report["ticks"], trace.len());
    assert_eq!(report["rows"][0]["policy"], "latency");
    // Once syd's traffic starts, the latency policy serves it from syd.
    let last: Value = serde_json::from_str(decisions.lines().last().unwrap()).unwrap();
    let deployed = last["deployed"].as_array().unwrap();
    assert!(deployed.contains(&Value::from("syd")), "{last}");

    // The same history, weighed for a one-off pick.
    let output = workspace.run(
        &[
            "recommend",
            "--k",
            "2",
            "--prometheus",
            "--app",
            APP,
            "--since",
            "8d",
            "--until",
            &until,
            "--current",
            "iad",
            "--json",
        ],
        &env,
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let pick: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(
        pick["recommended"]["regions"],
        serde_json::json!(["fra", "syd"])
    );
    let total = pick["requests"].as_f64().unwrap();
    let expected: f64 = trace.totals().values().sum();
    assert!(
        (total - expected).abs() < 1e-6 * expected,
        "{total} vs {expected}"
    );
}
