//! Shared by the fuzz targets and the corpus tests: what every config error
//! must satisfy.

use placer_core::config::ConfigError;

/// An error names the origin `fuzz.yml` and, when it gives a line, one that
/// exists in `text`.
pub fn check_config_error(err: &ConfigError, text: &str) {
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
