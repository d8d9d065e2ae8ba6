//! The commands that work on recorded or generated traffic instead of a
//! live app: `gen-trace`, `backtest` and `recommend`. They only wire files,
//! Prometheus and the terminal to placer-lab ([`placer_lab::scenario`],
//! [`placer_lab::backtest`], [`placer_lab::quality`],
//! [`placer_lab::recommend`]).

mod backtest;
mod error;
mod gen_trace;
mod html;
mod map;
mod progress;
mod recommend;
mod traffic;

use std::path::{Path, PathBuf};

use placer_core::{network::LatencyModel, PlacerConfig};

use crate::cli::GlobalArgs;
use crate::config;
use crate::config::file::LoadedConfig;

pub(crate) use backtest::backtest;
pub(crate) use error::OfflineError;
pub(crate) use gen_trace::gen_trace;
pub(crate) use recommend::recommend;

/// The config file's settings, and where they came from in words.
/// Without `--config`, a missing default file means the engine's defaults
/// (replays and picks need no service settings).
fn load_config(args: &GlobalArgs) -> Result<(LoadedConfig, String), OfflineError> {
    let default_path = Path::new(crate::cli::DEFAULT_CONFIG_PATH);
    if args.config == default_path && !default_path.exists() {
        eprintln!(
            "note: {} does not exist; using the engine's default settings (pass --config to use a file)",
            default_path.display()
        );
        let defaults = LoadedConfig {
            path: PathBuf::from(default_path),
            engine: PlacerConfig::default(),
            settings: Default::default(),
            text: "".into(),
            overrides: Default::default(),
            app: None,
        };
        return Ok((defaults, "the engine's defaults".to_owned()));
    }
    let loaded = config::file::load(&args.config)?;
    let origin = loaded.path.display().to_string();
    Ok((loaded, origin))
}

/// The distance model, or the measured matrix in `path`.
fn load_model(path: Option<&Path>) -> Result<LatencyModel, OfflineError> {
    let Some(path) = path else {
        return Ok(LatencyModel::distance());
    };
    let text = read(path)?;
    LatencyModel::from_measured_json(&text).map_err(|source| OfflineError::LatencyMatrix {
        path: path.to_owned(),
        source,
    })
}

/// How a model is described in output for people.
fn model_description(path: Option<&Path>) -> String {
    match path {
        Some(path) => format!("the measured matrix in {}", path.display()),
        None => "the distance model, 2 ms + 0.015 ms per km".to_owned(),
    }
}

fn read(path: &Path) -> Result<String, OfflineError> {
    std::fs::read_to_string(path).map_err(|source| OfflineError::Read {
        path: path.to_owned(),
        source,
    })
}

/// Prints `text` on stdout. A closed pipe (`| head`) is not an error: the
/// reader has all it wanted.
fn print_out(text: &str) -> Result<(), OfflineError> {
    super::print_out(text.strip_suffix('\n').unwrap_or(text)).map_err(|source| {
        OfflineError::Write {
            path: PathBuf::from("standard output"),
            source,
        }
    })
}

/// Writes an output file, creating missing parent directories first.
fn write(path: &Path, text: &str) -> Result<(), OfflineError> {
    create_parent(path)
        .and_then(|()| std::fs::write(path, text))
        .map_err(|source| OfflineError::Write {
            path: path.to_owned(),
            source,
        })
}

/// Creates the directory an output file goes into, if it is missing.
fn create_parent(path: &Path) -> std::io::Result<()> {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => std::fs::create_dir_all(parent),
        _ => Ok(()),
    }
}

/// `n` and `one` (or its plural, `one` + "s"): `1 tick`, `3 ticks`.
fn counted(n: usize, one: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {one}s")
    }
}

#[cfg(test)]
mod counted_tests {
    #[test]
    fn one_is_singular_and_others_plural() {
        assert_eq!(super::counted(1, "tick"), "1 tick");
        assert_eq!(super::counted(0, "tick"), "0 ticks");
        assert_eq!(super::counted(36, "region"), "36 regions");
    }
}
