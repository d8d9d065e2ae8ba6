//! `recommend` end to end with the built binary, on generated traces.

mod common;

use common::{gen_trace, Workspace};
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
