//! The fleet page: with several apps `GET /` is a table of every app, drawn
//! from `GET /api/fleet`, in a real headless Chromium with 200 simulated
//! apps: every row is there, the filter narrows them, a failing app comes
//! first, a header sorts, and each row links to the app's own page (still at
//! `/?app=NAME`).

use std::time::Duration;

use crate::kit::browser::Browser;
use crate::kit::{client, default_config, get_json, Workspace};
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(60);

fn simulated(apps: usize) -> Workspace {
    let config = format!(
        "{}\nservice:\n  interval: 0\nsimulation:\n  seed: 42\n  apps: {apps}\n",
        default_config()
    );
    Workspace::new(&config)
}

/// Leaves app `name` unable to start: a file where its data directory goes.
fn unable_to_start(workspace: &Workspace, name: &str) {
    workspace.write(&format!("data/apps/{name}"), "not a directory\n");
}

/// Leaves app `name` unable to save its state from its next tick on.
fn unable_to_save(workspace: &Workspace, name: &str) {
    let dir = workspace.path(&format!("data/apps/{name}"));
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::write(&dir, "not a directory\n").unwrap();
}

fn html(url: &str) -> String {
    let response = client().get(url).send().unwrap();
    assert_eq!(response.status(), 200, "{url}");
    response.text().unwrap()
}

#[test]
fn with_several_apps_the_root_is_the_fleet_page_and_each_app_keeps_its_page() {
    let workspace = simulated(3);
    unable_to_start(&workspace, "sim-2");
    let mut server = workspace.serve(&[], &[]);
    assert_eq!(
        client()
            .post(server.url("/trigger"))
            .send()
            .unwrap()
            .status(),
        200
    );
    let fleet = html(&server.url("/"));
    assert!(fleet.contains("id=\"fleet\""), "the fleet page at /");
    for external in ["src=", "rel=\"stylesheet\"", "http://", "https://"] {
        assert!(!fleet.contains(external), "{external} in the fleet page");
    }
    let app = html(&server.url("/?app=sim-3"));
    assert!(app.contains("id=\"map\"") && !app.contains("id=\"fleet\""));
    // Whatever else the query holds.
    assert!(html(&server.url("/?app=sim-3&app=sim-1")).contains("id=\"map\""));
    assert!(html(&server.url("/?refresh=1")).contains("id=\"fleet\""));

    let document = get_json(&server.url("/api/fleet"));
    let apps = document["apps"].as_array().unwrap();
    let names: Vec<&str> = apps.iter().map(|a| a["app"].as_str().unwrap()).collect();
    assert_eq!(names, ["sim-1", "sim-2", "sim-3"], "{document}");
    assert_eq!(document["role"], "leader");
    assert_eq!(apps[1]["status"], "failed");
    assert!(
        apps[1]["error"]
            .as_str()
            .unwrap()
            .contains("data directory data/apps/sim-2"),
        "{document}"
    );
    let state = get_json(&server.url("/state?app=sim-1"));
    let running = &apps[0];
    assert_eq!(running["status"], "ok");
    assert_eq!(running["error"], Value::Null);
    assert_eq!(running["dry_run"], true);
    assert_eq!(running["regions"], state["deployment"]);
    assert_eq!(running["ticks"], 1);
    assert_eq!(running["forecast"], "unused", "the threshold policy");
    assert!(running["mean_rtt_ms"].as_f64().unwrap() > 0.0, "{running}");
    // Compact: nothing per region but the deployed codes.
    assert_eq!(
        running.as_object().unwrap().keys().collect::<Vec<_>>(),
        [
            "app",
            "dry_run",
            "error",
            "forecast",
            "last_change",
            "last_tick_at",
            "mean_rtt_ms",
            "regions",
            "status",
            "ticks"
        ]
    );
    let endpoints = get_json(&server.url("/api"));
    assert!(endpoints["endpoints"]["GET /api/fleet"].is_string());
    assert!(server.stop().success());

    // With one app, / stays the app's page.
    let single = simulated(1);
    let mut server = single.serve(&[], &[]);
    assert!(html(&server.url("/")).contains("id=\"map\""));
    let document = get_json(&server.url("/api/fleet"));
    assert_eq!(document["apps"].as_array().unwrap().len(), 1);
    assert!(server.stop().success());
}

/// The app names of the table's rows, top to bottom.
fn rows(browser: &Browser) -> Vec<String> {
    serde_json::from_value(browser.eval(
        "return [...document.querySelectorAll('#fleet tbody tr')].map(r => r.dataset.app)",
        vec![],
    ))
    .unwrap()
}

fn set_filter(browser: &Browser, text: &str) {
    browser.eval(
        "const f = document.getElementById('filter'); f.value = arguments[0]; f.dispatchEvent(new Event('input')); return null",
        vec![json!(text)],
    );
}

fn click_header(browser: &Browser, key: &str) {
    browser.eval(
        "document.querySelector('#fleet-head button[data-sort=\"' + arguments[0] + '\"]').click(); return null",
        vec![json!(key)],
    );
}

#[ignore = "needs chromium and chromedriver"]
#[test]
fn the_fleet_page_lists_200_apps_filters_them_and_puts_failing_ones_first() {
    let workspace = simulated(200);
    unable_to_start(&workspace, "sim-137");
    let mut server = workspace.serve(&[], &[]);
    // A few ticks, so that apps have changed something.
    for _ in 0..3 {
        let response = client().post(server.url("/trigger")).send().unwrap();
        assert_eq!(response.status(), 200);
    }
    unable_to_save(&workspace, "sim-58");
    client()
        .post(server.url("/trigger?app=sim-58"))
        .send()
        .unwrap();
    let sim58 = get_json(&server.url("/health?app=sim-58"));
    assert_eq!(sim58["status"], "degraded", "{sim58}");

    let browser = Browser::start(1280, 1000);
    browser.goto(&server.url("/"));
    browser.wait_until(
        "return document.querySelectorAll('#fleet tbody tr').length === 200",
        WAIT,
    );
    // Failing apps first (the one that could not start, then the
    // degraded one), then the others by name, numbers read as numbers.
    let listed = rows(&browser);
    assert_eq!(&listed[..4], ["sim-137", "sim-58", "sim-1", "sim-2"]);
    assert_eq!(browser.count("#fleet tbody tr.failing"), 2);
    assert_eq!(
        browser.eval(
            "return document.getElementById('failing').textContent",
            vec![]
        ),
        "2 failing"
    );
    let error = browser.eval(
        "return document.querySelector('#fleet tbody tr td.error').textContent",
        vec![],
    );
    assert!(
        error.as_str().unwrap().contains("data/apps/sim-137"),
        "{error}"
    );

    set_filter(&browser, "sim-19");
    let filtered = rows(&browser);
    assert_eq!(filtered.len(), 11, "sim-19 and sim-190 to sim-199");
    assert!(filtered.iter().all(|name| name.contains("sim-19")));
    assert_eq!(
        browser.eval(
            "return document.getElementById('shown').textContent",
            vec![]
        ),
        "11 of 200 apps shown"
    );
    set_filter(&browser, "no such app");
    assert_eq!(browser.count("#fleet tbody tr"), 0);
    assert_eq!(
        browser.eval("return document.getElementById('empty').hidden", vec![]),
        false
    );
    set_filter(&browser, "");

    // A header sorts by its column; a second click reverses.
    click_header(&browser, "app");
    assert_eq!(&rows(&browser)[..3], ["sim-1", "sim-2", "sim-3"]);
    click_header(&browser, "app");
    assert_eq!(&rows(&browser)[..2], ["sim-200", "sim-199"]);
    click_header(&browser, "regions");
    let counts: Vec<i64> = serde_json::from_value(browser.eval(
        "return [...document.querySelectorAll('#fleet tbody tr td:nth-child(3)')].map(c => Number(c.textContent))",
        vec![],
    ))
    .unwrap();
    assert!(
        counts.windows(2).all(|pair| pair[0] <= pair[1]),
        "{counts:?}"
    );
    // Back to failing first for the picture.
    click_header(&browser, "status");
    assert_eq!(rows(&browser)[0], "sim-137");
    browser.wait_until("return document.fonts.status === 'loaded'", WAIT);
    let shot = browser.screenshot_for_docs("fleet-page.png");
    assert!(std::fs::metadata(shot).unwrap().len() > 10_000);

    // Phone width: only the table scrolls, inside its panel.
    browser.assert_fits_a_phone(WAIT);
    browser.screenshot("fleet-page-phone.png");
    browser.resize(1280, 1000);

    // Each row links to the app's page, which is still there.
    let href = browser.eval(
        "return document.querySelector('#fleet tbody tr[data-app=\"sim-58\"] a').getAttribute('href')",
        vec![],
    );
    assert_eq!(href, "/?app=sim-58");
    browser.eval(
        "document.querySelector('#fleet tbody tr[data-app=\"sim-58\"] a').click(); return null",
        vec![],
    );
    browser.wait_until(
        "const s = document.getElementById('app-select'); return s && s.value === 'sim-58' && !document.getElementById('fleet-link').hidden",
        WAIT,
    );
    let errors = browser.console_errors();
    assert!(errors.is_empty(), "console errors: {errors:?}");
    drop(browser);
    assert!(server.stop().success());
}
