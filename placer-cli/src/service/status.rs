//! What the read-only endpoints show: `/health`, `/state` and `/traffic`,
//! built from an app's [`View`], so reading never waits for a tick in
//! flight.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use placer_core::network::platform::{PlatformRegions, RegionsSource, Unavailable};
use placer_core::predictor::Averages;
use placer_core::{state::RegionBackoff, Region, Timestamp};
use serde::Serialize;

use crate::runtime::View;
use crate::store::Role;

/// `GET /health`.
#[derive(Debug, Clone, Serialize)]
pub struct Health {
    /// `ok`, or `degraded` when the config was rejected, the last tick
    /// failed, or the state could not be saved.
    pub status: &'static str,
    /// fly-placer's version.
    pub version: &'static str,
    /// Whether real machines are left alone.
    pub dry_run: bool,
    /// The config file and its state.
    pub config: ConfigHealth,
    /// Where traffic comes from.
    pub traffic: String,
    /// What lists and changes the deployment.
    pub deployment: String,
    /// Seconds between periodic ticks (0: none).
    pub interval_seconds: f64,
    /// Ticks run since start.
    pub ticks: u64,
    /// The latest tick, if any.
    pub last_tick: Option<LastTick>,
    /// Why the engine state could not be saved, if the last save failed.
    pub persist_error: Option<String>,
    /// Regions whose deploy is in doubt after the latest tick: counted as
    /// deployed, not deployed again, until the listing shows them or
    /// `pending_grace` passes. Left out when there are none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pending: Vec<Region>,
    /// Whether the engine forecasts traffic, or reacts to observed traffic
    /// only and why, in words.
    pub forecast: String,
    /// How much history the forecaster has learnt and where it came from
    /// (absent when no forecaster is kept).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forecast_history: Option<ForecastHistory>,
    /// Where the engine's picture of the platform's regions came from, and
    /// how many take machines.
    pub platform: PlatformHealth,
    /// With a shared state store: this placer's role and the leader (not
    /// shown with the file store, where the one placer always leads).
    #[serde(flatten, skip_serializing_if = "Option::is_none")]
    pub election: Option<Election>,
}

/// The forecaster's history in [`Health`]: what it learnt from past
/// traffic read at start (the metrics store keeps about two weeks) and
/// from the ticks since, all of it kept with the engine state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ForecastHistory {
    /// Seconds of history learnt in all.
    pub learned_seconds: u64,
    /// Of which read from the traffic source at start.
    pub read_at_start_seconds: u64,
    /// Of which observed tick by tick.
    pub observed_seconds: u64,
    /// Where the history read at start came from.
    pub read_from: String,
}

/// The election part of [`Health`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Election {
    /// `leader` or `follower`.
    pub role: &'static str,
    /// The leader's name, when one is known (this placer's when it leads).
    pub leader: Option<String>,
    /// The leader's term (see [`Role::Leader`]), when this placer leads.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub term: Option<i64>,
}

impl From<Role> for Election {
    fn from(role: Role) -> Self {
        let name = role.name();
        match role {
            Role::Sole => Election {
                role: name,
                leader: None,
                term: None,
            },
            Role::Leader { term, identity } => Election {
                role: name,
                leader: Some(identity),
                term: Some(term),
            },
            Role::Follower { leader } => Election {
                role: name,
                leader,
                term: None,
            },
        }
    }
}

/// The platform part of [`Health`]: the regions the engine plans over.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlatformHealth {
    /// `platform` (read from the Machines API), `built_in` (the catalog:
    /// nothing read, e.g. a simulated deployment) or `fallback` (the
    /// catalog, because the platform could not be read).
    pub source: &'static str,
    /// When the platform was read, or the read failed.
    pub at: Option<Timestamp>,
    /// Why the platform could not be read (`fallback` only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// How many regions take a new machine of the app's now.
    pub deployable: usize,
    /// Regions the platform lists that take none now, and why
    /// (`deprecated`, `full`); edge regions are not listed.
    pub unavailable: BTreeMap<Region, Unavailable>,
}

impl PlatformHealth {
    /// What `platform` says of itself.
    pub fn of(platform: &PlatformRegions) -> Self {
        let (source, at, reason) = match platform.source() {
            RegionsSource::Platform { at } => ("platform", Some(*at), None),
            RegionsSource::Fallback { at, reason } => ("fallback", Some(*at), Some(reason.clone())),
            // BuiltIn, and whatever a later source is until it is named here.
            _ => ("built_in", None, None),
        };
        let unavailable = platform
            .regions()
            .filter_map(|region| {
                let why = platform.unavailable(&region.code)?;
                (why != Unavailable::NotCompute).then_some((region.code, why))
            })
            .collect();
        PlatformHealth {
            source,
            at,
            reason,
            deployable: platform.deployable().count(),
            unavailable,
        }
    }

    /// One line for the status page.
    pub fn line(&self) -> String {
        let from = match (self.source, &self.reason) {
            ("platform", _) => format!(
                "from the platform (read {})",
                self.at.map(|at| at.to_string()).unwrap_or_default()
            ),
            ("fallback", Some(reason)) => format!(
                "built-in catalog: the platform could not be read at {}: {reason}",
                self.at.map(|at| at.to_string()).unwrap_or_default()
            ),
            _ => "built-in catalog".to_owned(),
        };
        let mut line = format!("{from}; {} regions take machines", self.deployable);
        let deprecated = self
            .unavailable
            .values()
            .filter(|why| **why == Unavailable::Deprecated)
            .count();
        if deprecated > 0 {
            line.push_str(&format!(", {deprecated} deprecated"));
        }
        let full: Vec<String> = self
            .unavailable
            .iter()
            .filter(|(_, why)| **why == Unavailable::Full)
            .map(|(region, _)| region.to_string())
            .collect();
        if !full.is_empty() {
            line.push_str(&format!(", at capacity: {}", full.join(", ")));
        }
        line
    }
}

/// The config part of [`Health`].
#[derive(Debug, Clone, Serialize)]
pub struct ConfigHealth {
    /// The file.
    pub path: PathBuf,
    /// When the config in force was loaded.
    pub loaded_at: Timestamp,
    /// Why the file's current content was rejected (the previous config
    /// stays in force), if it was.
    pub error: Option<String>,
}

/// The latest tick in [`Health`].
#[derive(Debug, Clone, Serialize)]
pub struct LastTick {
    /// When it ran.
    pub at: Timestamp,
    /// How long it took.
    pub duration_ms: u64,
    /// Why it could not observe or plan, if it could not.
    pub error: Option<String>,
    /// Actions (deploys, removes and resizes) that failed.
    pub failed_actions: usize,
}

/// `GET /state`.
#[derive(Debug, Clone, Serialize)]
pub struct StateDocument {
    /// Whether real machines are left alone.
    pub dry_run: bool,
    /// What is deployed, as last observed.
    pub deployment: BTreeSet<Region>,
    /// When it was observed.
    pub deployment_as_of: Option<Timestamp>,
    /// Regions that may not be acted on yet.
    pub cooldowns: Vec<Cooldown>,
    /// Moves the backend refused lately, not tried again yet.
    pub backoffs: Vec<Backoff>,
    /// Deploys in doubt (their answer was lost) whose regions count as
    /// deployed until the listing shows them or their grace period ends.
    /// Left out when there are none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pending: Vec<Pending>,
    /// What the engine remembers of the traffic.
    pub history: HistorySummary,
}

/// A region in its cooldown.
#[derive(Debug, Clone, Serialize)]
pub struct Cooldown {
    /// The region.
    pub region: Region,
    /// The change that started the cooldown: `deploy`, `remove` or
    /// `resize`.
    pub last_action: placer_core::Change,
    /// When it was carried out.
    pub at: Timestamp,
    /// Seconds until the region may be acted on again.
    pub remaining_seconds: u64,
}

/// A region whose deploy (unavailable) or removal (refused) waits out its
/// backoff.
#[derive(Debug, Clone, Serialize)]
pub struct Backoff {
    /// The region.
    pub region: Region,
    /// The refused move, since when, until when, how often, and why.
    #[serde(flatten)]
    pub backoff: RegionBackoff,
    /// Seconds until the move is tried again.
    pub remaining_seconds: u64,
}

/// A region whose deploy is in doubt, counted as deployed for now.
#[derive(Debug, Clone, Serialize)]
pub struct Pending {
    /// The region.
    pub region: Region,
    /// When the deploy in doubt was attempted.
    pub since: Timestamp,
    /// When its grace period ends (one more deploy is allowed then, if the
    /// listing still lacks the region).
    pub until: Timestamp,
    /// Seconds until then.
    pub remaining_seconds: u64,
}

/// The engine's traffic memory, summed up.
#[derive(Debug, Clone, Serialize)]
pub struct HistorySummary {
    /// The latest successful observation.
    pub last_observation: Option<Timestamp>,
    /// Per region.
    pub regions: BTreeMap<Region, RegionSummary>,
}

/// One region's traffic memory.
#[derive(Debug, Clone, Serialize)]
pub struct RegionSummary {
    /// Points remembered.
    pub points: usize,
    /// The newest point.
    #[serde(serialize_with = "placer_core::report::rounded::serialize_option")]
    pub latest: Option<f64>,
    /// Short-term average.
    #[serde(serialize_with = "placer_core::report::rounded::serialize_option")]
    pub short: Option<f64>,
    /// Long-term average.
    #[serde(serialize_with = "placer_core::report::rounded::serialize_option")]
    pub long: Option<f64>,
    /// Consecutive observations at or above `traffic_threshold`.
    pub high_streak: u32,
    /// Consecutive observations at or below `deployment_threshold`.
    pub low_streak: u32,
}

/// `GET /traffic`: the latest per-region request counts.
#[derive(Debug, Clone, Serialize)]
pub struct TrafficDocument {
    /// When they were observed (none before the first successful tick).
    pub at: Option<Timestamp>,
    /// Where they came from.
    pub source: String,
    /// Requests per region.
    pub traffic: BTreeMap<Region, f64>,
}

impl View {
    /// The `/health` document.
    pub fn health(&self) -> Health {
        let last_tick = self.last_report.as_ref().map(|report| LastTick {
            at: report.at,
            duration_ms: self.last_tick_duration.as_millis() as u64,
            error: report.error.as_ref().map(ToString::to_string),
            failed_actions: report.failed_actions(),
        });
        let degraded = self.config_error.is_some()
            || self.persist_error.is_some()
            || last_tick
                .as_ref()
                .is_some_and(|tick| tick.error.is_some() || tick.failed_actions > 0);
        Health {
            status: if degraded { "degraded" } else { "ok" },
            version: env!("CARGO_PKG_VERSION"),
            dry_run: self.config.dry_run,
            config: ConfigHealth {
                path: self.config_path.clone(),
                loaded_at: self.config_loaded_at,
                error: self.config_error.clone(),
            },
            traffic: self.traffic_description.clone(),
            deployment: self.deployment_description.clone(),
            interval_seconds: self.interval.as_secs_f64(),
            ticks: self.ticks,
            last_tick,
            persist_error: self.persist_error.clone(),
            pending: self
                .last_report
                .as_ref()
                .map(|report| report.pending.clone())
                .unwrap_or_default(),
            forecast: self.state.forecast().status().to_string(),
            forecast_history: self.forecast_history(),
            platform: PlatformHealth::of(&self.platform),
            election: None,
        }
    }

    fn forecast_history(&self) -> Option<ForecastHistory> {
        use placer_core::forecast::ForecastStatus;
        let forecast = self.state.forecast();
        let learned_seconds = match forecast.status() {
            ForecastStatus::Learning { learned_secs, .. }
            | ForecastStatus::Forecasting { learned_secs } => learned_secs,
            _ => return None,
        };
        let sources = forecast.history_sources();
        Some(ForecastHistory {
            learned_seconds,
            read_at_start_seconds: sources.backfilled_secs,
            observed_seconds: sources.observed_secs,
            read_from: self.traffic_description.clone(),
        })
    }

    /// The `/state` document, with cooldowns counted down to `now`.
    pub fn state(&self, now: Timestamp) -> StateDocument {
        let cooldowns = self
            .state
            .regions()
            .filter_map(|(region, state)| {
                let last = state.last_action?;
                let left = self.state.cooldown_remaining(region, &self.config, now)?;
                Some(Cooldown {
                    region: *region,
                    last_action: last.action,
                    at: last.at,
                    remaining_seconds: left.as_secs_f64().ceil() as u64,
                })
            })
            .collect();
        let backoffs = self
            .state
            .backoffs()
            .filter(|(_, backoff)| backoff.holds(now))
            .map(|(region, backoff)| Backoff {
                region: *region,
                backoff: backoff.clone(),
                remaining_seconds: backoff.until.duration_since(now).as_secs_f64().ceil() as u64,
            })
            .collect();
        let grace = self.config.pending_grace;
        let pending = self
            .state
            .pending_deploys()
            .filter(|(region, deploy)| {
                deploy.holds(now, grace) && !self.deployment.contains(*region)
            })
            .map(|(region, deploy)| Pending {
                region: *region,
                since: deploy.since,
                until: deploy.until(grace),
                remaining_seconds: deploy.until(grace).duration_since(now).as_secs_f64().ceil()
                    as u64,
            })
            .collect();
        let regions = self
            .state
            .regions()
            .map(|(region, state)| {
                let averages = Averages::of(&state.history, &self.config);
                let summary = RegionSummary {
                    points: state.history.len(),
                    latest: state.history.latest(),
                    short: averages.map(|a| a.short),
                    long: averages.map(|a| a.long),
                    high_streak: state.high_streak,
                    low_streak: state.low_streak,
                };
                (*region, summary)
            })
            .collect();
        StateDocument {
            dry_run: self.config.dry_run,
            deployment: self.deployment.clone(),
            deployment_as_of: self.deployment_as_of,
            cooldowns,
            backoffs,
            pending,
            history: HistorySummary {
                last_observation: self.state.last_observation(),
                regions,
            },
        }
    }

    /// The `/traffic` document: the counts of the latest successful tick
    /// (kept through failed ones).
    pub fn traffic(&self) -> TrafficDocument {
        TrafficDocument {
            at: self.latest_traffic().map(|(at, _)| at),
            source: self.traffic_description.clone(),
            traffic: self
                .latest_traffic()
                .map(|(_, traffic)| traffic.collect())
                .unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use placer_core::network::platform::PlatformRegion;

    fn region(code: &str) -> Region {
        code.parse().unwrap()
    }

    #[test]
    fn platform_health_says_where_the_regions_came_from() {
        let built_in = PlatformHealth::of(PlatformRegions::built_in());
        assert_eq!(built_in.source, "built_in");
        assert_eq!(built_in.deployable, 18);
        assert!(
            built_in.unavailable.is_empty(),
            "edge regions are not listed"
        );
        assert_eq!(
            built_in.line(),
            "built-in catalog; 18 regions take machines"
        );

        let at = Timestamp::from_unix_seconds(1_800_000_000);
        let read = PlatformHealth::of(&PlatformRegions::from_platform(
            [
                PlatformRegion::new(region("fra"), 50.0, 8.6),
                PlatformRegion::new(region("syd"), -33.9, 151.2).with_capacity(0),
                PlatformRegion::new(region("mad"), 40.4, -3.6).with_deprecated(true),
            ],
            at,
        ));
        assert_eq!(
            (read.source, read.at, read.deployable),
            ("platform", Some(at), 1)
        );
        let json = serde_json::to_value(&read).unwrap();
        assert_eq!(
            json["unavailable"],
            serde_json::json!({"mad": "deprecated", "syd": "full"})
        );
        assert!(json.get("reason").is_none(), "{json}");
        let line = read.line();
        assert!(line.starts_with("from the platform (read 2027-"), "{line}");
        assert!(
            line.ends_with("; 1 regions take machines, 1 deprecated, at capacity: syd"),
            "{line}"
        );

        let fallback = PlatformHealth::of(&PlatformRegions::fallback(at, "HTTP 403 (forbidden)"));
        assert_eq!(fallback.source, "fallback");
        assert_eq!(fallback.reason.as_deref(), Some("HTTP 403 (forbidden)"));
        assert!(
            fallback.line().contains("could not be read at"),
            "{}",
            fallback.line()
        );
        assert!(fallback.line().contains("HTTP 403 (forbidden)"));
    }
}
