//! The status page: `GET /` (one HTML document, its styles, script and map
//! embedded, so it works offline) and the document it refreshes itself
//! from, `GET /api/status` ([`PageDocument`]). With several apps `GET /`
//! is the fleet page ([`fleet_html`]), which draws its table from
//! `GET /api/fleet` ([`overview`](crate::service::overview)).
//!
//! The land outlines are Natural Earth's 1:110m land polygons (public
//! domain), simplified by `assets/land.py` into `assets/land.path`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::LazyLock;

use placer_core::policy::{self, PolicyName};
use placer_core::{
    network::geo, network::nearest_deployed, network::LatencyModel, Action, Outcome, Region,
    TickReport, Timestamp,
};
use serde::Serialize;

use crate::runtime::{RecentTick, View};
use crate::service::worldmap::{self, Mark, PlacedLabel};
use crate::service::Service;

const HTML: &str = include_str!("../../assets/status.html");
const CSS: &str = include_str!("../../assets/status.css");
const SCRIPT: &str = include_str!("../../assets/status.js");
const LAND: &str = include_str!("../../assets/land.path");
const FLEET_HTML: &str = include_str!("../../assets/fleet.html");
const FLEET_CSS: &str = include_str!("../../assets/fleet.css");
const FLEET_SCRIPT: &str = include_str!("../../assets/fleet.js");

/// The status page's HTML, every asset inlined.
pub fn html() -> &'static str {
    static PAGE: LazyLock<String> = LazyLock::new(|| {
        HTML.replace("/*STYLE*/", &format!("{CSS}{}", worldmap::TIER_CSS))
            .replace("LAND_PATH", LAND.trim())
            .replace("/*SCRIPT*/", SCRIPT)
            .replace("VERSION", env!("CARGO_PKG_VERSION"))
    });
    &PAGE
}

/// The fleet page's HTML (a table of every app), every asset inlined.
pub fn fleet_html() -> &'static str {
    static PAGE: LazyLock<String> = LazyLock::new(|| {
        FLEET_HTML
            .replace("/*STYLE*/", &format!("{CSS}{FLEET_CSS}"))
            .replace("/*SCRIPT*/", FLEET_SCRIPT)
            .replace("VERSION", env!("CARGO_PKG_VERSION"))
    });
    &PAGE
}

/// `GET /api/status`: what the status page shows of one app.
#[derive(Debug, Clone, Serialize)]
pub struct PageDocument {
    /// The app shown.
    pub app: String,
    /// Every app the service places (the page's picker when there are
    /// several).
    pub apps: Vec<String>,
    /// fly-placer's version.
    pub version: &'static str,
    /// When the document was made.
    pub now: Timestamp,
    /// `ok` or `degraded`, as in `/health`.
    pub status: &'static str,
    /// Whether real machines are left alone.
    pub dry_run: bool,
    /// The policy in force.
    pub policy: PolicyName,
    /// The config file and its state.
    pub config: PageConfig,
    /// Where traffic comes from.
    pub traffic_source: String,
    /// What lists and changes the deployment.
    pub deployment_backend: String,
    /// Where the regions the engine plans over came from and how many take
    /// machines, in one line.
    pub platform_regions: String,
    /// Seconds between periodic ticks (0: none).
    pub interval_seconds: f64,
    /// When the periodic loop ticks next (none without a loop).
    pub next_tick_at: Option<Timestamp>,
    /// Ticks run since start.
    pub ticks: u64,
    /// The machine budget, when the policy keeps to one.
    pub budget: Option<PageBudget>,
    /// What is deployed, as last observed.
    pub deployment: BTreeSet<Region>,
    /// The regions with traffic, deployed or remembered, in the catalog,
    /// by code.
    pub regions: Vec<PageRegion>,
    /// The latest ticks, newest first.
    pub recent_ticks: Vec<PageTick>,
    /// The map's geometry: dots, serving lines and label layouts.
    pub map: PageMap,
}

/// The map of [`PageDocument`], in map units (see
/// [`worldmap`](crate::service::worldmap)): what the page draws, laid out
/// here so that the status page and `recommend --html` draw alike.
#[derive(Debug, Clone, Serialize)]
pub struct PageMap {
    /// One dot per region of [`PageDocument::regions`], in its order.
    pub dots: Vec<MapDot>,
    /// A serving line from each busy region not deployed to the region
    /// serving it.
    pub links: Vec<MapLink>,
    /// The labels, laid out once per map width band (`tier`).
    pub labels: Vec<PlacedLabel>,
}

/// A region's dot on the map.
#[derive(Debug, Clone, Serialize)]
pub struct MapDot {
    /// The region.
    pub code: Region,
    /// The centre.
    pub x: f64,
    /// The centre.
    pub y: f64,
    /// The radius: its area grows with the latest requests.
    pub r: f64,
}

/// A serving line on the map.
#[derive(Debug, Clone, Serialize)]
pub struct MapLink {
    /// The region whose users are served.
    pub from: Region,
    /// The deployed region serving them.
    pub to: Region,
    /// The great circle between them, as an SVG path (two pieces when it
    /// crosses the antimeridian).
    pub path: String,
}

/// The config part of [`PageDocument`].
#[derive(Debug, Clone, Serialize)]
pub struct PageConfig {
    /// The file.
    pub path: PathBuf,
    /// When the config in force was loaded.
    pub loaded_at: Timestamp,
    /// Why the file's current content was rejected, if it was.
    pub error: Option<String>,
}

/// The policy's machine budget and what is spent of it.
#[derive(Debug, Clone, Serialize)]
pub struct PageBudget {
    /// Machine-hours allowed per period.
    pub machine_hours: f64,
    /// Machine-hours spent in the current period.
    pub spent_machine_hours: f64,
}

/// One region on the page.
#[derive(Debug, Clone, Serialize)]
pub struct PageRegion {
    /// The region.
    pub code: Region,
    /// Its city.
    pub city: &'static str,
    /// Degrees north.
    pub latitude: f64,
    /// Degrees east.
    pub longitude: f64,
    /// Requests in the latest observation (0 when none).
    #[serde(serialize_with = "placer_core::report::rounded::serialize")]
    pub requests: f64,
    /// The traffic remembered, oldest first.
    pub history: Vec<f64>,
    /// Short-term average, from the latest tick.
    #[serde(serialize_with = "placer_core::report::rounded::serialize_option")]
    pub short: Option<f64>,
    /// Long-term average, from the latest tick.
    #[serde(serialize_with = "placer_core::report::rounded::serialize_option")]
    pub long: Option<f64>,
    /// Deploy threshold (threshold policy), from the latest tick.
    #[serde(serialize_with = "placer_core::report::rounded::serialize_option")]
    pub deploy_threshold: Option<f64>,
    /// Remove threshold (threshold policy), from the latest tick.
    #[serde(serialize_with = "placer_core::report::rounded::serialize_option")]
    pub remove_threshold: Option<f64>,
    /// Whether it is deployed, as last observed.
    pub deployed: bool,
    /// The move the latest tick planned in dry run and did not carry out
    /// (`deploy`/`remove`), if any.
    pub planned: Option<Action>,
    /// The latest tick's words on the region.
    pub reason: Option<String>,
    /// Seconds left in its cooldown.
    pub cooldown_seconds: Option<u64>,
    /// Seconds until a refused move is tried again.
    pub backoff_seconds: Option<u64>,
    /// Not deployed: the deployed region serving its users, with the RTT.
    pub served_from: Option<ServedFrom>,
    /// Its machines at the latest tick, with a `machines:` section only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub machines: Option<PageMachines>,
}

/// A region's machines on the status page: as listed at the latest tick,
/// and the count the sizing step set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PageMachines {
    /// Machines started (standbys the proxy started included).
    pub running: u32,
    /// Machines of ours kept stopped.
    pub standby: u32,
    /// The running machines wanted.
    pub target: u32,
    /// Why that many, from the latest tick.
    pub reason: String,
}

/// Where an undeployed region's users are served from.
#[derive(Debug, Clone, Serialize)]
pub struct ServedFrom {
    /// The nearest deployed region.
    pub region: Region,
    /// Estimated round trip from the region to it, in milliseconds.
    #[serde(serialize_with = "placer_core::report::rounded::serialize")]
    pub rtt_ms: f64,
    /// Milliseconds a machine in the region itself would save its users.
    #[serde(serialize_with = "placer_core::report::rounded::serialize")]
    pub gain_ms: f64,
}

/// One tick in [`PageDocument::recent_ticks`].
#[derive(Debug, Clone, Serialize)]
pub struct PageTick {
    /// When it ran.
    pub at: Timestamp,
    /// Whether it was a dry run.
    pub dry_run: bool,
    /// Why it could not observe or plan, if it could not.
    pub error: Option<String>,
    /// Its deploys and removes, then its resizes.
    pub actions: Vec<PageAction>,
    /// How many regions it left alone.
    pub skipped: usize,
}

/// One deploy, remove or resize in a [`PageTick`].
#[derive(Debug, Clone, Serialize)]
pub struct PageAction {
    /// The region.
    pub region: Region,
    /// `deploy`, `remove` or `resize`.
    pub action: placer_core::Change,
    /// A resize's counts (`from 3 to 5 machines`); `null` otherwise.
    pub machines: Option<String>,
    /// Why, in words.
    pub reason: String,
    /// `ok`, `dry run`, `failed: …` or `skipped: …`.
    pub outcome: String,
    /// Whether the actuator failed.
    pub failed: bool,
}

/// The page document of `app` (the first app when `None`), or `None` when
/// there is no such app.
pub fn document(service: &Service, app: Option<&str>) -> Option<PageDocument> {
    let runners = service.runners();
    let (name, runner) = match app {
        Some(name) => runners.iter().find(|(key, _)| key == name)?,
        None => runners.first()?,
    };
    let apps = runners.iter().map(|(key, _)| key.clone()).collect();
    let view = runner.view();
    let mut document = build(&view, name.clone(), apps, crate::runtime::now());
    document.next_tick_at = service.next_tick_at();
    Some(document)
}

fn build(view: &View, app: String, apps: Vec<String>, now: Timestamp) -> PageDocument {
    let health = view.health();
    let state = view.state(now);
    let report = view.last_report.as_deref();
    let cooldowns: BTreeMap<Region, u64> = state
        .cooldowns
        .iter()
        .map(|c| (c.region, c.remaining_seconds))
        .collect();
    let backoffs: BTreeMap<Region, u64> = state
        .backoffs
        .iter()
        .map(|b| (b.region, b.remaining_seconds))
        .collect();
    let traffic: BTreeMap<Region, f64> = view
        .latest_traffic()
        .map(|(_, traffic)| traffic.collect())
        .unwrap_or_default();

    let mut codes: BTreeSet<Region> = view.deployment.clone();
    codes.extend(traffic.keys().copied());
    codes.extend(view.state.regions().map(|(region, _)| *region));
    let model = LatencyModel::distance();
    let regions: Vec<PageRegion> = codes
        .into_iter()
        .filter_map(|code| {
            let info = geo::region_info(&code)?;
            let detail = report.and_then(|r| r.regions.get(&code));
            let deployed = view.deployment.contains(&code);
            let served_from = (!deployed)
                .then(|| nearest_deployed(&code, &view.deployment, &model))
                .flatten()
                .map(|(region, rtt_ms)| ServedFrom {
                    region,
                    rtt_ms,
                    gain_ms: (rtt_ms - model.rtt_ms(&code, &code)).max(0.0),
                });
            Some(PageRegion {
                code,
                city: info.city,
                latitude: info.latitude,
                longitude: info.longitude,
                requests: traffic.get(&code).copied().unwrap_or(0.0),
                history: view
                    .state
                    .region(&code)
                    .map(|s| s.history.iter().collect())
                    .unwrap_or_default(),
                short: detail.filter(|d| d.points > 0).map(|d| d.short),
                long: detail.filter(|d| d.points > 0).map(|d| d.long),
                deploy_threshold: detail.map(|d| d.deploy_threshold),
                remove_threshold: detail.map(|d| d.remove_threshold),
                deployed,
                planned: report.and_then(|r| planned(r, &code)),
                reason: report.and_then(|r| reason(r, &code)),
                cooldown_seconds: cooldowns.get(&code).copied(),
                backoff_seconds: backoffs.get(&code).copied(),
                served_from,
                machines: detail
                    .and_then(|d| d.machines.as_ref())
                    .map(|m| PageMachines {
                        running: m.running,
                        standby: m.standby,
                        target: m.target,
                        reason: m.reason.clone(),
                    }),
            })
        })
        .collect();

    let budget = policy::summary_of(&view.config, &view.state)
        .budget
        .map(|budget| PageBudget {
            machine_hours: budget.machine_hours,
            spent_machine_hours: budget.spent_machine_hours,
        });

    PageDocument {
        app,
        apps,
        version: health.version,
        now,
        status: health.status,
        dry_run: view.config.dry_run,
        policy: view.config.policy.clone(),
        config: PageConfig {
            path: health.config.path,
            loaded_at: health.config.loaded_at,
            error: health.config.error,
        },
        traffic_source: health.traffic,
        deployment_backend: health.deployment,
        platform_regions: health.platform.line(),
        interval_seconds: health.interval_seconds,
        next_tick_at: None,
        ticks: health.ticks,
        budget,
        deployment: view.deployment.clone(),
        recent_ticks: view.recent_ticks.iter().map(tick).collect(),
        map: map(&regions),
        regions,
    }
}

/// The map of `regions`: dot areas by requests, labels for every region,
/// the deployed ones first, then the busiest.
fn map(regions: &[PageRegion]) -> PageMap {
    let max = regions.iter().map(|r| r.requests).fold(1.0, f64::max);
    let dots: Vec<MapDot> = regions
        .iter()
        .map(|r| {
            let (x, y) = worldmap::project(r.latitude, r.longitude);
            MapDot {
                code: r.code,
                x,
                y,
                r: 1.2 + 4.5 * (r.requests.max(0.0) / max).sqrt(),
            }
        })
        .collect();
    let links = regions
        .iter()
        .filter(|r| r.requests > 0.0)
        .filter_map(|r| {
            let to = regions
                .iter()
                .find(|other| Some(other.code) == r.served_from.as_ref().map(|s| s.region))?;
            Some(MapLink {
                from: r.code,
                to: to.code,
                path: worldmap::serving_path(
                    (r.latitude, r.longitude),
                    (to.latitude, to.longitude),
                ),
            })
        })
        .collect();
    let mut order: Vec<usize> = (0..regions.len()).collect();
    order.sort_by(|&a, &b| {
        let (a, b) = (&regions[a], &regions[b]);
        b.deployed
            .cmp(&a.deployed)
            .then(b.requests.total_cmp(&a.requests))
            .then(a.code.cmp(&b.code))
    });
    let marks: Vec<Mark> = order
        .iter()
        .map(|&index| Mark {
            // With counts, a region running machines is labelled with how
            // many (`iad ×3`).
            text: match &regions[index].machines {
                Some(machines) if machines.running > 0 => {
                    format!("{} ×{}", dots[index].code, machines.running)
                }
                _ => dots[index].code.to_string(),
            },
            x: dots[index].x,
            y: dots[index].y,
            r: dots[index].r,
            labelled: true,
        })
        .collect();
    let labels = worldmap::TIERS
        .into_iter()
        .flat_map(|tier| worldmap::place_labels(&marks, tier))
        .collect();
    PageMap {
        dots,
        links,
        labels,
    }
}

fn planned(report: &TickReport, code: &Region) -> Option<Action> {
    report
        .actions
        .iter()
        .find(|a| a.decision.region == *code && a.outcome == Outcome::DryRun)
        .map(|a| a.decision.action.into())
}

fn reason(report: &TickReport, code: &Region) -> Option<String> {
    let acted = report
        .actions
        .iter()
        .find(|a| a.decision.region == *code)
        .map(|a| a.decision.reason.to_string());
    acted.or_else(|| {
        report
            .skipped
            .iter()
            .find(|d| d.region == *code)
            .map(|d| d.reason.to_string())
    })
}

fn tick(report: &RecentTick) -> PageTick {
    let deploys_and_removes = report.actions.iter().map(|a| PageAction {
        region: a.decision.region,
        action: a.decision.action.into(),
        machines: None,
        reason: a.decision.reason.to_string(),
        outcome: outcome_words(&a.outcome),
        failed: matches!(a.outcome, Outcome::Failed(_)),
    });
    let resizes = report.resized.iter().map(|r| PageAction {
        region: r.region,
        action: placer_core::Change::Resize,
        machines: Some(r.counts()),
        reason: r.reason.clone(),
        outcome: outcome_words(&r.outcome),
        failed: matches!(r.outcome, Outcome::Failed(_)),
    });
    PageTick {
        at: report.at,
        dry_run: report.dry_run,
        error: report.error.as_ref().map(ToString::to_string),
        actions: deploys_and_removes.chain(resizes).collect(),
        skipped: report.skipped,
    }
}

/// `ok`, `dry run`, `failed: …` or `skipped: …`.
fn outcome_words(outcome: &Outcome) -> String {
    match outcome {
        Outcome::Ok => "ok".to_owned(),
        Outcome::DryRun => "dry run".to_owned(),
        Outcome::Failed(e) => format!("failed: {e}"),
        Outcome::Skipped(why) => format!("skipped: {why}"),
        other => format!("{other:?}"),
    }
}
