//! `fly-placer status`: a running `serve`'s apps in the terminal, read from
//! its HTTP API (`GET /api/fleet`, or `GET /api/status?app=NAME` for one
//! app's regions), printed as a table like `kubectl get`: a header line,
//! then one line an app (or a region).

use std::fmt::Write as _;
use std::time::Duration;

use placer_core::secret::Secret;
use placer_core::Timestamp;
use serde_json::Value;

use crate::cli::{GlobalArgs, StatusArgs, DEFAULT_CONFIG_PATH};
use crate::cli::{EXIT_BAD_SETTINGS, EXIT_FAILURE, EXIT_OK};
use crate::config::environment::Environment;
use crate::service::overview::{FleetDocument, FleetRow};

/// How long the service has to answer.
const TIMEOUT: Duration = Duration::from_secs(30);

/// Why `status` printed nothing.
#[derive(Debug, thiserror::Error)]
pub(super) enum StatusError {
    /// The address could not be made out.
    #[error("{0}")]
    Settings(String),
    /// Nothing answered.
    #[error("nothing answers at {url} ({why}); is `fly-placer serve` running there? The address comes from --url, else --listen (PLACER_LISTEN), else service.listen in the config file")]
    Unreachable {
        /// Where it asked, without credentials.
        url: String,
        /// What the connection said.
        why: String,
    },
    /// The service answered with an error, or something unreadable.
    #[error("{url}: {why}")]
    Answer {
        /// What it asked, without credentials.
        url: String,
        /// What went wrong.
        why: String,
    },
}

impl StatusError {
    pub(super) fn exit_code(&self) -> u8 {
        match self {
            StatusError::Settings(_) => EXIT_BAD_SETTINGS,
            _ => EXIT_FAILURE,
        }
    }
}

/// Runs `status` and returns its exit code, its error printed.
pub(super) async fn run(global: &GlobalArgs, env: &Environment, args: &StatusArgs) -> u8 {
    match status(global, env, args).await {
        Ok(text) => match super::print_out(&text) {
            Ok(()) => EXIT_OK,
            Err(err) => {
                eprintln!("error: cannot write the table: {err}");
                EXIT_FAILURE
            }
        },
        Err(err) => {
            eprintln!("error: {err}");
            err.exit_code()
        }
    }
}

async fn status(
    global: &GlobalArgs,
    env: &Environment,
    args: &StatusArgs,
) -> Result<String, StatusError> {
    let (base, file_token) = address(global, args)?;
    let token = env.trigger_token.clone().or(file_token);
    let path = match &args.app {
        Some(app) => format!("/api/status?app={}", encode(app)),
        None => "/api/fleet".to_owned(),
    };
    let document = get(&base, &path, token.as_ref()).await?;
    if args.json {
        return Ok(serde_json::to_string_pretty(&document).expect("JSON values always encode"));
    }
    let unreadable = |err: serde_json::Error| StatusError::Answer {
        url: shown(&format!("{base}{path}")),
        why: format!("not a document this version reads: {err}"),
    };
    match &args.app {
        Some(_) => regions_table(&document).map_err(unreadable),
        None => {
            let fleet: FleetDocument = serde_json::from_value(document).map_err(unreadable)?;
            Ok(fleet_table(&fleet))
        }
    }
}

/// The service's base URL, and the trigger token of the config file.
fn address(
    global: &GlobalArgs,
    args: &StatusArgs,
) -> Result<(String, Option<Secret>), StatusError> {
    let loaded = match crate::config::file::load(&global.config) {
        Ok(loaded) => Some(loaded),
        // Without a config file: the defaults, unless one was named.
        Err(crate::config::file::LoadError::Read { source, .. })
            if source.kind() == std::io::ErrorKind::NotFound
                && (args.url.is_some() || global.config.as_os_str() == DEFAULT_CONFIG_PATH) =>
        {
            None
        }
        Err(err) if args.url.is_none() => return Err(StatusError::Settings(err.to_string())),
        Err(_) => None,
    };
    let service = loaded
        .map(|loaded| loaded.settings.service.clone())
        .unwrap_or_default();
    if let Some(url) = &args.url {
        let url = url.trim().trim_end_matches('/');
        let url = if url.contains("://") {
            url.to_owned()
        } else {
            format!("http://{url}")
        };
        return match reqwest::Url::parse(&url) {
            Ok(_) => Ok((url, service.trigger_token)),
            Err(err) => Err(StatusError::Settings(format!(
                "--url {}: not a URL: {err}",
                shown(&url)
            ))),
        };
    }
    let mut listen = global.listen.unwrap_or(service.listen);
    // A service listening on every address answers on loopback.
    if listen.ip().is_unspecified() {
        listen.set_ip(match listen {
            std::net::SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            std::net::SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        });
    }
    Ok((format!("http://{listen}"), service.trigger_token))
}

/// `url` without a user name or password.
fn shown(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut parsed) => {
            let _ = parsed.set_username("");
            let _ = parsed.set_password(None);
            parsed.to_string().trim_end_matches('/').to_owned()
        }
        Err(_) => "the given URL".to_owned(),
    }
}

/// An app name in a query string.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                char::from(byte).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// `GET base + path` as JSON.
async fn get(base: &str, path: &str, token: Option<&Secret>) -> Result<Value, StatusError> {
    let url = format!("{base}{path}");
    let client = reqwest::Client::builder()
        .timeout(TIMEOUT)
        .build()
        .map_err(|err| StatusError::Settings(err.without_url().to_string()))?;
    let mut request = client.get(&url);
    if let Some(token) = token {
        request = request.bearer_auth(token.expose());
    }
    let response = request.send().await.map_err(|err| {
        let unreachable = err.is_connect() || err.is_timeout();
        let err = err.without_url();
        if unreachable {
            // The innermost cause says it: "Connection refused".
            let mut cause: &dyn std::error::Error = &err;
            while let Some(source) = cause.source() {
                cause = source;
            }
            StatusError::Unreachable {
                url: shown(base),
                why: cause.to_string(),
            }
        } else {
            StatusError::Answer {
                url: shown(&url),
                why: error_chain(&err),
            }
        }
    })?;
    let code = response.status();
    let text = response.text().await.map_err(|err| StatusError::Answer {
        url: shown(&url),
        why: error_chain(&err.without_url()),
    })?;
    let document: Result<Value, _> = serde_json::from_str(&text);
    if !code.is_success() {
        let said = document
            .ok()
            .and_then(|value| value.get("error")?.as_str().map(str::to_owned))
            .unwrap_or_else(|| "no JSON error".to_owned());
        let hint = if code == reqwest::StatusCode::NOT_FOUND && path == "/api/fleet" {
            " (a fly-placer older than this one has no /api/fleet)"
        } else {
            ""
        };
        return Err(StatusError::Answer {
            url: shown(&url),
            why: format!("HTTP {code}: {said}{hint}"),
        });
    }
    document.map_err(|err| StatusError::Answer {
        url: shown(&url),
        why: format!("not JSON: {err}"),
    })
}

/// An error with its causes, on one line.
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let said = cause.to_string();
        if !text.contains(&said) {
            text.push_str(": ");
            text.push_str(&said);
        }
        source = cause.source();
    }
    text
}

/// What a blank cell shows.
const NONE: &str = "<none>";

/// One line an app, in order of name.
fn fleet_table(fleet: &FleetDocument) -> String {
    let header = [
        "APP",
        "STATUS",
        "MODE",
        "ROLE",
        "REGIONS",
        "DEPLOYED",
        "LAST CHANGE",
        "AGE",
        "LAST TICK",
        "FORECAST",
        "RTT",
        "ERROR",
    ];
    let rows = fleet
        .apps
        .iter()
        .map(|row| fleet_line(fleet, row))
        .collect();
    table(&header, rows)
}

fn fleet_line(fleet: &FleetDocument, row: &FleetRow) -> Vec<String> {
    let deployed = if row.regions.is_empty() {
        NONE.to_owned()
    } else {
        let codes: Vec<String> = row.regions.iter().map(ToString::to_string).collect();
        codes.join(",")
    };
    let (change, changed) = match &row.last_change {
        Some(change) => (
            format!("{} {}", change.action, change.region),
            age(fleet.now, change.at),
        ),
        None => (NONE.to_owned(), "-".to_owned()),
    };
    vec![
        row.app.clone(),
        row.status.clone(),
        if row.dry_run { "dry-run" } else { "live" }.to_owned(),
        fleet.role.clone(),
        row.regions.len().to_string(),
        deployed,
        change,
        changed,
        row.last_tick_at
            .map_or_else(|| "-".to_owned(), |at| age(fleet.now, at)),
        row.forecast.clone(),
        row.mean_rtt_ms
            .map_or_else(|| "-".to_owned(), |ms| format!("{ms:.0}ms")),
        match (&row.error, row.is_failing()) {
            (Some(error), _) => one_line(error),
            (None, true) => row.status.clone(),
            (None, false) => NONE.to_owned(),
        },
    ]
}

/// One app's regions, busiest first, from its `/api/status` document.
fn regions_table(document: &Value) -> Result<String, serde_json::Error> {
    let header = [
        "REGION",
        "CITY",
        "DEPLOYED",
        "REQUESTS",
        "SHORT",
        "LONG",
        "SERVED FROM",
        "NOTES",
        "REASON",
    ];
    let mut regions: Vec<Value> = serde_json::from_value(document["regions"].clone())?;
    let requests = |region: &Value| region["requests"].as_f64().unwrap_or(0.0);
    regions.sort_by(|a, b| {
        requests(b)
            .total_cmp(&requests(a))
            .then_with(|| a["code"].as_str().cmp(&b["code"].as_str()))
    });
    let number = |value: &Value| {
        value
            .as_f64()
            .map_or_else(|| "-".to_owned(), |v| format!("{v:.1}"))
    };
    let rows = regions
        .iter()
        .map(|region| {
            let text = |key: &str| region[key].as_str().unwrap_or_default().to_owned();
            let served = &region["served_from"];
            let served = match (served["region"].as_str(), served["rtt_ms"].as_f64()) {
                (Some(code), Some(ms)) => format!("{code} {ms:.0}ms"),
                _ => "-".to_owned(),
            };
            let mut notes = Vec::new();
            if let Some(planned) = region["planned"].as_str() {
                notes.push(format!("{planned} planned"));
            }
            if let Some(seconds) = region["cooldown_seconds"].as_u64() {
                notes.push(format!("cooldown {}", seconds_short(seconds)));
            }
            if let Some(seconds) = region["backoff_seconds"].as_u64() {
                notes.push(format!("backoff {}", seconds_short(seconds)));
            }
            vec![
                text("code"),
                text("city"),
                if region["deployed"] == Value::Bool(true) {
                    "yes"
                } else {
                    "no"
                }
                .to_owned(),
                format!("{:.0}", requests(region)),
                number(&region["short"]),
                number(&region["long"]),
                served,
                if notes.is_empty() {
                    NONE.to_owned()
                } else {
                    notes.join(",")
                },
                region["reason"]
                    .as_str()
                    .map_or_else(|| NONE.to_owned(), one_line),
            ]
        })
        .collect();
    Ok(table(&header, rows))
}

/// Lines of columns as wide as their widest cell, three spaces apart; the
/// last column is not padded.
fn table(header: &[&str], rows: Vec<Vec<String>>) -> String {
    let width = |text: &str| text.chars().count();
    let mut widths: Vec<usize> = header.iter().map(|head| width(head)).collect();
    for row in &rows {
        for (column, cell) in row.iter().enumerate() {
            widths[column] = widths[column].max(width(cell));
        }
    }
    let mut text = String::new();
    let header: Vec<String> = header.iter().map(|head| (*head).to_owned()).collect();
    for row in std::iter::once(&header).chain(&rows) {
        let mut line = String::new();
        for (column, cell) in row.iter().enumerate() {
            if column + 1 == row.len() {
                line.push_str(cell);
            } else {
                let _ = write!(
                    line,
                    "{cell}{}   ",
                    " ".repeat(widths[column] - width(cell))
                );
            }
        }
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text.pop();
    text
}

/// `text` on one line.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// How long before `now` `at` was, as kubectl shows ages: `45s`, `12m`,
/// `5h`, `3d`.
fn age(now: Timestamp, at: Timestamp) -> String {
    seconds_short(now.duration_since(at).as_secs())
}

fn seconds_short(seconds: u64) -> String {
    match seconds {
        0..120 => format!("{seconds}s"),
        120..7200 => format!("{}m", seconds / 60),
        7200..172_800 => format!("{}h", seconds / 3600),
        _ => format!("{}d", seconds / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_pads_every_column_but_the_last() {
        let text = table(
            &["APP", "STATUS", "ERROR"],
            vec![
                vec!["shop".into(), "ok".into(), NONE.into()],
                vec!["blog-api".into(), "degraded".into(), "HTTP 500".into()],
            ],
        );
        assert_eq!(
            text,
            "APP        STATUS     ERROR\n\
             shop       ok         <none>\n\
             blog-api   degraded   HTTP 500"
        );
    }

    #[test]
    fn ages_read_like_kubectls() {
        for (seconds, shown) in [
            (0, "0s"),
            (119, "119s"),
            (120, "2m"),
            (7199, "119m"),
            (7200, "2h"),
            (172_800, "2d"),
        ] {
            assert_eq!(seconds_short(seconds), shown);
        }
    }

    #[test]
    fn credentials_in_a_url_are_never_shown() {
        assert_eq!(
            shown("http://user:hunter2@127.0.0.1:8000"),
            "http://127.0.0.1:8000"
        );
        assert_eq!(encode("shop web/ä"), "shop%20web%2F%C3%A4");
    }
}
