//! The fleet page's document, `GET /api/fleet` ([`FleetDocument`]): one
//! compact row per app — what is deployed, the last change, errors, the
//! forecast, the estimated round trip, the mode and the role — and nothing
//! per region beyond the deployed codes, so a thousand apps stay a few
//! hundred KiB. `fly-placer status` prints it as a table.

use placer_core::forecast::ForecastStatus;
use placer_core::network::{nearest_deployed, LatencyModel};
use placer_core::{Region, Timestamp};
use serde::{Deserialize, Serialize};

use crate::runtime::View;
use crate::service::Service;

/// `GET /api/fleet`: every app in one row each, by name.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FleetDocument {
    /// fly-placer's version.
    pub version: String,
    /// When the document was made.
    pub now: Timestamp,
    /// Seconds between periodic ticks (0: none).
    pub interval_seconds: f64,
    /// When the periodic loop ticks next (none without a loop).
    pub next_tick_at: Option<Timestamp>,
    /// `leader` or `follower`: whether this placer acts on the apps.
    pub role: String,
    /// The leader's name, when a shared state store elects one and it is
    /// known.
    pub leader: Option<String>,
    /// One row per app, by name; apps that could not start included.
    pub apps: Vec<FleetRow>,
}

/// One app in [`FleetDocument`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FleetRow {
    /// The app.
    pub app: String,
    /// `ok`, `degraded` (as in `/health`: the config was rejected, the
    /// last tick or one of its actions failed, or the state was not saved)
    /// or `failed` (the app could not be started).
    pub status: String,
    /// What is wrong, in one line, when the status is not `ok`.
    pub error: Option<String>,
    /// Whether real machines are left alone.
    pub dry_run: bool,
    /// The deployed regions, as last observed.
    pub regions: Vec<Region>,
    /// The newest deploy, remove or resize carried out.
    pub last_change: Option<Change>,
    /// When the latest tick ran.
    pub last_tick_at: Option<Timestamp>,
    /// Ticks run since start.
    pub ticks: u64,
    /// `forecasting`, `learning`, `unused` (the policy plans on observed
    /// traffic) or `off` (`forecast.method: none`); `-` for an app that
    /// could not start.
    pub forecast: String,
    /// The round trip the latest requests see on average, weighted by each
    /// region's requests, to the nearest deployed region (the distance
    /// model), in milliseconds; none without traffic or a deployment.
    pub mean_rtt_ms: Option<f64>,
}

/// A deploy, remove or resize in [`FleetRow`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Change {
    /// `deploy`, `remove` or `resize`.
    pub action: placer_core::Change,
    /// The region.
    pub region: Region,
    /// When.
    pub at: Timestamp,
}

impl FleetRow {
    /// Whether the app needs a look: degraded or not started.
    pub fn is_failing(&self) -> bool {
        self.status != "ok"
    }
}

/// The fleet document of `service`, as of now.
pub fn document(service: &Service) -> FleetDocument {
    let model = LatencyModel::distance();
    let mut apps: Vec<FleetRow> = service
        .runners()
        .into_iter()
        .map(|(name, runner)| row(name, &runner.view(), &model))
        .collect();
    for (name, why) in service.failed_apps() {
        if apps.iter().any(|row| row.app == name) {
            continue;
        }
        apps.push(FleetRow {
            app: name,
            status: "failed".to_owned(),
            error: Some(why),
            dry_run: service.dry_run(),
            regions: Vec::new(),
            last_change: None,
            last_tick_at: None,
            ticks: 0,
            forecast: "-".to_owned(),
            mean_rtt_ms: None,
        });
    }
    apps.sort_by(|a, b| a.app.cmp(&b.app));
    let role = service.leadership().role();
    let leader = match &role {
        crate::store::Role::Leader { identity, .. } => Some(identity.clone()),
        crate::store::Role::Follower { leader } => leader.clone(),
        _ => None,
    };
    FleetDocument {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        now: crate::runtime::now(),
        interval_seconds: service.interval().as_secs_f64(),
        next_tick_at: service.next_tick_at(),
        role: role.name().to_owned(),
        leader,
        apps,
    }
}

/// The row of app `name`.
fn row(name: String, view: &View, model: &LatencyModel) -> FleetRow {
    let health = view.health();
    let error = view
        .config_error
        .as_ref()
        .map(|why| format!("config rejected: {why}"))
        .or_else(|| health.last_tick.as_ref()?.error.clone())
        .or_else(|| {
            let failed = health.last_tick.as_ref()?.failed_actions;
            (failed > 0).then(|| {
                format!(
                    "{failed} action{} failed",
                    if failed == 1 { "" } else { "s" }
                )
            })
        })
        .or_else(|| {
            view.persist_error
                .as_ref()
                .map(|why| format!("state not saved: {why}"))
        });
    let last_change = view
        .state
        .regions()
        .filter_map(|(region, state)| {
            let last = state.last_action?;
            Some(Change {
                action: last.action,
                region: *region,
                at: last.at,
            })
        })
        .max_by(|a, b| a.at.cmp(&b.at).then(b.region.cmp(&a.region)));
    FleetRow {
        app: name,
        status: health.status.to_owned(),
        error,
        dry_run: view.config.dry_run,
        regions: view.deployment.iter().copied().collect(),
        last_change,
        last_tick_at: health.last_tick.as_ref().map(|tick| tick.at),
        ticks: health.ticks,
        forecast: forecast_word(&view.state.forecast().status()).to_owned(),
        mean_rtt_ms: mean_rtt_ms(view, model),
    }
}

/// The forecast's state in one word.
fn forecast_word(status: &ForecastStatus) -> &'static str {
    match status {
        ForecastStatus::Forecasting { .. } => "forecasting",
        ForecastStatus::Learning { .. } => "learning",
        ForecastStatus::Unused => "unused",
        _ => "off",
    }
}

/// The requests-weighted mean round trip to the nearest deployed region.
fn mean_rtt_ms(view: &View, model: &LatencyModel) -> Option<f64> {
    let (_, traffic) = view.latest_traffic()?;
    let (mut weighted, mut requests) = (0.0, 0.0);
    for (region, count) in traffic {
        if count <= 0.0 {
            continue;
        }
        let (_, rtt) = nearest_deployed(&region, &view.deployment, model)?;
        weighted += rtt * count;
        requests += count;
    }
    (requests > 0.0).then(|| (weighted / requests * 10.0).round() / 10.0)
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet, VecDeque};
    use std::sync::Arc;
    use std::time::Duration;

    use placer_core::network::platform::PlatformRegions;
    use placer_core::{RegionDetail, TickReport};

    use super::*;

    fn region(code: &str) -> Region {
        code.parse().unwrap()
    }

    /// A successful tick's report with these requests per region.
    fn report(at: Timestamp, traffic: &[(&str, f64)]) -> TickReport {
        let mut report: TickReport = serde_json::from_value(serde_json::json!({
            "deployed": [], "removed": [], "skipped": [],
            "current_deployment": [], "updated_deployment": [],
            "at": at, "dry_run": true, "policy": "threshold",
            "regions": {}, "actions": [], "error": null,
        }))
        .unwrap();
        report.regions = traffic
            .iter()
            .map(|(code, requests)| (region(code), RegionDetail::new(*requests, false)))
            .collect::<BTreeMap<_, _>>();
        report
    }

    fn view(deployed: &[&str], traffic: &[(&str, f64)]) -> View {
        let at = Timestamp::from_unix_seconds(1_800_000_000);
        View {
            config: Default::default(),
            config_path: "config.yml".into(),
            config_loaded_at: at,
            config_error: None,
            traffic_description: "simulated".into(),
            deployment_description: "simulated".into(),
            interval: Duration::from_secs(60),
            deployment: deployed
                .iter()
                .map(|code| region(code))
                .collect::<BTreeSet<_>>(),
            deployment_as_of: Some(at),
            state: Arc::default(),
            last_report: None,
            recent_ticks: VecDeque::new(),
            latest_ok_report: Some(Arc::new(report(at, traffic))),
            last_tick_duration: Duration::ZERO,
            ticks: 0,
            persist_error: None,
            platform: Arc::new(PlatformRegions::built_in().clone()),
        }
    }

    #[test]
    fn the_mean_rtt_weighs_each_region_by_its_requests() {
        let model = LatencyModel::distance();
        let served = view(&["fra"], &[("fra", 100.0), ("iad", 300.0), ("sin", 0.0)]);
        let expected = (model.rtt_ms(&region("fra"), &region("fra")) * 100.0
            + model.rtt_ms(&region("iad"), &region("fra")) * 300.0)
            / 400.0;
        let mean = mean_rtt_ms(&served, &model).unwrap();
        assert!((mean - expected).abs() <= 0.05, "{mean} vs {expected}");
        assert_eq!(mean_rtt_ms(&view(&[], &[("iad", 5.0)]), &model), None);
        assert_eq!(mean_rtt_ms(&view(&["fra"], &[]), &model), None);
    }

    #[test]
    fn a_row_names_the_first_thing_wrong() {
        let model = LatencyModel::distance();
        let healthy = row("shop".into(), &view(&["fra"], &[("fra", 1.0)]), &model);
        assert_eq!((healthy.status.as_str(), healthy.error), ("ok", None));
        assert_eq!(healthy.regions, [region("fra")]);
        assert_eq!(healthy.last_change, None);
        let mut broken = view(&["fra"], &[]);
        broken.persist_error = Some("disk full".into());
        let unsaved = row("shop".into(), &broken, &model);
        assert_eq!(unsaved.status, "degraded");
        assert_eq!(unsaved.error.as_deref(), Some("state not saved: disk full"));
        assert!(unsaved.is_failing());
        broken.config_error = Some("bad key".into());
        let rejected = row("shop".into(), &broken, &model);
        assert_eq!(rejected.error.as_deref(), Some("config rejected: bad key"));
    }

    #[test]
    fn a_forecast_status_reads_as_one_word() {
        assert_eq!(forecast_word(&ForecastStatus::Off), "off");
        assert_eq!(forecast_word(&ForecastStatus::Unused), "unused");
        assert_eq!(
            forecast_word(&ForecastStatus::Learning {
                learned_secs: 1,
                needed_secs: 2
            }),
            "learning"
        );
        assert_eq!(
            forecast_word(&ForecastStatus::Forecasting { learned_secs: 1 }),
            "forecasting"
        );
    }
}
