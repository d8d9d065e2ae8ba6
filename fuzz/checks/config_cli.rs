//! Shared by the fuzz target and the CLI's corpus test: the CLI's whole-file
//! config reader. Needs `mod config_error` beside it.

use std::path::Path;

use placer_cli::parse_config as parse;
use placer_core::config::from_yaml;

use super::config_error::check_config_error;

/// Reads `text` as the CLI does: an accepted file holds a valid engine
/// config, a refusal is a well-formed error, and text the engine accepts on
/// its own is accepted by the CLI with the same engine settings.
pub fn check_cli_config(text: &str) -> Result<(), String> {
    let whole_file = parse(text, Path::new("fuzz.yml"));
    match &whole_file {
        Ok(loaded) => loaded
            .engine
            .validate()
            .expect("a config the CLI accepts is valid"),
        Err(err) => check_config_error(err, text),
    }
    if let Ok(config) = from_yaml(text, "fuzz.yml") {
        let loaded = whole_file
            .as_ref()
            .expect("the CLI accepts what the engine accepts");
        assert_eq!(loaded.engine, config);
    }
    whole_file.map(|_| ()).map_err(|err| err.to_string())
}
