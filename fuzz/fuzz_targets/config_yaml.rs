//! Fuzzes the config file readers: the engine's `from_yaml` and the CLI's
//! whole-file `config_file::parse`.
//!
//! Any text must give a config or an error, never a panic. A config that is
//! accepted must pass `validate()`, and written back out with serde_yaml it
//! must read back equal. Text the engine accepts on its own (no CLI sections)
//! must be accepted by the CLI with the same engine settings.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use placer_core::config::{from_yaml, ConfigError};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let engine = from_yaml(text, "fuzz.yml");
    match &engine {
        Ok(config) => {
            config.validate().expect("an accepted config is valid");
            let written = serde_yaml::to_string(config).expect("a config serializes");
            let again = from_yaml(&written, "written.yml")
                .unwrap_or_else(|err| panic!("written config is refused: {err}\n{written}"));
            assert_eq!(
                &again, config,
                "written config reads back different\n{written}"
            );
        }
        Err(err) => check_error(err, text),
    }

    let whole_file = placer_cli::config_file::parse(text, Path::new("fuzz.yml"));
    match &whole_file {
        Ok(loaded) => loaded
            .engine
            .validate()
            .expect("a config the CLI accepts is valid"),
        Err(err) => check_error(err, text),
    }
    if let Ok(config) = engine {
        let loaded = whole_file.expect("the CLI accepts what the engine accepts");
        assert_eq!(loaded.engine, config);
    }
});

/// An error names the origin and, when it gives a line, one that exists.
fn check_error(err: &ConfigError, text: &str) {
    let message = err.to_string();
    assert!(message.starts_with("fuzz.yml"), "{message}");
    if let Some(line) = err.line() {
        assert!(
            line >= 1 && line <= yaml_lines(text) + 1,
            "line {line} is outside the text: {message}"
        );
    }
}

/// Lines as the YAML parser numbers them: a line ends at `\r\n`, `\n`, a
/// lone `\r`, or one of the Unicode breaks NEL, LS and PS.
fn yaml_lines(text: &str) -> usize {
    let breaks = text
        .replace("\r\n", "\n")
        .chars()
        .filter(|c| matches!(c, '\n' | '\r' | '\u{85}' | '\u{2028}' | '\u{2029}'))
        .count();
    breaks + 1
}
