//! The traffic an offline command works on: a trace file, or an app's
//! history fetched from Prometheus with range queries.

use std::path::Path;
use std::time::{Duration, SystemTime};

use placer_core::{AppName, Timestamp};
use placer_lab::Trace;

use super::progress::Progress;
use super::{read, OfflineError};
use crate::backends::prometheus_source;
use crate::cli::HistoryArgs;
use crate::config::environment::{Environment, APP_NAME_VAR, PLACER_APP_VAR, PROMETHEUS_URL_VAR};
use crate::config::file::LoadedConfig;
use crate::config::resolve::{parse_app, prometheus_url, PrometheusPlan, SetupError};

/// A trace and where it came from, in words.
pub(super) struct Traffic {
    /// The traffic.
    pub(super) trace: Trace,
    /// Where it came from, for messages.
    pub(super) origin: String,
}

/// Reads the trace at `trace`, or fetches the history `history` names when
/// no trace is given.
pub(super) async fn load(
    trace: Option<&Path>,
    history: &HistoryArgs,
    config: &LoadedConfig,
    env: &Environment,
) -> Result<Traffic, OfflineError> {
    match trace {
        Some(path) => read_trace(path),
        None => fetch_history(history, config, env, now()).await,
    }
}

/// Reads and checks a trace file.
pub(super) fn read_trace(path: &Path) -> Result<Traffic, OfflineError> {
    let text = read(path)?;
    let trace = Trace::from_csv(&text).map_err(|source| OfflineError::Trace {
        path: path.to_owned(),
        source,
    })?;
    Ok(Traffic {
        trace,
        origin: path.display().to_string(),
    })
}

fn now() -> Timestamp {
    Timestamp::from_system_time(SystemTime::now())
}

async fn fetch_history(
    args: &HistoryArgs,
    config: &LoadedConfig,
    env: &Environment,
    now: Timestamp,
) -> Result<Traffic, OfflineError> {
    let (url, url_from) = prometheus_url(env, &config.settings.prometheus).ok_or_else(|| {
        OfflineError::Setup(format!(
            "--prometheus needs the Prometheus API: set {PROMETHEUS_URL_VAR} or `prometheus.url` in {}",
            config.path.display()
        ))
    })?;
    let app = app_name(args, config, env)
        .map_err(|err| OfflineError::Setup(err.to_string()))?
        .ok_or_else(|| {
            OfflineError::Setup(format!(
                "--prometheus needs the app whose history to fetch: pass --app (or set {PLACER_APP_VAR}, `fly.app` or {APP_NAME_VAR})"
            ))
        })?;
    let plan = PrometheusPlan {
        url,
        url_from,
        app,
        token: env.prometheus_token.clone().or(env.api_token.clone()),
        section: config.settings.prometheus.clone(),
    };
    let source = prometheus_source(&plan)?;
    let (start, end) = window(args.until.unwrap_or(now), args.since, args.step)?;

    let chunks =
        placer_prom::range_chunks(start, end, args.step, placer_prom::MAX_POINTS_PER_QUERY);
    let origin = format!(
        "app {} from Prometheus at {} ({start} to {end}, every {})",
        plan.app,
        placer_prom::url_without_credentials(&plan.url),
        humantime::format_duration(args.step)
    );
    let queries = match chunks.len() {
        1 => "1 range query".to_owned(),
        count => format!("{count} range queries"),
    };
    eprintln!("fetching {origin} in {queries}");
    let progress = Progress::new("fetching", "queries", chunks.len(), 2);
    let snapshots = source
        .query_history(start, end, args.step, |done, _| progress.set(done))
        .await?;
    progress.finish();
    let trace = Trace::new(snapshots)
        .and_then(|trace| trace.with_tick_interval(args.step))
        .map_err(OfflineError::History)?;
    let expected = chunks
        .iter()
        .map(|chunk| chunk.end.duration_since(chunk.start).as_millis() / args.step.as_millis() + 1)
        .sum::<u128>();
    if (trace.len() as u128) < expected {
        eprintln!(
            "note: {} of {expected} steps had no data and are left out of the replay",
            expected - trace.len() as u128
        );
    }
    Ok(Traffic { trace, origin })
}

/// The app: `--app`, then `PLACER_APP`, `fly.app` and `FLY_APP_NAME` (not on
/// a Fly machine, where it names the machine's own app), as the service
/// resolves it.
fn app_name(
    args: &HistoryArgs,
    config: &LoadedConfig,
    env: &Environment,
) -> Result<Option<AppName>, SetupError> {
    if let Some(app) = args.app.as_ref().filter(|app| !app.trim().is_empty()) {
        return parse_app(app.trim(), "--app").map(Some);
    }
    if let Some(app) = &env.placer_app {
        return parse_app(app, PLACER_APP_VAR).map(Some);
    }
    if let Some(app) = &config.settings.fly.app {
        return Ok(Some(app.clone()));
    }
    env.fly_app_name
        .as_deref()
        .filter(|_| !env.on_fly_machine)
        .map(|app| parse_app(app, APP_NAME_VAR))
        .transpose()
}

/// The first and last evaluation times: `until` rounded down to a whole
/// step (so ticks fall on round times), and `since` before it, also in whole
/// steps.
fn window(
    until: Timestamp,
    since: Duration,
    step: Duration,
) -> Result<(Timestamp, Timestamp), OfflineError> {
    let step_ms = i64::try_from(step.as_millis()).unwrap_or(i64::MAX);
    if step_ms < 1 {
        return Err(OfflineError::Setup(
            "--step must be at least 1ms".to_owned(),
        ));
    }
    let since_ms = i64::try_from(since.as_millis()).unwrap_or(i64::MAX);
    let steps = since_ms / step_ms;
    if steps < 1 {
        return Err(OfflineError::Setup(format!(
            "--since {} is shorter than one --step of {}",
            humantime::format_duration(since),
            humantime::format_duration(step)
        )));
    }
    let end = until.unix_millis().div_euclid(step_ms) * step_ms;
    let start = end.saturating_sub(steps.saturating_mul(step_ms));
    Ok((
        Timestamp::from_unix_millis(start),
        Timestamp::from_unix_millis(end),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_ends_on_a_whole_step_and_spans_whole_steps() {
        let until: Timestamp = "2026-01-12T10:17:42Z".parse().unwrap();
        let (start, end) = window(
            until,
            Duration::from_secs(86_400 + 30),
            Duration::from_secs(60),
        )
        .unwrap();
        assert_eq!(end.to_string(), "2026-01-12T10:17:00Z");
        assert_eq!(start.to_string(), "2026-01-11T10:17:00Z");

        let err = window(until, Duration::from_secs(30), Duration::from_secs(60)).unwrap_err();
        assert!(err.to_string().contains("shorter than one --step"), "{err}");
    }

    #[test]
    fn the_app_comes_from_the_flag_then_as_the_service_finds_it() {
        let config = LoadedConfig {
            path: "c.yml".into(),
            engine: Default::default(),
            settings: Default::default(),
            text: "".into(),
            overrides: Default::default(),
            app: None,
        };
        let args = |app: Option<&str>| HistoryArgs {
            prometheus: true,
            app: app.map(str::to_owned),
            since: Duration::from_secs(60),
            step: Duration::from_secs(60),
            until: None,
        };
        let env = Environment {
            placer_app: Some("from-env".into()),
            ..Environment::default()
        };
        let name = |args: &HistoryArgs, env: &Environment| {
            app_name(args, &config, env)
                .unwrap()
                .map(|app| app.to_string())
        };
        assert_eq!(name(&args(Some("shop")), &env).as_deref(), Some("shop"));
        assert_eq!(name(&args(None), &env).as_deref(), Some("from-env"));
        let on_fly = Environment {
            fly_app_name: Some("the-placer".into()),
            on_fly_machine: true,
            ..Environment::default()
        };
        assert_eq!(app_name(&args(None), &config, &on_fly), Ok(None));

        // A name that is not a Fly app name is refused where it enters.
        let err = app_name(&args(Some("Not An App")), &config, &env).unwrap_err();
        assert!(err.to_string().starts_with("--app: "), "{err}");
        let bad_env = Environment {
            placer_app: Some("under_score".into()),
            ..Environment::default()
        };
        let err = app_name(&args(None), &config, &bad_env).unwrap_err();
        assert!(err.to_string().starts_with("PLACER_APP: "), "{err}");
    }
}
