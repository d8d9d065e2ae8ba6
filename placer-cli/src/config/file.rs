//! Reading the config file: the engine's keys and the CLI's sections, with
//! errors that name the file, the line and the key.

use std::path::{Path, PathBuf};

use placer_core::config::{from_yaml_with, overrides_from_yaml, ConfigError, ConfigOverrides};
use placer_core::PlacerConfig;
use placer_fly::FlyError;
use placer_prom::PromError;

use crate::config::sections::notify::NotifyProblem;
use crate::config::sections::FileSettings;

/// A config file that was read and passed every check.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadedConfig {
    /// Where it was read from.
    pub path: PathBuf,
    /// The engine's settings.
    pub engine: PlacerConfig,
    /// The CLI's sections, shared by the apps' narrowed copies (the same
    /// for every app).
    pub settings: std::sync::Arc<FileSettings>,
    /// The file's text, so that problems found later, when the file meets
    /// the environment and the flags, can name a key's line.
    pub text: std::sync::Arc<str>,
    /// The `apps:` section: the apps and their engine settings (shared by
    /// the apps' narrowed copies).
    pub overrides: std::sync::Arc<ConfigOverrides>,
    /// The app this copy was narrowed to ([`for_app`](Self::for_app)):
    /// its `engine` is then that app's, and the app name is fixed.
    pub app: Option<String>,
}

impl LoadedConfig {
    /// The config of one of several apps: the engine settings the `apps:`
    /// entries matching `app` lay over the top-level values (see
    /// [`crate::config::apps::entries_for`]), the app name fixed to `app`.
    ///
    /// # Errors
    /// [`ConfigError`] at the overriding key's line when the entries make
    /// an invalid config together.
    pub fn for_app(&self, app: &str) -> Result<LoadedConfig, ConfigError> {
        let entries = crate::config::apps::entries_for(self, app);
        let engine = self.overrides.config_for(entries)?;
        Ok(LoadedConfig {
            engine,
            app: Some(app.to_owned()),
            ..self.clone()
        })
    }

    /// `file:line: key` for a top-level `key` or a `section.key` written in
    /// the file (`file: key` when it is not written there), to start an
    /// error found after reading.
    pub fn place(&self, key: &str) -> String {
        let line = match key.split_once('.') {
            Some((section, nested)) => line_of_nested_key(
                &self.text,
                section,
                nested.rsplit('.').next().unwrap_or(nested),
            ),
            None => self
                .text
                .lines()
                .position(|line| {
                    line.strip_prefix(key)
                        .is_some_and(|rest| rest.trim_start().starts_with(':'))
                })
                .map(|index| index + 1),
        };
        match line {
            Some(line) => format!("{}:{line}: {key}", self.path.display()),
            None => format!("{}: {key}", self.path.display()),
        }
    }
}

/// Why a config file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("cannot read config file {}: {source}{}", path.display(), hint(path, source))]
    Read {
        /// The file.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The file was read but is not a valid config; the message names the
    /// file, the line and the key.
    #[error(transparent)]
    Invalid(#[from] ConfigError),
}

fn hint(path: &Path, source: &std::io::Error) -> String {
    if source.kind() == std::io::ErrorKind::NotFound && path.is_relative() {
        " (paths are relative to the working directory: run from the repository root or pass --config)"
            .to_owned()
    } else {
        String::new()
    }
}

/// Reads and checks the config file at `path`.
///
/// # Errors
/// [`LoadError`] naming the file, and for content problems the line and key.
pub fn load(path: &Path) -> Result<LoadedConfig, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Read {
        path: path.to_owned(),
        source,
    })?;
    Ok(parse(&text, path)?)
}

/// Checks config `text` that came from `path`.
///
/// # Errors
/// [`ConfigError`] naming the file, the line and the key.
pub fn parse(text: &str, path: &Path) -> Result<LoadedConfig, ConfigError> {
    let origin = path.display().to_string();
    let (engine, settings) = from_yaml_with::<FileSettings>(text, &origin)?;
    check_sections(&settings, text, &origin)?;
    let overrides = overrides_from_yaml(text, &origin, crate::config::apps::APPS_SECTION)?;
    for entry in overrides.names() {
        if let Err(message) = crate::config::apps::check_entry(entry) {
            return Err(ConfigError::InvalidValue {
                origin: origin.clone(),
                line: overrides.line_of_entry(entry),
                key: format!("{}.{entry}", crate::config::apps::APPS_SECTION),
                message,
            });
        }
    }
    Ok(LoadedConfig {
        path: path.to_owned(),
        engine,
        settings: std::sync::Arc::new(settings),
        text: text.into(),
        overrides: std::sync::Arc::new(overrides),
        app: None,
    })
}

/// Rules on the CLI's sections that their types cannot express.
fn check_sections(settings: &FileSettings, text: &str, origin: &str) -> Result<(), ConfigError> {
    let invalid = |section: &str, key: &str, message: &str| ConfigError::InvalidValue {
        origin: origin.to_owned(),
        line: line_of_nested_key(text, section, key.rsplit('.').next().unwrap_or(key)),
        key: format!("{section}.{key}"),
        message: message.to_owned(),
    };
    // Any other error of an adapter's check: the section as a whole.
    let in_section = |section: &str, message: String| ConfigError::InvalidValue {
        origin: origin.to_owned(),
        line: text
            .lines()
            .position(|line| line.starts_with(&format!("{section}:")))
            .map(|index| index + 1),
        key: section.to_owned(),
        message,
    };
    if settings.simulation.regions.is_empty() {
        return Err(invalid(
            "simulation",
            "regions",
            "must list at least one region",
        ));
    }
    if settings.simulation.apps == Some(0) {
        return Err(invalid("simulation", "apps", "must be at least 1"));
    }
    let rate = &settings.fly.rate_limit;
    if rate
        .requests_per_second
        .is_some_and(|rate| !(rate.is_finite() && rate > 0.0))
    {
        return Err(invalid(
            "fly",
            "rate_limit.requests_per_second",
            "must be a number above 0 (leave it out for no cap)",
        ));
    }
    if rate.burst == 0 {
        return Err(invalid("fly", "rate_limit.burst", "must be at least 1"));
    }
    if settings.fly.retry.max_attempts == 0 {
        return Err(invalid("fly", "retry.max_attempts", "must be at least 1"));
    }
    match settings.notify.check() {
        Ok(()) => {}
        Err(NotifyProblem::Key { key, message }) => return Err(invalid("notify", key, message)),
        Err(NotifyProblem::Webhook { index, message }) => {
            return Err(ConfigError::InvalidValue {
                origin: origin.to_owned(),
                line: line_of_list_item(text, "notify", "webhooks", index),
                key: format!("notify.webhooks[{index}]"),
                message,
            })
        }
    }
    // The adapters' own checks of their sections, with the file's lines.
    if let Err(err) = settings.fly.validate_section() {
        return Err(match err {
            FlyError::InvalidSettings { field, problem } => invalid("fly", field, &problem),
            other => in_section("fly", other.to_string()),
        });
    }
    if let Err(err) = settings.prometheus.validate_section() {
        return Err(match err {
            PromError::InvalidSettings { setting, problem } => {
                invalid("prometheus", setting, &problem)
            }
            other => in_section("prometheus", other.to_string()),
        });
    }
    Ok(())
}

/// The line of the `index`-th (from 0) item of the list `key:` inside the
/// top-level `section:` block: its `- ` line, or the key's line for a list
/// written on it (`[a, b]`).
fn line_of_list_item(text: &str, section: &str, key: &str, index: usize) -> Option<usize> {
    let start = line_of_nested_key(text, section, key)?;
    let key_line = text.lines().nth(start - 1)?;
    let after_key = key_line
        .split_once(&format!("{key}:"))
        .map_or("", |(_, rest)| rest.trim());
    if !after_key.is_empty() && !after_key.starts_with('#') {
        return Some(start);
    }
    text.lines()
        .enumerate()
        .skip(start)
        .filter(|(_, line)| line.trim_start().starts_with('-'))
        .nth(index)
        .map(|(at, _)| at + 1)
        .or(Some(start))
}

/// The line of `key:` inside the top-level `section:` block, if written.
fn line_of_nested_key(text: &str, section: &str, key: &str) -> Option<usize> {
    let mut inside = false;
    for (index, line) in text.lines().enumerate() {
        let indented = line.starts_with(' ') || line.starts_with('\t');
        if !indented && !line.trim().is_empty() && !line.trim_start().starts_with('#') {
            inside = line
                .strip_prefix(section)
                .is_some_and(|rest| rest.trim_start().starts_with(':'));
            if inside && line.contains(&format!("{key}:")) {
                return Some(index + 1);
            }
            continue;
        }
        if inside {
            let trimmed = line.trim_start();
            if trimmed
                .strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with(':'))
            {
                return Some(index + 1);
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_config_file_parses_unchanged() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/config.yml");
        let loaded = load(&path).unwrap();
        assert!(loaded.engine.dry_run);
        assert_eq!(loaded.engine.traffic_threshold, 50.0);
        assert_eq!(loaded.engine.allowed_regions.len(), 5);
    }

    #[test]
    fn missing_file_says_where_paths_start() {
        let err = load(Path::new("no/such/config.yml")).unwrap_err();
        let message = err.to_string();
        assert!(message.contains("no/such/config.yml"), "{message}");
        assert!(message.contains("--config"), "{message}");
    }

    #[test]
    fn section_rule_errors_name_file_line_and_key() {
        let text = "dry_run: true\nsimulation:\n  seed: 1\n  regions: []\n";
        let err = parse(text, Path::new("c.yml")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "c.yml:4: simulation.regions: must list at least one region"
        );
        let text = "fly:\n  rate_limit:\n    requests_per_second: 0\n";
        let err = parse(text, Path::new("c.yml")).unwrap_err();
        assert_eq!(err.line(), Some(3), "{err}");
        assert!(err
            .to_string()
            .contains("fly.rate_limit.requests_per_second"));
    }

    #[test]
    fn a_webhook_that_is_not_http_is_refused_at_its_line_without_its_credentials() {
        let text = "dry_run: true\nnotify:\n  webhooks:\n    - https://hooks.example.com/a\n    - ftp://me:hunter2@example.com/x\n";
        let err = parse(text, Path::new("c.yml")).unwrap_err();
        let message = err.to_string();
        assert_eq!(err.line(), Some(5), "{message}");
        assert!(message.starts_with("c.yml:5: "), "{message}");
        assert!(message.contains("notify.webhooks[1]"), "{message}");
        assert!(message.contains("http:// or https://"), "{message}");
        assert!(!message.contains("hunter2"), "{message}");
        let text = "notify:\n  webhooks: [http://127.0.0.1:1/]\n  max_attempts: 0\n";
        let err = parse(text, Path::new("c.yml")).unwrap_err();
        assert_eq!(
            err.to_string(),
            "c.yml:3: notify.max_attempts: must be at least 1"
        );
        let err = parse("notify:\n  webhook: []\n", Path::new("c.yml")).unwrap_err();
        assert!(err.to_string().contains("did you mean `webhooks`"), "{err}");
    }

    #[test]
    fn engine_errors_keep_their_line() {
        let text = "dry_run: true\ntraffic_threshold: 5\ndeployment_threshold: 10\n";
        let err = parse(text, Path::new("c.yml")).unwrap_err();
        assert!(err.to_string().starts_with("c.yml:"), "{err}");
        assert!(err.line().is_some());
    }
}
