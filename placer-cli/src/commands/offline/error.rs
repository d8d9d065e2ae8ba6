//! What can go wrong in the offline commands, each naming the file, flag or
//! setting at fault, with the exit code it gives.

use std::path::PathBuf;

use placer_core::config::InvalidConfig;
use placer_core::network::LatencyMatrixError;
use placer_lab::quality::QualityError;
use placer_lab::recommend::RecommendError;
use placer_lab::scenario::GenerateError;
use placer_lab::TraceError;
use placer_prom::PromError;

use crate::backends::BackendError;
use crate::cli::{EXIT_BAD_SETTINGS, EXIT_FAILURE};
use crate::config::file::LoadError;

/// Why an offline command stopped.
#[derive(Debug, thiserror::Error)]
pub(crate) enum OfflineError {
    /// The config file cannot be used.
    #[error(transparent)]
    Config(#[from] LoadError),
    /// The config file's engine settings break a rule.
    #[error("{path}: {source}", path = .path.display())]
    InvalidConfig {
        /// The config file.
        path: PathBuf,
        /// The rule broken.
        source: InvalidConfig,
    },
    /// An input file cannot be read.
    #[error("cannot read {}: {source}", .path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// An output file cannot be written.
    #[error("cannot write {}: {source}", .path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A trace file is not a valid trace; shown as `file:line: problem`.
    #[error("{}", located(.path, .source))]
    Trace {
        /// The file.
        path: PathBuf,
        /// What is wrong, with its line.
        source: TraceError,
    },
    /// The latency matrix file is not a valid matrix.
    #[error("{}: {source}", .path.display())]
    LatencyMatrix {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        source: LatencyMatrixError,
    },
    /// The scenario cannot be generated with these arguments.
    #[error(transparent)]
    Generate(#[from] GenerateError),
    /// Something needed to fetch history is missing; the message says what
    /// to set.
    #[error("{0}")]
    Setup(String),
    /// The Prometheus settings cannot be used.
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// Fetching history failed.
    #[error("fetching history from Prometheus failed: {0}")]
    Fetch(#[from] PromError),
    /// The fetched history is not a usable trace.
    #[error("the history fetched from Prometheus is not a usable trace: {0}")]
    History(TraceError),
    /// No recommendation could be made.
    #[error(transparent)]
    Recommend(#[from] RecommendError),
    /// The report could not be computed (a bug: replay and trace disagree).
    #[error(transparent)]
    Quality(#[from] QualityError),
}

impl OfflineError {
    /// Bad input or settings exit with 2; failures of a backend, of writing
    /// output or of the program itself with 1.
    pub(crate) fn exit_code(&self) -> u8 {
        match self {
            OfflineError::Config(_)
            | OfflineError::InvalidConfig { .. }
            | OfflineError::Read { .. }
            | OfflineError::Trace { .. }
            | OfflineError::LatencyMatrix { .. }
            | OfflineError::Generate(_)
            | OfflineError::Setup(_)
            | OfflineError::Backend(_)
            | OfflineError::Recommend(_) => EXIT_BAD_SETTINGS,
            OfflineError::Write { .. }
            | OfflineError::Fetch(_)
            | OfflineError::History(_)
            | OfflineError::Quality(_) => EXIT_FAILURE,
        }
    }
}

/// `file:line: problem` like a compiler, or `file: problem` without a line.
fn located(path: &std::path::Path, error: &TraceError) -> String {
    let message = error.to_string();
    match error.line() {
        Some(line) => {
            let problem = message
                .strip_prefix(&format!("line {line}: "))
                .unwrap_or(&message);
            format!("{}:{line}: {problem}", path.display())
        }
        None => format!("{}: {message}", path.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_errors_read_like_a_compiler_message() {
        let err = "timestamp,region,requests\n2026-01-05T00:00:00Z,iad,lots\n"
            .parse::<placer_lab::Trace>()
            .unwrap_err();
        let shown = OfflineError::Trace {
            path: "traces/day.csv".into(),
            source: err,
        };
        assert_eq!(
            shown.to_string(),
            "traces/day.csv:2: requests \"lots\" for region iad is not a number"
        );
        assert_eq!(shown.exit_code(), EXIT_BAD_SETTINGS);

        let empty = OfflineError::Trace {
            path: "empty.csv".into(),
            source: TraceError::Empty,
        };
        assert!(empty
            .to_string()
            .starts_with("empty.csv: trace has no data"));
    }
}
