//! Shared by the fuzz targets and the corpus tests: the engine's config
//! reader. Needs `mod config_error` beside it.

use placer_core::config::from_yaml;

use super::config_error::check_config_error;

/// Reads `text` with `from_yaml`: an accepted config is valid and reads back
/// equal once written with serde_yaml; a refusal is a well-formed error.
pub fn check_engine_config(text: &str) -> Result<(), String> {
    match from_yaml(text, "fuzz.yml") {
        Ok(config) => {
            config.validate().expect("an accepted config is valid");
            let written = serde_yaml::to_string(&config).expect("a config serializes");
            let again = from_yaml(&written, "written.yml")
                .unwrap_or_else(|err| panic!("written config is refused: {err}\n{written}"));
            assert_eq!(
                again, config,
                "written config reads back different\n{written}"
            );
            Ok(())
        }
        Err(err) => {
            check_config_error(&err, text);
            Err(err.to_string())
        }
    }
}
