//! `backtest --html`: the report as one self-contained HTML page — charts
//! as inline SVG drawn with plotters, no scripts, no external files.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use placer_core::Region;
use placer_lab::quality::{QualityReport, QualityRow, TickSeries};
use placer_lab::Timeline;
use plotters::coord::ranged1d::SegmentValue;
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

const WIDTH: u32 = 960;
/// Series colours: the policy first, then the reference rows.
const COLOURS: [RGBColor; 6] = [
    RGBColor(109, 40, 217),
    RGBColor(120, 120, 120),
    RGBColor(217, 119, 6),
    RGBColor(22, 163, 74),
    RGBColor(37, 99, 235),
    RGBColor(220, 38, 38),
];

/// What the page shows.
pub(crate) struct BacktestPage<'a> {
    /// Where the traffic came from.
    pub origin: &'a str,
    /// The policy's name.
    pub policy: &'a str,
    /// The report's rows.
    pub report: &'a QualityReport,
    /// The policy's and the reference rows' curves.
    pub series: &'a [TickSeries],
    /// The policy's decisions.
    pub timeline: &'a Timeline,
    /// The latency model, in words.
    pub latency: &'a str,
}

impl BacktestPage<'_> {
    /// The page.
    pub(crate) fn render(&self) -> String {
        let hours = self.report.tick_seconds / 3600.0;
        let span = (self.report.ticks.max(1) as f64 * hours).max(hours);
        let mut out = String::new();
        let _ = write!(
            out,
            "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <title>fly-placer backtest: {policy}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n\
             <h1>Backtest of the {policy} policy</h1>\n\
             <p>{ticks} ticks of {tick} over {length} from {origin}; K = {k:.2}. Latency: {latency}.</p>\n",
            policy = escape(self.policy),
            ticks = self.report.ticks,
            tick = humantime::format_duration(std::time::Duration::from_secs_f64(
                self.report.tick_seconds
            )),
            length = format_hours(span),
            origin = escape(self.origin),
            k = self.report.k,
            latency = escape(self.latency),
        );
        out.push_str("<h2>Summary</h2>\n");
        out.push_str(&summary_table(&self.report.rows));
        if let Some(ratio) = self.report.ratio_to_oracle {
            let _ = writeln!(
                out,
                "<p>The policy's mean RTT is {ratio:.2} × the oracle's at equal machine-hours (oracle-equal-mh).</p>"
            );
        }
        if self.report.settings.startup_ticks > 0 {
            let _ = writeln!(
                out,
                "<p>A newly deployed region serves {} ticks after its deploy (the policy, seed and oracle-equal-mh, which deploys that early; best-static-K and oracle-K start at once).</p>",
                self.report.settings.startup_ticks
            );
        }
        out.push_str(
            "<h2>Mean RTT over time</h2>\n<p>Traffic-weighted mean round trip of each tick's requests \
             to the nearest deployed region, for the policy and the reference rows \
             (best-static-K and oracle-K at K rounded to a whole number).</p>\n",
        );
        out.push_str(&self.rtt_chart(hours, span));
        out.push_str("<h2>Deployed regions</h2>\n<p>One lane per region: when the policy had it deployed.</p>\n");
        out.push_str(&self.lanes_chart(hours, span));
        out.push_str("<h2>Machines over time</h2>\n<p>Regions serving each tick.</p>\n");
        out.push_str(&self.machines_chart(hours, span));
        out.push_str("</body>\n</html>\n");
        out
    }

    fn rtt_chart(&self, hours: f64, span: f64) -> String {
        let top = self
            .series
            .iter()
            .flat_map(|s| s.mean_rtt_ms.iter().flatten())
            .fold(1.0_f64, |a, &b| a.max(b))
            * 1.05;
        svg(WIDTH, 360, |root| {
            let mut chart = ChartBuilder::on(root)
                .margin(12)
                .x_label_area_size(36)
                .y_label_area_size(56)
                .build_cartesian_2d(0.0..span, 0.0..top)?;
            chart
                .configure_mesh()
                .x_desc("hours since the start")
                .x_label_formatter(&|h| format!("{h:.0}"))
                .y_desc("mean RTT (ms)")
                .y_label_formatter(&|ms| format!("{ms:.0}"))
                .light_line_style(WHITE.mix(0.0))
                .draw()?;
            let lines = self.series.iter().enumerate().map(|(index, series)| {
                let points = series
                    .mean_rtt_ms
                    .iter()
                    .enumerate()
                    .filter_map(|(tick, rtt)| rtt.map(|ms| (tick as f64 * hours, ms)))
                    .collect();
                (index, series.policy.clone(), points)
            });
            draw_lines(&mut chart, lines)?;
            Ok(())
        })
    }

    fn lanes_chart(&self, hours: f64, span: f64) -> String {
        let regions: Vec<Region> = (0..self.timeline.len())
            .flat_map(|tick| self.timeline.serving(tick).iter().copied())
            .chain(self.timeline.initial().iter().copied())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let lanes = regions.len().max(1);
        let height = 60 + 26 * lanes as u32;
        svg(WIDTH, height, |root| {
            let mut chart = ChartBuilder::on(root)
                .margin(12)
                .x_label_area_size(36)
                .y_label_area_size(56)
                .build_cartesian_2d(0.0..span, (0..lanes).into_segmented())?;
            chart
                .configure_mesh()
                .disable_y_mesh()
                .x_desc("hours since the start")
                .x_label_formatter(&|h| format!("{h:.0}"))
                .y_labels(lanes)
                .y_label_formatter(&|value| match value {
                    SegmentValue::CenterOf(lane) => regions
                        .get(*lane)
                        .map(ToString::to_string)
                        .unwrap_or_default(),
                    _ => String::new(),
                })
                .light_line_style(WHITE.mix(0.0))
                .draw()?;
            let colour = COLOURS[0];
            for (lane, region) in regions.iter().enumerate() {
                let mut runs = Vec::new();
                let mut start = None;
                for tick in 0..self.timeline.len() {
                    let on = self.timeline.serving(tick).contains(region);
                    match (on, start) {
                        (true, None) => start = Some(tick),
                        (false, Some(from)) => {
                            runs.push((from, tick));
                            start = None;
                        }
                        _ => {}
                    }
                }
                if let Some(from) = start {
                    runs.push((from, self.timeline.len()));
                }
                chart.draw_series(runs.into_iter().map(|(from, to)| {
                    Rectangle::new(
                        [
                            (from as f64 * hours, SegmentValue::Exact(lane)),
                            (to as f64 * hours, SegmentValue::Exact(lane + 1)),
                        ],
                        colour.mix(0.75).filled(),
                    )
                }))?;
            }
            Ok(())
        })
    }

    fn machines_chart(&self, hours: f64, span: f64) -> String {
        // The policy and oracle-K: how many machines each runs when.
        let drawn: Vec<(usize, &TickSeries)> = self
            .series
            .iter()
            .enumerate()
            .filter(|(index, series)| *index == 0 || series.policy == "oracle-K")
            .collect();
        let top = drawn
            .iter()
            .flat_map(|(_, s)| s.regions.iter())
            .copied()
            .max()
            .unwrap_or(1)
            .max(1)
            + 1;
        svg(WIDTH, 300, |root| {
            let mut chart = ChartBuilder::on(root)
                .margin(12)
                .x_label_area_size(36)
                .y_label_area_size(56)
                .build_cartesian_2d(0.0..span, 0.0..top as f64)?;
            chart
                .configure_mesh()
                .x_desc("hours since the start")
                .x_label_formatter(&|h| format!("{h:.0}"))
                .y_desc("machines")
                .y_labels(top + 1)
                .y_label_formatter(&|n| format!("{n:.0}"))
                .light_line_style(WHITE.mix(0.0))
                .draw()?;
            let lines = drawn.iter().map(|&(index, series)| {
                let points = series
                    .regions
                    .iter()
                    .enumerate()
                    .flat_map(|(tick, &n)| {
                        let y = n as f64;
                        [(tick as f64 * hours, y), ((tick + 1) as f64 * hours, y)]
                    })
                    .collect();
                (index, series.policy.clone(), points)
            });
            draw_lines(&mut chart, lines)?;
            Ok(())
        })
    }
}

type DrawResult = Result<(), Box<dyn std::error::Error>>;

/// Draws each `(index, label, points)` as a line in the series colour of
/// `index` (the policy, index 0, thicker), with a legend in the upper right.
fn draw_lines<'a>(
    chart: &mut ChartContext<'a, SVGBackend<'a>, Cartesian2d<RangedCoordf64, RangedCoordf64>>,
    lines: impl IntoIterator<Item = (usize, String, Vec<(f64, f64)>)>,
) -> DrawResult {
    for (index, label, points) in lines {
        let colour = COLOURS[index % COLOURS.len()];
        let width = if index == 0 { 3 } else { 1 };
        chart
            .draw_series(LineSeries::new(points, colour.stroke_width(width)))?
            .label(label)
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 20, y)], colour.stroke_width(width))
            });
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .draw()?;
    Ok(())
}

/// An SVG drawn by `draw` on a white `width`×`height` area.
fn svg(
    width: u32,
    height: u32,
    draw: impl FnOnce(&DrawingArea<SVGBackend<'_>, plotters::coord::Shift>) -> DrawResult,
) -> String {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, (width, height)).into_drawing_area();
        let drawn = root
            .fill(&WHITE)
            .map_err(Into::into)
            .and_then(|()| draw(&root))
            .and_then(|()| root.present().map_err(Into::into));
        if let Err(err) = drawn {
            // Drawing into a string fails only on a bug; say so in the page.
            return format!(
                "<p class=\"error\">This chart could not be drawn: {}</p>\n",
                escape(&err.to_string())
            );
        }
    }
    format!("<figure>{out}</figure>\n")
}

fn summary_table(rows: &[QualityRow]) -> String {
    let mut out = String::from(
        "<table>\n<thead><tr><th>policy</th><th>regions</th><th>mean RTT</th><th>p95 RTT</th>\
         <th>machine-h</th><th>actions</th><th>flaps</th><th>shifts served</th>\
         <th>reaction mean</th><th>reaction max</th></tr></thead>\n<tbody>\n",
    );
    let ms = |v: Option<f64>| v.map_or("–".to_owned(), |v| format!("{v:.1} ms"));
    for (index, row) in rows.iter().enumerate() {
        let _ = writeln!(
            out,
            "<tr{class}><td>{policy}</td><td>{regions:.2}</td><td>{mean}</td><td>{p95}</td>\
             <td>{hours:.1}</td><td>{actions}</td><td>{flaps}</td><td>{served}/{shifts}</td>\
             <td>{reaction}</td><td>{max}</td></tr>",
            class = if index == 0 { " class=\"policy\"" } else { "" },
            policy = escape(&row.policy),
            regions = row.mean_regions,
            mean = ms(row.mean_rtt_ms),
            p95 = ms(row.p95_rtt_ms),
            hours = row.machine_hours,
            actions = row.actions,
            flaps = row.flaps,
            served = row.shifts_served,
            shifts = row.shifts,
            reaction = row
                .mean_reaction_ticks
                .map_or("–".to_owned(), |v| format!("{v:.1} ticks")),
            max = row
                .max_reaction_ticks
                .map_or("–".to_owned(), |v| format!("{v} ticks")),
        );
    }
    out.push_str("</tbody>\n</table>\n");
    out
}

fn format_hours(hours: f64) -> String {
    if hours >= 48.0 {
        format!("{:.1} days", hours / 24.0)
    } else {
        format!("{hours:.1} hours")
    }
}

/// Text made safe for HTML.
pub(super) fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The pages' shared style sheet.
pub(super) const STYLE: &str = "body{font:14px/1.45 system-ui,sans-serif;color:#1d2430;max-width:1000px;margin:24px auto;padding:0 16px}\
h1{font-size:22px}h2{font-size:17px;margin-top:28px}figure{margin:0;overflow-x:auto}svg{max-width:100%;height:auto}\
table{border-collapse:collapse;font-size:13px;width:100%}th,td{padding:4px 8px;border-top:1px solid #d9dee7;text-align:right;white-space:nowrap}\
th:first-child,td:first-child{text-align:left}tr.policy{font-weight:600;background:#f5f3ff}.error{color:#b91c1c}";
