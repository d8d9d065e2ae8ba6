//! The log lines a person reads: one per tick, one per failed action.

use placer_core::{Outcome, Region, TickReport};

/// `fra, iad`, or `none`.
pub(crate) fn regions(regions: &[Region]) -> String {
    if regions.is_empty() {
        return "none".to_owned();
    }
    regions
        .iter()
        .map(Region::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Logs a finished tick.
pub(crate) fn tick(report: &TickReport) {
    if let Some(error) = &report.error {
        tracing::error!("tick failed, nothing changed: {error}");
        return;
    }
    let mode = if report.dry_run { " (dry run)" } else { "" };
    tracing::info!(
        "tick{mode}: deployed {}; removed {}; {} regions left alone; deployment now {}",
        regions(&report.deployed),
        regions(&report.removed),
        report.skipped.len(),
        regions(&report.updated_deployment),
    );
    for action in &report.actions {
        if let Outcome::Error(error) = &action.outcome {
            tracing::warn!("{} {} failed: {error}", action.action, action.region);
        }
    }
}
