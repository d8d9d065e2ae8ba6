//! Hot reload of the config file.
//!
//! The file is polled (read and compared) once a second and again at the
//! start of every tick, rather than watched with inotify: a poll sees every
//! way a file can change — editors that save by renaming a new file over
//! the old one, Kubernetes-style symlink swaps, bind mounts, network file
//! systems — where a file watch can silently lose track of the file. A
//! config file is a few hundred bytes, so reading it each second costs
//! nothing, and comparing content (not modification times) never misses
//! two saves within one timestamp tick. Polling at tick start guarantees a
//! saved change applies from the next tick.

use std::path::{Path, PathBuf};

use crate::config;
use crate::config::file::{LoadError, LoadedConfig};
use crate::service::Service;

impl Service {
    /// Reads the config file; a change is checked now and applied at the
    /// next tick. Called every second by `serve` and at the start of each
    /// tick.
    pub fn poll_config(&self) {
        let event = self.reloader().poll();
        match event {
            ReloadEvent::Unchanged => {}
            ReloadEvent::Staged => {
                tracing::info!(
                    "config file {} changed; the new settings apply from the next tick",
                    self.reloader().path().display()
                );
                // The file is valid again: an earlier rejection no longer
                // describes it.
                for (_, runner) in self.runners() {
                    runner.set_config_error(None);
                }
            }
            ReloadEvent::Rejected(message) => self.reject_config(message),
        }
    }

    /// Logs and records that the file's content is not in force.
    pub(crate) fn reject_config(&self, message: String) {
        tracing::error!("config change rejected, the previous config stays in force: {message}");
        for (name, runner) in self.runners() {
            self.metrics().observe_reload(&name, false);
            runner.set_config_error(Some(message.clone()));
        }
    }
}

/// What one poll found.
#[derive(Debug, Clone, PartialEq)]
pub enum ReloadEvent {
    /// The file holds what was seen last time.
    Unchanged,
    /// The file changed and the new content is valid; it waits in
    /// [`Reloader::take_pending`] for the next tick.
    Staged,
    /// The file changed and the new content is invalid (the message says
    /// where); the previous config stays.
    Rejected(String),
}

/// Notices changes of the config file and checks them.
#[derive(Debug)]
pub struct Reloader {
    path: PathBuf,
    seen: Option<String>,
    pending: Option<LoadedConfig>,
    error: Option<String>,
}

impl Reloader {
    /// Watches `path`, whose current content was loaded already as `text`.
    pub fn new(path: impl Into<PathBuf>, text: Option<String>) -> Self {
        Reloader {
            path: path.into(),
            seen: text,
            pending: None,
            error: None,
        }
    }

    /// The watched file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads the file and reports whether it changed since the last poll.
    pub fn poll(&mut self) -> ReloadEvent {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(text) => text,
            Err(source) => {
                let message = LoadError::Read {
                    path: self.path.clone(),
                    source,
                }
                .to_string();
                if self.error.as_deref() == Some(message.as_str()) {
                    return ReloadEvent::Unchanged;
                }
                // Forget what was seen, so the file counts as changed when
                // it comes back, even with the old content.
                self.seen = None;
                self.pending = None;
                self.error = Some(message.clone());
                return ReloadEvent::Rejected(message);
            }
        };
        if self.seen.as_deref() == Some(text.as_str()) {
            return ReloadEvent::Unchanged;
        }
        let parsed = config::file::parse(&text, &self.path);
        self.seen = Some(text);
        match parsed {
            Ok(loaded) => {
                self.pending = Some(loaded);
                self.error = None;
                ReloadEvent::Staged
            }
            Err(err) => {
                let message = err.to_string();
                self.pending = None;
                self.error = Some(message.clone());
                ReloadEvent::Rejected(message)
            }
        }
    }

    /// The valid config waiting to be applied, if any (taking it).
    pub fn take_pending(&mut self) -> Option<LoadedConfig> {
        self.pending.take()
    }

    /// Records that a staged config could not be applied after all.
    pub fn reject_applied(&mut self, message: String) {
        self.error = Some(message);
    }

    /// Why the file's current content is not in force, if it is not.
    #[cfg(test)]
    pub fn error(&self) -> Option<&str> {
        self.error.as_deref()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_change_is_staged_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.yml");
        std::fs::write(&path, "traffic_threshold: 50\n").unwrap();
        let mut reloader = Reloader::new(&path, Some("traffic_threshold: 50\n".into()));
        assert_eq!(reloader.poll(), ReloadEvent::Unchanged);

        std::fs::write(&path, "traffic_threshold: 80\n").unwrap();
        assert_eq!(reloader.poll(), ReloadEvent::Staged);
        assert_eq!(reloader.poll(), ReloadEvent::Unchanged);
        let staged = reloader.take_pending().unwrap();
        assert_eq!(staged.engine.traffic_threshold, 80.0);
        assert!(reloader.take_pending().is_none());
    }

    #[test]
    fn invalid_change_is_rejected_with_its_place_and_recovers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.yml");
        let mut reloader = Reloader::new(&path, Some(String::new()));
        std::fs::write(&path, "dry_run: true\ntrafic_threshold: 80\n").unwrap();
        match reloader.poll() {
            ReloadEvent::Rejected(message) => {
                assert!(message.contains("config.yml:2"), "{message}");
                assert!(message.contains("trafic_threshold"), "{message}");
            }
            other => panic!("expected a rejection, got {other:?}"),
        }
        assert!(reloader.take_pending().is_none());
        assert!(reloader.error().is_some());

        std::fs::write(&path, "traffic_threshold: 80\n").unwrap();
        assert_eq!(reloader.poll(), ReloadEvent::Staged);
        assert!(reloader.error().is_none());
    }

    #[test]
    fn vanished_file_is_reported_once_and_noticed_when_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config.yml");
        let text = "traffic_threshold: 50\n";
        let mut reloader = Reloader::new(&path, Some(text.into()));
        assert!(matches!(reloader.poll(), ReloadEvent::Rejected(_)));
        assert_eq!(reloader.poll(), ReloadEvent::Unchanged);
        std::fs::write(&path, text).unwrap();
        assert_eq!(reloader.poll(), ReloadEvent::Staged);
    }
}
