//! The command line: commands, flags and the environment variables that
//! stand in for flags, and the exit codes. The first layer: it imports
//! nothing else of the crate.
//!
//! Logging lives here too ([`logging`]: set up from `--log-format` and
//! `--log-file` before anything else runs, and [`log_lines`]: the lines a
//! person reads): both depend on the flags only, and every layer after
//! this one writes logs.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

pub(crate) mod log_lines;
pub mod logging;
mod offline;

pub use offline::{BacktestArgs, GenTraceArgs, HistoryArgs, RecommendArgs};

/// Exit code of a run that went well.
pub const EXIT_OK: u8 = 0;
/// Exit code when a tick or the service failed.
pub const EXIT_FAILURE: u8 = 1;
/// Exit code when the settings are invalid or incomplete.
pub const EXIT_BAD_SETTINGS: u8 = 2;
/// Exit code of `serve` and `once` when another placer uses the same data
/// directory (it holds the directory's lock).
pub const EXIT_LOCKED: u8 = 3;

/// The default config file, relative to the working directory.
pub const DEFAULT_CONFIG_PATH: &str = "config/config.yml";

/// `fly-placer`: places a Fly.io app's machines in the regions its traffic
/// comes from.
#[derive(Debug, Clone, Parser)]
#[command(
    name = "fly-placer",
    version,
    about = "Places a Fly.io app's machines in the regions its traffic comes from.",
    long_about = "Places a Fly.io app's machines in the regions its traffic comes from.\n\n\
        Without a command, runs `serve`. Settings come from the config file, \
        then from the environment (a `.env` file in the working directory is read \
        first), then from flags; a flag wins over its environment variable.\n\n\
        Environment: FLY_API_TOKEN (Fly token for the Machines API and Prometheus), \
        FLY_PROMETHEUS_URL (Prometheus API; unset: simulated traffic), \
        FLY_APP_NAME or PLACER_APP (the app to place), \
        PLACER_PROMETHEUS_TOKEN (token for Prometheus only), \
        PLACER_TRIGGER_TOKEN (bearer token for POST /trigger), \
        PLACER_STATE_URL and PLACER_STATE_PASSWORD (where engine state is kept: \
        file:DIR or etcd://HOST:PORT/PREFIX, and its user's password), \
        RUST_LOG (log filter, default `info`). Blank values count as unset."
)]
pub struct Cli {
    /// Options shared by every command.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// What to do (default: `serve`).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Options shared by every command.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// Config file: the placement keys and the `latency`, `forecast`,
    /// `machines`, `service`, `state`, `prometheus`, `simulation`, `fly`
    /// and `apps` sections (docs/configuration.md).
    #[arg(
        long,
        global = true,
        env = "PLACER_CONFIG",
        hide_env_values = true,
        value_name = "FILE",
        default_value = DEFAULT_CONFIG_PATH
    )]
    pub config: PathBuf,

    /// Directory for the engine state and the dry-run deployment
    /// [default: `service.data_dir` from the config, else `data`].
    #[arg(
        long,
        global = true,
        env = "PLACER_DATA_DIR",
        hide_env_values = true,
        value_name = "DIR"
    )]
    pub data_dir: Option<PathBuf>,

    /// `serve` and `once`: when another fly-placer uses the same data
    /// directory, wait until it stops instead of exiting with code 3.
    #[arg(
        long,
        global = true,
        env = "PLACER_WAIT_FOR_LOCK",
        hide_env_values = true,
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    pub wait_for_lock: bool,

    /// Address the HTTP API listens on
    /// [default: `service.listen` from the config, else 127.0.0.1:8000].
    #[arg(
        long,
        global = true,
        env = "PLACER_LISTEN",
        hide_env_values = true,
        value_name = "ADDR"
    )]
    pub listen: Option<SocketAddr>,

    /// Log line format.
    #[arg(
        long,
        global = true,
        env = "PLACER_LOG_FORMAT",
        hide_env_values = true,
        value_enum,
        default_value_t = LogFormat::Text
    )]
    pub log_format: LogFormat,

    /// Also append log lines to this file (created with its directory if
    /// missing), e.g. `logs/auto_placer.log`.
    #[arg(
        long,
        global = true,
        env = "PLACER_LOG_FILE",
        hide_env_values = true,
        value_name = "FILE"
    )]
    pub log_file: Option<PathBuf>,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum LogFormat {
    /// One readable line per event.
    #[default]
    Text,
    /// One JSON object per event, for log collectors.
    Json,
}

/// The commands.
#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Run the service: the HTTP API and a tick every `service.interval`
    /// (the default command).
    Serve,
    /// Run one tick, print its report as JSON on stdout, and exit non-zero
    /// when the tick or one of its actions failed.
    Once,
    /// Check a config file and print the effective settings, or the error
    /// with file, line and key.
    CheckConfig(CheckConfigArgs),
    /// Print the apps of a running `serve` as a table, one line an app
    /// (or one app's regions with `--app`), read from its HTTP API.
    ///
    /// The address is `--url`, else `--listen` (PLACER_LISTEN), else the
    /// config file's `service.listen`; PLACER_TRIGGER_TOKEN (or
    /// `service.trigger_token`) is sent as a bearer token when set. Exit
    /// code 1 when nothing answers there or the answer is an error.
    Status(StatusArgs),
    /// Write a synthetic traffic trace (CSV) for a named scenario, for
    /// `backtest` and `recommend`.
    GenTrace(GenTraceArgs),
    /// Replay a trace, or an app's Prometheus history, through the engine
    /// with the config file's placement settings and print the
    /// placement-quality report beside reference policies.
    ///
    /// Every tick runs the service's own tick code against a simulated
    /// deployment, so `dry_run` makes no difference. The settings come from
    /// the config file (the engine's defaults when the default file does not
    /// exist). Exit code 2 for bad input (trace, config, matrix, flags), 1
    /// when fetching or writing fails.
    Backtest(BacktestArgs),
    /// The best N regions for a trace's or an app's traffic (k-median on
    /// round-trip times), with the current regions' cost beside them.
    ///
    /// Each region is weighted by its total requests over the trace or
    /// window. The pick stays within the config's allowed and excluded
    /// regions and always includes its always-running regions.
    Recommend(RecommendArgs),
}

/// Arguments of `check-config`.
#[derive(Debug, Clone, Args)]
pub struct CheckConfigArgs {
    /// The file to check [default: the `--config` file].
    #[arg(value_name = "PATH")]
    pub path: Option<PathBuf>,
}

/// Arguments of `status`.
#[derive(Debug, Clone, Args)]
pub struct StatusArgs {
    /// The running service's base URL, e.g. `http://127.0.0.1:8000`
    /// [default: from `--listen`, else `service.listen` in the config].
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// Print this app's regions instead of the table of apps.
    #[arg(long, value_name = "NAME")]
    pub app: Option<String>,
    /// Print the document read (`/api/fleet`, or `/api/status?app=NAME`
    /// with `--app`) as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
}

impl Cli {
    /// The command to run, `serve` when none was given.
    pub fn command(&self) -> Command {
        self.command.clone().unwrap_or(Command::Serve)
    }

    /// Parses the process's flags and their environment variables, where a
    /// variable that is set but blank counts as unset (as an empty value in
    /// `.env` or `FOO= fly-placer …` means), instead of as a missing value.
    /// Exits with clap's message and code on bad flags, as `parse` does.
    ///
    /// A shared flag given to a command it does nothing for (`gen-trace
    /// --log-file x`) is refused, and each command's help lists only the
    /// shared flags it acts on.
    pub fn parse_from_process() -> Cli {
        Self::parse_checked(std::env::args_os()).unwrap_or_else(|err| err.exit())
    }

    /// [`parse_from_process`](Self::parse_from_process) on `args`.
    ///
    /// # Errors
    /// clap's, for bad flags and for shared flags the command does nothing
    /// for.
    pub fn parse_checked<I, T>(args: I) -> Result<Cli, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        use clap::parser::ValueSource;
        use clap::{CommandFactory, FromArgMatches};
        let mut command = without_blank_env(<Cli as CommandFactory>::command());
        // Each command gets its own copy of the shared flags it acts on:
        // they work after it too, and its help lists only those.
        for id in SHARED_FLAGS {
            command = command.mut_arg(id, |arg| arg.global(false));
        }
        let shared: Vec<clap::Arg> = command
            .get_arguments()
            .filter(|arg| SHARED_FLAGS.contains(&arg.get_id().as_str()))
            .cloned()
            .collect();
        let names: Vec<String> = command
            .get_subcommands()
            .map(|sub| sub.get_name().to_owned())
            .collect();
        for name in names {
            let acts = acts_on(&name);
            command = command.mut_subcommand(&name, |sub| {
                sub.args(
                    shared
                        .iter()
                        .filter(|arg| acts.contains(&arg.get_id().as_str()))
                        .cloned(),
                )
            });
        }
        let matches = command.clone().try_get_matches_from(args)?;
        let mut cli = Cli::from_arg_matches(&matches)?;
        if let Some((name, sub)) = matches.subcommand() {
            let acts = acts_on(name);
            // Given before a command that does nothing with it.
            let given = SHARED_FLAGS.iter().find(|id| {
                !acts.contains(id) && matches.value_source(id) == Some(ValueSource::CommandLine)
            });
            if let Some(id) = given {
                let flag = format!("--{}", id.replace('_', "-"));
                return Err(command.error(
                    clap::error::ErrorKind::ArgumentConflict,
                    format!("{flag} does nothing for `{name}`; leave it out"),
                ));
            }
            cli.global.take_given_after(sub, acts);
        }
        Ok(cli)
    }
}

impl GlobalArgs {
    /// The shared flags `acts` given after the command, in `sub`'s matches,
    /// over those given before it (or read from the environment).
    fn take_given_after(&mut self, sub: &clap::ArgMatches, acts: &[&str]) {
        use clap::parser::ValueSource;
        let given =
            |id: &str| acts.contains(&id) && sub.value_source(id) == Some(ValueSource::CommandLine);
        if given("config") {
            if let Some(config) = sub.get_one::<PathBuf>("config") {
                self.config.clone_from(config);
            }
        }
        if given("data_dir") {
            self.data_dir = sub.get_one::<PathBuf>("data_dir").cloned();
        }
        if given("wait_for_lock") {
            self.wait_for_lock = sub
                .get_one::<bool>("wait_for_lock")
                .copied()
                .unwrap_or(true);
        }
        if given("listen") {
            self.listen = sub.get_one::<SocketAddr>("listen").copied();
        }
        if given("log_format") {
            if let Some(format) = sub.get_one::<LogFormat>("log_format") {
                self.log_format = *format;
            }
        }
        if given("log_file") {
            self.log_file = sub.get_one::<PathBuf>("log_file").cloned();
        }
    }
}

/// The flags every command accepts on the command line, by their ids.
const SHARED_FLAGS: [&str; 6] = [
    "config",
    "data_dir",
    "wait_for_lock",
    "listen",
    "log_format",
    "log_file",
];

/// The shared flags `command` acts on.
fn acts_on(command: &str) -> &'static [&'static str] {
    match command {
        "serve" => &SHARED_FLAGS,
        "once" => &[
            "config",
            "data_dir",
            "wait_for_lock",
            "log_format",
            "log_file",
        ],
        "check-config" => &["config", "data_dir", "listen", "log_format", "log_file"],
        // status asks the service at its address; it logs nothing.
        "status" => &["config", "listen"],
        "backtest" | "recommend" => &["config", "log_format", "log_file"],
        // gen-trace reads no config and logs nothing.
        _ => &[],
    }
}

/// `command` with the variables that are set but blank no longer read by
/// its arguments and its subcommands' arguments.
fn without_blank_env(mut command: clap::Command) -> clap::Command {
    let blank: Vec<clap::Id> = command
        .get_arguments()
        .filter(|arg| {
            arg.get_env()
                .and_then(std::env::var_os)
                .is_some_and(|value| value.to_string_lossy().trim().is_empty())
        })
        .map(|arg| arg.get_id().clone())
        .collect();
    for id in blank {
        command = command.mut_arg(id, |arg| arg.env(None::<&str>));
    }
    let subcommands: Vec<String> = command
        .get_subcommands()
        .map(|sub| sub.get_name().to_owned())
        .collect();
    for name in subcommands {
        command = command.mut_subcommand(name, without_blank_env);
    }
    command
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn definition_is_consistent() {
        <Cli as CommandFactory>::command().debug_assert();
    }

    #[test]
    fn no_command_means_serve() {
        let cli = Cli::parse_checked(["fly-placer", "--listen", "127.0.0.1:9000"]).unwrap();
        assert!(matches!(cli.command(), Command::Serve));
        assert_eq!(cli.global.listen, Some("127.0.0.1:9000".parse().unwrap()));
    }

    #[test]
    fn global_flags_work_after_the_command() {
        let cli = Cli::parse_checked([
            "fly-placer",
            "check-config",
            "other.yml",
            "--log-format",
            "json",
        ])
        .unwrap();
        assert_eq!(cli.global.log_format, LogFormat::Json);
        match cli.command() {
            Command::CheckConfig(args) => assert_eq!(args.path, Some("other.yml".into())),
            other => panic!("unexpected command {other:?}"),
        }
    }

    #[test]
    fn a_shared_flag_a_command_does_nothing_for_is_refused() {
        let err = Cli::parse_checked([
            "fly-placer",
            "gen-trace",
            "--scenario",
            "edge-only",
            "--hours",
            "1",
            "--seed",
            "1",
            "--out",
            "t.csv",
            "--log-file",
            "x.log",
        ])
        .unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(
            err.to_string().contains("unexpected argument '--log-file'"),
            "{err}"
        );
        let err =
            Cli::parse_checked(["fly-placer", "--listen", "127.0.0.1:1", "once"]).unwrap_err();
        assert!(
            err.to_string().contains("--listen does nothing for `once`"),
            "{err}"
        );
        // Where they act, they are taken, before or after the command.
        let cli =
            Cli::parse_checked(["fly-placer", "--config", "a.yml", "once", "--data-dir", "d"])
                .unwrap();
        assert_eq!(cli.global.config, PathBuf::from("a.yml"));
        assert_eq!(cli.global.data_dir, Some(PathBuf::from("d")));
        let cli = Cli::parse_checked(["fly-placer", "--listen", "127.0.0.1:9000"]).unwrap();
        assert!(matches!(cli.command(), Command::Serve));
    }

    #[test]
    fn each_commands_help_lists_the_shared_flags_it_acts_on() {
        let err = Cli::parse_checked(["fly-placer", "gen-trace", "--help"]).unwrap_err();
        let help = err.to_string();
        for flag in ["--config", "--data-dir", "--listen", "--log-file"] {
            assert!(!help.contains(flag), "{flag} in {help}");
        }
        let err = Cli::parse_checked(["fly-placer", "serve", "--help"]).unwrap_err();
        let help = err.to_string();
        for flag in [
            "--config",
            "--data-dir",
            "--listen",
            "--log-file",
            "--wait-for-lock",
        ] {
            assert!(help.contains(flag), "{flag} missing from {help}");
        }
    }

    #[test]
    fn status_takes_the_address_flags_and_nothing_it_does_not_use() {
        let cli = Cli::parse_checked([
            "fly-placer",
            "status",
            "--listen",
            "127.0.0.1:9000",
            "--app",
            "shop",
            "--json",
        ])
        .unwrap();
        assert_eq!(cli.global.listen, Some("127.0.0.1:9000".parse().unwrap()));
        match cli.command() {
            Command::Status(args) => {
                assert_eq!(args.app.as_deref(), Some("shop"));
                assert!(args.json && args.url.is_none());
            }
            other => panic!("unexpected command {other:?}"),
        }
        for flag in [["--log-file", "x.log"], ["--data-dir", "d"]] {
            let err = Cli::parse_checked(["fly-placer", "status", flag[0], flag[1]]).unwrap_err();
            assert!(err.to_string().contains(flag[0]), "{err}");
        }
    }

    #[test]
    fn rejects_a_bad_listen_address() {
        let err = Cli::parse_checked(["fly-placer", "--listen", "localhost"]).unwrap_err();
        assert!(err.to_string().contains("--listen"), "{err}");
    }
}
