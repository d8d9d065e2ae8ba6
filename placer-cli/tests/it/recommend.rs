//! `recommend` end to end with the built binary, on generated traces.

use crate::kit::{gen_trace, Workspace};
use serde_json::Value;

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn stdout(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

#[test]
fn recommend_picks_regions_for_the_trace_traffic() {
    let workspace = Workspace::new("dry_run: true\nexcluded_regions: [ord]\n");
    gen_trace(&workspace, "region-shift", "6", "3", "shift.csv");
    let output = workspace.run(
        &[
            "recommend",
            "--k",
            "3",
            "--from-trace",
            "shift.csv",
            "--current",
            "iad,fra",
            "--json",
        ],
        &[],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let pick: Value = serde_json::from_str(&stdout(&output)).unwrap();
    let regions = pick["recommended"]["regions"].as_array().unwrap();
    assert_eq!(regions.len(), 3);
    assert!(!regions.contains(&Value::from("ord")), "excluded: {pick}");
    assert_eq!(
        pick["current"]["regions"],
        serde_json::json!(["fra", "iad"])
    );
    let best = pick["recommended"]["mean_rtt_ms"].as_f64().unwrap();
    let current = pick["current"]["mean_rtt_ms"].as_f64().unwrap();
    assert!(best <= current, "{pick}");
    insta::assert_snapshot!("json", stdout(&output));

    // The table, with the current set's cost beside the pick.
    let output = workspace.run(
        &[
            "recommend",
            "--k",
            "3",
            "--trace",
            "shift.csv",
            "--initial",
            "iad,fra",
        ],
        &[],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let table = stdout(&output);
    let recommended = regions
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect::<Vec<_>>()
        .join(", ");
    assert!(
        table.contains(&format!("recommended  {recommended}")),
        "{table}"
    );
    assert!(table.contains("current      fra, iad"), "{table}");
    assert!(table.contains(&format!("{current:.1} ms")), "{table}");
}

#[test]
fn always_running_regions_are_part_of_the_pick() {
    let workspace = Workspace::new("dry_run: true\nalways_running_regions: [gru, nrt]\n");
    gen_trace(&workspace, "noisy-steady", "1", "1", "noisy.csv");
    let output = workspace.run(&["recommend", "--k", "1", "--trace", "noisy.csv"], &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    let table = stdout(&output);
    assert!(table.contains("recommended  gru, nrt"), "{table}");
    assert!(table.contains("Note: 2 regions instead of 1"), "{table}");
}

fn pick(workspace: &Workspace, extra: &[&str]) -> Value {
    let mut args = vec![
        "recommend",
        "--k",
        "2",
        "--from-trace",
        "week.csv",
        "--json",
    ];
    args.extend(extra);
    let output = workspace.run(&args, &[]);
    assert!(output.status.success(), "{}", stderr(&output));
    serde_json::from_str(&stdout(&output)).unwrap()
}

#[test]
fn recommend_answers_for_a_time_window() {
    let workspace = Workspace::new("dry_run: true\n");
    gen_trace(&workspace, "business-hours", "168", "3", "week.csv");
    // Asia's office hours (Singapore and Tokyo, 00:00–09:00 UTC) want
    // machines there; Europe's (08:00–17:00 UTC) want them in Europe.
    let asia = pick(
        &workspace,
        &["--days", "mon-fri", "--between", "01:00-08:00"],
    );
    let europe = pick(
        &workspace,
        &["--days", "mon-fri", "--between", "09:00-16:00"],
    );
    let regions = |pick: &Value| -> Vec<String> {
        pick["recommended"]["regions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_str().unwrap().to_owned())
            .collect()
    };
    let in_asia = |r: &String| ["sin", "nrt", "hkg", "bom"].contains(&r.as_str());
    assert!(regions(&asia).iter().any(in_asia), "{asia}");
    assert!(
        regions(&europe)
            .iter()
            .any(|r| ["lhr", "fra", "ams", "cdg"].contains(&r.as_str())),
        "{europe}"
    );
    assert!(!regions(&europe).iter().any(in_asia), "{europe}");
    // The window's requests only: less than the whole week's.
    let all = pick(&workspace, &[]);
    assert!(europe["requests"].as_f64().unwrap() < all["requests"].as_f64().unwrap());

    // The table names the window.
    let output = workspace.run(
        &[
            "recommend",
            "--k",
            "2",
            "--from-trace",
            "week.csv",
            "--days",
            "mon-fri",
            "--between",
            "09:00-16:00",
        ],
        &[],
    );
    assert!(
        stdout(&output).contains("ticks (7days) of week.csv within Mon–Fri, 09:00–16:00 UTC"),
        "{}",
        stdout(&output)
    );

    // A window without ticks, and a window that cannot be read, exit 2.
    gen_trace(&workspace, "business-hours", "24", "3", "monday.csv");
    let output = workspace.run(
        &[
            "recommend",
            "--k",
            "2",
            "--from-trace",
            "monday.csv",
            "--days",
            "sat",
        ],
        &[],
    );
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("no tick of monday.csv falls within Sat, all day UTC"),
        "{}",
        stderr(&output)
    );
    let output = workspace.run(
        &[
            "recommend",
            "--k",
            "2",
            "--from-trace",
            "week.csv",
            "--between",
            "9-17",
        ],
        &[],
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("hours \"9-17\""),
        "{}",
        stderr(&output)
    );
}
