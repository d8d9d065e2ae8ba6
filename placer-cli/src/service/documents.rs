//! The endpoints' documents of one app, of the one app, or of every app.

use std::sync::Arc;

use super::status::{self, Health, StateDocument, TrafficDocument};
use super::{Service, UnknownApp};
use crate::runtime::now;

impl Service {
    /// The `/health` document of app `name` (`None`: the one app).
    ///
    /// # Errors
    /// [`UnknownApp`] when no such app is placed.
    pub fn health_of(&self, name: Option<&str>) -> Result<Health, UnknownApp> {
        Ok(self.with_election(self.runner_of(name)?.view().health()))
    }

    /// `health` with this placer's role, with a shared state store.
    pub(super) fn with_election(&self, mut health: Health) -> Health {
        if self.leadership.is_elected() {
            health.election = Some(status::Election::from(self.leadership.role()));
        }
        health
    }

    /// Every app's `/health` document, by app name, in order of name.
    /// Each is made as the iterator reaches it.
    pub fn health_all(self: &Arc<Self>) -> impl Iterator<Item = (String, Health)> + Send + 'static {
        let service = Arc::clone(self);
        self.runners()
            .into_iter()
            .map(move |(name, runner)| (name, service.with_election(runner.view().health())))
    }

    /// The `/state` document of app `name` (`None`: the one app).
    ///
    /// # Errors
    /// [`UnknownApp`] when no such app is placed.
    pub fn state_of(&self, name: Option<&str>) -> Result<StateDocument, UnknownApp> {
        Ok(self.runner_of(name)?.view().state(now()))
    }

    /// Every app's `/state` document, by app name, in order of name.
    /// Each is made as the iterator reaches it, all as of the time of this call.
    pub fn state_all(&self) -> impl Iterator<Item = (String, StateDocument)> + Send + 'static {
        let at = now();
        self.runners()
            .into_iter()
            .map(move |(name, runner)| (name, runner.view().state(at)))
    }

    /// The `/traffic` document of app `name` (`None`: the one app).
    ///
    /// # Errors
    /// [`UnknownApp`] when no such app is placed.
    pub fn traffic_of(&self, name: Option<&str>) -> Result<TrafficDocument, UnknownApp> {
        Ok(self.runner_of(name)?.view().traffic())
    }

    /// Every app's `/traffic` document, by app name, in order of name.
    /// Each is made as the iterator reaches it.
    pub fn traffic_all(&self) -> impl Iterator<Item = (String, TrafficDocument)> + Send + 'static {
        self.runners()
            .into_iter()
            .map(|(name, runner)| (name, runner.view().traffic()))
    }
}
