//! `backtest`: replay traffic through the engine's tick code and print the
//! placement-quality report.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::fs::File;
use std::io::Write as _;
use std::path::Path;

use placer_core::config::MachinesSettings;
use placer_core::Region;
use placer_lab::backtest::{self, TickDecision};
use placer_lab::quality::{self, Capacity, QualityOptions};
use placer_lab::{SeedRuleParams, Trace};

use super::html::BacktestPage;
use super::progress::{Progress, MIN_TICKS_FOR_BAR};
use super::{
    create_parent, load_config, load_model, model_description, print_out, traffic, write,
    OfflineError,
};
use crate::cli::{BacktestArgs, GlobalArgs};
use crate::config::environment::Environment;

/// Runs `backtest` and prints the report on stdout.
pub(crate) async fn backtest(
    global: &GlobalArgs,
    env: &Environment,
    args: &BacktestArgs,
) -> Result<(), OfflineError> {
    let (config, config_origin) = load_config(global)?;
    let model = load_model(args.latency_matrix.as_deref())?;
    let traffic = traffic::load(args.trace.as_deref(), &args.history, &config, env).await?;
    let trace = &traffic.trace;
    if let Some(path) = &args.save_trace {
        write(path, &trace.to_csv())?;
        eprintln!("wrote the fetched history to {}", path.display());
    }
    // Opened before the replay, so a bad path fails before the work.
    let decisions_file = args
        .decisions
        .as_deref()
        .map(|path| create(path).map(|file| (path, file)))
        .transpose()?;
    let html_file = args
        .html
        .as_deref()
        .map(|path| create(path).map(|file| (path, file)))
        .transpose()?;
    let initial: BTreeSet<Region> = args.initial.iter().copied().collect();
    let policy = config.engine.policy.as_str();
    eprintln!(
        "replaying {} ticks of {} with the {policy} policy (settings: {config_origin}), starting from {}",
        trace.len(),
        traffic.origin,
        list(&initial)
    );

    // The flag describes the machines being simulated: the engine plans
    // with the same start-up time the report charges.
    let mut engine = config.engine.clone();
    if let Some(ticks) = args.startup_ticks {
        engine.machine_startup = trace.tick_interval() * u32::try_from(ticks).unwrap_or(u32::MAX);
    }
    let progress = Progress::new("replaying", "ticks", trace.len(), MIN_TICKS_FOR_BAR);
    let replay = backtest::replay_with_model(&engine, &model, trace, &initial, |done| {
        // Drawing is rate-limited by indicatif; this keeps the calls cheap too.
        if done % 64 == 0 || done == trace.len() {
            progress.set(done);
        }
    })
    .await
    .map_err(|source| OfflineError::InvalidConfig {
        path: config.path.clone(),
        source,
    })?;
    progress.finish();

    if let Some((path, file)) = decisions_file {
        write_decisions(path, file, &replay.decisions)?;
        eprintln!(
            "wrote {} decisions to {}",
            replay.decisions.len(),
            path.display()
        );
    }

    // After a warm-up, the rest of the trace is scored from the regions
    // deployed at the warm-up's end.
    let (scored_trace, scored_timeline, scored_machines);
    let mut machines = &replay.machines;
    let mut checks = &replay.forecast_checks[..];
    let (trace, timeline) = match args.warm_up {
        None => (trace, &replay.timeline),
        Some(warm_up) => {
            let first = trace.ticks().first().map(|tick| tick.at());
            let from = first.map_or(0, |first| {
                trace
                    .ticks()
                    .iter()
                    .position(|tick| tick.at() >= first + warm_up)
                    .unwrap_or(trace.len())
            });
            if from >= trace.len() {
                return Err(OfflineError::Setup(format!(
                    "--warm-up {} leaves no tick of {} to score: it covers {} ticks of {}",
                    humantime::format_duration(warm_up),
                    traffic.origin,
                    trace.len(),
                    humantime::format_duration(trace.tick_interval())
                )));
            }
            eprintln!(
                "warmed up on the first {from} ticks ({}), not scored; scoring the other {}",
                humantime::format_duration(warm_up),
                trace.len() - from
            );
            scored_trace =
                Trace::new(trace.ticks()[from..].to_vec()).expect("a part of a trace is a trace");
            scored_timeline = replay.timeline.since(from);
            scored_machines = replay.machines.since(from);
            machines = &scored_machines;
            checks = &checks[from..];
            (&scored_trace, &scored_timeline)
        }
    };
    let startup_ticks = args.startup_ticks.unwrap_or_else(|| {
        let tick = trace.tick_interval().as_secs_f64();
        let startup = config.engine.machine_startup.as_secs_f64();
        if tick > 0.0 {
            (startup / tick - 1e-9).ceil().max(0.0) as usize
        } else {
            0
        }
    });
    let options = QualityOptions {
        seed: SeedRuleParams::from_config(&config.engine),
        startup_ticks,
        ..QualityOptions::default()
    };
    let spinner = Progress::spinner(
        "computing the report and its reference rows",
        trace.len(),
        MIN_TICKS_FOR_BAR,
    );
    let mut report = quality::report(trace, policy, timeline, &model, &options)?;
    report.forecast_error =
        backtest::forecast_error(checks).map(|(share_of_requests, ticks_forecast)| {
            quality::ForecastError {
                share_of_requests,
                ticks_forecast,
            }
        });
    report.price = replay.summary.price.clone();
    let sizing: MachinesSettings = config.engine.policy_settings.get();
    if let Some(requests_per_machine) = sizing.requests_per_machine {
        // fly-autoscaler's regions: the ones the app starts in and keeps.
        let capacity = Capacity {
            requests_per_machine,
            headroom: sizing.headroom,
            autoscaler_regions: initial
                .iter()
                .chain(&config.engine.always_running_regions)
                .copied()
                .collect(),
        };
        report.capacity = Some(quality::capacity::report(
            trace,
            policy,
            machines,
            &model,
            &capacity,
            startup_ticks,
        )?);
    }
    spinner.finish();
    if let Some((path, file)) = html_file {
        let spinner = Progress::spinner("drawing the HTML report", trace.len(), MIN_TICKS_FOR_BAR);
        // The curves' K-region references run the whole number nearest K.
        let k = report.k.round().max(1.0) as usize;
        let series = quality::series(trace, policy, timeline, &model, &options, k)?;
        let latency = model_description(args.latency_matrix.as_deref());
        let page = BacktestPage {
            origin: &traffic.origin,
            policy,
            report: &report,
            series: &series,
            timeline,
            latency: &latency,
            start: trace.ticks().first().map(|tick| tick.at()),
        }
        .render();
        spinner.finish();
        write_file(path, file, &page)?;
        eprintln!("wrote the HTML report to {}", path.display());
    }
    let mut output = if args.json {
        serde_json::to_string_pretty(&report).expect("reports always encode") + "\n"
    } else {
        report.render_table()
    };
    if !args.json {
        let _ = writeln!(
            output,
            "Latency: {}. seed: the seed project's rule with this config's thresholds, windows and cooldown.",
            model_description(args.latency_matrix.as_deref())
        );
    }
    print_out(&output)?;
    Ok(())
}

fn create(path: &Path) -> Result<File, OfflineError> {
    create_parent(path)
        .and_then(|()| File::create(path))
        .map_err(|source| OfflineError::Write {
            path: path.to_owned(),
            source,
        })
}

fn write_file(path: &Path, mut file: File, text: &str) -> Result<(), OfflineError> {
    file.write_all(text.as_bytes())
        .and_then(|()| file.flush())
        .map_err(|source| OfflineError::Write {
            path: path.to_owned(),
            source,
        })
}

/// One JSON object per line, in tick order.
fn write_decisions(
    path: &Path,
    file: File,
    decisions: &[TickDecision],
) -> Result<(), OfflineError> {
    let failed = |source| OfflineError::Write {
        path: path.to_owned(),
        source,
    };
    let mut out = std::io::BufWriter::new(file);
    for decision in decisions {
        serde_json::to_writer(&mut out, decision).map_err(|err| failed(err.into()))?;
        out.write_all(b"\n").map_err(failed)?;
    }
    out.flush().map_err(failed)
}

/// `fra, iad`, or `nothing deployed`.
fn list(regions: &BTreeSet<Region>) -> String {
    crate::cli::log_lines::region_list(regions, "nothing deployed")
}
