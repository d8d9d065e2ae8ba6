//! Arguments of the commands that work on recorded or generated traffic
//! instead of a live app: `gen-trace`, `backtest` and `recommend`.

use std::path::PathBuf;
use std::time::Duration;

use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use clap::Args;
use placer_core::{Region, Timestamp};
use placer_lab::scenario::Scenario;
use placer_lab::window::TimeWindow;

/// The group of the flag that names a trace file (`--trace`,
/// `--from-trace`): the history flags make no sense beside it.
const TRACE_FILE: &str = "trace_file";

/// The region set `--initial` and `--current` default to.
pub const DEFAULT_INITIAL_REGIONS: &str = "iad";

/// Arguments of `gen-trace`.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Trace")]
pub struct GenTraceArgs {
    /// The traffic pattern.
    #[arg(long, value_name = "NAME", value_parser = scenario_parser())]
    pub scenario: Scenario,
    /// Length of the trace in hours (fractions allowed, e.g. 0.5).
    #[arg(long, value_name = "H", value_parser = parse_hours)]
    pub hours: Duration,
    /// Seed of the generator: the same scenario, hours, seed and step
    /// always give the same trace.
    #[arg(long, value_name = "S")]
    pub seed: u64,
    /// Where to write the trace (CSV `timestamp,region,requests`).
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// Time between ticks, e.g. `60s`, `5m`.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = parse_duration)]
    pub step: Duration,
}

/// An app's history in Prometheus as the traffic of `backtest` and
/// `recommend`.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Prometheus history")]
pub struct HistoryArgs {
    /// Fetch the app's traffic history from Prometheus (FLY_PROMETHEUS_URL
    /// or `prometheus.url`; token from PLACER_PROMETHEUS_TOKEN or
    /// FLY_API_TOKEN) with range queries, instead of reading a trace.
    #[arg(long)]
    pub prometheus: bool,
    /// The app whose history to fetch [default: PLACER_APP, then `fly.app`,
    /// then FLY_APP_NAME].
    #[arg(long, value_name = "NAME", conflicts_with = TRACE_FILE)]
    pub app: Option<String>,
    /// How much history to fetch, ending at `--until`.
    #[arg(
        long,
        value_name = "DURATION",
        default_value = "7d",
        value_parser = parse_duration,
        conflicts_with = TRACE_FILE
    )]
    pub since: Duration,
    /// Time between ticks of the fetched history.
    #[arg(
        long,
        value_name = "DURATION",
        default_value = "1m",
        value_parser = parse_duration,
        conflicts_with = TRACE_FILE
    )]
    pub step: Duration,
    /// End of the history, RFC 3339 UTC (e.g. 2026-01-12T00:00:00Z)
    /// [default: now].
    #[arg(long, value_name = "TIME", conflicts_with = TRACE_FILE)]
    pub until: Option<Timestamp>,
}

/// Arguments of `backtest`.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Backtest")]
pub struct BacktestArgs {
    /// The trace to replay (CSV `timestamp,region,requests`, e.g. from
    /// `gen-trace`).
    #[arg(
        long,
        value_name = "FILE",
        group = TRACE_FILE,
        required_unless_present = "prometheus",
        conflicts_with = "prometheus"
    )]
    pub trace: Option<PathBuf>,
    /// Regions deployed before the first tick, comma-separated.
    #[arg(
        long,
        value_name = "REGIONS",
        value_delimiter = ',',
        default_value = DEFAULT_INITIAL_REGIONS
    )]
    pub initial: Vec<Region>,
    /// Also write each tick's decisions to this file, one JSON object per
    /// line: `{"t":…,"deployed":[…],"actions":[{"region":…,"action":…}]}`.
    #[arg(long, value_name = "FILE")]
    pub decisions: Option<PathBuf>,
    /// Print the report as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Ticks a newly deployed region takes to start: deployed at tick t, it
    /// serves from t + N; its machine-hours count from t. The replayed
    /// engine plans with it as its `machine_startup` [default: the config's
    /// `machine_startup`, rounded up to whole ticks].
    #[arg(long, value_name = "N")]
    pub startup_ticks: Option<usize>,
    /// Replay this first part of the trace without scoring it (`14d`,
    /// `36h`; bare seconds too): the engine learns from it, forecasts
    /// included, and the report, its reference rows and the HTML page
    /// cover the rest, starting from the regions deployed at its end.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub warm_up: Option<Duration>,
    /// Also write the report as a self-contained HTML page with charts
    /// (mean RTT over time, deployed regions, machines over time) to this
    /// file.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Measured round-trip times, JSON `{"from": {"to": ms}}` (the shape
    /// best-regions publishes), for the policy and the report [default: the
    /// distance model].
    #[arg(long, value_name = "FILE")]
    pub latency_matrix: Option<PathBuf>,
    /// With `--prometheus`: also write the fetched history to this file as
    /// a trace, to replay it again without fetching.
    #[arg(long, value_name = "FILE", conflicts_with = TRACE_FILE)]
    pub save_trace: Option<PathBuf>,
    /// Where the history comes from when there is no trace (listed
    /// last, under its own heading).
    #[command(flatten)]
    pub history: HistoryArgs,
}

/// Arguments of `recommend`.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "Recommend")]
pub struct RecommendArgs {
    /// How many regions to recommend.
    #[arg(long, value_name = "N", value_parser = parse_region_count)]
    pub k: usize,
    /// The traffic to place regions for: a trace (CSV
    /// `timestamp,region,requests`), weighted by each region's total.
    #[arg(
        long = "from-trace",
        visible_alias = "trace",
        value_name = "FILE",
        group = TRACE_FILE,
        required_unless_present = "prometheus",
        conflicts_with = "prometheus"
    )]
    pub from_trace: Option<PathBuf>,
    /// The regions deployed now, comma-separated, to compare with.
    #[arg(
        long,
        visible_alias = "initial",
        value_name = "REGIONS",
        value_delimiter = ',',
        default_value = DEFAULT_INITIAL_REGIONS
    )]
    pub current: Vec<Region>,
    /// Weigh only the traffic of these days of the week (UTC), e.g.
    /// `mon-fri`, `sat,sun` [default: every day].
    #[arg(long, value_name = "DAYS", value_parser = parse_days)]
    pub days: Option<String>,
    /// Weigh only the traffic between these times of day (UTC), e.g.
    /// `08:00-18:00`; `22:00-06:00` runs past midnight [default: all day].
    #[arg(long, value_name = "HH:MM-HH:MM", value_parser = parse_between)]
    pub between: Option<String>,
    /// Print the recommendation as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Also write the recommendation as a self-contained HTML page with the
    /// recommended and current sets on a world map to this file.
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
    /// Measured round-trip times, JSON `{"from": {"to": ms}}` [default: the
    /// distance model].
    #[arg(long, value_name = "FILE")]
    pub latency_matrix: Option<PathBuf>,
    /// Where the history comes from when there is no trace (listed
    /// last, under its own heading).
    #[command(flatten)]
    pub history: HistoryArgs,
}

/// Scenario names, listed in `--help` and in the error for an unknown one.
fn scenario_parser() -> impl TypedValueParser<Value = Scenario> {
    let values = Scenario::ALL
        .map(|scenario| PossibleValue::new(scenario.name()).help(scenario_summary(scenario)));
    PossibleValuesParser::new(values).map(|name| {
        name.parse::<Scenario>()
            .expect("only the scenarios' own names are accepted")
    })
}

/// One line on each scenario for `--help` (placer-core documents them in
/// full).
fn scenario_summary(scenario: Scenario) -> &'static str {
    match scenario {
        Scenario::FollowTheSun => "every region, busiest in its local afternoon",
        Scenario::FlashCrowd => "steady iad and fra, and sudden short crowds elsewhere",
        Scenario::NoisySteady => "regions near the thresholds, with heavy noise",
        Scenario::RegionShift => "demand moving from one continent to the next",
        Scenario::SteadyHighUndeployed => "flat high traffic far from iad, with little in iad",
        Scenario::LongTail => "every region, most of them small, large together",
        Scenario::BusinessHours => "weekday office hours in eight metros, quiet weekends",
        Scenario::WeeklyGrowth => "business hours, growing 10 % a week",
        Scenario::PatternStops => "business hours, then flat from halfway on",
        Scenario::EdgeOnly => "steady traffic entering only at edge regions (mad, gig, waw, ...)",
    }
}

fn parse_days(text: &str) -> Result<String, String> {
    TimeWindow::parse(text, "")
        .map(|_| text.to_owned())
        .map_err(|err| err.to_string())
}

fn parse_between(text: &str) -> Result<String, String> {
    TimeWindow::parse("", text)
        .map(|_| text.to_owned())
        .map_err(|err| err.to_string())
}

/// A duration flag reads as the config file does: seconds (`90`) or a text
/// such as `90s`, `5m` or `7d`.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let duration = placer_core::config::duration::parse(text)?;
    if duration.is_zero() {
        return Err("must be longer than zero".to_owned());
    }
    Ok(duration)
}

fn parse_hours(text: &str) -> Result<Duration, String> {
    let hours: f64 = text
        .trim()
        .parse()
        .map_err(|_| format!("{text:?} is not a number of hours"))?;
    if !(hours.is_finite() && hours > 0.0) {
        return Err("must be a number of hours above 0".to_owned());
    }
    Duration::try_from_secs_f64(hours * 3600.0).map_err(|_| "is too long".to_owned())
}

fn parse_region_count(text: &str) -> Result<usize, String> {
    match text.trim().parse::<usize>() {
        Ok(0) => Err("must be at least 1".to_owned()),
        Ok(count) => Ok(count),
        Err(_) => Err(format!("{text:?} is not a whole number of regions")),
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use crate::cli::{Cli, Command};

    fn parse(args: &[&str]) -> Result<Command, clap::Error> {
        let mut argv = vec!["fly-placer"];
        argv.extend_from_slice(args);
        Cli::try_parse_from(argv).map(|cli| cli.command())
    }

    #[test]
    fn unknown_scenarios_are_refused_with_the_valid_names() {
        let err = parse(&[
            "gen-trace",
            "--scenario",
            "sunny",
            "--hours",
            "1",
            "--seed",
            "1",
            "--out",
            "t.csv",
        ])
        .unwrap_err()
        .to_string();
        assert!(err.contains("sunny"), "{err}");
        for name in ["follow-the-sun", "long-tail", "steady-high-undeployed"] {
            assert!(err.contains(name), "{err}");
        }
    }

    #[test]
    fn gen_trace_reads_hours_and_step() {
        let Command::GenTrace(args) = parse(&[
            "gen-trace",
            "--scenario",
            "flash-crowd",
            "--hours",
            "1.5",
            "--seed",
            "9",
            "--out",
            "t.csv",
            "--step",
            "5m",
        ])
        .unwrap() else {
            panic!("not gen-trace")
        };
        assert_eq!(args.hours.as_secs(), 5400);
        assert_eq!(args.step.as_secs(), 300);
        assert_eq!(args.scenario.name(), "flash-crowd");
        for hours in ["0", "-1", "soon", "NaN"] {
            assert!(
                parse(&[
                    "gen-trace",
                    "--scenario",
                    "long-tail",
                    "--hours",
                    hours,
                    "--seed",
                    "1",
                    "--out",
                    "t.csv"
                ])
                .is_err(),
                "{hours}"
            );
        }
    }

    #[test]
    fn duration_flags_read_bare_seconds_as_the_config_file_does() {
        let step = |value: &str| {
            parse(&[
                "gen-trace",
                "--scenario",
                "long-tail",
                "--hours",
                "1",
                "--seed",
                "1",
                "--out",
                "t.csv",
                "--step",
                value,
            ])
            .map(|command| match command {
                Command::GenTrace(args) => args.step,
                _ => panic!("not gen-trace"),
            })
        };
        assert_eq!(step("90").unwrap().as_secs(), 90);
        assert_eq!(step("1.5").unwrap().as_millis(), 1500);
        assert_eq!(step("2m").unwrap().as_secs(), 120);
        for bad in ["0", "-5", "soon"] {
            assert!(step(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn backtest_needs_a_trace_or_prometheus_but_not_both() {
        let err = parse(&["backtest"]).unwrap_err().to_string();
        assert!(err.contains("--trace"), "{err}");
        assert!(parse(&["backtest", "--trace", "t.csv", "--prometheus"]).is_err());
        // History flags only make sense with --prometheus.
        let err = parse(&["backtest", "--trace", "t.csv", "--since", "1d"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("cannot be used with '--trace"), "{err}");
        assert!(parse(&["recommend", "--k", "2", "--trace", "t.csv", "--app", "shop"]).is_err());

        let Command::Backtest(args) = parse(&["backtest", "--trace", "t.csv"]).unwrap() else {
            panic!("not backtest")
        };
        assert_eq!(args.initial, vec!["iad".parse().unwrap()]);
        assert_eq!(args.history.since.as_secs(), 7 * 86_400);
        assert_eq!(args.history.step.as_secs(), 60);

        let Command::Backtest(args) = parse(&[
            "backtest",
            "--prometheus",
            "--app",
            "shop",
            "--since",
            "2d",
            "--step",
            "5m",
            "--until",
            "2026-01-12T00:00:00Z",
            "--initial",
            "iad,fra",
        ])
        .unwrap() else {
            panic!("not backtest")
        };
        assert!(args.history.prometheus);
        assert_eq!(args.history.app.as_deref(), Some("shop"));
        assert_eq!(args.history.since.as_secs(), 2 * 86_400);
        assert_eq!(args.initial.len(), 2);
        assert!(args.history.until.is_some());
    }

    #[test]
    fn bad_regions_and_counts_are_refused() {
        let err = parse(&["backtest", "--trace", "t.csv", "--initial", "iad,Frankfurt"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("Frankfurt"), "{err}");
        assert!(parse(&["recommend", "--k", "0", "--from-trace", "t.csv"]).is_err());
        let Command::Recommend(args) = parse(&[
            "recommend",
            "--k",
            "3",
            "--trace",
            "t.csv",
            "--initial",
            "fra",
        ])
        .unwrap() else {
            panic!("not recommend")
        };
        assert_eq!(args.k, 3);
        assert_eq!(args.current, vec!["fra".parse().unwrap()]);
        assert!(args.from_trace.is_some());
    }
}
