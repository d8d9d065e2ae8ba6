//! A starting placer learns its forecasts from the past traffic in a real
//! VictoriaMetrics before its first tick: an app with two weeks of history
//! forecasts at once, an app seen only for minutes stays reactive and says
//! so, and a restart reads only what the saved state does not hold.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::kit::victoria::VictoriaMetrics;
use crate::kit::{self, client, get_json, Workspace};
use placer_fly::fake::{FakeMachinesApi, MachineSpec};

const TOKEN: &str = "FlyV1 fm2_test-token";
const MINUTE_MS: i64 = 60_000;
const DAY_MS: i64 = 86_400_000;

/// Fifteen days of `shop`'s request counter up to 20 minutes ahead, a
/// sample a minute: fra at 2 requests/s, iad at 5/s during 08–18 UTC and
/// nothing otherwise.
fn shop_history(now_ms: i64) -> String {
    let start = now_ms - 15 * DAY_MS;
    let (mut fra, mut iad) = (0.0, 0.0);
    let mut text = String::new();
    let mut at = start;
    while at <= now_ms + 20 * MINUTE_MS {
        let hour = at.rem_euclid(DAY_MS) / 3_600_000;
        fra += 2.0 * 60.0;
        if (8..18).contains(&hour) {
            iad += 5.0 * 60.0;
        }
        for (region, value) in [("fra", fra), ("iad", iad)] {
            text.push_str(&format!(
                "fly_edge_http_responses_count{{app=\"shop\",region=\"{region}\",status=\"200\"}} {value} {at}\n"
            ));
        }
        at += MINUTE_MS;
    }
    text
}

const RANGE_PATH: &str = "/api/v1/query_range";

#[ignore = "needs victoria-metrics"]
#[test]
fn apps_with_history_forecast_from_the_first_tick_and_others_say_they_react() {
    let metrics = VictoriaMetrics::start();
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    // cart has only been seen for the last 20 minutes.
    metrics.load_traffic("cart", &[("syd", 3.0)]);
    // Three series in all once shop's two are in.
    metrics.import(&shop_history(now_ms / MINUTE_MS * MINUTE_MS), 3);

    let runtime = kit::runtime();
    let api = runtime
        .block_on(FakeMachinesApi::start("shop", TOKEN))
        .unwrap();
    api.add_app("cart");
    api.add_machine(MachineSpec::new("iad"));
    api.add_machine(MachineSpec::new("iad").app("cart"));
    let config = format!(
        "dry_run: true\napps: [shop, cart]\npolicy: latency\n\
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
    let health = get_json(&server.url("/health"));
    let before = health["apps"]["shop"]["forecast"]
        .as_str()
        .unwrap_or_default();
    assert!(before.starts_with("not forecasting yet"), "{health}");

    let ranges_before = metrics.settled_request_count(RANGE_PATH);
    let response = client().post(server.url("/trigger")).send().unwrap();
    assert!(response.status().is_success());
    let reports: serde_json::Value = response.json().unwrap();
    assert_eq!(
        reports["shop"]["error"],
        serde_json::Value::Null,
        "{reports}"
    );

    let line = server.wait_for_log("forecast warm start", Duration::from_secs(30));
    let health = get_json(&server.url("/health"));
    let shop = health["apps"]["shop"]["forecast"]
        .as_str()
        .unwrap_or_default();
    // Fourteen days (the default warm start), every five minutes.
    assert!(
        shop.starts_with("forecasting from 336.0 h"),
        "{health}\n{line}"
    );
    let cart = health["apps"]["cart"]["forecast"]
        .as_str()
        .unwrap_or_default();
    assert!(cart.starts_with("not forecasting yet"), "{health}");
    assert!(cart.contains("reacting to observed traffic"), "{health}");
    // Where shop's history came from: all of it read at start.
    let history = &health["apps"]["shop"]["forecast_history"];
    let read_at_start = history["read_at_start_seconds"]
        .as_u64()
        .unwrap_or_default();
    assert!(read_at_start >= 13 * 86_400, "{health}");
    assert!(
        history["observed_seconds"].as_u64() < Some(3600),
        "{health}"
    );
    assert!(
        history["read_from"]
            .as_str()
            .is_some_and(|from| from.contains(metrics.url.as_str())),
        "{health}"
    );
    let log = server.log().join("\n");
    assert!(log.contains("learnt from 4033 of 4033 snapshots"), "{log}");
    // One range query per app: fourteen days at five minutes is one piece.
    assert!(server.stop().success());
    assert_eq!(
        metrics.settled_request_count(RANGE_PATH) - ranges_before,
        2,
        "{log}"
    );

    // Restarted, shop's saved forecaster already holds the fourteen days:
    // only the minutes since are read.
    let mut server = workspace.serve(&[], &env);
    let reports: serde_json::Value = client()
        .post(server.url("/trigger"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(
        reports["shop"]["error"],
        serde_json::Value::Null,
        "{reports}"
    );
    server.wait_for_count("forecast warm start", 2, Duration::from_secs(30));
    let log = server.log().join("\n");
    let shop_line = log
        .lines()
        .find(|line| line.contains("forecast warm start") && line.contains("shop"))
        .unwrap_or_default();
    assert!(!shop_line.contains("of 4033 snapshots"), "{shop_line}");
    let health = get_json(&server.url("/health"));
    let shop = health["apps"]["shop"]["forecast"]
        .as_str()
        .unwrap_or_default();
    assert!(shop.starts_with("forecasting from"), "{health}");
    // The restart kept what was read before and read nothing twice.
    let history = &health["apps"]["shop"]["forecast_history"];
    let again = history["read_at_start_seconds"]
        .as_u64()
        .unwrap_or_default();
    assert!(
        again >= read_at_start && again < read_at_start + 3600,
        "{read_at_start} then {health}"
    );
    assert!(server.stop().success());
}
