//! State files that must survive a crash: written atomically, and moved
//! aside (never overwritten) when they cannot be read.
//!
//! [`DryRunActuator`](crate::DryRunActuator) keeps its simulated deployment
//! this way.

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

/// Moves `path` to `<path>.corrupt-<n>` with the lowest `n` not taken, and
/// returns the new path. Never replaces an existing file.
///
/// # Errors
/// The I/O error when the file cannot be moved.
pub fn move_aside(path: &Path) -> io::Result<PathBuf> {
    move_aside_as(path, "corrupt")
}

/// Like [`move_aside`], to `<path>.<label>-<n>`.
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
