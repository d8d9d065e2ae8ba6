//! `gen-trace` and `backtest` end to end with the built binary, on
//! generated traces (and the errors `recommend` shares with `backtest`).

use std::collections::BTreeSet;

use crate::kit::{gen_trace, Workspace};
use placer_lab::scenario::Scenario;
use placer_lab::Trace;
use serde_json::Value;

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A workspace whose config file selects `policy`.
fn workspace(policy: &str) -> Workspace {
    Workspace::new(&format!("dry_run: true\npolicy: {policy}\n"))
}

/// Checks the decisions file against the trace: one line per tick at the
/// tick's time, each `deployed` sorted and equal to the previous set changed
/// by the tick's actions.
fn check_decisions(text: &str, trace: &Trace, initial: &[&str]) {
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), trace.len());
    let mut deployed: BTreeSet<String> = initial.iter().map(|r| r.to_string()).collect();
    for (line, tick) in lines.iter().zip(trace.ticks()) {
        let decision: Value = serde_json::from_str(line).unwrap();
        let keys: Vec<&String> = decision.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["actions", "deployed", "t"], "{line}");
        assert_eq!(decision["t"], tick.at().to_string(), "{line}");
        for action in decision["actions"].as_array().unwrap() {
            let region = action["region"].as_str().unwrap().to_owned();
            match action["action"].as_str().unwrap() {
                "deploy" => assert!(deployed.insert(region), "{line}"),
                "remove" => assert!(deployed.remove(&region), "{line}"),
                other => panic!("unknown action {other}: {line}"),
            }
        }
        let listed: Vec<String> = decision["deployed"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_str().unwrap().to_owned())
            .collect();
        let sorted: Vec<String> = deployed.iter().cloned().collect();
        assert_eq!(listed, sorted, "{line}");
    }
}

#[test]
fn every_scenario_generates_a_trace_that_backtests() {
    for (index, scenario) in Scenario::ALL.iter().enumerate() {
        // Both policies get their turn.
        let policy = if index % 2 == 0 {
            "threshold"
        } else {
            "latency"
        };
        let workspace = workspace(policy);
        let trace = gen_trace(&workspace, scenario.name(), "3", "5", "trace.csv");
        assert_eq!(trace.len(), 180, "{scenario}");

        // A --decisions path that cannot be created (its "directory" is the
        // trace file) fails before the replay, naming the path.
        let output = workspace.run(
            &[
                "backtest",
                "--trace",
                "trace.csv",
                "--initial",
                "iad,fra",
                "--decisions",
                "trace.csv/decisions.jsonl",
            ],
            &[],
        );
        assert_eq!(
            output.status.code(),
            Some(1),
            "{scenario}: {}",
            stderr(&output)
        );
        assert!(
            stderr(&output).contains("trace.csv/decisions.jsonl"),
            "{}",
            stderr(&output)
        );

        // A missing directory is created.
        let output = workspace.run(
            &[
                "backtest",
                "--trace",
                "trace.csv",
                "--decisions",
                "out/decisions.jsonl",
            ],
            &[],
        );
        assert!(output.status.success(), "{scenario}: {}", stderr(&output));
        let lines = std::fs::read_to_string(workspace.path("out/decisions.jsonl")).unwrap();
        assert_eq!(lines.lines().count(), 180, "{scenario}");

        let output = workspace.run(
            &[
                "backtest",
                "--trace",
                "trace.csv",
                "--initial",
                "iad,fra",
                "--decisions",
                "decisions.jsonl",
            ],
            &[],
        );
        assert!(output.status.success(), "{scenario}: {}", stderr(&output));
        let table = stdout(&output);
        let first_words: Vec<&str> = table
            .lines()
            .skip(2)
            .take(5)
            .map(|line| line.split_whitespace().next().unwrap())
            .collect();
        assert_eq!(
            first_words,
            [policy, "static", "seed", "best-static-K", "oracle-K"],
            "{scenario}:\n{table}"
        );
        assert!(
            table.starts_with("Placement quality over 180 ticks of 1m (3h)"),
            "{table}"
        );
        let decisions = std::fs::read_to_string(workspace.path("decisions.jsonl")).unwrap();
        check_decisions(&decisions, &trace, &["fra", "iad"]);
        assert!(
            stderr(&output).contains(&format!("with the {policy} policy")),
            "{}",
            stderr(&output)
        );
    }
}

#[test]
fn the_json_report_is_the_same_for_the_same_seed() {
    let workspace = workspace("latency");
    let first = gen_trace(&workspace, "flash-crowd", "2", "11", "a.csv");
    let second = gen_trace(&workspace, "flash-crowd", "2", "11", "b.csv");
    assert_eq!(first, second);
    let other = gen_trace(&workspace, "flash-crowd", "2", "12", "c.csv");
    assert_ne!(first, other, "another seed, another trace");

    let reports: Vec<String> = ["a.csv", "b.csv"]
        .iter()
        .map(|trace| {
            let output = workspace.run(&["backtest", "--trace", trace, "--json"], &[]);
            assert!(output.status.success(), "{}", stderr(&output));
            stdout(&output)
        })
        .collect();
    assert_eq!(reports[0], reports[1]);
    let report: Value = serde_json::from_str(&reports[0]).unwrap();
    assert_eq!(report["ticks"], 120);
    assert_eq!(report["rows"][0]["policy"], "latency");
    insta::assert_snapshot!("backtest_report_json", reports[0]);
}

/// The report of `backtest --json` with `extra` flags, in `workspace`.
fn json_report(workspace: &Workspace, extra: &[&str]) -> Value {
    let mut args = vec!["backtest", "--trace", "trace.csv", "--json"];
    args.extend(extra);
    let output = workspace.run(&args, &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    serde_json::from_str(&stdout(&output)).unwrap()
}

#[test]
fn startup_ticks_come_from_the_flag_or_the_configs_machine_startup() {
    let workspace = workspace("latency");
    gen_trace(&workspace, "steady-high-undeployed", "1", "4", "trace.csv");
    let at_once = json_report(&workspace, &[]);
    let late = json_report(&workspace, &["--startup-ticks", "3"]);
    assert_eq!(at_once["settings"]["startup_ticks"], 0);
    assert_eq!(late["settings"]["startup_ticks"], 3);
    let (policy_now, policy_late) = (&at_once["rows"][0], &late["rows"][0]);
    // The engine plans with the start-up too: iad stays until the far
    // regions serve, a few machine-minutes more, and they serve later.
    assert!(
        policy_late["machine_hours"].as_f64().unwrap()
            > policy_now["machine_hours"].as_f64().unwrap()
    );
    assert!(
        policy_late["mean_rtt_ms"].as_f64().unwrap() > policy_now["mean_rtt_ms"].as_f64().unwrap()
    );
    // The oracle runs the policy's machine-hours and lives with the same
    // start-up: its far regions serve later too.
    assert_eq!(late["rows"][5]["policy"], "oracle-equal-mh");
    let oracle_hours = late["rows"][5]["machine_hours"].as_f64().unwrap();
    assert!((oracle_hours - policy_late["machine_hours"].as_f64().unwrap()).abs() < 1e-6);
    let oracle_rtt = |report: &Value| report["rows"][5]["mean_rtt_ms"].as_f64().unwrap();
    assert!(oracle_rtt(&late) > oracle_rtt(&at_once));

    // 2m30s of start-up on one-minute ticks is three ticks.
    workspace.write(
        "startup.yml",
        "dry_run: true\npolicy: latency\nmachine_startup: 2m30s\n",
    );
    let configured = json_report(&workspace, &["--config", "startup.yml"]);
    assert_eq!(configured, late);
    let table = workspace.run(
        &["backtest", "--trace", "trace.csv", "--startup-ticks", "2"],
        &[],
    );
    assert!(
        stdout(&table).contains("A region deployed at tick t serves from tick t + 2"),
        "{}",
        stdout(&table)
    );
}

#[test]
fn a_warm_up_is_replayed_but_only_the_rest_is_scored() {
    let workspace = workspace("latency");
    // Two days of 5-minute ticks: 576 ticks, a warm-up of one day is 288.
    workspace.run(
        &[
            "gen-trace",
            "--scenario",
            "steady-high-undeployed",
            "--hours",
            "48",
            "--seed",
            "5",
            "--step",
            "5m",
            "--out",
            "trace.csv",
        ],
        &[],
    );
    let whole = json_report(&workspace, &["--decisions", "all.jsonl"]);
    let scored = json_report(&workspace, &["--warm-up", "1d"]);
    assert_eq!(whole["ticks"], 576);
    assert_eq!(scored["ticks"], 288);
    // The policy's regions are those of the whole replay's second day, and
    // every reference row starts from the regions deployed at its start:
    // the static row keeps them.
    let decisions: Vec<Value> = std::fs::read_to_string(workspace.path("all.jsonl"))
        .unwrap()
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let at_warm_up_end = decisions[287]["deployed"].as_array().unwrap().len() as f64;
    let row = |report: &Value, name: &str| -> Value {
        report["rows"]
            .as_array()
            .unwrap()
            .iter()
            .find(|row| row["policy"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(
        row(&scored, "static")["mean_regions"].as_f64().unwrap(),
        at_warm_up_end
    );
    assert_eq!(row(&whole, "static")["mean_regions"].as_f64().unwrap(), 1.0);
    let second_day: f64 = decisions[287..575]
        .iter()
        .map(|d| d["deployed"].as_array().unwrap().len() as f64)
        .sum::<f64>()
        / 288.0;
    let regions = row(&scored, "latency")["mean_regions"].as_f64().unwrap();
    assert!(
        (regions - second_day).abs() < 0.01,
        "{regions} vs {second_day}"
    );

    // A warm-up as long as the trace leaves nothing to score: a setup error.
    let output = workspace.run(
        &["backtest", "--trace", "trace.csv", "--warm-up", "2d"],
        &[],
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("--warm-up 2days leaves no tick of trace.csv to score"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_machines_section_adds_the_capacity_part_to_every_report_form() {
    let workspace = workspace("latency");
    gen_trace(&workspace, "flash-crowd", "3", "7", "trace.csv");
    let plain = json_report(&workspace, &["--decisions", "plain.jsonl"]);
    assert!(plain.get("capacity").is_none(), "{plain}");
    workspace.write(
        "capacity.yml",
        "dry_run: true\npolicy: latency\nalways_running_regions: [fra]\nmachines:\n  requests_per_machine: 120\n  headroom: 50%\n",
    );
    let with = json_report(
        &workspace,
        &[
            "--config",
            "capacity.yml",
            "--decisions",
            "capacity.jsonl",
            "--warm-up",
            "1h",
        ],
    );
    let capacity = &with["capacity"];
    assert_eq!(capacity["requests_per_machine"], 120.0);
    assert_eq!(capacity["headroom"], 0.5);
    // fly-autoscaler's regions: the initial ones and the always-running.
    assert_eq!(
        capacity["autoscaler_regions"],
        serde_json::json!(["fra", "iad"])
    );
    let names: Vec<&str> = capacity["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["policy"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["latency", "autoscaler", "oracle-counts"]);
    let oracle = &capacity["rows"][2];
    assert_eq!(oracle["overloaded_requests"], 0.0);
    // Scored after the warm-up: two hours of one-minute ticks.
    let policy = &capacity["rows"][0];
    assert_eq!(with["ticks"], 120);
    assert!(policy["machine_hours"].as_f64().unwrap() >= 2.0);
    let ratio = capacity["machine_hours_to_oracle"].as_f64().unwrap();
    let oracle_hours = oracle["machine_hours"].as_f64().unwrap();
    assert!((ratio * oracle_hours - policy["machine_hours"].as_f64().unwrap()).abs() < 1e-9);

    let table = workspace.run(
        &[
            "backtest",
            "--trace",
            "trace.csv",
            "--config",
            "capacity.yml",
        ],
        &[],
    );
    let text = stdout(&table);
    assert!(
        text.contains("Capacity: 120 requests per running machine per tick"),
        "{text}"
    );
    assert!(
        text.contains(
            "autoscaler: ⌈last tick's load × 1.5 / 120⌉ machines round-robin over fra, iad."
        ),
        "{text}"
    );
    let html = workspace.run(
        &[
            "backtest",
            "--trace",
            "trace.csv",
            "--config",
            "capacity.yml",
            "--html",
            "report.html",
        ],
        &[],
    );
    assert!(html.status.success(), "{}", stderr(&html));
    let page = std::fs::read_to_string(workspace.path("report.html")).unwrap();
    assert!(page.contains("<h2>Capacity</h2>"));
    assert!(page.contains("<td>oracle-counts</td>"));
}

#[test]
fn bad_trace_rows_exit_2_naming_file_and_line() {
    let workspace = workspace("threshold");
    workspace.write(
        "bad.csv",
        "timestamp,region,requests\n\
         2026-01-05T00:00:00Z,iad,10\n\
         2026-01-05T00:01:00Z,iad,12\n\
         2026-01-05T00:02:00Z,iad,-3\n",
    );
    for command in [
        &["backtest", "--trace", "bad.csv"][..],
        &["recommend", "--k", "2", "--from-trace", "bad.csv"],
    ] {
        let output = workspace.run(command, &[]);
        assert_eq!(output.status.code(), Some(2), "{command:?}");
        assert!(
            stderr(&output)
                .contains("error: bad.csv:4: requests \"-3\" for region iad is negative"),
            "{command:?}: {}",
            stderr(&output)
        );
        assert!(stdout(&output).is_empty());
    }

    let output = workspace.run(&["backtest", "--trace", "missing.csv"], &[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("cannot read missing.csv"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn a_measured_latency_matrix_is_used_for_the_figures() {
    let workspace = workspace("threshold");
    workspace.write(
        "fra.csv",
        "timestamp,region,requests\n\
         2026-01-05T00:00:00Z,fra,5\n\
         2026-01-05T00:01:00Z,fra,5\n",
    );
    workspace.write("matrix.json", r#"{"fra": {"iad": 42.5}}"#);
    let output = workspace.run(
        &[
            "backtest",
            "--trace",
            "fra.csv",
            "--json",
            "--latency-matrix",
            "matrix.json",
        ],
        &[],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let report: Value = serde_json::from_str(&stdout(&output)).unwrap();
    let static_row = &report["rows"][1];
    assert_eq!(static_row["policy"], "static");
    assert_eq!(static_row["mean_rtt_ms"], 42.5);

    workspace.write("broken.json", r#"{"fra": {"iad": -1}}"#);
    let output = workspace.run(
        &[
            "backtest",
            "--trace",
            "fra.csv",
            "--latency-matrix",
            "broken.json",
        ],
        &[],
    );
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert!(
        message.contains("broken.json: latency matrix entry fra.iad"),
        "{message}"
    );
}

#[test]
fn prometheus_history_needs_a_url_and_a_reachable_server() {
    let workspace = workspace("threshold");
    let output = workspace.run(&["backtest", "--prometheus", "--app", "shop"], &[]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("FLY_PROMETHEUS_URL"),
        "{}",
        stderr(&output)
    );

    let output = workspace.run(
        &["recommend", "--k", "2", "--prometheus"],
        &[("FLY_PROMETHEUS_URL", "http://127.0.0.1:9")],
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("--app"), "{}", stderr(&output));

    // A loopback port nobody listens on.
    let port = crate::kit::free_port();
    let url = format!("http://127.0.0.1:{port}");
    let output = workspace.run(
        &["backtest", "--prometheus", "--since", "1h"],
        &[
            ("FLY_PROMETHEUS_URL", url.as_str()),
            ("FLY_APP_NAME", "shop"),
        ],
    );
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let message = stderr(&output);
    assert!(
        message.contains("fetching history from Prometheus failed"),
        "{message}"
    );
    assert!(message.contains(&url), "{message}");
}

#[test]
fn no_progress_bar_is_drawn_when_stderr_is_not_a_terminal() {
    let workspace = workspace("threshold");
    let output = workspace.run(
        &[
            "gen-trace",
            "--scenario",
            "long-tail",
            "--hours",
            "6",
            "--step",
            "10s",
            "--seed",
            "2",
            "--out",
            "long.csv",
        ],
        &[],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let output = workspace.run(&["backtest", "--trace", "long.csv"], &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("2160 ticks of 10s"),
        "{}",
        stdout(&output)
    );
    let log = stderr(&output);
    assert!(!log.contains('\r') && !log.contains('\u{1b}'), "{log:?}");
}

#[test]
fn unknown_scenarios_are_refused_with_the_valid_names() {
    let workspace = workspace("threshold");
    let output = workspace.run(
        &[
            "gen-trace",
            "--scenario",
            "rush-hour",
            "--hours",
            "1",
            "--seed",
            "1",
            "--out",
            "x.csv",
        ],
        &[],
    );
    assert_eq!(output.status.code(), Some(2));
    let message = stderr(&output);
    assert!(message.contains("rush-hour"), "{message}");
    for scenario in Scenario::ALL {
        assert!(message.contains(scenario.name()), "{message}");
    }
    assert!(!workspace.path("x.csv").exists());
}

#[test]
fn the_report_says_which_price_was_in_force_and_why() {
    let workspace = workspace("latency");
    gen_trace(&workspace, "follow-the-sun", "6", "3", "trace.csv");
    let configs = [
        ("legacy.yml", "", "usual"),
        ("price.yml", "latency:\n  price_ms: 4\n", "per_machine"),
        ("target.yml", "latency:\n  target_machines: 2\n", "spending"),
        (
            "budget.yml",
            "latency:\n  budget:\n    machine_hours: 9\n    period: 6h\n",
            "usual",
        ),
    ];
    let mut prices = Vec::new();
    for (file, section, set_by) in configs {
        workspace.write(file, &format!("dry_run: true\npolicy: latency\n{section}"));
        let report = json_report(&workspace, &["--config", file]);
        let price = &report["price"];
        assert_eq!(price["basis"]["set_by"], set_by, "{file}: {price}");
        assert!(price["region_price"].as_f64().unwrap() > 0.0, "{file}");
        prices.push((file, price.clone()));
        let table = workspace.run(&["backtest", "--trace", "trace.csv", "--config", file], &[]);
        assert!(
            stdout(&table).contains("price in force at the end: "),
            "{}",
            stdout(&table)
        );
    }
    insta::assert_json_snapshot!("backtest_prices", prices);
    // A budget sets no price, and spends what it is given, no more.
    let report = json_report(&workspace, &["--config", "budget.yml"]);
    let hours = report["rows"][0]["machine_hours"].as_f64().unwrap();
    assert!(hours <= 9.0 + 1e-6, "{hours}");
}
