//! Placement quality on the generated scenarios (issue targets for the
//! latency policy), judged by the backtest report.

use std::collections::BTreeSet;
use std::time::Duration;

use futures::executor::block_on;
use placer_core::config::PolicyKind;
use placer_core::quality::{self, QualityOptions};
use placer_core::scenario::{self, Scenario};
use placer_core::{backtest, LatencyModel, PlacerConfig, QualityReport, Region};

fn initial() -> BTreeSet<Region> {
    ["iad".parse().unwrap()].into()
}

fn report_for(scenario: Scenario, config: &PlacerConfig, hours: u64) -> QualityReport {
    let trace = scenario::generate(
        scenario,
        Duration::from_secs(hours * 3600),
        42,
        scenario::DEFAULT_STEP,
    )
    .unwrap();
    let replay = block_on(backtest::replay(config, &trace, &initial(), |_| {})).unwrap();
    quality::report(
        &trace,
        &format!("{:?}", config.policy).to_lowercase(),
        &replay.timeline,
        &LatencyModel::distance(),
        &QualityOptions::default(),
    )
    .unwrap()
}

#[test]
#[ignore = "prints the quality tables; run with --release -- --ignored --nocapture"]
fn print_scenario_reports() {
    for policy in [PolicyKind::Threshold, PolicyKind::Latency] {
        let config = PlacerConfig {
            policy,
            ..PlacerConfig::default()
        };
        for scenario in Scenario::ALL {
            println!("== {scenario} ({policy:?})");
            println!("{}", report_for(scenario, &config, 24).render_table());
        }
    }
}
