use std::collections::BTreeSet;
use std::time::Duration;

use placer_core::{
    ActionOutcome, InMemoryActuator, Placer, PlacerConfig, Region, ScriptedSource, Timestamp,
    TrafficSnapshot,
};

use super::*;
use placer_core::Reason;

fn region(code: &str) -> Region {
    code.parse().unwrap()
}

/// Runs real ticks so the reasons and numbers come from the engine itself.
async fn reports(
    config: PlacerConfig,
    traffic: &[(&str, f64)],
    ticks: usize,
) -> Vec<Arc<TickReport>> {
    run(config, traffic, ticks).await.1
}

/// The engine after `ticks` one-minute ticks of `traffic` from [`START`],
/// starting from `iad`, and each tick's report.
async fn run(
    config: PlacerConfig,
    traffic: &[(&str, f64)],
    ticks: usize,
) -> (Placer, Vec<Arc<TickReport>>) {
    let mut placer = Placer::new(config).unwrap();
    let actuator = InMemoryActuator::new([region("iad")]);
    let source = ScriptedSource::new();
    let mut now = START;
    let mut out = Vec::new();
    for _ in 0..ticks {
        source.push(TrafficSnapshot::new(now, traffic.iter().copied()).unwrap());
        out.push(Arc::new(placer.tick(&source, &actuator, now).await));
        now = now + Duration::from_secs(60);
    }
    (placer, out)
}

const START: Timestamp = Timestamp::from_unix_seconds(1_800_000_000);

fn line_value(text: &str, prefix: &str) -> Option<f64> {
    text.lines()
        .find(|line| line.starts_with(prefix))
        .and_then(|line| line.rsplit(' ').next())
        .and_then(|value| value.parse().ok())
}

#[tokio::test]
async fn exposes_per_region_numbers_actions_and_skip_classes() {
    let config = PlacerConfig::default()
        .with_dry_run(false)
        .with_excluded_regions(BTreeSet::from([region("ams")]));
    let reports = reports(config, &[("iad", 30.0), ("fra", 90.0), ("ams", 90.0)], 4).await;
    let metrics = Metrics::new();
    let deployed = BTreeSet::from([region("iad"), region("fra")]);
    for report in &reports {
        metrics.observe_tick("shop", report, Duration::from_millis(20), &deployed);
    }
    let text = metrics.render();

    assert_eq!(
        line_value(
            &text,
            "fly_placer_region_requests{app=\"shop\",region=\"fra\"}"
        ),
        Some(90.0)
    );
    assert!(text.contains(
        "fly_placer_region_traffic_average{app=\"shop\",region=\"fra\",window=\"long\"}"
    ));
    assert!(
        text.contains("fly_placer_region_threshold{app=\"shop\",region=\"iad\",kind=\"deploy\"}")
    );
    assert_eq!(
        line_value(
            &text,
            "fly_placer_region_deployed{app=\"shop\",region=\"fra\"}"
        ),
        Some(1.0)
    );
    assert_eq!(
        line_value(
            &text,
            "fly_placer_region_deployed{app=\"shop\",region=\"ams\"}"
        ),
        Some(0.0)
    );
    assert_eq!(
        line_value(
            &text,
            "fly_placer_actions_total{app=\"shop\",action=\"deploy\",outcome=\"ok\"}"
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        line_value(
            &text,
            "fly_placer_skips_total{app=\"shop\",reason=\"excluded\"}"
        ),
        Some(4.0),
        "{text}"
    );
    assert_eq!(
        line_value(&text, "fly_placer_ticks_total{app=\"shop\",result=\"ok\"}"),
        Some(4.0)
    );
    assert_eq!(
        line_value(&text, "fly_placer_tick_duration_seconds_count"),
        Some(4.0)
    );
    assert!(text.trim_end().ends_with("# EOF"));
}

#[tokio::test]
async fn failed_tick_counts_an_error_by_stage_and_keeps_region_gauges() {
    let metrics = Metrics::new();
    let good = reports(PlacerConfig::default(), &[("iad", 20.0)], 1).await;
    metrics.observe_tick(
        "shop",
        &good[0],
        Duration::ZERO,
        &BTreeSet::from([region("iad")]),
    );

    let mut placer = Placer::new(PlacerConfig::default()).unwrap();
    let source = ScriptedSource::new();
    source.push_failure("connection refused");
    let actuator = InMemoryActuator::new([region("iad")]);
    let failed = placer
        .tick(&source, &actuator, Timestamp::from_unix_seconds(1))
        .await;
    metrics.observe_tick(
        "shop",
        &Arc::new(failed),
        Duration::ZERO,
        &BTreeSet::from([region("iad")]),
    );

    let text = metrics.render();
    assert_eq!(
        line_value(
            &text,
            "fly_placer_errors_total{app=\"shop\",stage=\"metrics\"}"
        ),
        Some(1.0)
    );
    assert_eq!(
        line_value(
            &text,
            "fly_placer_ticks_total{app=\"shop\",result=\"failed\"}"
        ),
        Some(1.0)
    );
    assert_eq!(
        line_value(
            &text,
            "fly_placer_region_requests{app=\"shop\",region=\"iad\"}"
        ),
        Some(20.0)
    );
}

#[test]
fn reload_results_and_validity() {
    let metrics = Metrics::new();
    metrics.observe_reload("shop", false);
    let text = metrics.render();
    assert_eq!(
        line_value(&text, "fly_placer_config_valid{app=\"shop\"}"),
        Some(0.0)
    );
    assert_eq!(
        line_value(
            &text,
            "fly_placer_config_reloads_total{app=\"shop\",result=\"rejected\"}"
        ),
        Some(1.0)
    );
    metrics.observe_reload("shop", true);
    assert_eq!(
        line_value(&metrics.render(), "fly_placer_config_valid{app=\"shop\"}"),
        Some(1.0)
    );
}

#[tokio::test]
async fn exposes_the_machine_budget_and_what_its_period_has_spent() {
    let mut config = PlacerConfig::default().with_policy(placer_core::policy::PolicyName::LATENCY);
    config.policy_settings.set(
        &placer_core::policy::LatencySettings::default().with_budget(Some(
            placer_core::policy::MachineBudget::new(48.0).with_starts(START),
        )),
    );
    let (placer, _) = run(config, &[("iad", 10.0)], 31).await;
    let metrics = Metrics::new();
    metrics.add_app("shop", false);
    assert_eq!(
        line_value(
            &metrics.render(),
            "fly_placer_budget_machine_hours{app=\"shop\"} "
        ),
        Some(0.0)
    );
    metrics.observe_budget("shop", placer.policy_summary().budget.as_ref());
    let text = metrics.render();
    assert_eq!(
        line_value(&text, "fly_placer_budget_machine_hours{app=\"shop\"} "),
        Some(48.0)
    );
    // One region for the half hour since the period began.
    assert_eq!(
        line_value(
            &text,
            "fly_placer_budget_spent_machine_hours{app=\"shop\"} "
        ),
        Some(0.5)
    );
}

#[tokio::test]
async fn counts_skipped_actions_ignored_regions_and_unavailable_and_pending_regions() {
    let config = PlacerConfig::default().with_dry_run(false);
    let mut report = Arc::unwrap_or_clone(
        reports(config, &[("iad", 30.0), ("zzz", 90.0)], 1)
            .await
            .remove(0),
    );
    assert_eq!(report.ignored_regions, vec![region("zzz")]);
    report.actions.push(ActionOutcome::new(
        placer_core::Decision::new(region("lhr"), Move::Remove, Reason::NoData),
        Outcome::Skipped("lhr runs machines fly-placer did not create".into()),
    ));
    report.skipped.push(placer_core::Decision::new(
        region("syd"),
        placer_core::Action::Deploy,
        Reason::Unavailable {
            since: START,
            until: START + Duration::from_secs(120),
            reason: "HTTP 422: no capacity".into(),
            served_from: None,
        },
    ));
    report.pending.push(region("fra"));
    let metrics = Metrics::new();
    metrics.observe_tick(
        "shop",
        &Arc::new(report),
        Duration::from_millis(20),
        &BTreeSet::new(),
    );
    let text = metrics.render();
    for line in [
        r#"fly_placer_actions_total{app="shop",action="remove",outcome="skipped"} 1"#,
        r#"fly_placer_ignored_regions_total{app="shop",region="zzz"} 1"#,
        r#"fly_placer_region_unavailable{app="shop",region="syd"} 1"#,
        r#"fly_placer_region_deploy_pending{app="shop",region="fra"} 1"#,
        r#"fly_placer_skips_total{app="shop",reason="unavailable"} 1"#,
    ] {
        assert!(text.contains(line), "{line} missing from\n{text}");
    }
    assert!(
        line_value(&text, "fly_placer_errors_total").is_none(),
        "{text}"
    );
}

#[tokio::test]
async fn counts_resizes_as_actions_and_a_failed_one_as_an_error() {
    let config = PlacerConfig::default().with_dry_run(false);
    let mut report = Arc::unwrap_or_clone(reports(config, &[("iad", 30.0)], 1).await.remove(0));
    report.resized = Some(vec![
        placer_core::ResizeOutcome::new(
            region("iad"),
            placer_core::MachineCount::new(3, 0),
            placer_core::MachineCount::new(5, 0),
            "5 machines",
            Outcome::Ok,
        ),
        placer_core::ResizeOutcome::new(
            region("fra"),
            placer_core::MachineCount::new(2, 0),
            placer_core::MachineCount::new(1, 0),
            "1 machine",
            Outcome::Failed(placer_core::ActuatorError::Reported {
                message: "HTTP 500".into(),
            }),
        ),
    ]);
    let metrics = Metrics::new();
    metrics.observe_tick("shop", &Arc::new(report), Duration::ZERO, &BTreeSet::new());
    let text = metrics.render();
    for line in [
        r#"fly_placer_actions_total{app="shop",action="resize",outcome="ok"} 1"#,
        r#"fly_placer_actions_total{app="shop",action="resize",outcome="error"} 1"#,
        r#"fly_placer_errors_total{app="shop",stage="action"} 1"#,
    ] {
        assert!(text.contains(line), "{line} missing from\n{text}");
    }
}

#[tokio::test]
async fn each_app_keeps_its_own_region_gauges() {
    let metrics = Metrics::new();
    let shop = reports(PlacerConfig::default(), &[("iad", 20.0), ("fra", 5.0)], 1).await;
    let blog = reports(PlacerConfig::default(), &[("syd", 7.0)], 1).await;
    metrics.observe_tick(
        "shop",
        &shop[0],
        Duration::ZERO,
        &BTreeSet::from([region("iad")]),
    );
    metrics.observe_tick(
        "blog",
        &blog[0],
        Duration::ZERO,
        &BTreeSet::from([region("iad")]),
    );
    let text = metrics.render();
    assert_eq!(
        line_value(
            &text,
            "fly_placer_region_requests{app=\"shop\",region=\"fra\"}"
        ),
        Some(5.0)
    );
    assert_eq!(
        line_value(
            &text,
            "fly_placer_region_requests{app=\"blog\",region=\"syd\"}"
        ),
        Some(7.0)
    );
    // fra leaves shop's report: its gauges go, blog's stay.
    let shop = reports(PlacerConfig::default(), &[("iad", 20.0)], 1).await;
    metrics.observe_tick(
        "shop",
        &shop[0],
        Duration::ZERO,
        &BTreeSet::from([region("iad")]),
    );
    let text = metrics.render();
    assert!(!text.contains("app=\"shop\",region=\"fra\""), "{text}");
    assert_eq!(
        line_value(
            &text,
            "fly_placer_region_requests{app=\"blog\",region=\"syd\"}"
        ),
        Some(7.0)
    );
    metrics.remove_app("blog");
    assert!(!metrics.render().contains("region_requests{app=\"blog\""));
}

#[tokio::test]
async fn the_gzip_text_is_the_text() {
    let metrics = Metrics::new();
    // Large enough to span many of the compressor's pieces.
    for app in 0..300 {
        let app = format!("app-{app:03}");
        metrics.add_app(&app, true);
        let reports = reports(PlacerConfig::default(), &[("iad", 30.0), ("fra", 90.0)], 1).await;
        metrics.observe_tick(
            &app,
            &reports[0],
            Duration::from_millis(20),
            &BTreeSet::from([region("iad")]),
        );
    }
    let text = metrics.render();
    assert!(text.len() > 4 * GzipText::PIECE, "{}", text.len());
    let compressed = metrics.render_gzip();
    let mut unpacked = String::new();
    std::io::Read::read_to_string(
        &mut flate2::read::GzDecoder::new(&compressed[..]),
        &mut unpacked,
    )
    .unwrap();
    assert_eq!(unpacked, text);
}

#[test]
fn an_apps_counters_are_exported_from_zero_before_their_first_event() {
    let metrics = Metrics::new();
    metrics.add_app("shop", true);
    let text = metrics.render();
    for series in [
        "fly_placer_ticks_total{app=\"shop\",result=\"ok\"} ",
        "fly_placer_ticks_total{app=\"shop\",result=\"failed\"} ",
        "fly_placer_errors_total{app=\"shop\",stage=\"metrics\"} ",
        "fly_placer_errors_total{app=\"shop\",stage=\"deployment\"} ",
        "fly_placer_errors_total{app=\"shop\",stage=\"action\"} ",
        "fly_placer_errors_total{app=\"shop\",stage=\"persist\"} ",
        "fly_placer_config_reloads_total{app=\"shop\",result=\"applied\"} ",
        "fly_placer_config_reloads_total{app=\"shop\",result=\"rejected\"} ",
    ] {
        assert_eq!(line_value(&text, series), Some(0.0), "{series}\n{text}");
    }
    // An event counts on top of the zero.
    metrics.observe_reload("shop", false);
    let text = metrics.render();
    assert_eq!(
        line_value(
            &text,
            "fly_placer_config_reloads_total{app=\"shop\",result=\"rejected\"} "
        ),
        Some(1.0)
    );
}

#[test]
fn platform_regions_are_exported_from_zero_then_on_their_source() {
    use placer_core::network::platform::{PlatformRegion, PlatformRegions};

    let metrics = Metrics::new();
    metrics.add_app("shop", false);
    let text = metrics.render();
    for source in ["platform", "fallback", "built_in"] {
        let series = format!(r#"fly_placer_platform_regions{{app="shop",source="{source}"}}"#);
        assert_eq!(line_value(&text, &series), Some(0.0), "{series}\n{text}");
    }

    let read = PlatformRegions::from_platform(
        [
            PlatformRegion::new(region("fra"), 50.0, 8.6).with_capacity(3),
            PlatformRegion::new(region("syd"), -33.9, 151.2).with_capacity(0),
        ],
        START,
    );
    metrics.observe_platform("shop", &PlatformHealth::of(&read));
    let text = metrics.render();
    let value = |source: &str| {
        line_value(
            &text,
            &format!(r#"fly_placer_platform_regions{{app="shop",source="{source}"}}"#),
        )
    };
    assert_eq!(value("platform"), Some(1.0));
    assert_eq!(value("fallback"), Some(0.0));

    metrics.observe_platform(
        "shop",
        &PlatformHealth::of(&PlatformRegions::fallback(START, "HTTP 403")),
    );
    let text = metrics.render();
    let value = |source: &str| {
        line_value(
            &text,
            &format!(r#"fly_placer_platform_regions{{app="shop",source="{source}"}}"#),
        )
    };
    assert_eq!(value("platform"), Some(0.0));
    assert_eq!(value("fallback"), Some(18.0));

    metrics.remove_app("shop");
    assert!(!metrics.render().contains(r#"platform_regions{app="shop""#));
}

#[tokio::test]
async fn machines_are_exposed_per_state_with_a_machines_section_only() {
    let plain = reports(PlacerConfig::default(), &[("iad", 300.0)], 1).await;
    let metrics = Metrics::new();
    let deployed = BTreeSet::from([region("iad")]);
    metrics.observe_tick("shop", &plain[0], Duration::from_millis(20), &deployed);
    let text = metrics.render();
    assert!(
        text.contains("# TYPE fly_placer_machines gauge"),
        "declared: {text}"
    );
    assert!(!text.contains("fly_placer_machines{"), "{text}");

    let mut config = PlacerConfig::default().with_dry_run(false);
    config.policy_settings.set(
        &placer_core::config::MachinesSettings::default()
            .with_requests_per_machine(Some(100.0))
            .with_standby_per_region(1),
    );
    let sized = reports(config, &[("iad", 300.0)], 2).await;
    let metrics = Metrics::new();
    metrics.observe_tick("shop", &sized[1], Duration::from_millis(20), &deployed);
    let text = metrics.render();
    let value = |state: &str| {
        line_value(
            &text,
            &format!("fly_placer_machines{{app=\"shop\",region=\"iad\",state=\"{state}\"}}"),
        )
    };
    // 300 × 1.2 / 100 = 3.6: four, reached at the first tick (3 actions).
    assert_eq!(value("target"), Some(4.0), "{text}");
    assert_eq!(value("running"), Some(4.0), "{text}");
    assert_eq!(value("standby"), Some(1.0), "{text}");
}
