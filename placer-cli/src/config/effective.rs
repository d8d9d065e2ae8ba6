//! The effective settings `check-config` prints: what the config file,
//! the environment and the flags add up to, secrets shown only as set or
//! not, URLs without their credentials, webhooks as their scheme and host.

use serde_json::{json, Value};

use crate::config::file::LoadedConfig;
use crate::config::resolve::{DeploymentPlan, Resolved, TrafficPlan};
use crate::config::sections::NotifySection;
use crate::store::StateUrl;

/// The effective settings as a JSON document.
pub fn effective_settings(loaded: &LoadedConfig, resolved: &Resolved) -> Value {
    let secret = |set: bool| if set { "[redacted]" } else { "not set" };
    let traffic = match &resolved.traffic {
        TrafficPlan::Simulated {
            seed,
            seed_configured,
            regions,
        } => json!({
            "source": "simulation",
            "seed": if *seed_configured { json!(seed) } else { json!("drawn at start") },
            "regions": regions,
        }),
        TrafficPlan::Prometheus(plan) => json!({
            "source": "prometheus",
            "url": placer_prom::url_without_credentials(&plan.url),
            "url_from": plan.url_from,
            "app": plan.app,
            "token": secret(plan.token.is_some()),
            "query_template": plan.section.query_template,
            "region_label": plan.section.region_label,
            "timeout": humantime::format_duration(plan.section.timeout).to_string(),
            "max_query_bytes": plan.section.max_query_bytes,
        }),
    };
    let deployment = match &resolved.deployment {
        DeploymentPlan::Simulated {
            state_file,
            initial,
        } => json!({
            "actuator": "simulated (dry run without a Fly app and token)",
            "state_file": state_file,
            "initial": initial,
        }),
        DeploymentPlan::Observed(plan) | DeploymentPlan::Live(plan) => {
            let actuator = if matches!(resolved.deployment, DeploymentPlan::Live(_)) {
                "fly machines (live: machines are created and removed)"
            } else {
                "fly machines, observed only (dry run: nothing is changed)"
            };
            json!({
                "actuator": actuator,
                "app": plan.app,
                "app_from": plan.app_from,
                "token": secret(true),
                "fly": crate::config::sections::shown_fly(&plan.section),
            })
        }
    };
    let store = &resolved.state;
    let state = match &store.url {
        StateUrl::File(dir) => json!({
            "url": store.url.to_string(),
            "url_from": store.url_from,
            "store": "files",
            "dir": dir,
        }),
        StateUrl::Etcd(url) => json!({
            "url": store.url.to_string(),
            "url_from": store.url_from,
            "store": "etcd (shared; leader election)",
            "username": store.username.clone().or(url.username.clone()),
            "password": secret(store.password.is_some() || url.password.is_some()),
            "tls": store.tls || url.tls || store.ca_file.is_some(),
            "ca_file": store.ca_file,
            "cert_file": store.cert_file,
            "key_file": store.key_file,
            "lease_ttl": humantime::format_duration(store.lease_ttl).to_string(),
            "timeout": humantime::format_duration(store.timeout).to_string(),
            "identity": store.identity,
            "engine_state_key": format!(
                "{}/apps/{}/{}",
                url.prefix,
                resolved
                    .app
                    .as_ref()
                    .map_or(crate::config::resolve::UNNAMED_APP, placer_core::AppName::as_str),
                crate::store::StateItem::engine_state(resolved.dry_run).name()
            ),
        }),
    };
    json!({
        "file": loaded.path,
        "dry_run": resolved.dry_run,
        "engine": loaded.engine,
        "service": {
            "listen": resolved.listen,
            "interval": humantime::format_duration(resolved.interval).to_string(),
            "data_dir": resolved.data_dir,
            "engine_state_file": resolved.engine_state_file(),
            "trigger_token": secret(resolved.trigger_token.is_some()),
            "recent_ticks": loaded.settings.service.recent_ticks,
        },
        "traffic": traffic,
        "deployment": deployment,
        "state": state,
        "notify": shown_notify(&loaded.settings.notify),
        "notes": resolved.notes,
    })
}

/// The `notify:` section as `check-config` shows it: each webhook as its
/// scheme and host only (its path and query may hold a token), durations
/// as text. One for the whole process, whatever the app.
pub fn shown_notify(notify: &NotifySection) -> Value {
    json!({
        "webhooks": notify.webhooks,
        "dry_run": notify.dry_run,
        "timeout": humantime::format_duration(notify.timeout).to_string(),
        "max_attempts": notify.max_attempts,
        "backoff": humantime::format_duration(notify.backoff).to_string(),
        "queue": notify.queue,
    })
}
