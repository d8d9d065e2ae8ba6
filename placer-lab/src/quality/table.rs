//! The report as a plain-text table for people.

use std::fmt::Write as _;
use std::time::Duration;

use super::{CapacityReport, CapacityRow, QualityReport, QualityRow};

const HEADERS: [&str; 10] = [
    "policy",
    "regions",
    "mean RTT",
    "p95 RTT",
    "machine-h",
    "actions",
    "flaps",
    "shifts served",
    "reaction mean",
    "reaction max",
];

pub(super) fn render(report: &QualityReport) -> String {
    let tick = Duration::try_from_secs_f64(report.tick_seconds).unwrap_or_default();
    let length = tick.saturating_mul(u32::try_from(report.ticks).unwrap_or(u32::MAX));
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Placement quality over {} ticks of {} ({}); K = {:.2}",
        report.ticks,
        humantime::format_duration(tick),
        humantime::format_duration(length),
        report.k
    );
    let cells: Vec<[String; 10]> = report.rows.iter().map(row_cells).collect();
    let mut widths = HEADERS.map(str::len);
    for row in &cells {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    write_line(&mut out, &HEADERS.map(str::to_owned), &widths);
    for row in &cells {
        write_line(&mut out, row, &widths);
    }
    if let Some(ratio) = report.ratio_to_oracle {
        let _ = writeln!(
            out,
            "\nmean RTT / oracle at equal machine-hours: {ratio:.3}"
        );
    }
    if let Some(error) = report.forecast_error {
        let _ = writeln!(
            out,
            "forecast error: {:.1} % of the requests, over the {} of {} ticks forecast (each tick's traffic forecast before it was seen)",
            error.share_of_requests * 100.0,
            error.ticks_forecast,
            report.ticks
        );
    }
    if let Some(price) = &report.price {
        let _ = writeln!(out, "price in force at the end: {}", price.describe());
    }
    if !report.ignored_regions.is_empty() {
        let ignored: Vec<&str> = report.ignored_regions.iter().map(|r| r.as_str()).collect();
        let _ = writeln!(
            out,
            "\nignored (no coordinates, not a Fly region): {}",
            ignored.join(", ")
        );
    }
    if report.settings.startup_ticks > 0 {
        let _ = writeln!(
            out,
            "A region deployed at tick t serves from tick t + {} (machine-hours count from t); best-static-K and oracle-K start at once, oracle-equal-mh deploys that early.",
            report.settings.startup_ticks
        );
    }
    let settings = &report.settings;
    let flap_window = Duration::try_from_secs_f64(settings.flap_window_seconds).unwrap_or_default();
    let _ = write!(
        out,
        "\nRTT: traffic-weighted round trip from each request's edge region to the nearest deployed region (500 ms when none).\n\
         machine-h: one machine per deployed region per tick. flaps: changes reversed within {}.\n\
         shifts: runs of at least {} ticks with at least {} requests per tick in a region not served within {} ms;\n\
         served: reached within {} ms during the run; reaction: ticks until then.\n\
         K: the policy's mean region count; best-static-K and oracle-K choose K regions in hindsight\n\
         (for a fractional K, a weighted blend of the whole numbers on either side).\n\
         oracle-equal-mh: in hindsight, each tick's own regions at the policy's machine-hours, from the initial set, new ones paid while they start.\n",
        humantime::format_duration(flap_window),
        settings.shift_sustain_ticks,
        settings.shift_level,
        settings.served_within_ms,
        settings.served_within_ms,
    );
    if let Some(capacity) = &report.capacity {
        render_capacity(&mut out, capacity);
    }
    out
}

const CAPACITY_HEADERS: [&str; 7] = [
    "policy",
    "machines",
    "machine-h",
    "mean RTT",
    "p95 RTT",
    "spilled",
    "overloaded",
];

/// The capacity part: a second table, with its own legend.
fn render_capacity(out: &mut String, capacity: &CapacityReport) {
    let c = capacity.requests_per_machine;
    let _ = writeln!(
        out,
        "\nCapacity: {} requests per running machine per tick",
        number(c)
    );
    let cells: Vec<[String; 7]> = capacity.rows.iter().map(capacity_cells).collect();
    let mut widths = CAPACITY_HEADERS.map(str::len);
    for row in &cells {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    write_line(out, &CAPACITY_HEADERS.map(str::to_owned), &widths);
    for row in &cells {
        write_line(out, row, &widths);
    }
    if let Some(ratio) = capacity.machine_hours_to_oracle {
        let _ = writeln!(out, "\nmachine-h / oracle-counts: {ratio:.3}");
    }
    let regions: Vec<&str> = capacity
        .autoscaler_regions
        .iter()
        .map(|r| r.as_str())
        .collect();
    let _ = write!(
        out,
        "\nmachines: mean running machines (standbys left out); machine-h: running machines per tick.\n\
         A region's machines serve up to {c} requests each per tick; the rest go to the next-nearest region with spare machines\n\
         (spilled) or, with none, wait (overloaded; counted at the RTT to the nearest region with machines).\n\
         autoscaler: ⌈last tick's load × {factor} / {c}⌉ machines round-robin over {regions}.\n\
         oracle-counts: in hindsight, each tick's fewest machines that overload nothing, placed where its traffic is served.\n",
        c = number(c),
        factor = number(1.0 + capacity.headroom),
        regions = if regions.is_empty() {
            "no region".to_owned()
        } else {
            regions.join(", ")
        },
    );
}

/// A figure without trailing zeros: `120`, `1.2`.
fn number(value: f64) -> String {
    let text = format!("{value:.3}");
    text.trim_end_matches('0').trim_end_matches('.').to_owned()
}

fn capacity_cells(row: &CapacityRow) -> [String; 7] {
    let ms = |value: Option<f64>| value.map_or("-".to_owned(), |v| format!("{v:.1} ms"));
    [
        row.policy.clone(),
        format!("{:.2}", row.mean_machines),
        format!("{:.2}", row.machine_hours),
        ms(row.mean_rtt_ms),
        ms(row.p95_rtt_ms),
        format!("{:.0}", row.spilled_requests),
        format!(
            "{:.0} ({:.2} %)",
            row.overloaded_requests,
            row.overloaded_share * 100.0
        ),
    ]
}

fn row_cells(row: &QualityRow) -> [String; 10] {
    let ms = |value: Option<f64>| value.map_or("-".to_owned(), |v| format!("{v:.1} ms"));
    [
        row.policy.clone(),
        format!("{:.2}", row.mean_regions),
        ms(row.mean_rtt_ms),
        ms(row.p95_rtt_ms),
        format!("{:.2}", row.machine_hours),
        row.actions.to_string(),
        row.flaps.to_string(),
        format!("{}/{}", row.shifts_served, row.shifts),
        row.mean_reaction_ticks
            .map_or("-".to_owned(), |v| format!("{v:.1}")),
        row.max_reaction_ticks
            .map_or("-".to_owned(), |v| v.to_string()),
    ]
}

/// The first column left-aligned, the figures right-aligned, two spaces
/// apart, no trailing spaces.
fn write_line(out: &mut String, cells: &[String], widths: &[usize]) {
    let mut line = String::new();
    for (index, (cell, &width)) in cells.iter().zip(widths).enumerate() {
        if index == 0 {
            let _ = write!(line, "{cell:<width$}");
        } else {
            let _ = write!(line, "  {cell:>width$}");
        }
    }
    out.push_str(line.trim_end());
    out.push('\n');
}
