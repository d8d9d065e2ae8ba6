//! One active placer per data directory: an exclusive lock on
//! [`LOCK_FILE`] in the data directory, taken by every command that reads
//! or writes the state there or changes a deployment (`serve`, `once`).
//!
//! The lock is the operating system's (`flock` on Unix): it is released
//! when the holder exits, however it exits, so a crashed placer never
//! leaves a stale lock behind. The holder writes its process id into the
//! file, for the message a second placer prints; the id is information
//! only, the lock is what counts.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

/// The lock file's name inside the data directory.
pub const LOCK_FILE: &str = "fly-placer.lock";

/// The flag that makes a second placer wait for the lock instead of exiting.
pub const WAIT_FLAG: &str = "--wait-for-lock";

/// The exclusive lock on a data directory, held until dropped.
#[derive(Debug)]
pub struct DataDirLock {
    file: File,
    dir: PathBuf,
}

/// Why the lock on a data directory was not taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another process holds it.
    #[error(
        "data directory {} is in use by another fly-placer{}: only one placer may use a data directory at a time (lock file {}); stop the other one, give this one another --data-dir, or pass {WAIT_FLAG} to wait for it",
        .dir.display(),
        holder_text(*.holder),
        .dir.join(LOCK_FILE).display()
    )]
    Held {
        /// The data directory.
        dir: PathBuf,
        /// The holder's process id, as it wrote it into the lock file.
        holder: Option<u32>,
    },
    /// The lock file could not be created, opened or locked.
    #[error("cannot lock data directory {}: {source}", .dir.display())]
    Io {
        /// The data directory.
        dir: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

fn holder_text(holder: Option<u32>) -> String {
    holder.map_or_else(String::new, |pid| format!(" (pid {pid})"))
}

impl DataDirLock {
    /// Takes the lock on `dir` (created if missing), or says who holds it.
    ///
    /// # Errors
    /// [`LockError::Held`] when another process holds it;
    /// [`LockError::Io`] when the file cannot be used.
    pub fn try_acquire(dir: &Path) -> Result<DataDirLock, LockError> {
        let mut file = open(dir)?;
        match file.try_lock() {
            Ok(()) => DataDirLock::taken(file, dir),
            Err(TryLockError::WouldBlock) => Err(LockError::Held {
                dir: dir.to_owned(),
                holder: read_holder(&mut file),
            }),
            Err(TryLockError::Error(source)) => Err(io(dir, source)),
        }
    }

    /// Takes the lock on `dir`, waiting for its holder to release it (to
    /// exit) when another process holds it; says so once in the log.
    ///
    /// # Errors
    /// [`LockError::Io`] when the file cannot be used.
    pub async fn acquire_waiting(dir: &Path) -> Result<DataDirLock, LockError> {
        match DataDirLock::try_acquire(dir) {
            Err(LockError::Held { holder, .. }) => {
                tracing::warn!(
                    "data directory {} is in use by another fly-placer{}; waiting for it to stop ({WAIT_FLAG})",
                    dir.display(),
                    holder_text(holder)
                );
            }
            other => return other,
        }
        let file = open(dir)?;
        let file = tokio::task::spawn_blocking(move || file.lock().map(|()| file))
            .await
            .map_err(|join| io(dir, std::io::Error::other(join.to_string())))?
            .map_err(|source| io(dir, source))?;
        tracing::info!("data directory {} is free now", dir.display());
        DataDirLock::taken(file, dir)
    }

    /// The data directory this lock holds.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Records this process as the holder in the locked `file`.
    fn taken(mut file: File, dir: &Path) -> Result<DataDirLock, LockError> {
        file.set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| writeln!(file, "{}", std::process::id()))
            .and_then(|()| file.flush())
            .map_err(|source| io(dir, source))?;
        Ok(DataDirLock {
            file,
            dir: dir.to_owned(),
        })
    }
}

impl Drop for DataDirLock {
    fn drop(&mut self) {
        // Clear the process id while still holding the lock; closing the
        // file releases it.
        let _ = self.file.set_len(0);
    }
}

fn open(dir: &Path) -> Result<File, LockError> {
    std::fs::create_dir_all(dir).map_err(|source| io(dir, source))?;
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(dir.join(LOCK_FILE))
        .map_err(|source| io(dir, source))
}

fn read_holder(file: &mut File) -> Option<u32> {
    let mut text = String::new();
    file.rewind().ok()?;
    file.take(32).read_to_string(&mut text).ok()?;
    text.trim().parse().ok()
}

fn io(dir: &Path, source: std::io::Error) -> LockError {
    LockError::Io {
        dir: dir.to_owned(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_on_the_same_directory_is_refused_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let first = DataDirLock::try_acquire(&data).unwrap();
        assert_eq!(first.dir(), data);
        let written = std::fs::read_to_string(data.join(LOCK_FILE)).unwrap();
        assert_eq!(written.trim(), std::process::id().to_string());

        let err = DataDirLock::try_acquire(&data).unwrap_err();
        assert!(
            matches!(err, LockError::Held { holder: Some(pid), .. } if pid == std::process::id()),
            "{err:?}"
        );
        let message = err.to_string();
        assert!(message.contains(&data.display().to_string()), "{message}");
        assert!(message.contains(WAIT_FLAG), "{message}");

        // Another directory is independent.
        DataDirLock::try_acquire(&dir.path().join("other")).unwrap();

        drop(first);
        DataDirLock::try_acquire(&data).unwrap();
    }

    #[tokio::test]
    async fn waiting_takes_the_lock_once_the_holder_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let first = DataDirLock::try_acquire(dir.path()).unwrap();
        let path = dir.path().to_owned();
        let waiting = tokio::spawn(async move { DataDirLock::acquire_waiting(&path).await });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished());
        drop(first);
        let second = waiting.await.unwrap().unwrap();
        assert_eq!(second.dir(), dir.path());
    }
}
