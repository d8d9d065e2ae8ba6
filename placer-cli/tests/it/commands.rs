//! `once`, `check-config`, `--help` and refusals to start, end to end.

use crate::kit::{default_config, Workspace, BINARY};

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn help_lists_every_command_and_flag() {
    let output = std::process::Command::new(BINARY)
        .arg("--help")
        .env_clear()
        .output()
        .unwrap();
    assert!(output.status.success());
    insta::assert_snapshot!("help", stdout(&output));
}

#[test]
fn offline_commands_document_their_flags() {
    for command in ["gen-trace", "backtest", "recommend"] {
        let output = std::process::Command::new(BINARY)
            .args([command, "--help"])
            .env_clear()
            .output()
            .unwrap();
        assert!(output.status.success(), "{command}");
        insta::assert_snapshot!(format!("help_{command}"), stdout(&output));
    }
}

#[test]
fn once_prints_a_report_in_the_seed_shape() {
    let config = format!("{}\nsimulation:\n  seed: 42\n", default_config());
    let workspace = Workspace::new(&config);
    let mut reports = Vec::new();
    for _ in 0..3 {
        let output = workspace.run(&["once"], &[]);
        assert!(output.status.success(), "{}", stderr(&output));
        reports.push(stdout(&output));
    }
    // Each run resumes the engine state of the one before.
    let third: serde_json::Value = serde_json::from_str(&reports[2]).unwrap();
    assert_eq!(third["regions"]["iad"]["points"], 3);
    // The report as printed: the seed's five keys first, then the detail.
    let printed: String = reports[2]
        .lines()
        .map(|line| {
            if line.starts_with("  \"at\": ") {
                "  \"at\": \"[tick time]\",".to_owned()
            } else {
                line.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    insta::assert_snapshot!("once_report", printed);
}

#[test]
fn bad_config_exits_non_zero_naming_file_line_and_key() {
    let workspace = Workspace::new("dry_run: true\ntrafic_threshold: 80\n");
    for command in [
        &["serve", "--listen", "127.0.0.1:0"][..],
        &["once"],
        &["check-config"],
    ] {
        let output = workspace.run(command, &[]);
        assert_eq!(output.status.code(), Some(2), "{command:?}");
        let message = stderr(&output);
        assert!(
            message.contains("config/config.yml:2: unknown key `trafic_threshold` (did you mean `traffic_threshold`?)"),
            "{command:?}: {message}"
        );
    }
}

#[test]
fn check_config_prints_the_effective_settings_without_secrets() {
    let workspace = Workspace::new(&default_config());
    workspace.write(
        "other.yml",
        "dry_run: true\ntraffic_threshold: 70\nservice:\n  interval: 5m\n",
    );
    let output = workspace.run(
        &["check-config", "other.yml"],
        &[("PLACER_TRIGGER_TOKEN", "very-secret")],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let effective: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(effective["file"], "other.yml");
    assert_eq!(effective["engine"]["traffic_threshold"], 70.0);
    assert_eq!(effective["service"]["interval"], "5m");
    assert_eq!(effective["service"]["listen"], "127.0.0.1:8000");
    assert_eq!(effective["service"]["trigger_token"], "[redacted]");
    assert_eq!(effective["traffic"]["source"], "simulation");
    assert!(!stdout(&output).contains("very-secret"));
    assert!(stderr(&output).contains("other.yml: valid"));

    workspace.write(
        "broken.yml",
        "service:\n  listen: 127.0.0.1:8000\n  interval: soon\n",
    );
    let output = workspace.run(&["check-config", "broken.yml"], &[]);
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert!(message.contains("broken.yml:3"), "{message}");
    assert!(message.contains("service.interval"), "{message}");
}

#[test]
fn live_mode_refuses_to_start_without_app_and_token() {
    let workspace = Workspace::new(&default_config().replace("dry_run: True", "dry_run: false"));
    let output = workspace.run(&["serve", "--listen", "127.0.0.1:0"], &[]);
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert!(message.contains("dry_run is false"), "{message}");
    assert!(message.contains("FLY_APP_NAME"), "{message}");
    assert!(message.contains("FLY_API_TOKEN"), "{message}");

    let output = workspace.run(&["once"], &[("FLY_APP_NAME", "shop")]);
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert!(message.contains("FLY_API_TOKEN is not set"), "{message}");
    assert!(!workspace.path("data").exists(), "nothing may be written");
}

#[test]
fn listening_beyond_loopback_needs_a_trigger_token() {
    let workspace = Workspace::new(&default_config());
    // Refused before anything is bound.
    let output = workspace.run(&["serve", "--listen", "0.0.0.0:0"], &[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("PLACER_TRIGGER_TOKEN"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn dotenv_file_in_the_working_directory_is_read() {
    let workspace = Workspace::new(&default_config().replace("dry_run: True", "dry_run: false"));
    workspace.write(".env", "FLY_APP_NAME=from-dotenv\n");
    let output = workspace.run(&["once"], &[]);
    let message = stderr(&output);
    // The app came from .env, so only the token is missing.
    assert!(message.contains("FLY_API_TOKEN is not set"), "{message}");
    assert!(message.contains("read environment from"), "{message}");
}

#[test]
fn json_logs_go_to_stderr_and_the_log_file() {
    let workspace = Workspace::new(&default_config());
    let output = workspace.run(
        &[
            "once",
            "--log-format",
            "json",
            "--log-file",
            "logs/auto_placer.log",
        ],
        &[],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let first = stderr(&output).lines().next().unwrap().to_owned();
    let line: serde_json::Value = serde_json::from_str(&first).unwrap();
    assert!(line["level"].is_string(), "{first}");
    assert!(line["message"].is_string(), "{first}");
    let file = std::fs::read_to_string(workspace.path("logs/auto_placer.log")).unwrap();
    assert!(file.contains("built-in simulation"), "{file}");
    assert!(serde_json::from_str::<serde_json::Value>(file.lines().next().unwrap()).is_ok());
}

#[test]
fn once_exits_non_zero_when_the_tick_fails_and_still_prints_the_report() {
    // A loopback port nobody listens on.
    let port = crate::kit::free_port();
    let workspace = Workspace::new(&default_config());
    let url = format!("http://127.0.0.1:{port}");
    let output = workspace.run(
        &["once"],
        &[
            ("FLY_PROMETHEUS_URL", url.as_str()),
            ("FLY_APP_NAME", "shop"),
        ],
    );
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let report: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    let error = report["error"].as_str().unwrap();
    assert!(error.starts_with("fetching traffic failed"), "{error}");
    assert!(error.contains(&url), "{error}");
    assert_eq!(report["deployed"], serde_json::json!([]));
    assert!(stderr(&output).contains("tick failed, nothing changed"));
}

#[test]
fn once_reads_the_traffic_from_a_prometheus_api() {
    use placer_prom::test_server::FakePrometheus;

    let runtime = tokio::runtime::Runtime::new().unwrap();
    let server = runtime.block_on(FakePrometheus::start()).unwrap();
    server.set_rates([("iad", 500.0), ("cdg", 5.0)]);
    server.require_authorization("Bearer fly-token");
    let workspace = Workspace::new(&default_config());
    let url = server.url();
    let output = workspace.run(
        &["once"],
        &[
            ("FLY_PROMETHEUS_URL", url.as_str()),
            ("FLY_APP_NAME", "shop"),
            ("PLACER_PROMETHEUS_TOKEN", "fly-token"),
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let report: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert!(report["error"].is_null(), "{report}");
    assert_eq!(report["regions"]["iad"]["points"], 1, "{report}");
    // The threshold policy (the default) plans on observed traffic only:
    // no past traffic is read for a forecaster, just the tick's query.
    let queries = server.queries();
    let kinds: Vec<&str> = queries.iter().map(|q| q.kind).collect();
    assert_eq!(kinds, ["query"], "{queries:?}");
    assert!(queries[0].query.contains(r#"app="shop""#), "{queries:?}");
    assert!(queries[0].authorized, "{queries:?}");
    assert!(!stdout(&output).contains("fly-token"));
}
