//! Reading a config file written in YAML. The only module that knows YAML.

use std::fmt;

use serde::de::DeserializeOwned;

use super::{InvalidConfig, PlacerConfig};
use crate::policy::PolicySettings;

mod overrides;

pub use overrides::{overrides_from_yaml, ConfigOverrides};

/// A config file that could not be used, with where the problem is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The text is not valid YAML, or a value has the wrong type.
    #[error("{}: {message}", Place(.origin, *.line))]
    Syntax {
        /// The file (or other origin) the text came from.
        origin: String,
        /// 1-based line of the problem, when known.
        line: Option<usize>,
        /// What the parser reported.
        message: String,
    },
    /// A key the engine does not know.
    #[error("{}: unknown key `{key}`{}", Place(.origin, *.line), suggestion_text(.suggestion))]
    UnknownKey {
        /// The file the text came from.
        origin: String,
        /// 1-based line of the key, when known.
        line: Option<usize>,
        /// The unknown key.
        key: String,
        /// The closest known key, when one is close.
        suggestion: Option<String>,
    },
    /// A key written twice in the same mapping.
    #[error(
        "{}: {key}: set twice{}; keep one",
        Place(.origin, *.line),
        .first_line.map_or_else(String::new, |line| format!(" (first on line {line})"))
    )]
    DuplicateKey {
        /// The file the text came from.
        origin: String,
        /// 1-based line of the second occurrence, when known.
        line: Option<usize>,
        /// The key, nested keys dotted (`service.interval`).
        key: String,
        /// 1-based line of the first occurrence, when known.
        first_line: Option<usize>,
    },
    /// A value that breaks one of the config's rules.
    #[error("{}: {key}: {message}", Place(.origin, *.line))]
    InvalidValue {
        /// The file the text came from.
        origin: String,
        /// 1-based line of the key, when known.
        line: Option<usize>,
        /// The key at fault.
        key: String,
        /// What is wrong with it.
        message: String,
    },
}

impl ConfigError {
    /// The 1-based line of the problem, when known.
    pub fn line(&self) -> Option<usize> {
        match self {
            ConfigError::Syntax { line, .. }
            | ConfigError::UnknownKey { line, .. }
            | ConfigError::DuplicateKey { line, .. }
            | ConfigError::InvalidValue { line, .. } => *line,
        }
    }
}

struct Place<'a>(&'a str, Option<usize>);

impl fmt::Display for Place<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.1 {
            Some(line) => write!(f, "{}:{line}", self.0),
            None => f.write_str(self.0),
        }
    }
}

fn suggestion_text(suggestion: &Option<String>) -> String {
    match suggestion {
        Some(key) => format!(" (did you mean `{key}`?)"),
        None => String::new(),
    }
}

/// Settings that live in the same file as the engine's, owned by another
/// crate (the CLI's service, Prometheus and Fly sections, say).
///
/// The implementing type is read from the whole document, so it must ignore
/// keys it does not know at its top level (no `deny_unknown_fields` there);
/// unknown top-level keys are caught here against
/// [`PlacerConfig::KEYS`], the policies' sections
/// ([`PolicySettings::keys`]) and [`KEYS`](Self::KEYS).
pub trait ConfigExtension: DeserializeOwned + Default {
    /// Top-level keys the extension reads.
    const KEYS: &'static [&'static str];
}

/// No extension: the document holds the engine's keys only.
impl ConfigExtension for () {
    const KEYS: &'static [&'static str] = &[];
}

/// Parses and validates an engine config from YAML text.
///
/// `origin` names where the text came from (usually the file path) and is
/// repeated in every error. An empty document gives the defaults.
///
/// # Errors
/// [`ConfigError`] naming the origin, the line and the key at fault.
pub fn from_yaml(text: &str, origin: &str) -> Result<PlacerConfig, ConfigError> {
    from_yaml_with::<()>(text, origin).map(|(config, ())| config)
}

/// Like [`from_yaml`], and also reads an extension's settings from the same
/// document.
///
/// # Errors
/// [`ConfigError`] naming the origin, the line and the key at fault.
pub fn from_yaml_with<E: ConfigExtension>(
    text: &str,
    origin: &str,
) -> Result<(PlacerConfig, E), ConfigError> {
    let document: serde_yaml::Value = serde_yaml::from_str(text)
        .map_err(|err| unclosed_bracket(text, duplicate_key(text, syntax(origin, &err))))?;
    let mapping = match document {
        serde_yaml::Value::Null => return Ok((PlacerConfig::default(), E::default())),
        serde_yaml::Value::Mapping(mapping) => mapping,
        other => {
            return Err(ConfigError::Syntax {
                origin: origin.to_owned(),
                line: Some(1),
                message: format!(
                    "expected a mapping of keys to values, found {}",
                    kind(&other)
                ),
            })
        }
    };
    let known: Vec<&'static str> = PlacerConfig::KEYS
        .iter()
        .copied()
        .chain(PolicySettings::keys())
        .chain(E::KEYS.iter().copied())
        .collect();
    for key in mapping.keys() {
        let Some(key) = key.as_str() else {
            return Err(ConfigError::Syntax {
                origin: origin.to_owned(),
                line: None,
                message: format!("keys must be strings, found {}", kind(key)),
            });
        };
        if !known.contains(&key) {
            return Err(ConfigError::UnknownKey {
                origin: origin.to_owned(),
                line: line_of_key(text, key),
                key: key.to_owned(),
                suggestion: closest(key, &known),
            });
        }
    }
    let config: PlacerConfig = serde_yaml::from_str(text).map_err(|err| {
        let mut error = syntax(origin, &err);
        refine_region_line(text, &mut error);
        refine_section_line(text, &mut error);
        refine_unknown_field(text, &[], error)
    })?;
    config
        .validate()
        .map_err(|InvalidConfig { key, message }| invalid_value(text, origin, key, message))?;
    let extension = if E::KEYS.is_empty() {
        E::default()
    } else {
        serde_yaml::from_str(text)
            .map_err(|err| refine_unknown_field(text, &[], syntax(origin, &err)))?
    };
    Ok((config, extension))
}

/// A broken rule, at its key's line. A policy's section says what is wrong
/// in a sentence that starts with the field's name
/// ([`SettingsSection::validate`](crate::policy::SettingsSection::validate)):
/// the key is then `section.field`, at the field's line.
fn invalid_value(text: &str, origin: &str, key: &str, message: String) -> ConfigError {
    let field = PolicySettings::keys()
        .any(|section| section == key)
        .then(|| message.split_once(' '))
        .flatten()
        .filter(|(field, _)| {
            !field.is_empty()
                && field
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.')
        });
    match field {
        Some((field, rest)) => ConfigError::InvalidValue {
            origin: origin.to_owned(),
            line: line_in_section(text, key, field.rsplit('.').next().unwrap_or(field))
                .or_else(|| line_of_key(text, key)),
            key: format!("{key}.{field}"),
            message: rest.to_owned(),
        },
        None => ConfigError::InvalidValue {
            origin: origin.to_owned(),
            line: line_of_key(text, key),
            key: key.to_owned(),
            message,
        },
    }
}

/// The line of `field:` inside the top-level `section:` block.
fn line_in_section(text: &str, section: &str, field: &str) -> Option<usize> {
    let start = line_of_key(text, section)?;
    text.lines()
        .skip(start)
        .take_while(|candidate| candidate.starts_with([' ', '\t']) || candidate.trim().is_empty())
        .position(|candidate| candidate.trim_start().starts_with(&format!("{field}:")))
        .map(|offset| start + offset + 1)
}

fn syntax(origin: &str, err: &serde_yaml::Error) -> ConfigError {
    let message = err.to_string();
    // serde_yaml appends " at line L column C"; the line is reported separately.
    let message = match message.find(" at line ") {
        Some(cut) => message[..cut].to_owned(),
        None => message,
    };
    ConfigError::Syntax {
        origin: origin.to_owned(),
        line: err.location().map(|location| location.line()),
        message,
    }
}

/// The YAML parser reports a key written twice at the start of its mapping,
/// with the mapping's path: name the whole key and the lines of both
/// occurrences instead.
fn duplicate_key(text: &str, error: ConfigError) -> ConfigError {
    let ConfigError::Syntax {
        origin,
        line: Some(start),
        message,
    } = &error
    else {
        return error;
    };
    let Some((path, rest)) = message.split_once("duplicate entry with key \"") else {
        return error;
    };
    let Some(key) = rest.strip_suffix('"').filter(|key| !key.contains('"')) else {
        return error;
    };
    let lines = mapping_lines_of(text, *start, key);
    let path = path.trim_end_matches(": ").trim();
    ConfigError::DuplicateKey {
        origin: origin.clone(),
        line: lines.get(1).copied().or(Some(*start)),
        key: if path.is_empty() {
            key.to_owned()
        } else {
            format!("{path}.{key}")
        },
        first_line: lines.first().copied().filter(|_| lines.len() > 1),
    }
}

/// The 1-based lines where `key:` is written in the block mapping whose
/// first key is on line `start`.
fn mapping_lines_of(text: &str, start: usize, key: &str) -> Vec<usize> {
    let mut lines = text.lines().enumerate().skip(start.saturating_sub(1));
    let Some((_, first)) = lines.next() else {
        return Vec::new();
    };
    // The keys' column: after the indentation and any `- ` of a list item.
    let mut rest = first.trim_start();
    while let Some(after) = rest.strip_prefix("- ") {
        rest = after.trim_start();
    }
    let column = first.len() - rest.len();
    let is_key = |content: &str| {
        [key.to_owned(), format!("\"{key}\""), format!("'{key}'")]
            .iter()
            .any(|written| {
                content
                    .strip_prefix(written.as_str())
                    .is_some_and(|after| after.trim_start().starts_with(':'))
            })
    };
    let mut found = Vec::new();
    if is_key(rest) {
        found.push(start);
    }
    for (index, line) in lines {
        let content = line.trim_start();
        if content.is_empty() || content.starts_with('#') {
            continue;
        }
        let indent = line.len() - content.len();
        if indent < column || content.starts_with("---") {
            break;
        }
        if indent == column && is_key(content) {
            found.push(index + 1);
        }
    }
    found
}

/// The YAML parser notices a `[` or `{` that is never closed only on a
/// later line: name the line that opened it.
pub(crate) fn unclosed_bracket(text: &str, error: ConfigError) -> ConfigError {
    let ConfigError::Syntax {
        origin,
        line: Some(noticed),
        message,
    } = &error
    else {
        return error;
    };
    let closer = if message.contains("expected ',' or ']'") {
        ']'
    } else if message.contains("expected ',' or '}'") {
        '}'
    } else {
        return error;
    };
    let opener = if closer == ']' { '[' } else { '{' };
    let mut open: Vec<usize> = Vec::new();
    for (index, line) in text.lines().take(*noticed).enumerate() {
        let mut quote: Option<char> = None;
        for c in line.chars() {
            match (quote, c) {
                (Some(q), c) if c == q => quote = None,
                (Some(_), _) => {}
                (None, '"' | '\'') => quote = Some(c),
                (None, '#') => break,
                (None, c) if c == opener => open.push(index + 1),
                (None, c) if c == closer => {
                    open.pop();
                }
                _ => {}
            }
        }
    }
    match open.last() {
        Some(&line) if line < *noticed => ConfigError::Syntax {
            origin: origin.clone(),
            line: Some(line),
            message: format!("the `{opener}` on this line is never closed with `{closer}`"),
        },
        _ => error,
    }
}

/// The YAML parser places an error inside a list at the list's start; move
/// it to the line that holds the rejected region code.
fn refine_region_line(text: &str, error: &mut ConfigError) {
    let ConfigError::Syntax {
        line: Some(line),
        message,
        ..
    } = error
    else {
        return;
    };
    let Some(code) = message
        .split("invalid region code \"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
    else {
        return;
    };
    if code.is_empty() {
        return;
    }
    if let Some(offset) = text
        .lines()
        .skip(*line - 1)
        .position(|candidate| candidate.contains(code))
    {
        *line += offset;
    }
}

/// A policy's section is read after the rest of the document, where the
/// parser places an error at the document's start: find the section, and
/// in it the field the message names, if it names one.
fn refine_section_line(text: &str, error: &mut ConfigError) {
    let ConfigError::Syntax { line, message, .. } = error else {
        return;
    };
    let Some(section) = PolicySettings::keys().find(|key| message.starts_with(&format!("{key}: ")))
    else {
        return;
    };
    let Some(start) = line_of_key(text, section) else {
        return;
    };
    *line = Some(start);
    // `field `name`` in serde's messages, or a `name: ` the section puts
    // first (`budget.period: ...`).
    let named = message
        .split('`')
        .nth(1)
        .filter(|_| message.contains("field `"));
    let leading = message[section.len() + 2..]
        .split_once(": ")
        .map(|(path, _)| path)
        .filter(|path| {
            !path.is_empty()
                && path
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '.')
        })
        .and_then(|path| path.rsplit('.').next());
    let Some(field) = named.or(leading) else {
        return;
    };
    if let Some(within) = line_in_section(text, section, field) {
        *line = Some(within);
    }
}

fn kind(value: &serde_yaml::Value) -> &'static str {
    match value {
        serde_yaml::Value::Null => "nothing",
        serde_yaml::Value::Bool(_) => "a boolean",
        serde_yaml::Value::Number(_) => "a number",
        serde_yaml::Value::String(_) => "a string",
        serde_yaml::Value::Sequence(_) => "a list",
        serde_yaml::Value::Mapping(_) => "a mapping",
        serde_yaml::Value::Tagged(_) => "a tagged value",
    }
}

/// The line where a top-level `key:` is written.
fn line_of_key(text: &str, key: &str) -> Option<usize> {
    text.lines()
        .position(|line| {
            line.strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with(':'))
                || line
                    .strip_prefix(&format!("\"{key}\""))
                    .is_some_and(|rest| rest.trim_start().starts_with(':'))
        })
        .map(|index| index + 1)
}

fn closest<S: AsRef<str>>(key: &str, known: &[S]) -> Option<String> {
    known
        .iter()
        .map(|candidate| candidate.as_ref())
        .map(|candidate| (crate::text::edit_distance(key, candidate), candidate))
        .filter(|(distance, candidate)| *distance <= 3.max(candidate.len() / 4))
        .min()
        .map(|(_, candidate)| candidate.to_owned())
}

/// The 1-based line of a nested key: `path[0]` at the top level, each next
/// key inside the block of the one before (deeper indentation). With a key
/// not found (say, written in a `{…}` flow mapping), the line of the
/// deepest key found.
pub(crate) fn line_of_path(text: &str, path: &[&str]) -> Option<usize> {
    let lines: Vec<&str> = text.lines().collect();
    let mut found: Option<(usize, usize)> = None;
    for (depth, key) in path.iter().enumerate() {
        let start = found.map_or(0, |(line, _)| line + 1);
        let mut hit = None;
        for (index, line) in lines.iter().enumerate().skip(start) {
            let trimmed = line.trim_start();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let indent = line.len() - trimmed.len();
            match found {
                Some((_, parent)) if indent <= parent => break,
                None if indent > 0 => continue,
                _ => {}
            }
            let bare = trimmed.trim_start_matches("- ");
            let names = bare.strip_prefix(key).or_else(|| {
                bare.strip_prefix(&format!("\"{key}\""))
                    .or_else(|| bare.strip_prefix(&format!("'{key}'")))
            });
            if names.is_some_and(|rest| rest.trim_start().starts_with(':')) {
                hit = Some((index, indent));
                break;
            }
        }
        match hit {
            Some(hit) => found = Some(hit),
            None if depth == 0 => return None,
            None => break,
        }
    }
    found.map(|(line, _)| line + 1)
}

/// Reads serde's "unknown field `x`, expected one of `a`, `b`" (with the
/// path serde_yaml or a section puts before it, `fly.retry: …`) as the
/// dotted path of the unknown key and the closest of the fields expected.
/// `None` for any other message.
pub(crate) fn unknown_field(message: &str) -> Option<(Vec<String>, Option<String>)> {
    let at = message.find("unknown field `")?;
    let mut path: Vec<String> = message[..at]
        .trim_end()
        .strip_suffix(':')
        .map(|prefix| {
            prefix
                .split('.')
                .map(str::trim)
                .filter(|part| !part.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    if !message[..at].trim().is_empty() && path.is_empty() {
        return None;
    }
    let rest = &message[at + "unknown field `".len()..];
    let (field, expected) = rest.split_once('`')?;
    let known: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
    path.push(field.to_owned());
    Some((path, closest(field, &known)))
}

/// An error of the parser that names an unknown nested field, as an
/// [`ConfigError::UnknownKey`] with the whole dotted key (under `prefix`,
/// e.g. `apps.blog`), its own line and the closest known field; any other
/// error as it is.
pub(crate) fn refine_unknown_field(text: &str, prefix: &[&str], error: ConfigError) -> ConfigError {
    let (origin, message, line) = match &error {
        ConfigError::Syntax {
            origin,
            message,
            line,
        }
        | ConfigError::InvalidValue {
            origin,
            message,
            line,
            ..
        } => (origin, message, *line),
        _ => return error,
    };
    let Some((path, suggestion)) = unknown_field(message) else {
        return error;
    };
    let mut full: Vec<&str> = prefix.to_vec();
    full.extend(path.iter().map(String::as_str));
    ConfigError::UnknownKey {
        origin: origin.clone(),
        line: line_of_path(text, &full).or(line),
        key: full.join("."),
        suggestion,
    }
}

#[cfg(test)]
mod tests;
