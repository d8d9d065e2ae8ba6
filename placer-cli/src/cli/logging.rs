//! Log output: text or JSON lines on stderr, and optionally appended to a
//! file. `RUST_LOG` filters (default `info`).

use std::fs::{File, OpenOptions};
use std::io::IsTerminal;
use std::path::Path;
use std::sync::Mutex;

use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{fmt, EnvFilter, Layer, Registry};

use crate::cli::LogFormat;

/// Why logging could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum LoggingError {
    /// The log file could not be opened.
    #[error("cannot open log file {}: {source}", path.display())]
    File {
        /// The file.
        path: std::path::PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// `RUST_LOG` is not a valid filter.
    #[error("RUST_LOG is not a valid log filter: {0}")]
    Filter(String),
}

type BoxedLayer = Box<dyn Layer<Registry> + Send + Sync>;

/// Installs the global logger. Call once, before anything logs.
///
/// # Errors
/// [`LoggingError`] when the file cannot be opened or `RUST_LOG` is invalid.
pub fn init(format: LogFormat, file: Option<&Path>) -> Result<(), LoggingError> {
    let filter = match std::env::var("RUST_LOG") {
        Ok(spec) if !spec.trim().is_empty() => {
            EnvFilter::try_new(spec).map_err(|err| LoggingError::Filter(err.to_string()))?
        }
        _ => EnvFilter::new("info"),
    };
    let ansi = std::io::stderr().is_terminal();
    let mut layers: Vec<BoxedLayer> = vec![layer(format, std::io::stderr, ansi)];
    if let Some(path) = file {
        let opened = open_append(path).map_err(|source| LoggingError::File {
            path: path.to_owned(),
            source,
        })?;
        layers.push(layer(format, Mutex::new(opened), false));
    }
    // A second init (tests running several commands in one process) keeps
    // the first logger.
    let _ = tracing_subscriber::registry()
        .with(layers)
        .with(filter)
        .try_init();
    Ok(())
}

fn layer<W>(format: LogFormat, writer: W, ansi: bool) -> BoxedLayer
where
    W: for<'writer> fmt::MakeWriter<'writer> + Send + Sync + 'static,
{
    let base = fmt::layer()
        .with_writer(writer)
        .with_ansi(ansi)
        .with_target(false);
    match format {
        LogFormat::Text => base.boxed(),
        LogFormat::Json => base.json().flatten_event(true).boxed(),
    }
}

fn open_append(path: &Path) -> std::io::Result<File> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    OpenOptions::new().create(true).append(true).open(path)
}
