//! `gen-trace`: a scenario's synthetic traffic, written as a trace CSV.

use placer_lab::scenario;

use super::{counted, write, OfflineError};
use crate::cli::GenTraceArgs;

/// Generates the trace `args` ask for and writes it to `args.out`.
pub(crate) fn gen_trace(args: &GenTraceArgs) -> Result<(), OfflineError> {
    let trace = scenario::generate(args.scenario, args.hours, args.seed, args.step)?;
    write(&args.out, &trace.to_csv())?;
    let length = args.step.saturating_mul(trace.len() as u32);
    eprintln!(
        "wrote {} of {} ({}, every {}, {}, seed {}) to {}",
        counted(trace.len(), "tick"),
        args.scenario,
        humantime::format_duration(length),
        humantime::format_duration(args.step),
        counted(trace.regions().len(), "region"),
        args.seed,
        args.out.display()
    );
    Ok(())
}
