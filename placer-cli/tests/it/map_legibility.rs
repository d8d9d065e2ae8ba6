//! The world map of the status page and the charts of a weekly backtest
//! report, read the way a person would: in a real headless Chromium at a
//! desktop and a phone width, from the drawn elements' boxes on screen. No
//! two labels overlap, map labels are at least 11 px, and no serving line
//! covers more than 180° of longitude (a line from `sjc` to `syd` crosses
//! the Pacific). The screenshots in `docs/img/` come from these tests
//! (`UPDATE_SCREENSHOTS=1` writes them there).

use std::time::Duration;

use serde_json::{json, Value};

use crate::kit::browser::Browser;
use crate::kit::{get_json, trigger, Workspace};

const WAIT: Duration = Duration::from_secs(30);

/// The visible elements matching `arguments[0]` whose boxes overlap, as
/// `"text / text"`, their count, and the smallest font on screen in px.
pub(crate) const LABEL_CHECK: &str = r#"
const boxes = [...document.querySelectorAll(arguments[0])]
  .map((e) => [e, e.getBoundingClientRect()])
  .filter(([, r]) => r.width > 0 && r.height > 0);
const overlaps = [];
for (let i = 0; i < boxes.length; i++) {
  for (let j = i + 1; j < boxes.length; j++) {
    const [a, b] = [boxes[i][1], boxes[j][1]];
    if (a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom) {
      overlaps.push(boxes[i][0].textContent + " / " + boxes[j][0].textContent);
    }
  }
}
const scale = (m) => (m ? Math.hypot(m.a, m.b) : 1);
const px = ([e]) => parseFloat(getComputedStyle(e).fontSize) * scale(e.getScreenCTM());
return { count: boxes.length, overlaps: overlaps, smallest: Math.min(...boxes.map(px)),
         texts: boxes.map(([e]) => e.textContent) };
"#;

/// Each serving line: from, to, its runs (pieces) and the degrees of
/// longitude its runs cover, added up.
const LINE_SPANS: &str = r#"
return [...document.querySelectorAll('#links .link-group')].map((g) => {
  const runs = g.querySelector('path.link').getAttribute('d').split('M').filter(Boolean)
    .map((run) => run.split('L').map((point) => parseFloat(point.trim().split(' ')[0])));
  const span = runs.reduce((sum, xs) => sum + Math.max(...xs) - Math.min(...xs), 0);
  return [g.dataset.from, g.dataset.to, runs.length, span];
});
"#;

fn labels(browser: &Browser, css: &str) -> Value {
    browser.eval(LABEL_CHECK, vec![json!(css)])
}

/// Four simulated apps with traffic from North America, Europe and
/// Asia-Pacific; the allowed regions are in America and Europe, so the
/// users in `nrt` and `syd` are served across the Pacific.
const FOUR_APPS: &str = "dry_run: true
cooldown_period: 10m
short_term_window: 5
long_term_window: 20
alpha_short: 0.3
alpha_long: 0.1
traffic_threshold: 50
deployment_threshold: 10
allowed_regions: [sjc, iad, ord, lhr, ams, fra, cdg]
always_running_regions: [fra, sjc]
simulation:
  seed: 42
  apps: 4
  regions: [sjc, sea, lax, iad, ord, yyz, lhr, ams, fra, cdg, waw, mad, nrt, sin, syd, hkg]
";

#[ignore = "needs chromium and chromedriver"]
#[test]
fn the_status_map_of_four_apps_on_three_continents_is_legible_on_a_desktop_and_a_phone() {
    let workspace = Workspace::new(FOUR_APPS);
    let mut server = workspace.serve(&[], &[]);
    for _ in 0..3 {
        trigger(&server);
    }
    let browser = Browser::start(1280, 800);
    let mut crossed_the_pacific = 0;
    for app in ["sim-1", "sim-2", "sim-3", "sim-4"] {
        let status = get_json(&server.url(&format!("/api/status?app={app}")));
        let codes: Vec<&str> = status["regions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["code"].as_str().unwrap())
            .collect();
        for continent in [["sjc", "iad"], ["fra", "lhr"], ["nrt", "syd"]] {
            assert!(
                continent.iter().any(|code| codes.contains(code)),
                "{app}: {codes:?}"
            );
        }
        browser.resize(1280, 800);
        browser.goto(&server.url(&format!("/?app={app}")));
        browser.wait_until(
            "return document.querySelectorAll('#labels text').length > 0",
            WAIT,
        );
        for (width, height) in [(1280, 800), (390, 844)] {
            browser.resize(width, height);
            browser.wait_until(&format!("return window.innerWidth === {width}"), WAIT);
            let found = labels(&browser, "#labels text");
            assert_eq!(found["overlaps"], json!([]), "{app} at {width} px: {found}");
            assert!(
                found["smallest"].as_f64().unwrap() >= 11.0,
                "{app} at {width} px: {found}"
            );
            // Every region is labelled at the desktop width; on a phone
            // the busiest are, at least the deployed ones.
            let count = found["count"].as_u64().unwrap() as usize;
            if width == 1280 {
                assert_eq!(count, codes.len(), "{app}: {found}");
            } else {
                assert!(count >= codes.len() / 2, "{app} at {width} px: {found}");
            }
            let spans: Vec<(String, String, usize, f64)> =
                serde_json::from_value(browser.eval(LINE_SPANS, vec![])).unwrap();
            assert!(!spans.is_empty(), "{app}: no serving lines");
            for (from, to, _, span) in &spans {
                assert!(*span <= 180.0, "{app}: {from} → {to} spans {span}°");
            }
            crossed_the_pacific += spans.iter().filter(|line| line.2 == 2).count();
        }
        if app == "sim-1" {
            browser.resize(1280, 800);
            browser.wait_until("return window.innerWidth === 1280", WAIT);
            browser.screenshot_for_docs("status-page.png");
            browser.resize(390, 844);
            browser.wait_until("return window.innerWidth === 390", WAIT);
            browser.screenshot_for_docs("status-page-phone.png");
        }
    }
    assert!(
        crossed_the_pacific > 0,
        "some line crosses the antimeridian"
    );
    let errors = browser.console_errors();
    assert!(errors.is_empty(), "console errors: {errors:?}");
    drop(browser);
    assert!(server.stop().success());
}

#[ignore = "needs chromium and chromedriver"]
#[test]
fn a_weekly_backtest_report_marks_days_plots_the_oracle_and_keeps_lanes_apart() {
    let workspace = Workspace::new(&crate::kit::default_config());
    let made = workspace.run(
        &[
            "gen-trace",
            "--scenario",
            "business-hours",
            "--hours",
            "168",
            "--seed",
            "1",
            "--step",
            "15m",
            "--out",
            "week.csv",
        ],
        &[],
    );
    assert!(made.status.success());
    let output = workspace.run(
        &["backtest", "--trace", "week.csv", "--html", "out/week.html"],
        &[],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let html = std::fs::read_to_string(workspace.path("out/week.html")).unwrap();
    // Whatever reference row runs far above the policy (the seed row at
    // 500 ms while it has nothing deployed) is named above the chart, not
    // allowed to set its height.
    if html.contains("(up to 500 ms)") {
        assert!(html.contains("Above the chart, drawn along its top edge:"));
    }

    let browser = Browser::start(1100, 1900);
    browser.goto(&format!(
        "file://{}",
        workspace.path("out/week.html").display()
    ));
    let charts = browser.count("svg");
    assert_eq!(charts, 3);
    for chart in 1..=charts {
        let found = labels(
            &browser,
            &format!("body > figure:nth-of-type({chart}) svg text"),
        );
        assert!(
            found["count"].as_u64().unwrap() > 5,
            "chart {chart}: {found}"
        );
        assert_eq!(found["overlaps"], json!([]), "chart {chart}: {found}");
    }
    let rtt_axis: Vec<String> = serde_json::from_value(
        labels(&browser, "body > figure:nth-of-type(1) svg text")["texts"].clone(),
    )
    .unwrap();
    let highest = rtt_axis
        .iter()
        .filter_map(|t| t.trim().parse::<f64>().ok())
        .fold(0.0, f64::max);
    assert!(
        (20.0..400.0).contains(&highest),
        "the RTT axis goes up to {highest} ms"
    );
    let texts = labels(&browser, "svg text")["texts"].clone();
    let texts: Vec<String> = serde_json::from_value(texts).unwrap();
    for word in [
        "oracle-equal-mh",
        "day (UTC)",
        "Mon",
        "Tue",
        "Wed",
        "Thu",
        "Fri",
        "Sat",
        "Sun",
    ] {
        assert!(
            texts.iter().any(|t| t.contains(word)),
            "{word} is drawn: {texts:?}"
        );
    }
    // Lanes: the bars of neighbouring lanes keep at least 4 px apart.
    let gaps = browser.eval(
        r#"
        const svg = document.querySelectorAll('svg')[1];
        const bars = [...svg.querySelectorAll('rect')]
          .filter((r) => (r.getAttribute('fill') || '').toUpperCase() === '#6D28D9')
          .map((r) => r.getBoundingClientRect());
        const tops = [...new Set(bars.map((r) => Math.round(r.top)))].sort((a, b) => a - b);
        const height = Math.max(...bars.map((r) => r.height));
        return { lanes: tops.length, gaps: tops.slice(1).map((top, i) => top - tops[i] - height) };
        "#,
        vec![],
    );
    assert!(gaps["lanes"].as_u64().unwrap() >= 3, "{gaps}");
    for gap in gaps["gaps"].as_array().unwrap() {
        assert!(gap.as_f64().unwrap() >= 4.0, "{gaps}");
    }
    browser.screenshot_for_docs("backtest-report.png");
    // On a phone the charts scroll sideways rather than shrink: their
    // labels stay legible and apart.
    browser.resize(390, 844);
    browser.wait_until("return window.innerWidth === 390", WAIT);
    for chart in 1..=charts {
        let found = labels(
            &browser,
            &format!("body > figure:nth-of-type({chart}) svg text"),
        );
        assert!(
            found["smallest"].as_f64().unwrap() >= 8.0,
            "chart {chart} on a phone: {found}"
        );
        assert_eq!(found["overlaps"], json!([]), "chart {chart}: {found}");
    }
    let errors = browser.console_errors();
    assert!(errors.is_empty(), "console errors: {errors:?}");
}
