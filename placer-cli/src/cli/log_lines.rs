//! The log lines a person reads: one per tick, one per failed action.

use placer_core::{Outcome, Region, TickReport};

/// `fra, iad`, or `none`.
pub(crate) fn regions(regions: &[Region]) -> String {
    region_list(regions, "none")
}

/// The codes joined with commas (`fra, iad`), or `empty` when there are none.
pub(crate) fn region_list<'a>(
    regions: impl IntoIterator<Item = &'a Region>,
    empty: &str,
) -> String {
    let codes: Vec<&str> = regions.into_iter().map(Region::as_str).collect();
    if codes.is_empty() {
        empty.to_owned()
    } else {
        codes.join(", ")
    }
}

/// Logs a finished tick.
pub(crate) fn tick(report: &TickReport) {
    if let Some(error) = &report.error {
        tracing::error!("tick failed, nothing changed: {error}");
        return;
    }
    let mode = if report.dry_run { " (dry run)" } else { "" };
    // With a `machines:` section the line also says what was resized.
    let resized = report.resized.as_ref().map_or_else(String::new, |resized| {
        let changed: Vec<String> = resized
            .iter()
            .filter(|resize| resize.outcome.changes_deployment())
            .map(|resize| format!("{} {}", resize.region, resize.counts()))
            .collect();
        let changed = if changed.is_empty() {
            "none".to_owned()
        } else {
            changed.join(", ")
        };
        format!("; resized {changed}")
    });
    tracing::info!(
        "tick{mode}: deployed {}; removed {}{resized}; {} regions left alone; deployment now {}",
        regions(&report.deployed),
        regions(&report.removed),
        report.skipped.len(),
        regions(&report.updated_deployment),
    );
    for region in &report.pending {
        tracing::warn!(
            "{region} is pending: a deploy's answer was lost, so it counts as deployed and is not \
             deployed again until the listing shows it or pending_grace passes"
        );
    }
    for region in &report.ignored_regions {
        tracing::warn!(
            "ignoring the traffic labelled {region}: not a Fly region (not in the region catalog)"
        );
    }
    for action in &report.actions {
        match &action.outcome {
            Outcome::Failed(error) => tracing::warn!(
                "{} {} failed: {error}",
                action.decision.action,
                action.decision.region
            ),
            Outcome::Skipped(reason) => tracing::info!(
                "{} {} skipped: {reason}",
                action.decision.action,
                action.decision.region
            ),
            _ => {}
        }
    }
    for resize in report.resizes() {
        match &resize.outcome {
            Outcome::Failed(error) => tracing::warn!(
                "scaling {} {} failed: {error}",
                resize.region,
                resize.counts()
            ),
            Outcome::Skipped(reason) => tracing::info!(
                "scaling {} {} skipped: {reason}",
                resize.region,
                resize.counts()
            ),
            _ => {}
        }
    }
}
