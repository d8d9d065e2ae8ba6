//! `backtest --html`: the report as one self-contained HTML page — charts
//! as inline SVG drawn with plotters, no scripts, no external files.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use placer_core::{Region, Timestamp};
use placer_lab::quality::{CapacityReport, QualityReport, QualityRow, TickSeries};
use placer_lab::Timeline;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

const WIDTH: u32 = 960;
/// The charts' fonts, in pixels of the 960-pixel-wide drawing: legible at
/// that width, and still when a phone shows the chart at 720 (it scrolls
/// sideways there rather than shrink further).
const TICK_FONT: (&str, u32) = ("sans-serif", 15);
const AXIS_FONT: (&str, u32) = ("sans-serif", 16);
const LEGEND_FONT: (&str, u32) = ("sans-serif", 15);
/// Series colours: the policy first, then the reference rows (static,
/// seed, best-static-K, oracle-K, oracle-equal-mh).
const COLOURS: [RGBColor; 6] = [
    RGBColor(109, 40, 217),
    RGBColor(120, 120, 120),
    RGBColor(217, 119, 6),
    RGBColor(22, 163, 74),
    RGBColor(37, 99, 235),
    RGBColor(220, 38, 38),
];
/// The curves the mean RTT chart's height is made for: the policy (index
/// 0) and these; a reference row above them (static or seed, which may
/// run far from the policy) is clipped at the top, and the page says so.
const SCALED_BY: [&str; 3] = ["best-static-K", "oracle-K", "oracle-equal-mh"];

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
    /// When the trace's first tick is (the time axis shows days from it
    /// on a trace of two days or more).
    pub start: Option<Timestamp>,
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
        if let Some(capacity) = &self.report.capacity {
            out.push_str(&capacity_section(capacity));
        }
        out.push_str(
            "<h2>Mean RTT over time</h2>\n<p>Traffic-weighted mean round trip of each tick's requests \
             to the nearest deployed region, for the policy and the reference rows \
             (best-static-K and oracle-K at K rounded to a whole number; oracle-equal-mh, \
             the reference to judge by, at the policy's machine-hours).</p>\n",
        );
        out.push_str(&self.rtt_chart(hours, span));
        out.push_str("<h2>Deployed regions</h2>\n<p>One lane per region, in alphabetical order from the top: when the policy had it deployed.</p>\n");
        out.push_str(&self.lanes_chart(hours, span));
        out.push_str("<h2>Machines over time</h2>\n<p>Regions serving each tick.</p>\n");
        out.push_str(&self.machines_chart(hours, span));
        out.push_str("</body>\n</html>\n");
        out
    }

    fn rtt_chart(&self, hours: f64, span: f64) -> String {
        let values = |s: &TickSeries| s.mean_rtt_ms.iter().flatten().copied().collect::<Vec<_>>();
        let scaled = self
            .series
            .iter()
            .enumerate()
            .filter(|(index, s)| *index == 0 || SCALED_BY.contains(&s.policy.as_str()))
            .flat_map(|(_, s)| values(s))
            .fold(1.0_f64, f64::max);
        let top = scaled * 1.15;
        // Curves above the top are drawn along it, and named below.
        let clipped: Vec<(String, f64)> = self
            .series
            .iter()
            .filter_map(|s| {
                let highest = values(s).into_iter().fold(0.0_f64, f64::max);
                (highest > top).then(|| (s.policy.clone(), highest))
            })
            .collect();
        let axis = TimeAxis::new(span, self.start);
        let chart = svg(WIDTH, 360, |root| {
            let mut chart = ChartBuilder::on(root)
                .margin(12)
                .margin_right(40)
                .x_label_area_size(40)
                .y_label_area_size(56)
                .build_cartesian_2d(axis.range(), 0.0..top)?;
            chart
                .configure_mesh()
                .label_style(TICK_FONT)
                .axis_desc_style(AXIS_FONT)
                .x_desc(axis.description())
                .x_label_formatter(&|h| axis.label(*h))
                .y_desc("mean RTT (ms)")
                .y_label_formatter(&|ms| format!("{ms:.0}"))
                .light_line_style(WHITE.mix(0.0))
                .draw()?;
            let lines = self.series.iter().enumerate().map(|(index, series)| {
                let points = series
                    .mean_rtt_ms
                    .iter()
                    .enumerate()
                    .filter_map(|(tick, rtt)| rtt.map(|ms| (tick as f64 * hours, ms.min(top))))
                    .collect();
                (index, series.policy.clone(), points)
            });
            draw_lines(&mut chart, lines)?;
            Ok(())
        });
        if clipped.is_empty() {
            return chart;
        }
        let names: Vec<String> = clipped
            .iter()
            .map(|(name, highest)| format!("{} (up to {highest:.0} ms)", escape(name)))
            .collect();
        format!(
            "{chart}<p class=\"note\">Above the chart, drawn along its top edge: {}. \
             The chart's height is set by the policy and the K-region and equal-machine-hours references.</p>\n",
            names.join(", ")
        )
    }

    fn lanes_chart(&self, hours: f64, span: f64) -> String {
        let regions: Vec<Region> = (0..self.timeline.len())
            .flat_map(|tick| self.timeline.serving(tick).iter().copied())
            .chain(self.timeline.initial().iter().copied())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let lanes = regions.len().max(1);
        // Lane `i` (alphabetical) is drawn from the top, between
        // `lanes - i - 1` and `lanes - i`, its bars filling the middle 70 %
        // so that neighbours stay apart.
        let bottom_of = |lane: usize| (lanes - lane - 1) as f64;
        let centres: Vec<f64> = (0..lanes).map(|lane| bottom_of(lane) + 0.5).collect();
        let height = 60 + 26 * lanes as u32;
        let axis = TimeAxis::new(span, self.start);
        svg(WIDTH, height, |root| {
            let mut chart = ChartBuilder::on(root)
                .margin(12)
                .margin_right(40)
                .x_label_area_size(40)
                .y_label_area_size(56)
                .build_cartesian_2d(
                    axis.range(),
                    Marked::new(0.0..lanes as f64, centres.clone()),
                )?;
            chart
                .configure_mesh()
                .label_style(TICK_FONT)
                .axis_desc_style(AXIS_FONT)
                .disable_y_mesh()
                .x_desc(axis.description())
                .x_label_formatter(&|h| axis.label(*h))
                .y_label_formatter(&|centre| {
                    let lane = lanes as f64 - 0.5 - centre;
                    regions
                        .get(lane.round().max(0.0) as usize)
                        .map(ToString::to_string)
                        .unwrap_or_default()
                })
                .light_line_style(WHITE.mix(0.0))
                .draw()?;
            // Every other lane shaded, so a bar is read against its name.
            chart.draw_series((0..lanes).step_by(2).map(|lane| {
                Rectangle::new(
                    [(0.0, bottom_of(lane)), (span, bottom_of(lane) + 1.0)],
                    RGBColor(241, 243, 247).filled(),
                )
            }))?;
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
                let bottom = bottom_of(lane);
                chart.draw_series(runs.into_iter().map(|(from, to)| {
                    Rectangle::new(
                        [
                            (from as f64 * hours, bottom + 0.15),
                            (to as f64 * hours, bottom + 0.85),
                        ],
                        colour.mix(0.8).filled(),
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
        let axis = TimeAxis::new(span, self.start);
        svg(WIDTH, 300, |root| {
            let mut chart = ChartBuilder::on(root)
                .margin(12)
                .margin_right(40)
                .x_label_area_size(40)
                .y_label_area_size(56)
                .build_cartesian_2d(axis.range(), 0.0..top as f64)?;
            chart
                .configure_mesh()
                .label_style(TICK_FONT)
                .axis_desc_style(AXIS_FONT)
                .x_desc(axis.description())
                .x_label_formatter(&|h| axis.label(*h))
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

/// The time axis: hours since the first tick, marked by the hour on a
/// short trace and at each midnight (UTC) with the weekday and date on a
/// trace of two days or more.
struct TimeAxis {
    span: f64,
    /// The first tick's time, in Unix seconds, when days are marked.
    days_from: Option<i64>,
}

impl TimeAxis {
    fn new(span: f64, start: Option<Timestamp>) -> TimeAxis {
        TimeAxis {
            span,
            days_from: start.filter(|_| span >= 48.0).map(Timestamp::unix_seconds),
        }
    }

    /// The x range, its marks at round hours or midnights.
    fn range(&self) -> Marked {
        let marks: Vec<f64> = match self.days_from {
            Some(start) => {
                // The first midnight at or after the start, then daily.
                let first = (86_400 - start.rem_euclid(86_400)).rem_euclid(86_400) as f64 / 3600.0;
                (0..)
                    .map(|day| first + 24.0 * f64::from(day))
                    .take_while(|h| *h <= self.span)
                    .collect()
            }
            None => {
                let step = [1.0, 2.0, 3.0, 6.0, 12.0, 24.0]
                    .into_iter()
                    .find(|step| self.span / step <= 12.0)
                    .unwrap_or(24.0);
                (0..)
                    .map(|n| f64::from(n) * step)
                    .take_while(|h| *h <= self.span + 1e-9)
                    .collect()
            }
        };
        Marked::new(0.0..self.span, marks)
    }

    fn description(&self) -> &'static str {
        match self.days_from {
            Some(_) => "day (UTC)",
            None => "hours since the start",
        }
    }

    /// A mark's text: the hours, or the weekday and date of a midnight.
    fn label(&self, hours: f64) -> String {
        match self.days_from {
            Some(start) => {
                let at = start + (hours * 3600.0).round() as i64;
                weekday_and_date(at.div_euclid(86_400))
            }
            None => format!("{hours:.0}"),
        }
    }
}

/// A linear axis marked at given values (plotters' own key points are
/// round numbers; midnights and lane centres are not).
struct Marked {
    inner: RangedCoordf64,
    marks: Vec<f64>,
}

impl Marked {
    fn new(range: std::ops::Range<f64>, marks: Vec<f64>) -> Marked {
        Marked {
            inner: range.into(),
            marks,
        }
    }
}

impl Ranged for Marked {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        self.inner.map(value, limit)
    }

    fn key_points<Hint: KeyPointHint>(&self, _hint: Hint) -> Vec<f64> {
        self.marks.clone()
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.inner.range()
    }
}

/// `Mon 7 Dec` for the day `days` after 1970-01-01 (a Thursday).
fn weekday_and_date(days: i64) -> String {
    const WEEKDAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    // The civil date of a day number (proleptic Gregorian), counted in
    // 400-year eras from 0000-03-01; the year itself is not needed.
    let day_of_era = (days + 719_468).rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * shifted_month + 2) / 5 + 1;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    };
    format!(
        "{} {day} {}",
        WEEKDAYS[days.rem_euclid(7) as usize],
        MONTHS[(month - 1) as usize]
    )
}

/// Draws each `(index, label, points)` as a line in the series colour of
/// `index` (the policy, index 0, thicker), with a legend in the upper right.
fn draw_lines<'a, X>(
    chart: &mut ChartContext<'a, SVGBackend<'a>, Cartesian2d<X, RangedCoordf64>>,
    lines: impl IntoIterator<Item = (usize, String, Vec<(f64, f64)>)>,
) -> DrawResult
where
    X: Ranged<ValueType = f64>,
{
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
        .label_font(LEGEND_FONT)
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

/// The capacity table, after the summary, when the report has one.
fn capacity_section(capacity: &CapacityReport) -> String {
    let mut out = format!(
        "<h2>Capacity</h2>\n<p>Each running machine serves up to {c} requests per tick; \
         a full region's requests go to the next-nearest region with spare machines (spilled) \
         or, with none, wait (overloaded). Standbys are left out. autoscaler: ⌈the last tick's \
         load × {factor} / {c}⌉ machines, round-robin over {regions}; oracle-counts: in \
         hindsight, each tick's fewest machines that overload nothing, where its traffic is served.</p>\n\
         <table>\n<thead><tr><th>policy</th><th>machines</th><th>machine-h</th><th>mean RTT</th>\
         <th>p95 RTT</th><th>spilled</th><th>overloaded</th></tr></thead>\n<tbody>\n",
        c = capacity.requests_per_machine,
        factor = 1.0 + capacity.headroom,
        regions = escape(
            &capacity
                .autoscaler_regions
                .iter()
                .map(|r| r.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    );
    let ms = |v: Option<f64>| v.map_or("–".to_owned(), |v| format!("{v:.1} ms"));
    for (index, row) in capacity.rows.iter().enumerate() {
        let _ = writeln!(
            out,
            "<tr{class}><td>{policy}</td><td>{machines:.2}</td><td>{hours:.1}</td><td>{mean}</td>\
             <td>{p95}</td><td>{spilled:.0}</td><td>{overloaded:.0} ({share:.2} %)</td></tr>",
            class = if index == 0 { " class=\"policy\"" } else { "" },
            policy = escape(&row.policy),
            machines = row.mean_machines,
            hours = row.machine_hours,
            mean = ms(row.mean_rtt_ms),
            p95 = ms(row.p95_rtt_ms),
            spilled = row.spilled_requests,
            overloaded = row.overloaded_requests,
            share = row.overloaded_share * 100.0,
        );
    }
    out.push_str("</tbody>\n</table>\n");
    if let Some(ratio) = capacity.machine_hours_to_oracle {
        let _ = writeln!(
            out,
            "<p>The policy ran {ratio:.2} × the machine-hours of oracle-counts.</p>"
        );
    }
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
@media (max-width:680px){figure svg{max-width:none;width:720px}}\
table{border-collapse:collapse;font-size:13px;width:100%}th,td{padding:4px 8px;border-top:1px solid #d9dee7;text-align:right;white-space:nowrap}\
th:first-child,td:first-child{text-align:left}tr.policy{font-weight:600;background:#f5f3ff}.error{color:#b91c1c}\
.note{color:#667085;font-size:13px}";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_are_named_with_their_weekday_and_date() {
        assert_eq!(weekday_and_date(0), "Thu 1 Jan");
        // 2026-12-07 is a Monday; 2024-02-29 a Thursday.
        assert_eq!(weekday_and_date(20_794), "Mon 7 Dec");
        assert_eq!(weekday_and_date(19_782), "Thu 29 Feb");
        assert_eq!(weekday_and_date(-1), "Wed 31 Dec");
    }

    #[test]
    fn a_multi_day_axis_is_marked_at_each_midnight_and_a_short_one_by_the_hour() {
        // A week from 2026-12-07 06:00 UTC: the first mark is 18 h in.
        let start = Timestamp::from_unix_seconds(20_794 * 86_400 + 6 * 3600);
        let week = TimeAxis::new(168.0, Some(start));
        let marks = week.range().key_points(10usize);
        assert_eq!(marks, [18.0, 42.0, 66.0, 90.0, 114.0, 138.0, 162.0]);
        assert_eq!(week.label(18.0), "Tue 8 Dec");
        assert_eq!(week.description(), "day (UTC)");
        // Under two days: hours since the start, at most twelve marks.
        let day = TimeAxis::new(24.0, Some(start));
        assert_eq!(day.description(), "hours since the start");
        let marks = day.range().key_points(10usize);
        assert_eq!(marks.first(), Some(&0.0));
        assert!(marks.len() <= 13 && marks.windows(2).all(|w| w[1] - w[0] == 2.0));
        assert_eq!(day.label(6.0), "6");
    }
}
