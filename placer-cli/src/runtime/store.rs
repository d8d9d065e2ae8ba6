//! An app's stored state: files that must survive a crash, written
//! atomically, read back with care, and never overwritten when they cannot
//! be read. [`restore_engine_state`] reads the engine state from the state
//! store ([`crate::state_store`]; its file backend follows these rules); the
//! dry-run deployment file is kept by placer-fly's `DryRunActuator` with the
//! same rules (`placer_fly::state_file`).
//!
//! Every file the service keeps under its data directory follows these
//! rules:
//! - a write goes to a temporary file in the same directory, is flushed to
//!   disk, then renamed over the old file (and the directory is flushed), so
//!   a crash leaves the old content or the new, never half of one;
//! - a file that exists but cannot be read or parsed is moved aside to
//!   `<name>.corrupt-<n>` (the lowest free `n`, never replacing anything)
//!   and the caller starts afresh, with an error saying where the file went.

use std::fs;
use std::io;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use serde::Serialize;

use placer_core::EngineState;
use placer_fly::state_file;

use crate::state_store::{load_json, Restored as StoreRestored, StateKey, StateStore, StoreError};

/// Why a persisted file could not be handled.
#[derive(Debug, thiserror::Error)]
pub enum PersistError {
    /// Writing (or preparing to write) the file failed.
    #[error("cannot write {}: {source}", path.display())]
    Write {
        /// The file at fault.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The file is unusable and could not be moved out of the way either, so
    /// continuing would overwrite it.
    #[error(
        "{} cannot be used ({problem}) and could not be moved aside: {source}",
        path.display()
    )]
    MoveAside {
        /// The file at fault.
        path: PathBuf,
        /// Why it could not be used.
        problem: String,
        /// Why moving it failed.
        #[source]
        source: io::Error,
    },
    /// The value could not be turned into JSON.
    #[error("cannot encode {}: {source}", path.display())]
    Encode {
        /// The file that was to be written.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: serde_json::Error,
    },
}

/// Writes `contents` to `path` atomically (see
/// [`placer_fly::state_file::write_atomically`]); missing parent directories
/// are created.
///
/// # Errors
/// [`PersistError::Write`] naming `path`.
pub fn write_atomically(path: &Path, contents: &[u8]) -> Result<(), PersistError> {
    state_file::write_atomically(path, contents).map_err(|source| PersistError::Write {
        path: path.to_owned(),
        source,
    })
}

pub use placer_fly::state_file::{move_aside, move_aside_as};

/// What [`JsonFile::load`] found.
#[derive(Debug)]
pub enum Restored<T> {
    /// No file yet: start afresh.
    Missing,
    /// The file was read.
    Loaded(T),
    /// The file could not be used; it was moved aside. Start afresh.
    MovedAside {
        /// Why the file could not be used.
        problem: String,
        /// Where it is now.
        moved_to: PathBuf,
    },
}

/// A value kept as a JSON file, with the rules of this module.
///
/// ```
/// use placer_cli::runtime::store::{JsonFile, Restored};
///
/// let dir = tempfile::tempdir().unwrap();
/// let file = JsonFile::<Vec<u32>>::new(dir.path().join("numbers.json"));
/// assert!(matches!(file.load().unwrap(), Restored::Missing));
/// file.save(&vec![1, 2, 3]).unwrap();
/// assert!(matches!(file.load().unwrap(), Restored::Loaded(v) if v == [1, 2, 3]));
///
/// std::fs::write(file.path(), "{ not json").unwrap();
/// let Restored::MovedAside { moved_to, .. } = file.load().unwrap() else { panic!() };
/// assert!(moved_to.ends_with("numbers.json.corrupt-1"));
/// assert!(!file.path().exists());
/// ```
#[derive(Debug, Clone)]
pub struct JsonFile<T> {
    path: PathBuf,
    value: PhantomData<fn() -> T>,
}

impl<T: Serialize + DeserializeOwned> JsonFile<T> {
    /// A JSON file at `path` (not touched until loaded or saved).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        JsonFile {
            path: path.into(),
            value: PhantomData,
        }
    }

    /// Where the file lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads the file. A missing file is [`Restored::Missing`]; one that
    /// cannot be read or parsed is moved aside ([`Restored::MovedAside`]).
    ///
    /// # Errors
    /// [`PersistError::MoveAside`] when an unusable file cannot be moved.
    pub fn load(&self) -> Result<Restored<T>, PersistError> {
        let problem = match fs::read(&self.path) {
            Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(Restored::Missing),
            Err(err) => format!("cannot be read: {err}"),
            Ok(bytes) => match serde_json::from_slice(&bytes) {
                Ok(value) => return Ok(Restored::Loaded(value)),
                Err(err) => format!("is not valid: {err}"),
            },
        };
        match move_aside(&self.path) {
            Ok(moved_to) => Ok(Restored::MovedAside { problem, moved_to }),
            Err(source) => Err(PersistError::MoveAside {
                path: self.path.clone(),
                problem,
                source,
            }),
        }
    }

    /// Writes `value` as pretty JSON, atomically.
    ///
    /// # Errors
    /// [`PersistError`] naming the file.
    pub fn save(&self, value: &T) -> Result<(), PersistError> {
        let mut bytes =
            serde_json::to_vec_pretty(value).map_err(|source| PersistError::Encode {
                path: self.path.clone(),
                source,
            })?;
        bytes.push(b'\n');
        write_atomically(&self.path, &bytes)
    }
}

/// Reads the engine state at `key` of `store`: nothing there is a fresh
/// start; an unusable value is moved aside (logged as an error) and is a
/// fresh start.
///
/// # Errors
/// [`StoreError`] when the store cannot be reached or an unusable value
/// cannot be moved.
pub async fn restore_engine_state(
    store: &dyn StateStore,
    key: &StateKey,
) -> Result<EngineState, StoreError> {
    let at = store.location(key);
    Ok(match load_json(store, key).await? {
        StoreRestored::Missing => {
            tracing::info!("no engine state at {at} yet: starting with no history");
            EngineState::default()
        }
        StoreRestored::Loaded(state) => {
            let state: EngineState = state;
            let regions = state.regions().count();
            let last = state
                .last_observation()
                .map_or_else(|| "never".to_owned(), |at| at.to_string());
            tracing::info!(
                "engine state restored from {at} ({regions} regions, last observation {last})"
            );
            state
        }
        StoreRestored::MovedAside { problem, moved_to } => {
            tracing::error!(
                "engine state {at} {problem}; it was moved to {moved_to} and the engine starts with no history"
            );
            EngineState::default()
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_content_and_leaves_no_temporary_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("nested/state.json");
        write_atomically(&path, b"one").unwrap();
        write_atomically(&path, b"two").unwrap();
        assert_eq!(fs::read_to_string(&path).unwrap(), "two");
        let names: Vec<_> = fs::read_dir(path.parent().unwrap())
            .unwrap()
            .map(|entry| entry.unwrap().file_name())
            .collect();
        assert_eq!(names, ["state.json"]);
    }

    #[test]
    fn moving_aside_never_replaces_an_earlier_copy() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        fs::write(&path, "first").unwrap();
        let first = move_aside(&path).unwrap();
        fs::write(&path, "second").unwrap();
        let second = move_aside(&path).unwrap();
        assert_ne!(first, second);
        assert_eq!(fs::read_to_string(first).unwrap(), "first");
        assert_eq!(fs::read_to_string(second).unwrap(), "second");
        assert!(!path.exists());
    }

    #[test]
    fn unparsable_file_is_kept_aside_with_the_reason() {
        let dir = tempfile::tempdir().unwrap();
        let file = JsonFile::<Vec<u32>>::new(dir.path().join("state.json"));
        fs::write(file.path(), "[1, 2,").unwrap();
        match file.load().unwrap() {
            Restored::MovedAside { problem, moved_to } => {
                assert!(problem.contains("is not valid"), "{problem}");
                assert_eq!(fs::read_to_string(moved_to).unwrap(), "[1, 2,");
            }
            other => panic!("expected the file to be moved aside, got {other:?}"),
        }
        file.save(&vec![7]).unwrap();
        assert!(matches!(file.load().unwrap(), Restored::Loaded(v) if v == [7]));
    }

    #[test]
    fn a_directory_in_place_of_the_file_is_moved_aside_too() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        fs::create_dir(&path).unwrap();
        let file = JsonFile::<u32>::new(&path);
        match file.load() {
            Ok(Restored::MovedAside { problem, .. }) => {
                assert!(problem.contains("cannot be read"), "{problem}")
            }
            Err(PersistError::MoveAside { .. }) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
}
