//! Crash-safe files: the file store's values, and any other file the
//! service keeps under its data directory, follow these rules:
//! - a write goes to a temporary file in the same directory, is flushed to
//!   disk, then renamed over the old file (and the directory is flushed), so
//!   a crash leaves the old content or the new, never half of one;
//! - a file that exists but cannot be used is moved aside to
//!   `<name>.<label>-<n>` (the lowest free `n`, never replacing anything)
//!   and the caller starts afresh, saying where the file went.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

/// Writes `contents` to `path` atomically: a temporary file in the same
/// directory, flushed to disk, renamed over `path`; missing parent
/// directories are created.
///
/// # Errors
/// The I/O error of the step that failed.
pub fn write_atomically(path: &Path, contents: &[u8]) -> io::Result<()> {
    let directory = parent_of(path);
    fs::create_dir_all(directory)?;
    let mut temporary = tempfile::Builder::new()
        .prefix(&format!(".{}.", file_name(path)))
        .suffix(".tmp")
        .tempfile_in(directory)?;
    temporary.write_all(contents)?;
    temporary.as_file().sync_all()?;
    temporary.persist(path).map_err(|err| err.error)?;
    sync_directory(directory)
}

/// Moves `path` to `<path>.<label>-<n>` with the lowest `n` not taken,
/// and returns the new path. Never replaces an existing file.
///
/// # Errors
/// The I/O error when the file cannot be moved.
pub fn move_aside_as(path: &Path, label: &str) -> io::Result<PathBuf> {
    for n in 1..10_000u32 {
        let target = path.with_file_name(format!("{}.{label}-{n}", file_name(path)));
        // A hard link fails when the target exists, which makes "take the
        // first free name" race-free; the rename below is the fallback for
        // file systems without hard links.
        match fs::hard_link(path, &target) {
            Ok(()) => {
                fs::remove_file(path)?;
                sync_directory(parent_of(path))?;
                return Ok(target);
            }
            Err(err) if err.kind() == io::ErrorKind::AlreadyExists => continue,
            Err(_) if !target.exists() => {
                fs::rename(path, &target)?;
                sync_directory(parent_of(path))?;
                return Ok(target);
            }
            Err(_) => continue,
        }
    }
    Err(io::Error::other(format!(
        "too many moved-aside copies of {} already exist",
        path.display()
    )))
}

fn parent_of(path: &Path) -> &Path {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    }
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| "state".to_owned())
}

/// Flushes a directory entry change (a rename) to disk. Not every platform
/// can open a directory; there the rename is as durable as it gets.
fn sync_directory(directory: &Path) -> io::Result<()> {
    match fs::File::open(directory) {
        Ok(handle) => match handle.sync_all() {
            Ok(()) => Ok(()),
            // Some file systems refuse fsync on directories.
            Err(err) if err.kind() == io::ErrorKind::InvalidInput => Ok(()),
            Err(err) if err.raw_os_error() == Some(22) => Ok(()),
            Err(err) => Err(err),
        },
        Err(_) => Ok(()),
    }
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
        let first = move_aside_as(&path, "corrupt").unwrap();
        fs::write(&path, "second").unwrap();
        let second = move_aside_as(&path, "corrupt").unwrap();
        assert_ne!(first, second);
        assert!(
            first.ends_with("state.json.corrupt-1"),
            "{}",
            first.display()
        );
        assert!(
            second.ends_with("state.json.corrupt-2"),
            "{}",
            second.display()
        );
        assert_eq!(fs::read_to_string(first).unwrap(), "first");
        assert_eq!(fs::read_to_string(second).unwrap(), "second");
        assert!(!path.exists());
    }
}
