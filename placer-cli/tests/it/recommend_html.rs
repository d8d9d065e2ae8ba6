//! `recommend --html`: the recommended set on the world map, one
//! self-contained page, checked against the JSON recommendation and opened
//! in a real headless Chromium.

use std::collections::BTreeSet;

use crate::kit::{browser, gen_trace, Workspace};
use serde_json::Value;

/// The `data-region` values of the `<circle class="…">` elements of `class`.
fn circles(html: &str, class: &str) -> BTreeSet<String> {
    let open = format!("<circle class=\"{class}\" data-region=\"");
    html.match_indices(&open)
        .map(|(at, _)| {
            let rest = &html[at + open.len()..];
            rest[..rest.find('"').unwrap()].to_owned()
        })
        .collect()
}

fn strings(value: &Value) -> BTreeSet<String> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

/// Writes the page for a three-region pick over six hours of region-shift
/// and checks it against the JSON recommendation: the workspace and the
/// recommended regions.
fn checked_page() -> (Workspace, BTreeSet<String>) {
    let workspace = Workspace::new("dry_run: true\n");
    let trace = gen_trace(&workspace, "region-shift", "6", "3", "shift.csv");
    let args = [
        "recommend",
        "--k",
        "3",
        "--from-trace",
        "shift.csv",
        "--current",
        "iad,fra",
    ];
    let json = workspace.run(&[&args[..], &["--json"]].concat(), &[]);
    assert!(json.status.success());
    let pick: Value = serde_json::from_slice(&json.stdout).unwrap();

    let output = workspace.run(&[&args[..], &["--html", "out/pick.html"]].concat(), &[]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("wrote the HTML page to out/pick.html"),
        "{stderr}"
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("Best 3 regions"));
    let html = std::fs::read_to_string(workspace.path("out/pick.html")).unwrap();
    assert!(!html.contains("<script"));
    assert!(!html.contains("src=") && !html.contains("https://"));
    assert!(html.contains("class=\"land\" d=\"M"));
    assert_eq!(
        circles(&html, "recommended"),
        strings(&pick["recommended"]["regions"])
    );
    assert_eq!(
        circles(&html, "current"),
        strings(&pick["current"]["regions"])
    );
    let traffic: BTreeSet<String> = trace.regions().iter().map(ToString::to_string).collect();
    assert_eq!(circles(&html, "edge"), traffic);
    // Each edge region not itself recommended has a line to its server.
    let recommended = strings(&pick["recommended"]["regions"]);
    assert_eq!(
        html.matches("<path class=\"link\"").count(),
        traffic.difference(&recommended).count()
    );
    (workspace, recommended)
}

#[test]
fn recommend_html_draws_the_recommended_set_on_the_map() {
    checked_page();
}

#[ignore = "needs chromium and chromedriver"]
#[test]
fn recommend_html_opens_in_a_browser_without_console_errors() {
    let (workspace, recommended) = checked_page();
    let browser = browser::Browser::start(1280, 800);
    browser.goto(&format!(
        "file://{}",
        workspace.path("out/pick.html").display()
    ));
    assert_eq!(
        browser.count("svg.map circle.recommended"),
        recommended.len()
    );
    // Labels apart and legible at a desktop and a phone width; every
    // serving line the short way round.
    for (width, height) in [(1280, 800), (390, 844)] {
        browser.resize(width, height);
        browser.wait_until(
            &format!("return window.innerWidth === {width}"),
            std::time::Duration::from_secs(30),
        );
        let found = browser.eval(
            crate::map_legibility::LABEL_CHECK,
            vec![serde_json::json!("svg.map text")],
        );
        assert_eq!(
            found["overlaps"],
            serde_json::json!([]),
            "{width} px: {found}"
        );
        assert!(
            found["smallest"].as_f64().unwrap() >= 11.0,
            "{width} px: {found}"
        );
        assert!(found["count"].as_u64().unwrap() >= recommended.len() as u64);
    }
    let spans = browser.eval(
        "return [...document.querySelectorAll('svg.map path.link')].map((p) => p.getAttribute('d').split('M').filter(Boolean)\
           .map((run) => run.split('L').map((point) => parseFloat(point.trim().split(' ')[0])))\
           .reduce((sum, xs) => sum + Math.max(...xs) - Math.min(...xs), 0))",
        vec![],
    );
    for span in spans.as_array().unwrap() {
        assert!(span.as_f64().unwrap() <= 180.0, "{spans}");
    }
    browser.screenshot("recommend-map.png");
    let errors = browser.console_errors();
    assert!(errors.is_empty(), "console errors: {errors:?}");
}
