//! The metrics the alerting rules (`dashboards/alerts.yml`) need beside the
//! others: the interval and leadership, the Machines API's answers, busy
//! regions, the budget's period and the platform's unavailable regions.

use std::collections::BTreeMap;
use std::time::Duration;

use placer_core::network::platform::{PlatformRegion, PlatformRegions, Unavailable};
use placer_core::Region;

use super::*;

fn region(code: &str) -> Region {
    code.parse().unwrap()
}

fn value(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find(|line| line.starts_with(series) && line[series.len()..].starts_with(' '))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
}

fn counts(ok: u64, rate_limited: u64, server_error: u64) -> placer_fly::RequestCounts {
    let mut counts = placer_fly::RequestCounts::default();
    counts.ok = ok;
    counts.rate_limited = rate_limited;
    counts.server_error = server_error;
    counts
}

#[test]
fn api_answers_and_busy_regions_are_counted_from_zero() {
    let metrics = Metrics::new();
    metrics.add_app("shop", false);
    let text = metrics.render();
    for outcome in placer_fly::RequestCounts::OUTCOMES {
        let series =
            format!(r#"fly_placer_fly_api_requests_total{{app="shop",outcome="{outcome}"}}"#);
        assert_eq!(value(&text, &series), Some(0.0), "{series}\n{text}");
    }
    assert_eq!(
        value(&text, r#"fly_placer_lease_busy_total{app="shop"}"#),
        Some(0.0)
    );

    metrics.observe_api_requests("shop", counts(5, 2, 0));
    metrics.observe_api_requests("shop", counts(9, 3, 1));
    metrics.observe_lease_busy("shop", 2);
    metrics.observe_lease_busy("shop", 0);
    let text = metrics.render();
    let api = |outcome: &str| {
        value(
            &text,
            &format!(r#"fly_placer_fly_api_requests_total{{app="shop",outcome="{outcome}"}}"#),
        )
    };
    // The counter follows the actuator's counts, not their sum.
    assert_eq!(api("ok"), Some(9.0));
    assert_eq!(api("rate_limited"), Some(3.0));
    assert_eq!(api("server_error"), Some(1.0));
    assert_eq!(
        value(&text, r#"fly_placer_lease_busy_total{app="shop"}"#),
        Some(2.0)
    );
}

#[test]
fn a_new_actuators_counts_are_added_not_subtracted() {
    let metrics = Metrics::new();
    metrics.add_app("shop", false);
    metrics.observe_api_requests("shop", counts(10, 4, 0));
    // The config changed: a new actuator counts from zero.
    metrics.observe_api_requests("shop", counts(3, 1, 0));
    let text = metrics.render();
    let series = r#"fly_placer_fly_api_requests_total{app="shop",outcome="ok"}"#;
    assert_eq!(value(&text, series), Some(13.0), "{text}");
    let series = r#"fly_placer_fly_api_requests_total{app="shop",outcome="rate_limited"}"#;
    assert_eq!(value(&text, series), Some(5.0), "{text}");
}

#[test]
fn interval_and_leadership_are_set_for_every_app_and_leave_with_it() {
    let metrics = Metrics::new();
    metrics.add_app("shop", false);
    metrics.add_app("blog", false);
    metrics.observe_service(["shop", "blog"], Duration::from_secs(60), true);
    let text = metrics.render();
    for app in ["shop", "blog"] {
        let interval = format!(r#"fly_placer_interval_seconds{{app="{app}"}}"#);
        assert_eq!(value(&text, &interval), Some(60.0), "{text}");
        let leader = format!(r#"fly_placer_leader{{app="{app}"}}"#);
        assert_eq!(value(&text, &leader), Some(1.0), "{text}");
    }
    // A follower of a placer ticking only when triggered.
    metrics.observe_service(["shop"], Duration::ZERO, false);
    let text = metrics.render();
    assert_eq!(
        value(&text, r#"fly_placer_interval_seconds{app="shop"}"#),
        Some(0.0)
    );
    assert_eq!(value(&text, r#"fly_placer_leader{app="shop"}"#), Some(0.0));

    metrics.remove_app("shop");
    let text = metrics.render();
    assert!(!text.contains(r#"fly_placer_leader{app="shop"}"#), "{text}");
    assert!(
        !text.contains(r#"fly_placer_interval_seconds{app="shop"}"#),
        "{text}"
    );
    assert!(text.contains(r#"fly_placer_leader{app="blog"}"#), "{text}");
}

#[test]
fn the_budgets_period_end_is_exported_and_zero_without_a_budget() {
    let metrics = Metrics::new();
    metrics.add_app("shop", false);
    let series = r#"fly_placer_budget_period_end_timestamp_seconds{app="shop"}"#;
    assert_eq!(value(&metrics.render(), series), Some(0.0));
    let end = placer_core::Timestamp::from_unix_seconds(1_800_086_400);
    let budget = BudgetUse::new(48.0, 12.0).with_period_end(end);
    metrics.observe_budget("shop", Some(&budget));
    assert_eq!(value(&metrics.render(), series), Some(1_800_086_400.0));
    metrics.observe_budget("shop", None);
    assert_eq!(value(&metrics.render(), series), Some(0.0));
}

#[test]
fn regions_the_platform_takes_no_machine_in_are_listed_with_why_until_they_do() {
    let metrics = Metrics::new();
    metrics.add_app("shop", false);
    // Declared before any series, so names can be checked against it.
    assert!(
        metrics
            .render()
            .contains("# TYPE fly_placer_platform_region_unavailable gauge"),
        "{}",
        metrics.render()
    );
    let at = placer_core::Timestamp::from_unix_seconds(1_800_000_000);
    let read = PlatformRegions::from_platform(
        [
            PlatformRegion::new(region("fra"), 50.0, 8.6).with_capacity(3),
            PlatformRegion::new(region("syd"), -33.9, 151.2).with_capacity(0),
        ],
        at,
    );
    let mut health = PlatformHealth::of(&read);
    health.unavailable = BTreeMap::from([
        (region("syd"), Unavailable::Full),
        (region("bos"), Unavailable::Deprecated),
    ]);
    metrics.observe_platform("shop", &health);
    let text = metrics.render();
    assert_eq!(
        value(
            &text,
            r#"fly_placer_platform_region_unavailable{app="shop",region="syd",why="full"}"#
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        value(
            &text,
            r#"fly_placer_platform_region_unavailable{app="shop",region="bos",why="deprecated"}"#
        ),
        Some(1.0),
        "{text}"
    );
    assert!(!text.contains(r#"region="fra",why"#), "{text}");

    // syd has room again: its series goes.
    health.unavailable = BTreeMap::from([(region("bos"), Unavailable::Deprecated)]);
    metrics.observe_platform("shop", &health);
    let text = metrics.render();
    assert!(!text.contains(r#"region="syd",why"#), "{text}");
    assert!(text.contains(r#"region="bos",why="deprecated""#), "{text}");

    metrics.remove_app("shop");
    assert!(!metrics.render().contains(r#"region="bos",why"#));
}
