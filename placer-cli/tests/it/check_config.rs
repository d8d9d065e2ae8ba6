//! `check-config` end to end: every settings error names the file, the line
//! and the key, values checked after parsing included; URL credentials never
//! appear in what it prints.

use crate::kit::Workspace;

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Bad configs, each with the environment that lets check-config go as far
/// as it can (an app and a token, so the Fly and Prometheus backends are
/// built).
const CASES: &[&str] = &[
    "fly:\n  app: shop\n  api_url: ftp://user:hunter2@api.example\n",
    "fly:\n  api_url: http://user:hunter2@exa mple.org\n",
    "fly:\n  request_timeout: 0\n",
    "fly:\n  process_group: \" \"\n",
    "fly:\n  template_machine: a-b\n",
    "fly:\n  wait_for_start: 0s\n",
    "fly:\n  skip_launch: true\n  wait_for_start: 30s\n",
    "prometheus:\n  url: ftp://reader:hunter2@prom.example\n",
    "prometheus:\n  url: http://reader:hunter2@pr om.example\n",
    "prometheus:\n  region_label: fly-region\n",
    "prometheus:\n  timeout: 0\n",
    "prometheus:\n  query_template: \" \"\n",
    "dry_run: true\ntraffic_threshold: 60\ncooldown_period: 5\ntraffic_threshold: 70\n",
    "service:\n  listen: 127.0.0.1:8000\n  interval: 5m\n  data_dir: data\n  interval: 6m\n",
    "fly:\n  retry:\n    max_attempts: 2\n    base_delay: 1s\n    max_attempts: 3\n",
    "prometheus:\n  max_query_bytes: 0\n",
    "policy: latency\nlatency:\n  price_ms: 4\n  target_machines: 3\n",
    "policy: latency\nlatency:\n  price_ms: -1\n",
    "policy: latency\nlatency:\n  target_machine: 3\n",
];

#[test]
fn the_ways_of_setting_the_region_price_are_shown() {
    let workspace =
        Workspace::new("dry_run: true\npolicy: latency\nlatency:\n  target_machines: 3\n");
    let output = workspace.run(&["check-config"], &[("PLACER_APP", "shop")]);
    assert!(output.status.success(), "{}", stderr(&output));
    let document: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    let latency = &document["engine"]["latency"];
    assert_eq!(latency["target_machines"], 3.0, "{document}");
    assert_eq!(latency["price_ms"], serde_json::Value::Null, "{document}");
}

#[test]
fn the_bounds_for_many_apps_are_shown() {
    let workspace = Workspace::new(
        "dry_run: true\nservice:\n  recent_ticks: 5\nprometheus:\n  url: http://127.0.0.1:9\n  max_query_bytes: 4096\n",
    );
    let output = workspace.run(&["check-config"], &[("PLACER_APP", "shop")]);
    assert!(output.status.success(), "{}", stderr(&output));
    let document: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(document["service"]["recent_ticks"], 5, "{document}");
    assert_eq!(document["traffic"]["max_query_bytes"], 4096, "{document}");
}

#[test]
fn the_machines_section_is_shown_and_its_mistakes_named_at_their_line() {
    let workspace = Workspace::new(
        "dry_run: true\nmachines:\n  requests_per_machine: 120\n  headroom: 25%\n  standby_per_region: 1\n",
    );
    let output = workspace.run(&["check-config"], &[("PLACER_APP", "shop")]);
    assert!(output.status.success(), "{}", stderr(&output));
    let document: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    let machines = &document["engine"]["machines"];
    assert_eq!(machines["requests_per_machine"], 120.0, "{document}");
    assert_eq!(machines["headroom"], 0.25, "{document}");
    assert_eq!(machines["min_per_region"], 1, "{document}");
    assert_eq!(machines["standby_per_region"], 1, "{document}");

    let workspace = Workspace::new("machines:\n  requests_per_machine: 120\n  max_totl: 4\n");
    let output = workspace.run(&["check-config"], &[("PLACER_APP", "shop")]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains(":3: unknown key `machines.max_totl` (did you mean `max_total`?)"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn an_empty_machines_section_is_shown_with_its_defaults_and_no_section_is_not() {
    let workspace = Workspace::new("dry_run: true\nmachines: {}\n");
    let output = workspace.run(&["check-config"], &[("PLACER_APP", "shop")]);
    assert!(output.status.success(), "{}", stderr(&output));
    let document: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    let machines = &document["engine"]["machines"];
    assert_eq!(machines["min_per_region"], 1, "{document}");
    assert_eq!(machines["standby_per_region"], 0, "{document}");

    let workspace = Workspace::new("dry_run: true\n");
    let output = workspace.run(&["check-config"], &[("PLACER_APP", "shop")]);
    let document: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert!(document["engine"].get("machines").is_none(), "{document}");
}

#[test]
fn settings_errors_name_file_line_and_key_and_never_a_password() {
    let workspace = Workspace::new("dry_run: true\n");
    let mut report = String::new();
    for (index, config) in CASES.iter().enumerate() {
        let file = format!("bad-{index}.yml");
        workspace.write(&file, &format!("# case {index}\n{config}"));
        let output = workspace.run(
            &["check-config", &file],
            &[("FLY_API_TOKEN", "FlyV1 fm2_token"), ("PLACER_APP", "shop")],
        );
        let message = stderr(&output);
        assert_eq!(output.status.code(), Some(2), "{config}: {message}");
        assert!(stdout(&output).is_empty(), "{config}");
        assert!(!message.contains("hunter2"), "{config}: {message}");
        assert!(
            message.starts_with(&format!("error: {file}:")),
            "{config}: {message}"
        );
        report.push_str(&format!("{config}=> {message}\n"));
    }
    insta::assert_snapshot!("settings_errors", report);
}

#[test]
fn check_config_shows_urls_without_their_credentials() {
    let workspace = Workspace::new(
        "dry_run: false\nfly:\n  app: shop\n  api_url: https://fly:hunter2@api.example\n",
    );
    let output = workspace.run(
        &["check-config"],
        &[
            ("FLY_API_TOKEN", "FlyV1 fm2_token"),
            (
                "FLY_PROMETHEUS_URL",
                "https://reader:hunter2@prom.example/prometheus/org",
            ),
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let printed = format!("{}{}", stdout(&output), stderr(&output));
    assert!(!printed.contains("hunter2"), "{printed}");
    let effective: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    assert_eq!(
        effective["traffic"]["url"],
        "https://prom.example/prometheus/org"
    );
    assert_eq!(
        effective["deployment"]["fly"]["api_url"],
        "https://api.example"
    );
}

#[test]
fn check_config_shows_the_state_store_without_its_password() {
    let workspace = Workspace::new(
        "dry_run: true\nstate:\n  url: etcd://me:hunter5@127.0.0.1:2379/fly-placer\n  password: hunter6\n  lease_ttl: 10s\n",
    );
    let output = workspace.run(
        &["check-config"],
        &[
            (
                "PLACER_STATE_URL",
                "etcd://me:hunter7@10.0.0.1:2379,10.0.0.2:2379/placer/prod",
            ),
            ("PLACER_STATE_PASSWORD", "hunter8"),
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let printed = format!("{}{}", stdout(&output), stderr(&output));
    assert!(!printed.contains("hunter"), "{printed}");
    let effective: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    let state = &effective["state"];
    assert_eq!(
        state["url"], "etcd://10.0.0.1:2379,10.0.0.2:2379/placer/prod",
        "{state}"
    );
    assert_eq!(state["url_from"], "PLACER_STATE_URL", "{state}");
    assert_eq!(state["password"], "[redacted]", "{state}");
    assert_eq!(state["username"], "me", "{state}");
    assert_eq!(state["lease_ttl"], "10s", "{state}");
    assert_eq!(
        state["engine_state_key"], "/placer/prod/apps/default/engine_state_dry_run",
        "{state}"
    );
}

#[test]
fn a_state_url_that_cannot_be_used_names_where_it_came_from() {
    let workspace = Workspace::new("dry_run: true\nstate:\n  url: consul://127.0.0.1:8500/x\n");
    let output = workspace.run(&["check-config"], &[]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let message = stderr(&output);
    assert!(message.contains("state.url"), "{message}");
    assert!(
        message.contains("unknown state store `consul`"),
        "{message}"
    );
}

#[test]
fn blank_variables_count_as_unset_for_the_flags_too() {
    let workspace = Workspace::new("traffic_threshold: 80\n");
    for var in [
        "PLACER_CONFIG",
        "PLACER_DATA_DIR",
        "PLACER_LISTEN",
        "PLACER_LOG_FORMAT",
        "PLACER_LOG_FILE",
        "PLACER_WAIT_FOR_LOCK",
    ] {
        for blank in ["", "  "] {
            let output = workspace.run(&["check-config"], &[(var, blank)]);
            assert!(
                output.status.success(),
                "{var}={blank:?}: {}",
                stderr(&output)
            );
            assert!(stdout(&output).contains("traffic_threshold"), "{var}");
        }
    }
    // PLACER_WAIT_FOR_LOCK takes the usual ways of saying yes and no.
    for value in ["1", "yes", "on", "true", "0", "no", "off", "false"] {
        let output = workspace.run(&["check-config"], &[("PLACER_WAIT_FOR_LOCK", value)]);
        assert!(output.status.success(), "{value}: {}", stderr(&output));
    }
    // A blank value in `.env` is the same.
    std::fs::write(workspace.path(".env"), "PLACER_DATA_DIR=\nPLACER_LISTEN=\n").unwrap();
    let output = workspace.run(&["check-config"], &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    std::fs::remove_file(workspace.path(".env")).unwrap();
}

/// Runs the binary with its standard output a pipe whose reading end is
/// already closed, as `fly-placer … | head -0` leaves it.
fn with_closed_stdout(workspace: &Workspace, args: &[&str]) -> std::process::Output {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let child = workspace
        .command(args, &[])
        .stdout(writer)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn a_reader_that_stops_early_is_not_an_error() {
    let workspace = Workspace::new(&crate::kit::default_config());
    for args in [&["check-config"][..], &["once"][..]] {
        let output = with_closed_stdout(&workspace, args);
        let err = stderr(&output);
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert_eq!(output.status.code(), Some(0), "{args:?}: {err}");
    }
}

#[test]
fn unknown_keys_in_the_services_sections_are_named_whole_at_their_line() {
    let cases = [
        (
            "dry_run: true\nfly:\n  app: shop\n  retry:\n    max_attemps: 3\n",
            "config/config.yml:5: unknown key `fly.retry.max_attemps` (did you mean `max_attempts`?)",
        ),
        (
            "dry_run: true\nprometheus:\n  timout: 5s\n",
            "config/config.yml:3: unknown key `prometheus.timout` (did you mean `timeout`?)",
        ),
    ];
    for (config, expected) in cases {
        let workspace = Workspace::new(config);
        let output = workspace.run(&["check-config"], &[]);
        assert_eq!(output.status.code(), Some(2), "{config}");
        let message = stderr(&output);
        assert!(message.contains(expected), "{message}");
    }
}

#[test]
fn check_config_notes_regions_fly_places_no_machines_in() {
    let workspace = Workspace::new("dry_run: true\nalways_running_regions: [fra, mad]\n");
    let output = workspace.run(&["check-config"], &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    let effective: serde_json::Value = serde_json::from_str(&stdout(&output)).unwrap();
    let notes: Vec<String> = effective["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|note| note.as_str().unwrap().to_owned())
        .collect();
    let mad: Vec<&String> = notes.iter().filter(|n| n.contains("mad")).collect();
    assert_eq!(mad.len(), 1, "{notes:?}");
    assert!(
        mad[0].contains(
            "`always_running_regions` lists mad, which is an edge region: Fly places no machines there, so fly-placer never deploys it; its users are served from cdg"
        ),
        "{notes:?}"
    );
    assert!(!notes.iter().any(|n| n.contains("fra")), "{notes:?}");
}

/// A fake app whose only machine (the template) has one service with the
/// given autostart and autostop.
fn template_with_service(
    runtime: &tokio::runtime::Runtime,
    autostart: bool,
    autostop: &str,
) -> placer_fly::fake::FakeMachinesApi {
    use placer_fly::fake::{FakeMachinesApi, MachineSpec};
    let api = runtime
        .block_on(FakeMachinesApi::start("shop", "FlyV1 fm2_token"))
        .unwrap();
    api.add_machine(MachineSpec::new("iad").config_field(
        "services",
        serde_json::json!([{"internal_port": 8080, "autostart": autostart, "autostop": autostop}]),
    ));
    api
}

#[test]
fn standbys_the_proxy_could_never_start_are_warned_of_and_only_with_standbys() {
    let runtime = crate::kit::runtime();
    let off = template_with_service(&runtime, false, "stop");
    let on = template_with_service(&runtime, true, "stop");
    let env = [("FLY_API_TOKEN", "FlyV1 fm2_token"), ("PLACER_APP", "shop")];
    let config = |api: &placer_fly::fake::FakeMachinesApi, standbys: u32| {
        format!(
            "dry_run: true\nmachines:\n  requests_per_machine: 100\n  standby_per_region: {standbys}\nfly:\n  api_url: {}\n",
            api.base_url()
        )
    };
    let workspace = Workspace::new(&config(&off, 1));
    let output = workspace.run(&["check-config"], &env);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stderr(&output).contains(
            "warning: the template machine's service on internal port 8080 has autostart off"
        ),
        "{}",
        stderr(&output)
    );

    for (api, standbys) in [(&off, 0), (&on, 1)] {
        workspace.write("config.yml", &config(api, standbys));
        let before = api.requests().len();
        let output = workspace.run(&["check-config", "config.yml"], &env);
        assert!(output.status.success(), "{}", stderr(&output));
        assert!(
            !stderr(&output).contains("warning:"),
            "{standbys} standby(s): {}",
            stderr(&output)
        );
        if standbys == 0 {
            assert_eq!(api.requests().len(), before, "no standby: nothing asked");
        }
    }
}
