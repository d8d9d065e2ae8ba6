//! The CLI's own sections of the config file — `service:`, `prometheus:`,
//! `fly:`, `simulation:`, `state:` and `notify:` — read from the same
//! `config/config.yml` as the engine's keys. Each section deserializes into
//! the type its owner uses: `prometheus:` and `fly:` are the adapters' own
//! options ([`PrometheusOptions`], [`FlyOptions`]) and `state:` the state
//! store's ([`StateSection`]), embedded as they are; through
//! [`placer_core::config::ConfigExtension`] (YAML is only ever parsed
//! inside placer-core).

pub mod notify;
mod service;
mod simulation;

use placer_core::config::ConfigExtension;
use placer_fly::FlyOptions;
use placer_prom::PrometheusOptions;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use crate::store::StateSection;
pub use notify::NotifySection;
pub use service::ServiceSection;
pub use simulation::SimulationSection;

/// Everything the CLI reads from the config file besides the engine's keys.
/// Every section and key is optional.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FileSettings {
    /// The HTTP service and its tick loop.
    pub service: ServiceSection,
    /// Where real traffic comes from.
    pub prometheus: PrometheusOptions,
    /// The Fly app and how its machines are changed.
    pub fly: FlyOptions,
    /// The built-in traffic simulation used when no Prometheus is set.
    pub simulation: SimulationSection,
    /// Where engine state is kept, and the leader election with a shared
    /// store.
    pub state: StateSection,
    /// Webhooks told of each action carried out and each failed tick.
    pub notify: NotifySection,
}

impl ConfigExtension for FileSettings {
    const KEYS: &'static [&'static str] = &[
        "service",
        "prometheus",
        "fly",
        "simulation",
        crate::config::apps::APPS_SECTION,
        "state",
        "notify",
    ];
}

impl FileSettings {
    /// The sections as logs and `check-config` show them: tokens as
    /// `[redacted]` (they redact themselves), URLs without their
    /// credentials and webhooks as their scheme and host.
    pub fn shown(&self) -> Value {
        let mut value = serde_json::to_value(self).unwrap_or(Value::Null);
        for pointer in ["/prometheus/url", "/fly/api_url"] {
            if let Some(url) = value.pointer_mut(pointer) {
                strip_credentials(url);
            }
        }
        if let Some(Value::String(text)) = value.pointer_mut("/state/url") {
            *text = shown_state_url(text);
        }
        value
    }
}

/// The `fly:` section as logs and `check-config` show it (see
/// [`FileSettings::shown`]).
pub fn shown_fly(fly: &FlyOptions) -> Value {
    let mut value = serde_json::to_value(fly).unwrap_or(Value::Null);
    if let Some(url) = value.get_mut("api_url") {
        strip_credentials(url);
    }
    value
}

/// A `state.url` as logs and `check-config` show it: without its password
/// (a URL that does not parse is shown as `[invalid]`, since it may hold
/// one).
pub fn shown_state_url(text: &str) -> String {
    text.parse::<crate::store::StateUrl>()
        .map_or_else(|_| "[invalid]".to_owned(), |url| url.to_string())
}

fn strip_credentials(url: &mut Value) {
    if let Value::String(text) = url {
        *text = placer_prom::url_without_credentials(text);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use placer_core::config::{from_yaml_with, ConfigError};

    use super::*;

    fn parse(text: &str) -> Result<FileSettings, ConfigError> {
        from_yaml_with::<FileSettings>(text, "config.yml").map(|(_, settings)| settings)
    }

    #[test]
    fn every_section_is_optional() {
        assert_eq!(parse("dry_run: true\n").unwrap(), FileSettings::default());
        assert_eq!(parse("").unwrap(), FileSettings::default());
    }

    #[test]
    fn reads_the_sections_next_to_the_engine_keys() {
        let text = "traffic_threshold: 80\n\
                    service:\n  listen: 0.0.0.0:9000\n  interval: 5m\n  data_dir: /var/lib/placer\n\
                    prometheus:\n  url: http://127.0.0.1:8428\n  timeout: 3\n\
                    fly:\n  app: shop\n  removal: stop\n  rate_limit:\n    requests_per_second: 2\n\
                    simulation:\n  seed: 7\n  regions: [iad, fra]\n";
        let (engine, settings) = from_yaml_with::<FileSettings>(text, "config.yml").unwrap();
        assert_eq!(engine.traffic_threshold, 80.0);
        assert_eq!(settings.service.listen, "0.0.0.0:9000".parse().unwrap());
        assert_eq!(settings.service.interval, Duration::from_secs(300));
        assert_eq!(settings.prometheus.timeout, Duration::from_secs(3));
        assert_eq!(
            settings.fly.app.as_ref().map(|app| app.as_str()),
            Some("shop")
        );
        assert_eq!(settings.fly.removal, placer_fly::RemovalMode::Stop);
        assert_eq!(settings.fly.rate_limit.requests_per_second, Some(2.0));
        assert_eq!(settings.simulation.seed, Some(7));
        assert_eq!(settings.simulation.regions.len(), 2);
    }

    #[test]
    fn unknown_key_inside_a_section_names_it_and_its_line() {
        let err = parse("dry_run: true\nservice:\n  listen: 127.0.0.1:8000\n  intervall: 5\n")
            .unwrap_err();
        let message = err.to_string();
        assert!(message.contains("config.yml:"), "{message}");
        assert!(message.contains("intervall"), "{message}");
        assert!(message.contains("service"), "{message}");
        assert_eq!(err.line(), Some(4), "{message}");
    }

    #[test]
    fn unknown_section_is_caught_with_a_suggestion() {
        let err = parse("servce:\n  listen: 127.0.0.1:1\n").unwrap_err();
        assert!(err.to_string().contains("did you mean `service`"), "{err}");
    }

    #[test]
    fn wrong_value_type_names_the_key() {
        let err = parse("service:\n  listen: everywhere\n").unwrap_err();
        let message = err.to_string();
        assert!(message.contains("service.listen"), "{message}");
        assert_eq!(err.line(), Some(2), "{message}");
    }

    #[test]
    fn shown_settings_keep_url_credentials_and_tokens_out() {
        let settings = parse(
            "prometheus:\n  url: https://reader:hunter2@prom.example/api\n\
             fly:\n  api_url: https://fly:hunter3@api.example\n\
             service:\n  trigger_token: hunter4\n\
             state:\n  url: etcd://me:hunter5@127.0.0.1:2379/placer\n  password: hunter6\n",
        )
        .unwrap();
        let shown = settings.shown();
        assert_eq!(shown["state"]["url"], "etcd://127.0.0.1:2379/placer");
        assert_eq!(shown["prometheus"]["url"], "https://prom.example/api");
        assert_eq!(shown["fly"]["api_url"], "https://api.example");
        assert_eq!(shown_fly(&settings.fly)["api_url"], "https://api.example");
        let text = shown.to_string();
        assert!(!text.contains("hunter"), "{text}");
    }

    #[test]
    fn bad_simulated_region_is_rejected() {
        let err = parse("simulation:\n  regions: [iad, Frankfurt]\n").unwrap_err();
        assert!(err.to_string().contains("Frankfurt"), "{err}");
    }
}
