//! `fly-placer`: see `fly-placer --help`.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use placer_cli::{logging, Cli, Environment, EXIT_BAD_SETTINGS};

fn main() -> ExitCode {
    // Read `.env` before the flags, so it can provide their variables too.
    // Variables already set win over the file.
    let dotenv = dotenvy::dotenv();
    let cli = Cli::parse_from_process();
    if let Err(err) = logging::init(cli.global.log_format, cli.global.log_file.as_deref()) {
        eprintln!("error: {err}");
        return ExitCode::from(EXIT_BAD_SETTINGS);
    }
    match dotenv {
        Ok(path) => tracing::info!("read environment from {}", path.display()),
        Err(err) if err.not_found() => {}
        Err(err) => {
            tracing::error!("cannot read .env: {err}");
            return ExitCode::from(EXIT_BAD_SETTINGS);
        }
    }
    placer_cli::run(cli, Environment::from_process())
}
