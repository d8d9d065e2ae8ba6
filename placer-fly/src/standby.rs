//! Whether a template's services let Fly's proxy start and stop standbys.
//!
//! A standby is a machine fly-placer keeps stopped; only Fly's proxy starts
//! it, when every running machine of its region is over its `soft_limit`,
//! and only when a service of the machine has `autostart` on. With
//! `autostop` off, the proxy never stops it again, and it stays a running
//! machine until fly-placer scales the region down.

use serde_json::Value;

use crate::MachineConfig;

/// What keeps standbys from working with machines of `config` (the
/// template's: every machine fly-placer creates gets it), one sentence
/// each, for `standby_per_region` standbys per region. Empty when there is
/// none, or no standby is asked for.
///
/// ```
/// use placer_fly::{standby_warnings, MachineConfig};
///
/// let config: MachineConfig = serde_json::from_value(serde_json::json!({
///     "image": "registry.fly.io/my-app:1",
///     "services": [{"internal_port": 8080, "autostart": false, "autostop": "stop"}]
/// })).unwrap();
/// assert!(standby_warnings(&config, 0).is_empty());
/// let warnings = standby_warnings(&config, 1);
/// assert_eq!(warnings.len(), 1);
/// assert!(warnings[0].contains("autostart off"));
/// ```
pub fn standby_warnings(config: &MachineConfig, standby_per_region: u32) -> Vec<String> {
    if standby_per_region == 0 {
        return Vec::new();
    }
    let services: &[Value] = match config.other.get("services") {
        Some(Value::Array(services)) => services,
        _ => &[],
    };
    if services.is_empty() {
        return vec![
            "the template machine has no services: Fly's proxy sends it no requests, so it never \
             starts a standby (machines.standby_per_region > 0)"
                .to_owned(),
        ];
    }
    let mut warnings = Vec::new();
    let disabled = config.other.get("disable_machine_autostart") == Some(&Value::Bool(true));
    for service in services {
        let port = service
            .get("internal_port")
            .map_or_else(|| "?".to_owned(), Value::to_string);
        let autostart_off = service.get("autostart") == Some(&Value::Bool(false))
            || (disabled && service.get("autostart").is_none());
        if autostart_off {
            warnings.push(format!(
                "the template machine's service on internal port {port} has autostart off: Fly's \
                 proxy never starts a standby (machines.standby_per_region > 0); set \
                 auto_start_machines = true"
            ));
        }
        let autostop_off = match service.get("autostop") {
            None | Some(Value::Null) | Some(Value::Bool(false)) => true,
            Some(Value::String(mode)) => mode == "off",
            Some(_) => false,
        };
        if autostop_off {
            warnings.push(format!(
                "the template machine's service on internal port {port} has autostop off: a \
                 standby Fly's proxy started keeps running and counts as running until the \
                 region is scaled down; set auto_stop_machines = \"stop\""
            ));
        }
    }
    warnings
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(value: Value) -> MachineConfig {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn services_that_start_and_stop_machines_have_no_warning() {
        for autostop in [
            serde_json::json!(true),
            serde_json::json!("stop"),
            serde_json::json!("suspend"),
        ] {
            let config = config(serde_json::json!({"services": [
                {"internal_port": 8080, "autostart": true, "autostop": autostop}
            ]}));
            assert!(standby_warnings(&config, 2).is_empty(), "{autostop}");
        }
        // Autostart is on unless turned off.
        let config = config(serde_json::json!({"services": [
            {"internal_port": 8080, "autostop": "stop"}
        ]}));
        assert!(standby_warnings(&config, 1).is_empty());
    }

    #[test]
    fn autostart_or_autostop_off_and_no_services_are_named() {
        let off = config(serde_json::json!({"services": [
            {"internal_port": 8080, "autostart": false, "autostop": "off"}
        ]}));
        let warnings = standby_warnings(&off, 1);
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(
            warnings[0].contains("port 8080 has autostart off"),
            "{warnings:?}"
        );
        assert!(warnings[1].contains("autostop off"), "{warnings:?}");

        let deprecated = config(serde_json::json!({"disable_machine_autostart": true,
            "services": [{"internal_port": 80, "autostop": true}]}));
        assert!(standby_warnings(&deprecated, 1)[0].contains("autostart off"));

        let bare = config(serde_json::json!({"image": "x"}));
        assert!(standby_warnings(&bare, 1)[0].contains("no services"));
        assert!(
            standby_warnings(&bare, 0).is_empty(),
            "no standby, no warning"
        );
    }
}
