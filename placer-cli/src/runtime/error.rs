//! Why a runner could not start or tick.

use std::sync::Arc;

use placer_core::TickReport;

use crate::backends::BackendError;
use crate::cli::{EXIT_BAD_SETTINGS, EXIT_FAILURE, EXIT_LOCKED};
use crate::config::file::LoadError;
use crate::config::resolve::SetupError;
use crate::store::data_lock::LockError;
use crate::store::{NotLeader, StoreError};

/// A tick's report, or why there is none.
pub type TickResult = Result<Arc<TickReport>, TickError>;

/// Why a tick was not run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TickError {
    /// The service is shutting down.
    #[error("the service is shutting down")]
    ShuttingDown,
    /// The tick panicked (a bug); the engine keeps its previous state.
    #[error("the tick stopped unexpectedly: {0}")]
    Crashed(String),
    /// Another placer leads (shared state store): only the leader ticks.
    #[error(transparent)]
    NotLeader(#[from] NotLeader),
    /// The engine state could not be read from the store before acting, so
    /// nothing was done.
    #[error("the engine state could not be read: {0}")]
    StateUnavailable(String),
}

/// Why the service could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The config file is missing or invalid.
    #[error(transparent)]
    Config(#[from] LoadError),
    /// Settings are missing or conflict.
    #[error(transparent)]
    Setup(#[from] SetupError),
    /// A backend could not be set up.
    #[error(transparent)]
    Backend(#[from] BackendError),
    /// The state store cannot be reached, or a stored value is unusable and
    /// could not be moved aside.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Another placer uses the data directory, or it cannot be locked.
    #[error(transparent)]
    Lock(#[from] LockError),
}

impl StartError {
    /// The process exit code: 2 for problems in the user's settings, 3 when
    /// another placer uses the data directory, 1 for the rest.
    pub fn exit_code(&self) -> u8 {
        match self {
            StartError::Config(_) | StartError::Setup(_) | StartError::Backend(_) => {
                EXIT_BAD_SETTINGS
            }
            StartError::Lock(LockError::Held { .. }) => EXIT_LOCKED,
            StartError::Store(_) | StartError::Lock(LockError::Io { .. }) => EXIT_FAILURE,
        }
    }
}
