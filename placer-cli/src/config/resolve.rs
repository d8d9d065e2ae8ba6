//! Turning flags, environment and config file into the settings in force:
//! where traffic comes from, what changes machines, and what is missing.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::cli::GlobalArgs;
use crate::config::environment::{
    Environment, API_TOKEN_VAR, APP_NAME_VAR, PLACER_APP_VAR, PROMETHEUS_URL_VAR, STATE_URL_VAR,
};
use crate::config::file::LoadedConfig;

mod error;
mod plans;

use crate::store::{StateUrl, StoreSettings};
pub use error::SetupError;
use placer_core::secret::Secret;
use placer_core::AppName;
use placer_fly::FlyOptions;
use placer_prom::PrometheusOptions;
pub use plans::{DeploymentPlan, FlyPlan, PrometheusPlan, TrafficPlan};

/// The key of an app without a name (simulated traffic and deployment).
pub const UNNAMED_APP: &str = "default";
/// The engine state file in dry-run (kept apart from live, like the seed's
/// `traffic_history_dry_run.json`, so simulated cooldowns never hold back
/// real changes).
pub const DRY_RUN_ENGINE_STATE_FILE: &str = "engine_state_dry_run.json";
/// The engine state file in live mode.
pub const LIVE_ENGINE_STATE_FILE: &str = "engine_state.json";
/// The simulated deployment of a dry run (the seed's file name).
pub const DRY_RUN_DEPLOYMENT_FILE: &str = "deployment_state_dry_run.json";

/// Everything the service runs with, resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    /// Whether real machines are left alone.
    pub dry_run: bool,
    /// The app placed, when one is named.
    pub app: Option<AppName>,
    /// The data directory as configured: the one locked by a process. With
    /// several apps, each keeps its files in `apps/<app>/` inside it.
    pub data_root: PathBuf,
    /// Address of the HTTP API.
    pub listen: SocketAddr,
    /// Where the address came from, for errors: the flag, or the config
    /// file's `service.listen` with its line.
    pub listen_from: String,
    /// Directory of the app's state files.
    pub data_dir: PathBuf,
    /// Time between periodic ticks (zero: no loop).
    pub interval: Duration,
    /// Bearer token for `POST /trigger`, if any.
    pub trigger_token: Option<Secret>,
    /// Where traffic comes from.
    pub traffic: TrafficPlan,
    /// What lists and changes the deployment.
    pub deployment: DeploymentPlan,
    /// Where engine state is kept, and the election with a shared store.
    pub state: StoreSettings,
    /// Things worth a warning at start.
    pub notes: Vec<String>,
}

/// Resolves the settings in force from `args`, `env` and the `config` file.
/// `fallback_seed` seeds the simulation when the config sets no seed.
///
/// # Errors
/// [`SetupError`] naming what is missing or conflicting.
pub fn resolve(
    args: &GlobalArgs,
    env: &Environment,
    config: &LoadedConfig,
    fallback_seed: u64,
) -> Result<Resolved, SetupError> {
    let service = &config.settings.service;
    let dry_run = config.engine.dry_run;
    let (state_url, state_url_from) = state_url(env, config)?;
    let data_root = match (&state_url, &args.data_dir) {
        (Some(StateUrl::File(dir)), Some(flag)) if dir != flag => {
            return Err(SetupError::StateDirConflict {
                from: state_url_from,
                state_dir: dir.display().to_string(),
                data_dir: flag.display().to_string(),
            })
        }
        (Some(StateUrl::File(dir)), _) => dir.clone(),
        (_, Some(flag)) => flag.clone(),
        (_, None) => service.data_dir.clone(),
    };
    let state = store_settings(
        env,
        config,
        state_url.unwrap_or_else(|| StateUrl::File(data_root.clone())),
        state_url_from,
    );
    let mut notes = Vec::new();
    for (key, region) in config.engine.uncatalogued_regions() {
        notes.push(format!(
            "{}: `{key}` lists {region}, which is not a Fly region: no traffic is \
             reported for it and Fly cannot deploy it (a typo, or a retired region?)",
            config.path.display()
        ));
    }
    let platform = placer_core::network::platform::PlatformRegions::built_in();
    for (key, region, why) in config.engine.undeployable_regions(platform) {
        if !platform.knows(&region) {
            continue; // noted above
        }
        let home = platform
            .home(&region, |server| config.engine.may_deploy(server))
            .map_or(String::new(), |home| {
                format!("; its users are served from {}", home.region)
            });
        notes.push(format!(
            "{}: `{key}` lists {region}, which is {why}: Fly places no machines there, \
             so fly-placer never deploys it{home}",
            config.path.display()
        ));
    }

    // One of several apps: the name is the `apps:` section's (or the
    // simulation's), and its files have a directory of their own.
    let (app, data_dir) = match &config.app {
        Some(name) => (
            Some((parse_app(name, APPS_SECTION_FROM)?, APPS_SECTION_FROM)),
            data_root.join(APPS_DIR).join(name),
        ),
        None => (
            resolve_app(env, &config.settings.fly, dry_run, &mut notes)?,
            data_root.clone(),
        ),
    };

    let traffic = match prometheus_url(env, &config.settings.prometheus) {
        Some((url, url_from)) => {
            let (app, _) = app
                .clone()
                .ok_or_else(|| SetupError::PrometheusWithoutApp {
                    at: if url_from == PROMETHEUS_URL_VAR {
                        url_from.to_owned()
                    } else {
                        config.place(url_from)
                    },
                })?;
            TrafficPlan::Prometheus(Box::new(PrometheusPlan {
                url,
                url_from,
                app,
                token: env.prometheus_token.clone().or(env.api_token.clone()),
                section: config.settings.prometheus.clone(),
            }))
        }
        None => {
            let simulation = &config.settings.simulation;
            let seed = simulation.seed.unwrap_or(fallback_seed);
            TrafficPlan::Simulated {
                // Each simulated app draws its own traffic.
                seed: config
                    .app
                    .as_deref()
                    .map_or(seed, |name| seed.wrapping_add(name_hash(name))),
                seed_configured: simulation.seed.is_some(),
                regions: simulation.regions.clone(),
            }
        }
    };

    let fly_plan = match (&app, &env.api_token) {
        (Some((app, app_from)), Some(token)) => Some(FlyPlan {
            app: app.clone(),
            app_from,
            token: token.clone(),
            section: config.settings.fly.clone(),
        }),
        _ => None,
    };
    let deployment = match (dry_run, fly_plan) {
        (false, Some(plan)) => DeploymentPlan::Live(plan),
        (false, None) => {
            let mut missing = Vec::new();
            if app.is_none() {
                missing.push(format!(
                    "{PLACER_APP_VAR} (or `fly.app`; off Fly, {APP_NAME_VAR})"
                ));
            }
            if env.api_token.is_none() {
                missing.push(API_TOKEN_VAR.to_owned());
            }
            return Err(SetupError::LiveNeedsFly {
                at: config.place("dry_run"),
                missing,
            });
        }
        (true, Some(plan)) => DeploymentPlan::Observed(plan),
        (true, None) => DeploymentPlan::Simulated {
            state_file: data_dir.join(DRY_RUN_DEPLOYMENT_FILE),
            initial: config
                .settings
                .simulation
                .initial_deployment
                .clone()
                .unwrap_or_else(|| config.engine.always_running_regions.clone()),
        },
    };

    Ok(Resolved {
        dry_run,
        app: app.map(|(name, _)| name),
        data_root,
        listen: args.listen.unwrap_or(service.listen),
        listen_from: match args.listen {
            Some(_) => "--listen (PLACER_LISTEN)".to_owned(),
            None => config.place("service.listen"),
        },
        data_dir,
        interval: service.interval,
        trigger_token: env
            .trigger_token
            .clone()
            .or_else(|| service.trigger_token.clone()),
        traffic,
        deployment,
        state,
        notes,
    })
}

/// The state URL in force and where it came from, if one is set.
fn state_url(
    env: &Environment,
    config: &LoadedConfig,
) -> Result<(Option<StateUrl>, String), SetupError> {
    let (text, from) = match (&env.state_url, &config.settings.state.url) {
        (Some(url), _) => (url.expose().to_owned(), STATE_URL_VAR.to_owned()),
        (None, Some(url)) if !url.trim().is_empty() => (url.clone(), config.place("state.url")),
        _ => return Ok((None, "the data directory".to_owned())),
    };
    let url = text.parse().map_err(|source| SetupError::StateUrl {
        from: from.clone(),
        source,
    })?;
    Ok((Some(url), from))
}

fn store_settings(
    env: &Environment,
    config: &LoadedConfig,
    url: StateUrl,
    url_from: String,
) -> StoreSettings {
    let identity = env
        .machine_id
        .clone()
        .or(env.host_identity.clone())
        .unwrap_or_else(|| "fly-placer".to_owned());
    StoreSettings::from_section(
        &config.settings.state,
        url,
        url_from,
        env.state_password.clone(),
        identity,
    )
}

impl Resolved {
    /// The name the one app of old is kept under: the app its traffic or
    /// deployment names, or [`UNNAMED_APP`] when both are simulated.
    pub fn app_key(&self) -> String {
        let app = match (&self.deployment, &self.traffic) {
            (DeploymentPlan::Observed(plan) | DeploymentPlan::Live(plan), _) => Some(&plan.app),
            (_, TrafficPlan::Prometheus(plan)) => Some(&plan.app),
            _ => None,
        };
        app.map_or_else(|| UNNAMED_APP.to_owned(), ToString::to_string)
    }

    /// The engine state file for the current mode.
    pub fn engine_state_file(&self) -> PathBuf {
        self.data_dir.join(if self.dry_run {
            DRY_RUN_ENGINE_STATE_FILE
        } else {
            LIVE_ENGINE_STATE_FILE
        })
    }

    /// Checks what only matters to `serve`: off loopback, `POST /trigger`
    /// needs a token.
    ///
    /// # Errors
    /// [`SetupError::TriggerTokenRequired`].
    pub fn check_serve(&self) -> Result<(), SetupError> {
        if !self.listen.ip().is_loopback() && self.trigger_token.is_none() {
            return Err(SetupError::TriggerTokenRequired {
                listen: self.listen,
                from: self.listen_from.clone(),
            });
        }
        Ok(())
    }
}

/// Where an app's name comes from when it is one of several.
pub const APPS_SECTION_FROM: &str = "apps";

/// The directory, inside the data directory, of the apps' own directories.
pub const APPS_DIR: &str = "apps";

/// A stable number from an app's name (FNV-1a), to give each simulated app
/// its own seed.
fn name_hash(name: &str) -> u64 {
    name.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

pub(crate) fn prometheus_url(
    env: &Environment,
    section: &PrometheusOptions,
) -> Option<(String, &'static str)> {
    if let Some(url) = &env.prometheus_url {
        return Some((url.clone(), PROMETHEUS_URL_VAR));
    }
    section
        .url
        .as_ref()
        .map(|url| url.trim().to_owned())
        .filter(|url| !url.is_empty())
        .map(|url| (url, "prometheus.url"))
}

/// The app to place and where its name came from: `PLACER_APP`, then
/// `fly.app`, then `FLY_APP_NAME`.
fn resolve_app(
    env: &Environment,
    fly: &FlyOptions,
    dry_run: bool,
    notes: &mut Vec<String>,
) -> Result<Option<(AppName, &'static str)>, SetupError> {
    if let Some(app) = &env.placer_app {
        return Ok(Some((parse_app(app, PLACER_APP_VAR)?, PLACER_APP_VAR)));
    }
    if let Some(app) = &fly.app {
        return Ok(Some((app.clone(), "fly.app")));
    }
    let Some(app) = &env.fly_app_name else {
        return Ok(None);
    };
    if env.on_fly_machine {
        let problem = SetupError::OwnAppOnFly { app: app.clone() };
        if !dry_run {
            return Err(problem);
        }
        notes.push(format!(
            "{problem}; ignoring {APP_NAME_VAR} in this dry run"
        ));
        return Ok(None);
    }
    Ok(Some((parse_app(app, APP_NAME_VAR)?, APP_NAME_VAR)))
}

/// An app name as it enters from `from`, checked once: everything after
/// this holds an [`AppName`].
pub(crate) fn parse_app(name: &str, from: &'static str) -> Result<AppName, SetupError> {
    AppName::new(name).map_err(|source| SetupError::AppName { from, source })
}

#[cfg(test)]
mod tests;
