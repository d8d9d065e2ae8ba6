use std::time::Duration;

use super::*;
use crate::config::ThresholdMode;
use crate::policy::{LatencySettings, PolicyName};

/// The `config/config.yml` printed in the seed's README, byte for byte.
const SEED_CONFIG: &str = r#"# Configuration settings for the auto-placer

dry_run: True

# Cooldown period to prevent rapid re-deployment
# Used as a safeguard to prevent rapid re-deployment of regions when traffic
# exceeds the adaptive threshold settings.
cooldown_period: 10  # Cooldown period in seconds

# Define parameters for calculating short-term and long-term traffic averages
# These parameters are used to analyze recent trends and overall patterns in traffic data
short_term_window: 5  # Number of recent data points to consider for short-term analysis
long_term_window: 20  # Number of data points to consider for long-term analysis
alpha_short: 0.3  # Exponential smoothing factor for short-term average (higher weight to recent data)
alpha_long: 0.1  # Exponential smoothing factor for long-term average (more stable, less reactive)

# Thresholds for traffic-based placement decisions
traffic_threshold: 50         # Deploy to regions with average traffic >= 50
deployment_threshold: 10      # Remove from regions with average traffic <= 10

# Optional: Define allowed or excluded regions
allowed_regions:
  - iad
  - cdg
  - lhr
  - fra
  - sfo

excluded_regions:
  - nrt

always_running_regions:
  - fra

"#;

fn regions(codes: &[&str]) -> std::collections::BTreeSet<crate::Region> {
    codes.iter().map(|c| c.parse().unwrap()).collect()
}

#[test]
fn seed_config_parses_unchanged() {
    let config = from_yaml(SEED_CONFIG, "config/config.yml").unwrap();
    assert!(config.dry_run);
    assert_eq!(config.cooldown_period, Duration::from_secs(10));
    assert_eq!(config.short_term_window, 5);
    assert_eq!(config.long_term_window, 20);
    assert_eq!(config.alpha_short, 0.3);
    assert_eq!(config.alpha_long, 0.1);
    assert_eq!(config.traffic_threshold, 50.0);
    assert_eq!(config.deployment_threshold, 10.0);
    assert_eq!(
        config.allowed_regions,
        regions(&["iad", "cdg", "lhr", "fra", "sfo"])
    );
    assert_eq!(config.excluded_regions, regions(&["nrt"]));
    assert_eq!(config.always_running_regions, regions(&["fra"]));
    // Keys the seed did not have take their defaults.
    assert_eq!(config.max_actions_per_tick, 3);
    assert_eq!(config.thresholds, ThresholdMode::Adaptive);
    assert_eq!(config.policy, PolicyName::THRESHOLD);
}

#[test]
fn empty_document_gives_defaults() {
    assert_eq!(from_yaml("", "c.yml").unwrap(), PlacerConfig::default());
    assert_eq!(
        from_yaml("# only a comment\n", "c.yml").unwrap(),
        PlacerConfig::default()
    );
}

#[test]
fn cooldown_accepts_seconds_and_duration_strings() {
    let minutes = from_yaml("cooldown_period: 10m\n", "c.yml").unwrap();
    assert_eq!(minutes.cooldown_period, Duration::from_secs(600));
    let fraction = from_yaml("cooldown_period: 1.5\n", "c.yml").unwrap();
    assert_eq!(fraction.cooldown_period, Duration::from_millis(1500));
    let quoted = from_yaml("cooldown_period: \"90s\"\n", "c.yml").unwrap();
    assert_eq!(quoted.cooldown_period, Duration::from_secs(90));
    let err = from_yaml("dry_run: false\ncooldown_period: soon\n", "c.yml").unwrap_err();
    assert_eq!(err.line(), Some(2), "{err}");
    assert!(err.to_string().contains("soon"), "{err}");
    let negative = from_yaml("cooldown_period: -5\n", "c.yml").unwrap_err();
    assert!(negative.to_string().contains("negative"), "{negative}");
}

#[test]
fn pending_grace_defaults_to_five_minutes_and_is_bounded() {
    assert_eq!(
        from_yaml("", "c.yml").unwrap().pending_grace,
        Duration::from_secs(300)
    );
    let set = from_yaml("pending_grace: 90s\n", "c.yml").unwrap();
    assert_eq!(set.pending_grace, Duration::from_secs(90));
    for bad in ["pending_grace: 0\n", "pending_grace: 25h\n"] {
        let err = from_yaml(bad, "c.yml").unwrap_err();
        assert!(err.to_string().contains("pending_grace"), "{err}");
    }
}

#[test]
fn unknown_key_is_rejected_with_a_suggestion_and_line() {
    let err = from_yaml("dry_run: true\ntrafic_threshold: 40\n", "config.yml").unwrap_err();
    assert_eq!(
        err.to_string(),
        "config.yml:2: unknown key `trafic_threshold` (did you mean `traffic_threshold`?)"
    );
    let far = from_yaml("colour: blue\n", "config.yml").unwrap_err();
    assert_eq!(far.to_string(), "config.yml:1: unknown key `colour`");
}

#[test]
fn unknown_nested_keys_are_named_whole_at_their_own_line_with_a_suggestion() {
    let cases = [
        (
            "dry_run: true\npolicy: latency\nlatency:\n  persist_ticks: 3\n  region_cost: 5\n",
            "c.yml:5: unknown key `latency.region_cost` (did you mean `region_cost_ms`?)",
        ),
        (
            "forecast:\n  lead_time: 5m\n  methd: seasonal\n",
            "c.yml:3: unknown key `forecast.methd` (did you mean `method`?)",
        ),
        (
            // Written inline: the section's line.
            "dry_run: true\nlatency: {region_cost: 5}\n",
            "c.yml:2: unknown key `latency.region_cost` (did you mean `region_cost_ms`?)",
        ),
        (
            "latency:\n  colour: blue\n",
            "c.yml:2: unknown key `latency.colour`",
        ),
    ];
    for (text, expected) in cases {
        let err = from_yaml(text, "c.yml").unwrap_err();
        assert_eq!(err.to_string(), expected, "{text}");
    }
}

#[test]
fn an_unclosed_bracket_is_reported_at_the_line_that_opens_it() {
    let err = from_yaml(
        "dry_run: true\nallowed_regions: [iad, fra\ntraffic_threshold: 5\n",
        "c.yml",
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "c.yml:2: the `[` on this line is never closed with `]`"
    );
    // Brackets inside quotes and comments do not count.
    let err = from_yaml(
        "allowed_regions: [iad] # [\nexcluded_regions: [\"n[t\", nrt\ndry_run: true\n",
        "c.yml",
    )
    .unwrap_err();
    assert_eq!(err.line(), Some(2), "{err}");
}

#[test]
fn nested_line_lookup_follows_indentation() {
    let text = "apps:\n  shop:\n    latency:\n      persist_ticks: 2\n  blog:\n    latency:\n      persist_ticks: 3\nlatency:\n  persist_ticks: 4\n";
    assert_eq!(
        line_of_path(text, &["apps", "blog", "latency", "persist_ticks"]),
        Some(7)
    );
    assert_eq!(line_of_path(text, &["latency", "persist_ticks"]), Some(9));
    assert_eq!(
        line_of_path(text, &["apps", "shop", "latency", "nope"]),
        Some(3)
    );
    assert_eq!(line_of_path(text, &["persist_ticks"]), None);
}

#[test]
fn type_errors_name_the_line() {
    let err = from_yaml("dry_run: true\n\nshort_term_window: five\n", "c.yml").unwrap_err();
    assert!(
        matches!(err, ConfigError::Syntax { line: Some(3), .. }),
        "{err:?}"
    );
    assert!(err.to_string().starts_with("c.yml:3:"), "{err}");
}

#[test]
fn invalid_region_codes_are_reported_with_their_line() {
    let err = from_yaml("allowed_regions:\n  - iad\n  - FRA\n", "c.yml").unwrap_err();
    assert_eq!(err.line(), Some(3), "{err}");
    assert!(err.to_string().contains("lowercase"), "{err}");
}

#[test]
fn a_list_instead_of_a_mapping_is_a_clear_error() {
    let err = from_yaml("- iad\n- fra\n", "c.yml").unwrap_err();
    assert!(err.to_string().contains("expected a mapping"), "{err}");
}

fn rule_violation(yaml: &str) -> (String, Option<usize>) {
    match from_yaml(yaml, "c.yml").unwrap_err() {
        ConfigError::InvalidValue { key, line, .. } => (key, line),
        other => panic!("expected an invalid value, got {other:?}"),
    }
}

#[test]
fn every_rule_names_its_key_and_line() {
    let cases: &[(&str, &str, usize)] = &[
        (
            "dry_run: true\nshort_term_window: 0\n",
            "short_term_window",
            2,
        ),
        (
            "long_term_window: 0\nshort_term_window: 0\n",
            "short_term_window",
            2,
        ),
        ("short_term_window: 30\n", "short_term_window", 1),
        ("alpha_short: 0\n", "alpha_short", 1),
        ("alpha_long: 1.5\n", "alpha_long", 1),
        ("alpha_long: .nan\n", "alpha_long", 1),
        ("traffic_threshold: .inf\n", "traffic_threshold", 1),
        ("deployment_threshold: -1\n", "deployment_threshold", 1),
        (
            "traffic_threshold: 10\ndeployment_threshold: 10\n",
            "deployment_threshold",
            2,
        ),
        (
            "excluded_regions: [fra]\nalways_running_regions: [fra]\n",
            "always_running_regions",
            2,
        ),
        (
            "allowed_regions: [iad]\nalways_running_regions: [fra]\n",
            "always_running_regions",
            2,
        ),
        ("max_actions_per_tick: 0\n", "max_actions_per_tick", 1),
        ("min_regions: 0\n", "min_regions", 1),
        ("min_regions: 3\nmax_regions: 2\n", "max_regions", 2),
    ];
    for (yaml, key, line) in cases {
        let (got_key, got_line) = rule_violation(yaml);
        assert_eq!(
            (got_key.as_str(), got_line),
            (*key, Some(*line)),
            "for {yaml:?}"
        );
    }
}

#[test]
fn always_running_may_be_anything_when_allowed_is_empty() {
    let config = from_yaml("always_running_regions: [syd]\n", "c.yml").unwrap();
    assert_eq!(config.always_running_regions, regions(&["syd"]));
}

#[test]
fn new_keys_parse() {
    let config = from_yaml(
        "policy: latency\nthresholds: volatility_aware\nmax_regions: 4\nlatency:\n  region_cost_ms: 8\n",
        "c.yml",
    )
    .unwrap();
    assert_eq!(config.policy, PolicyName::LATENCY);
    assert_eq!(config.thresholds, ThresholdMode::VolatilityAware);
    assert_eq!(config.max_regions, Some(4));
    assert_eq!(
        config
            .policy_settings
            .get::<LatencySettings>()
            .region_cost_ms,
        8.0
    );
    let err = from_yaml("latency:\n  region_cost: 8\n", "c.yml").unwrap_err();
    assert!(err.to_string().contains("region_cost"), "{err}");
}

#[test]
fn latency_patience_and_baseline_keys_parse_and_are_checked() {
    let config = from_yaml(
        "latency:\n  baseline_half_life: 2h\n  patient_margin: 0.02\n",
        "c.yml",
    )
    .unwrap();
    assert_eq!(
        config
            .policy_settings
            .get::<LatencySettings>()
            .baseline_half_life
            .as_secs(),
        7200
    );
    assert_eq!(
        config
            .policy_settings
            .get::<LatencySettings>()
            .patient_margin,
        0.02
    );
    let err = from_yaml("latency:\n  patient_margin: 1.5\n", "c.yml").unwrap_err();
    assert!(
        err.to_string()
            .contains("patient_margin: must be in [0, 1)"),
        "{err}"
    );
    let err = from_yaml(
        "dry_run: true\nlatency:\n  persist_ticks: 2\n  budget:\n    machine_hours: -1\n    period: 1d\n",
        "c.yml",
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "c.yml:5: latency.budget.machine_hours: must be a finite number > 0, got -1"
    );
    let err = from_yaml(
        "latency:\n  persist_ticks: 2\n  improvement_margin: 1\n",
        "c.yml",
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "c.yml:3: latency.improvement_margin: must be in [0, 1)"
    );
}

#[derive(Debug, Default, serde::Deserialize, PartialEq)]
struct ServiceSection {
    #[serde(default)]
    interval: Option<u64>,
}

#[derive(Debug, Default, serde::Deserialize, PartialEq)]
struct Extension {
    #[serde(default)]
    service: ServiceSection,
}

impl ConfigExtension for Extension {
    const KEYS: &'static [&'static str] = &["service"];
}

#[test]
fn extensions_read_their_own_keys_from_the_same_file() {
    let (config, extension) =
        from_yaml_with::<Extension>("traffic_threshold: 60\nservice:\n  interval: 30\n", "c.yml")
            .unwrap();
    assert_eq!(config.traffic_threshold, 60.0);
    assert_eq!(extension.service.interval, Some(30));
    // Without the extension, its key is unknown.
    assert!(from_yaml("service:\n  interval: 30\n", "c.yml").is_err());
}

#[test]
fn effective_config_round_trips_through_yaml() {
    let config = from_yaml(SEED_CONFIG, "c.yml").unwrap();
    let text = serde_yaml::to_string(&config).unwrap();
    assert_eq!(from_yaml(&text, "printed").unwrap(), config);
}

#[test]
fn a_machine_budget_parses_with_its_defaults_and_is_checked() {
    let config = from_yaml(
        "policy: latency\nlatency:\n  budget:\n    machine_hours: 1500\n    period: 30d\n    starts: 2026-01-01T00:00:00Z\n",
        "c.yml",
    )
    .unwrap();
    let budget = config
        .policy_settings
        .get::<LatencySettings>()
        .budget
        .clone()
        .unwrap();
    assert_eq!(budget.machine_hours, 1500.0);
    assert_eq!(budget.period.as_secs(), 30 * 24 * 3600);
    assert_eq!(budget.starts.to_string(), "2026-01-01T00:00:00Z");
    // It round-trips through the effective config.
    let text = serde_yaml::to_string(&config).unwrap();
    assert_eq!(from_yaml(&text, "printed").unwrap(), config);

    let daily = from_yaml("latency:\n  budget:\n    machine_hours: 48\n", "c.yml").unwrap();
    let daily = daily
        .policy_settings
        .get::<LatencySettings>()
        .budget
        .unwrap();
    assert_eq!(daily.period.as_secs(), 24 * 3600);
    assert_eq!(daily.starts, crate::Timestamp::EPOCH);

    let (key, line) = rule_violation("latency:\n  budget:\n    machine_hours: 0\n");
    assert_eq!(
        (key.as_str(), line),
        ("latency.budget.machine_hours", Some(3))
    );
    let err = from_yaml("latency:\n  budget:\n    machine_hours: -2\n", "c.yml").unwrap_err();
    assert!(
        err.to_string()
            .contains("budget.machine_hours: must be a finite number > 0"),
        "{err}"
    );
    let err = from_yaml("latency:\n  budget:\n    machine_hour: 48\n", "c.yml").unwrap_err();
    assert!(err.to_string().contains("machine_hour"), "{err}");
    let err = from_yaml(
        "latency:\n  budget:\n    machine_hours: 48\n    period: 0\n",
        "c.yml",
    )
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("latency.budget.period: must be at least 1 second"),
        "{err}"
    );
}

#[test]
fn an_error_inside_a_policy_section_names_its_line() {
    let err = from_yaml(
        "policy: latency\nlatency:\n  persist_ticks: 2\n  region_cost: 8\n",
        "c.yml",
    )
    .unwrap_err();
    assert_eq!(err.line(), Some(4), "{err}");
    assert!(
        err.to_string().starts_with(
            "c.yml:4: unknown key `latency.region_cost` (did you mean `region_cost_ms`?)"
        ),
        "{err}"
    );
    let err = from_yaml("latency:\n  persist_ticks: many\n", "c.yml").unwrap_err();
    assert_eq!(err.line(), Some(2), "{err}");
    assert!(
        err.to_string()
            .starts_with("c.yml:2: latency: persist_ticks: invalid type"),
        "{err}"
    );
    let err = from_yaml("policy: fancy\n", "c.yml").unwrap_err();
    assert_eq!(err.line(), Some(1), "{err}");
    assert!(err.to_string().contains("unknown policy `fancy`"), "{err}");
}

#[test]
fn a_duplicate_key_is_reported_on_its_own_line_with_the_first_one() {
    let err = from_yaml(
        "dry_run: true\ntraffic_threshold: 60\ncooldown_period: 5\n\ntraffic_threshold: 70\n",
        "c.yml",
    )
    .unwrap_err();
    assert_eq!(err.line(), Some(5), "{err}");
    assert_eq!(
        err.to_string(),
        "c.yml:5: traffic_threshold: set twice (first on line 2); keep one"
    );

    let text = "latency:\n  improvement_margin: 0.1\n  # a note\n  persist_ticks: 2\n  improvement_margin: 0.2\nmin_regions: 1\n";
    let err = from_yaml(text, "c.yml").unwrap_err();
    assert_eq!(
        err.to_string(),
        "c.yml:5: latency.improvement_margin: set twice (first on line 2); keep one"
    );
}

#[test]
fn a_refused_value_in_a_policy_section_names_its_field_and_line() {
    let err = from_yaml(
        "dry_run: true\nlatency:\n  persist_ticks: 2\n  stabilization_window: -1\n",
        "c.yml",
    )
    .unwrap_err();
    assert_eq!(err.line(), Some(4), "{err}");
    assert!(
        err.to_string()
            .starts_with("c.yml:4: latency: stabilization_window: must not be negative"),
        "{err}"
    );
    let err = from_yaml(
        "latency:\n  budget:\n    machine_hours: 48\n    period: soon\n",
        "c.yml",
    )
    .unwrap_err();
    assert_eq!(err.line(), Some(4), "{err}");
    assert!(
        err.to_string().contains("latency: budget.period: "),
        "{err}"
    );
}

#[test]
fn the_forecast_section_is_read_and_checked_like_a_policys() {
    use crate::forecast::ForecastSettings;
    let config = from_yaml(
        "forecast:\n  method: seasonal\n  lead_time: 5m\n  bucket: 2h\n",
        "c.yml",
    )
    .unwrap();
    let forecast: ForecastSettings = config.policy_settings.get();
    assert_eq!(
        forecast.lead_time,
        Some(std::time::Duration::from_secs(300))
    );
    assert_eq!(forecast.bucket.as_secs(), 7200);
    let err = from_yaml("forecast:\n  bucket: 2h\n  lead: 5m\n", "c.yml").unwrap_err();
    assert_eq!(err.line(), Some(3), "{err}");
    assert!(
        err.to_string()
            .starts_with("c.yml:3: unknown key `forecast.lead`"),
        "{err}"
    );
    let err = from_yaml("forecast:\n  method: seasonl\n", "c.yml").unwrap_err();
    assert_eq!(
        err.to_string(),
        "c.yml:2: forecast.method: is an unknown forecasting method `seasonl`, expected one of `seasonal`, `none` (did you mean `seasonal`?)"
    );
    let err = from_yaml("forecast:\n  bucket: 45m\n", "c.yml").unwrap_err();
    assert!(
        err.to_string()
            .starts_with("c.yml:2: forecast.bucket: must be"),
        "{err}"
    );
}

#[test]
fn the_machines_section_is_read_checked_and_overridden_per_app() {
    use crate::config::MachinesSettings;
    let text = "machines:\n  requests_per_machine: 120\n  standby_per_region: 1\napps:\n  shop:\n    machines:\n      max_per_region: 4\n";
    let (config, ()) = from_yaml_with_apps(text);
    let machines: MachinesSettings = config.policy_settings.get();
    assert_eq!(machines.requests_per_machine, Some(120.0));
    assert_eq!(machines.standby_per_region, 1);
    assert_eq!(machines.max_per_region, None);
    let shop: MachinesSettings = overrides_from_yaml(text, "c.yml", "apps")
        .unwrap()
        .config_for(["shop"])
        .unwrap()
        .policy_settings
        .get();
    assert_eq!(shop.max_per_region, Some(4));
    assert_eq!(shop.requests_per_machine, Some(120.0), "merged key by key");

    let err = from_yaml("machines:\n  requests_per_machin: 120\n", "c.yml").unwrap_err();
    assert!(
        err.to_string().starts_with(
            "c.yml:2: unknown key `machines.requests_per_machin` (did you mean `requests_per_machine`?)"
        ),
        "{err}"
    );
    let err = from_yaml(
        "machines:\n  min_per_region: 3\n  max_per_region: 2\n",
        "c.yml",
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "c.yml:3: machines.max_per_region: must be at least min_per_region (3), got 2"
    );
}

fn from_yaml_with_apps(text: &str) -> (PlacerConfig, ()) {
    // The engine ignores `apps:` only through an extension that knows it.
    #[derive(Default, serde::Deserialize)]
    struct Apps {}
    impl ConfigExtension for Apps {
        const KEYS: &'static [&'static str] = &["apps"];
    }
    let (config, Apps {}) = from_yaml_with::<Apps>(text, "c.yml").unwrap();
    (config, ())
}

#[test]
fn a_machines_section_is_printed_only_when_written_and_reads_back_the_same() {
    let plain = from_yaml("dry_run: true\n", "c.yml").unwrap();
    let text = serde_yaml::to_string(&plain).unwrap();
    assert!(!text.contains("\nmachines:"), "{text}");
    assert_eq!(from_yaml(&text, "printed").unwrap(), plain);

    let empty = from_yaml("machines: {}\n", "c.yml").unwrap();
    assert!(empty
        .policy_settings
        .is_written::<crate::config::MachinesSettings>());
    assert_ne!(empty, plain, "an empty section is not no section");
    let text = serde_yaml::to_string(&empty).unwrap();
    assert!(text.contains("\nmachines:"), "{text}");
    let read = from_yaml(&text, "printed").unwrap();
    assert_eq!(read, empty);
    assert!(read
        .policy_settings
        .is_written::<crate::config::MachinesSettings>());
}
