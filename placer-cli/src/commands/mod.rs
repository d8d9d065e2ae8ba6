//! The commands, from parsed arguments to an exit code.

use std::path::PathBuf;
use std::process::ExitCode;

use tokio::net::TcpListener;

mod offline;
mod status;

use crate::cli::{Cli, Command, GlobalArgs};
use crate::cli::{EXIT_BAD_SETTINGS, EXIT_FAILURE, EXIT_OK};
use crate::config;
use crate::config::effective::effective_settings;
use crate::config::environment::Environment;
use crate::config::resolve::resolve;
use crate::runtime::{Inputs, Role};
use crate::service::serve;
use crate::service::shutdown;
use crate::service::Service;
use offline::OfflineError;

/// Runs the command `cli` asks for, with `env`, and returns the exit code.
/// Logging must be set up already (see [`crate::cli::logging::init`]).
pub fn run(cli: Cli, env: Environment) -> ExitCode {
    let code = match cli.command() {
        Command::CheckConfig(args) => check_config(&cli.global, &env, args.path),
        Command::Serve => in_runtime(run_serve(inputs(cli.global, env))),
        Command::Once => in_runtime(run_once(inputs(cli.global, env))),
        Command::Status(args) => in_runtime(status::run(&cli.global, &env, &args)),
        Command::GenTrace(args) => finish(offline::gen_trace(&args)),
        Command::Backtest(args) => {
            in_runtime(async { finish(offline::backtest(&cli.global, &env, &args).await) })
        }
        Command::Recommend(args) => {
            in_runtime(async { finish(offline::recommend(&cli.global, &env, &args).await) })
        }
    };
    ExitCode::from(code)
}

/// The exit code of an offline command, printing its error if any.
fn finish(result: Result<(), OfflineError>) -> u8 {
    match result {
        Ok(()) => EXIT_OK,
        Err(err) => {
            eprintln!("error: {err}");
            err.exit_code()
        }
    }
}

fn inputs(args: GlobalArgs, env: Environment) -> Inputs {
    Inputs {
        args,
        env,
        fallback_seed: fresh_seed(),
    }
}

/// A seed that differs from run to run (the simulation's when none is set).
fn fresh_seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos() as u64);
    (nanos ^ u64::from(std::process::id()).rotate_left(32)) % 1_000_000
}

fn in_runtime(command: impl std::future::Future<Output = u8>) -> u8 {
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime.block_on(command),
        Err(err) => {
            tracing::error!("cannot start the async runtime: {err}");
            EXIT_FAILURE
        }
    }
}

async fn run_serve(inputs: Inputs) -> u8 {
    let service = match Service::start(inputs, Role::Serve).await {
        Ok(service) => service,
        Err(err) => {
            tracing::error!("cannot start: {err}");
            return err.exit_code();
        }
    };
    let address = service.listen();
    let listener = match TcpListener::bind(address).await {
        Ok(listener) => listener,
        Err(err) => {
            tracing::error!("cannot listen on {address}: {err} (choose another with --listen)");
            return EXIT_FAILURE;
        }
    };
    let bound = listener.local_addr().unwrap_or(address);
    let mode = if service.dry_run() {
        "dry run: no real machine is changed"
    } else {
        "live: machines are created and removed"
    };
    let interval = service.interval();
    let ticks = if interval.is_zero() {
        "no periodic ticks".to_owned()
    } else {
        format!("a tick every {}", humantime::format_duration(interval))
    };
    tracing::info!(
        "fly-placer {} listening on http://{bound} ({mode}; {ticks}); POST /trigger runs a tick now",
        env!("CARGO_PKG_VERSION")
    );
    match serve(service, listener, shutdown::signal()).await {
        Ok(()) => {
            tracing::info!("stopped");
            EXIT_OK
        }
        Err(err) => {
            tracing::error!("the server failed: {err}");
            EXIT_FAILURE
        }
    }
}

async fn run_once(inputs: Inputs) -> u8 {
    let service = match Service::start(inputs, Role::Once).await {
        Ok(service) => service,
        Err(err) => {
            tracing::error!("cannot start: {err}");
            return err.exit_code();
        }
    };
    if service.is_many() {
        return once_many(&service).await;
    }
    let result = service.tick_now().await;
    service.close().await;
    match result {
        Ok(report) => {
            match serde_json::to_string_pretty(report.as_ref()) {
                Ok(json) => {
                    if let Err(err) = print_out(&json) {
                        tracing::error!("cannot write the report: {err}");
                        return EXIT_FAILURE;
                    }
                }
                Err(err) => {
                    tracing::error!("cannot encode the report: {err}");
                    return EXIT_FAILURE;
                }
            }
            if report.is_ok() && !report.has_failed_actions() {
                EXIT_OK
            } else {
                EXIT_FAILURE
            }
        }
        Err(err) => {
            tracing::error!("the tick did not run: {err}");
            EXIT_FAILURE
        }
    }
}

/// `once` with several apps: one tick of every app, and one report per
/// app in a JSON object keyed by app (an app that could not start, or whose
/// tick did not run, by its error). Fails when any app failed.
async fn once_many(service: &std::sync::Arc<Service>) -> u8 {
    let results = service.tick_all().await;
    service.close().await;
    let mut all_ok = service.failed_apps().is_empty();
    let mut reports = serde_json::Map::new();
    for (app, message) in service.failed_apps() {
        reports.insert(app, serde_json::json!({ "error": message }));
    }
    for (app, result) in results {
        let value = match result {
            Ok(report) => {
                all_ok &= report.is_ok() && !report.has_failed_actions();
                serde_json::to_value(report.as_ref()).unwrap_or_default()
            }
            Err(err) => {
                all_ok = false;
                serde_json::json!({ "error": err.to_string() })
            }
        };
        reports.insert(app, value);
    }
    match serde_json::to_string_pretty(&reports) {
        Ok(json) => {
            if let Err(err) = print_out(&json) {
                tracing::error!("cannot write the reports: {err}");
                return EXIT_FAILURE;
            }
        }
        Err(err) => {
            tracing::error!("cannot encode the reports: {err}");
            return EXIT_FAILURE;
        }
    }
    if all_ok {
        EXIT_OK
    } else {
        EXIT_FAILURE
    }
}

fn check_config(args: &GlobalArgs, env: &Environment, path: Option<PathBuf>) -> u8 {
    let mut args = args.clone();
    if let Some(path) = path {
        args.config = path;
    }
    let loaded = match config::file::load(&args.config) {
        Ok(loaded) => loaded,
        Err(err) => {
            eprintln!("error: {err}");
            return EXIT_BAD_SETTINGS;
        }
    };
    if let crate::config::apps::AppSelection::Many { names, patterns } =
        crate::config::apps::selection(&loaded)
    {
        return check_config_many(&args, env, &loaded, &names, &patterns);
    }
    let resolved = match resolve(&args, env, &loaded, 0) {
        Ok(resolved) => resolved,
        Err(err) => {
            eprintln!("error: {err}");
            return EXIT_BAD_SETTINGS;
        }
    };
    if let Err(err) = crate::backends::check(&resolved) {
        eprintln!("error: {err}");
        return EXIT_BAD_SETTINGS;
    }
    let standbys = loaded
        .engine
        .policy_settings
        .get::<placer_core::config::MachinesSettings>()
        .standby_per_region;
    if standbys > 0 {
        let warnings = match tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            Ok(runtime) => runtime.block_on(crate::backends::standby_warnings(&resolved, standbys)),
            Err(err) => vec![format!(
                "cannot check the template machine for standbys: {err}"
            )],
        };
        for warning in warnings {
            eprintln!("warning: {warning}");
        }
    }
    let document = effective_settings(&loaded, &resolved);
    if let Err(err) =
        print_out(&serde_json::to_string_pretty(&document).expect("JSON values always encode"))
    {
        eprintln!("error: cannot write the settings: {err}");
        return EXIT_FAILURE;
    }
    if let Err(err) = resolved.check_serve() {
        eprintln!("error: `serve` would refuse to start: {err}");
        return EXIT_BAD_SETTINGS;
    }
    eprintln!("{}: valid", args.config.display());
    EXIT_OK
}

/// `check-config` with several apps: each named app's effective settings
/// (the `apps:` entries laid over the top level, with the entries applied),
/// and the patterns waiting for the organization's app list.
fn check_config_many(
    args: &GlobalArgs,
    env: &Environment,
    loaded: &config::file::LoadedConfig,
    names: &[String],
    patterns: &[String],
) -> u8 {
    let mut apps = serde_json::Map::new();
    let mut serve_problem = None;
    for name in names {
        let narrowed = match loaded.for_app(name) {
            Ok(narrowed) => narrowed,
            Err(err) => {
                eprintln!("error: app {name}: {err}");
                return EXIT_BAD_SETTINGS;
            }
        };
        let resolved = match resolve(args, env, &narrowed, 0) {
            Ok(resolved) => resolved,
            Err(err) => {
                eprintln!("error: app {name}: {err}");
                return EXIT_BAD_SETTINGS;
            }
        };
        if let Err(err) = crate::backends::check(&resolved) {
            eprintln!("error: app {name}: {err}");
            return EXIT_BAD_SETTINGS;
        }
        if let Err(err) = resolved.check_serve() {
            serve_problem.get_or_insert(err);
        }
        let mut document = effective_settings(&narrowed, &resolved);
        if let Some(map) = document.as_object_mut() {
            map.remove("file");
            // One for every app: shown once, below.
            map.remove("notify");
            map.insert(
                "entries".to_owned(),
                serde_json::json!(crate::config::apps::entries_for(loaded, name)),
            );
        }
        apps.insert(name.clone(), document);
    }
    let document = serde_json::json!({
        "file": loaded.path,
        "notify": crate::config::effective::shown_notify(&loaded.settings.notify),
        "apps": apps,
        "patterns": patterns.iter().map(|pattern| serde_json::json!({
            "pattern": pattern,
            "overrides": loaded.overrides.overridden_keys(pattern),
            "org": loaded.settings.fly.org,
        })).collect::<Vec<_>>(),
    });
    if let Err(err) =
        print_out(&serde_json::to_string_pretty(&document).expect("JSON values always encode"))
    {
        eprintln!("error: cannot write the settings: {err}");
        return EXIT_FAILURE;
    }
    if !patterns.is_empty() && loaded.settings.fly.org.is_none() {
        eprintln!(
            "note: apps: patterns {} match no app without fly.org: listing the organization's apps needs it (and FLY_API_TOKEN)",
            patterns.join(", ")
        );
    }
    if let Some(err) = serve_problem {
        eprintln!("error: `serve` would refuse to start: {err}");
        return EXIT_BAD_SETTINGS;
    }
    eprintln!("{}: valid", args.config.display());
    EXIT_OK
}

/// Prints `text` and a newline on standard output. A closed pipe (`| head`)
/// is not an error: the reader has all it wanted.
pub(crate) fn print_out(text: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.write_all(b"\n"))
        .and_then(|()| stdout.flush())
    {
        Err(err) if err.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}
