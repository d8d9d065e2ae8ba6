//! [`Trace`]: a recorded or generated sequence of traffic snapshots, one per
//! tick, and its CSV form.
//!
//! The CSV has a required header and one row per region per tick:
//!
//! ```text
//! timestamp,region,requests
//! 2026-01-05T00:00:00Z,iad,120
//! 2026-01-05T00:00:00Z,fra,35.5
//! 2026-01-05T00:01:00Z,iad,118
//! 2026-01-05T00:01:00Z,fra,0
//! ```
//!
//! Timestamps are RFC 3339 in UTC (`Z`); rows are sorted by time (regions
//! within a tick in any order); `requests` is what the metrics source would
//! return for that region at that tick: a finite number ≥ 0. A region with no
//! row at a tick had no requests then. Blank lines are ignored.
//!
//! ```
//! use placer_lab::Trace;
//!
//! let trace: Trace = "timestamp,region,requests\n\
//!     2026-01-05T00:00:00Z,iad,120\n\
//!     2026-01-05T00:01:00Z,iad,118\n"
//!     .parse()
//!     .unwrap();
//! assert_eq!(trace.len(), 2);
//! assert_eq!(trace.tick_interval().as_secs(), 60);
//! assert_eq!(trace.to_csv().parse::<Trace>().unwrap(), trace);
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::str::FromStr;
use std::time::Duration;

use placer_core::{region::RegionError, time::TimestampError, Region, Timestamp, TrafficSnapshot};

use crate::window::TimeWindow;

#[cfg(test)]
mod tests;

/// The header every trace CSV starts with.
pub const TRACE_HEADER: &str = "timestamp,region,requests";

/// Tick interval assumed for a trace of a single tick, which has no gap to
/// measure.
pub const DEFAULT_TICK_INTERVAL: Duration = Duration::from_secs(60);

/// Traffic snapshots at strictly increasing times, with the interval between
/// ticks.
///
/// The interval is inferred as the median gap between consecutive ticks, so
/// a few missing ticks or a little jitter do not change it; a one-tick trace
/// gets [`DEFAULT_TICK_INTERVAL`]. [`Trace::with_tick_interval`] overrides it.
#[derive(Debug, Clone, PartialEq)]
pub struct Trace {
    ticks: Vec<TrafficSnapshot>,
    tick_interval: Duration,
}

/// Why a trace could not be read or built. Line numbers count from 1, the
/// header being line 1.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum TraceError {
    /// The input has no header, or no data rows.
    #[error("trace has no data: expected the header `{TRACE_HEADER}` and at least one row")]
    Empty,
    /// The first line is not the header.
    #[error("line {line}: expected the header `{TRACE_HEADER}`, found {found:?}")]
    MissingHeader {
        /// Line of the offending text.
        line: usize,
        /// What was there instead.
        found: String,
    },
    /// A row does not have exactly three fields.
    #[error(
        "line {line}: expected 3 comma-separated fields (timestamp,region,requests), found {found}"
    )]
    FieldCount {
        /// Line of the row.
        line: usize,
        /// How many fields it has.
        found: usize,
    },
    /// The timestamp field is not RFC 3339 UTC.
    #[error("line {line}: {source}")]
    Timestamp {
        /// Line of the row.
        line: usize,
        /// The parse failure.
        source: TimestampError,
    },
    /// The region field is not a region code.
    #[error("line {line}: {source}")]
    Region {
        /// Line of the row.
        line: usize,
        /// The parse failure.
        source: RegionError,
    },
    /// The requests field is not a finite number ≥ 0.
    #[error("line {line}: requests {text:?} for region {region} {problem}")]
    Count {
        /// Line of the row.
        line: usize,
        /// The row's region.
        region: Region,
        /// The rejected text.
        text: String,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// A row's time is earlier than the row before it.
    #[error(
        "line {line}: time {at} is earlier than {previous} on line {previous_line}; rows must be sorted by time"
    )]
    Unsorted {
        /// Line of the row.
        line: usize,
        /// The row's time.
        at: Timestamp,
        /// The later time seen before it.
        previous: Timestamp,
        /// Line of that earlier row.
        previous_line: usize,
    },
    /// A region appears twice in the same tick.
    #[error("line {line}: region {region} already has a row at {at} (line {first_line})")]
    Duplicate {
        /// Line of the second row.
        line: usize,
        /// The repeated region.
        region: Region,
        /// The tick.
        at: Timestamp,
        /// Line of the first row.
        first_line: usize,
    },
    /// Snapshots handed to [`Trace::new`] are not at strictly increasing
    /// times.
    #[error("tick {index} at {at} is not later than the tick before it at {previous}")]
    TicksOutOfOrder {
        /// Position of the offending snapshot.
        index: usize,
        /// Its time.
        at: Timestamp,
        /// The previous snapshot's time.
        previous: Timestamp,
    },
    /// A tick interval of zero was requested.
    #[error("a trace's tick interval must be longer than zero")]
    ZeroTickInterval,
}

impl TraceError {
    /// The 1-based line of the CSV text the problem is on, when it concerns
    /// one line (the message then starts with `line N: `).
    pub fn line(&self) -> Option<usize> {
        match self {
            TraceError::MissingHeader { line, .. }
            | TraceError::FieldCount { line, .. }
            | TraceError::Timestamp { line, .. }
            | TraceError::Region { line, .. }
            | TraceError::Count { line, .. }
            | TraceError::Unsorted { line, .. }
            | TraceError::Duplicate { line, .. } => Some(*line),
            TraceError::Empty
            | TraceError::TicksOutOfOrder { .. }
            | TraceError::ZeroTickInterval => None,
        }
    }
}

impl Trace {
    /// A trace of `ticks`, which must be non-empty and at strictly
    /// increasing times.
    ///
    /// # Errors
    /// [`TraceError::Empty`] or [`TraceError::TicksOutOfOrder`].
    pub fn new(ticks: Vec<TrafficSnapshot>) -> Result<Self, TraceError> {
        if ticks.is_empty() {
            return Err(TraceError::Empty);
        }
        for (index, pair) in ticks.windows(2).enumerate() {
            if pair[1].at() <= pair[0].at() {
                return Err(TraceError::TicksOutOfOrder {
                    index: index + 1,
                    at: pair[1].at(),
                    previous: pair[0].at(),
                });
            }
        }
        let tick_interval = median_gap(&ticks).unwrap_or(DEFAULT_TICK_INTERVAL);
        Ok(Trace {
            ticks,
            tick_interval,
        })
    }

    /// Reads a trace from CSV text (format in the [module docs](self)).
    ///
    /// # Errors
    /// [`TraceError`] naming the line and what is wrong with it: a missing
    /// header, a row without three fields, a bad timestamp or region code, a
    /// negative, non-numeric, NaN or infinite count, a row earlier than the
    /// one before it, or a region repeated within one tick.
    pub fn from_csv(text: &str) -> Result<Self, TraceError> {
        let mut lines = text
            .lines()
            .enumerate()
            .map(|(index, line)| (index + 1, line.trim()))
            .filter(|(_, line)| !line.is_empty());
        let (header_line, header) = lines.next().ok_or(TraceError::Empty)?;
        let header = header.trim_start_matches('\u{feff}');
        let fields: Vec<&str> = header.split(',').map(str::trim).collect();
        if fields != ["timestamp", "region", "requests"] {
            return Err(TraceError::MissingHeader {
                line: header_line,
                found: header.to_owned(),
            });
        }

        let mut builder = TickBuilder::default();
        for (line, text) in lines {
            let row = parse_row(line, text)?;
            builder.push(row)?;
        }
        Trace::new(builder.finish())
    }

    /// The trace as CSV text with the header, one row per region per tick in
    /// time then region order. Reading it back gives an equal trace (the
    /// tick interval is re-inferred).
    pub fn to_csv(&self) -> String {
        let rows: usize = self.ticks.iter().map(TrafficSnapshot::len).sum();
        let mut out = String::with_capacity(32 * (rows + 1));
        out.push_str(TRACE_HEADER);
        out.push('\n');
        for snapshot in &self.ticks {
            let at = snapshot.at();
            for (region, requests) in snapshot.iter() {
                // `{}` on f64 prints the shortest text that reads back to the
                // same number, so the round trip is exact.
                let _ = writeln!(out, "{at},{region},{requests}");
            }
        }
        out
    }

    /// The same trace with an explicit tick interval.
    ///
    /// # Errors
    /// [`TraceError::ZeroTickInterval`] for a zero interval.
    pub fn with_tick_interval(mut self, interval: Duration) -> Result<Self, TraceError> {
        if interval.is_zero() {
            return Err(TraceError::ZeroTickInterval);
        }
        self.tick_interval = interval;
        Ok(self)
    }

    /// The snapshots, in time order.
    pub fn ticks(&self) -> &[TrafficSnapshot] {
        &self.ticks
    }

    /// The snapshots, by value.
    pub fn into_ticks(self) -> Vec<TrafficSnapshot> {
        self.ticks
    }

    /// Number of ticks (never zero).
    pub fn len(&self) -> usize {
        self.ticks.len()
    }

    /// Always false: a trace has at least one tick. Present for symmetry
    /// with [`Trace::len`].
    pub fn is_empty(&self) -> bool {
        self.ticks.is_empty()
    }

    /// Time between ticks (see [`Trace`] for how it is inferred).
    pub fn tick_interval(&self) -> Duration {
        self.tick_interval
    }

    /// Every region with a row anywhere in the trace.
    pub fn regions(&self) -> BTreeSet<Region> {
        self.ticks
            .iter()
            .flat_map(|snapshot| snapshot.iter().map(|(region, _)| *region))
            .collect()
    }

    /// Regions of the trace that have no coordinates (neither catalogued
    /// nor known to the built-in platform picture), such as a mislabelled
    /// `xyz`: the engine ignores their traffic, and so do the backtests.
    pub fn unknown_regions(&self) -> Vec<Region> {
        self.regions()
            .into_iter()
            .filter(|region| !crate::regions::known(region))
            .collect()
    }

    /// The same trace without the traffic of its
    /// [unknown regions](Self::unknown_regions) (a tick may be left with
    /// none).
    pub fn known_only(&self) -> Trace {
        let unknown = self.unknown_regions();
        if unknown.is_empty() {
            return self.clone();
        }
        let ticks = self
            .ticks
            .iter()
            .map(|snapshot| {
                TrafficSnapshot::new(
                    snapshot.at(),
                    snapshot
                        .iter()
                        .filter(|(region, _)| !unknown.contains(region))
                        .map(|(region, requests)| (region.as_str(), requests)),
                )
                .expect("a part of a valid snapshot is valid")
            })
            .collect();
        Trace {
            ticks,
            tick_interval: self.tick_interval,
        }
    }

    /// Total requests per region over the whole trace.
    pub fn totals(&self) -> BTreeMap<Region, f64> {
        self.totals_within(&TimeWindow::ALWAYS).0
    }

    /// Total requests per region over the ticks whose time falls inside
    /// `window`, and how many ticks those are.
    pub fn totals_within(&self, window: &TimeWindow) -> (BTreeMap<Region, f64>, usize) {
        let mut totals = BTreeMap::new();
        let mut ticks = 0;
        for snapshot in self.ticks.iter().filter(|s| window.contains(s.at())) {
            ticks += 1;
            for (region, requests) in snapshot.iter() {
                *totals.entry(*region).or_insert(0.0) += requests;
            }
        }
        (totals, ticks)
    }
}

impl FromStr for Trace {
    type Err = TraceError;
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Trace::from_csv(text)
    }
}

struct Row {
    line: usize,
    at: Timestamp,
    region: Region,
    requests: f64,
}

fn parse_row(line: usize, text: &str) -> Result<Row, TraceError> {
    let fields: Vec<&str> = text.split(',').map(str::trim).collect();
    let [at, region, requests] = fields[..] else {
        return Err(TraceError::FieldCount {
            line,
            found: fields.len(),
        });
    };
    let at = at
        .parse::<Timestamp>()
        .map_err(|source| TraceError::Timestamp { line, source })?;
    let region = Region::new(region).map_err(|source| TraceError::Region { line, source })?;
    let bad = |problem| TraceError::Count {
        line,
        region,
        text: requests.to_owned(),
        problem,
    };
    let value: f64 = requests.parse().map_err(|_| bad("is not a number"))?;
    if !value.is_finite() {
        return Err(bad("is not a finite number"));
    }
    if value < 0.0 {
        return Err(bad("is negative"));
    }
    Ok(Row {
        line,
        at,
        region,
        // Normalises -0 so a written trace never shows "-0".
        requests: value + 0.0,
    })
}

/// Groups consecutive rows into snapshots, checking order and duplicates.
#[derive(Default)]
struct TickBuilder {
    done: Vec<TrafficSnapshot>,
    current: Option<(Timestamp, usize)>,
    rows: BTreeMap<Region, (f64, usize)>,
}

impl TickBuilder {
    fn push(&mut self, row: Row) -> Result<(), TraceError> {
        match self.current {
            Some((at, _)) if row.at == at => {}
            Some((at, previous_line)) if row.at < at => {
                return Err(TraceError::Unsorted {
                    line: row.line,
                    at: row.at,
                    previous: at,
                    previous_line,
                })
            }
            _ => {
                self.flush();
                self.current = Some((row.at, row.line));
            }
        }
        if let Some(&(_, first_line)) = self.rows.get(&row.region) {
            return Err(TraceError::Duplicate {
                line: row.line,
                region: row.region,
                at: row.at,
                first_line,
            });
        }
        if let Some((_, last_line)) = self.current.as_mut() {
            *last_line = row.line;
        }
        self.rows.insert(row.region, (row.requests, row.line));
        Ok(())
    }

    fn flush(&mut self) {
        if let Some((at, _)) = self.current.take() {
            let rows = std::mem::take(&mut self.rows);
            let snapshot =
                TrafficSnapshot::new(at, rows.into_iter().map(|(region, (v, _))| (region, v)))
                    .expect("rows were validated one by one");
            self.done.push(snapshot);
        }
    }

    fn finish(mut self) -> Vec<TrafficSnapshot> {
        self.flush();
        self.done
    }
}

fn median_gap(ticks: &[TrafficSnapshot]) -> Option<Duration> {
    let mut gaps: Vec<Duration> = ticks
        .windows(2)
        .map(|pair| pair[1].at().duration_since(pair[0].at()))
        .collect();
    if gaps.is_empty() {
        return None;
    }
    gaps.sort_unstable();
    Some(gaps[gaps.len() / 2])
}
