//! `backtest --html`: a self-contained report with charts. Its structure is
//! snapshotted (headings, table, series and axes — no figures), its lanes
//! are checked against the decisions the replay wrote, and it opens in a
//! real headless Chromium without console errors.

use std::collections::BTreeSet;
use std::path::Path;

use crate::kit::{browser, gen_trace, Workspace};

/// The texts of `tag` elements in `html`, in order, trimmed.
fn texts(html: &str, tag: &str) -> Vec<String> {
    let open = format!("<{tag}");
    let close = format!("</{tag}>");
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(at) = rest.find(&open) {
        let after = &rest[at + open.len()..];
        // `<th` must not match `<thead`.
        if !after.starts_with(['>', ' ', '\n']) {
            rest = after;
            continue;
        }
        let body = &after[after.find('>').unwrap() + 1..];
        let end = body.find(&close).unwrap();
        out.push(body[..end].trim().to_owned());
        rest = &body[end..];
    }
    out
}

/// The words (not numbers) an SVG chart draws: axis titles, legend
/// entries, lane names.
fn words(svg: &str) -> Vec<String> {
    texts(svg, "text")
        .into_iter()
        .filter(|text| text.chars().any(|c| c.is_ascii_alphabetic()))
        .collect()
}

fn charts(html: &str) -> Vec<&str> {
    html.match_indices("<svg")
        .map(|(at, _)| &html[at..at + html[at..].find("</svg>").unwrap()])
        .collect()
}

fn structure(html: &str) -> String {
    let charts = charts(html);
    let mut out = String::new();
    out += &format!("title: {}\n", texts(html, "title").join(" | "));
    out += &format!("h1: {}\n", texts(html, "h1").join(" | "));
    out += &format!("h2: {}\n", texts(html, "h2").join(" | "));
    out += &format!("columns: {}\n", texts(html, "th").join(" | "));
    let rows: Vec<String> = html
        .split("<tr")
        .skip(2)
        .filter_map(|row| texts(row, "td").into_iter().next())
        .collect();
    out += &format!("rows: {}\n", rows.join(" | "));
    out += &format!("charts: {}\n", charts.len());
    out += &format!("mean RTT chart: {}\n", words(charts[0]).join(" | "));
    out += &format!("machines chart: {}\n", words(charts[2]).join(" | "));
    out += &format!(
        "scripts: {}, external references: {}\n",
        html.matches("<script").count(),
        ["src=", "href=", "http://", "https://"]
            .iter()
            .map(|needle| html.matches(needle).count())
            .sum::<usize>()
            - html.matches("http://www.w3.org/2000/svg").count()
    );
    out
}

/// Backtests six hours of follow-the-sun with the latency policy and
/// `--html`: the workspace, the trace and the report.
fn backtest_with_html() -> (Workspace, placer_lab::Trace, String) {
    let workspace = Workspace::new(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/latency.yml"),
        )
        .unwrap(),
    );
    let trace = gen_trace(&workspace, "follow-the-sun", "6", "7", "traces/sun.csv");
    let output = workspace.run(
        &[
            "backtest",
            "--trace",
            "traces/sun.csv",
            "--initial",
            "iad,fra",
            "--decisions",
            "out/decisions.jsonl",
            "--html",
            "out/report.html",
        ],
        &[],
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(
        stderr.contains("wrote the HTML report to out/report.html"),
        "{stderr}"
    );
    // The table still goes to stdout.
    assert!(String::from_utf8_lossy(&output.stdout).contains("Placement quality over"));
    let html = std::fs::read_to_string(workspace.path("out/report.html")).unwrap();
    (workspace, trace, html)
}

#[test]
fn backtest_html_is_a_self_contained_report_with_charts() {
    let (workspace, trace, html) = backtest_with_html();
    insta::assert_snapshot!("backtest_html_structure", structure(&html));

    // One lane per region the policy had deployed: the initial set and the
    // sets after each tick but the last (which served no tick).
    let decisions = std::fs::read_to_string(workspace.path("out/decisions.jsonl")).unwrap();
    let mut deployed: BTreeSet<String> = ["iad".to_owned(), "fra".to_owned()].into();
    let lines: Vec<&str> = decisions.lines().collect();
    assert_eq!(lines.len(), trace.len());
    for line in &lines[..lines.len() - 1] {
        let decision: serde_json::Value = serde_json::from_str(line).unwrap();
        for region in decision["deployed"].as_array().unwrap() {
            deployed.insert(region.as_str().unwrap().to_owned());
        }
    }
    let lanes: BTreeSet<String> = words(charts(&html)[1])
        .into_iter()
        .filter(|word| word != "hours since the start")
        .collect();
    assert_eq!(lanes, deployed);
    assert!(lanes.len() > 2, "the policy moved: {lanes:?}");
}

#[ignore = "needs chromium and chromedriver"]
#[test]
fn backtest_html_draws_its_charts_in_a_browser_without_console_errors() {
    let (workspace, _, _) = backtest_with_html();
    let browser = browser::Browser::start(1100, 1900);
    browser.goto(&format!(
        "file://{}",
        workspace.path("out/report.html").display()
    ));
    assert_eq!(browser.count("svg"), 3);
    let drawn = browser.eval(
        "return [...document.querySelectorAll('svg')].map(s => s.getBoundingClientRect().height)",
        vec![],
    );
    for height in drawn.as_array().unwrap() {
        assert!(height.as_f64().unwrap() > 100.0, "{drawn}");
    }
    browser.screenshot("backtest-report.png");
    let errors = browser.console_errors();
    assert!(errors.is_empty(), "console errors: {errors:?}");
}
