//! The status page at `GET /` in a real headless Chromium against a running
//! `fly-placer`: the map shows one dot per region in the traffic, marks the
//! deployed ones, and a `POST /trigger` shows up in the decisions list
//! without a reload. Screenshots at desktop and phone widths are left in
//! `target/test-artifacts/`.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::kit::browser::Browser;
use crate::kit::{client, default_config, get_json, trigger, Server, Workspace};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(30);

fn strings(value: &Value) -> BTreeSet<String> {
    value
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn the_page_is_html_and_the_endpoint_list_moved_to_api() {
    let workspace = Workspace::new(&default_config());
    let mut server = workspace.serve(&[], &[]);
    let page = client().get(server.url("/")).send().unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let html = page.text().unwrap();
    // Everything is inline: no stylesheet, script or image is fetched from
    // anywhere, this server included.
    for external in ["src=", "rel=\"stylesheet\"", "http://", "https://"] {
        let found: Vec<&str> = html
            .match_indices(external)
            .map(|(at, _)| &html[at.saturating_sub(40)..(at + 60).min(html.len())])
            // The SVG namespace is a name, not a request.
            .filter(|context| !context.contains("www.w3.org/2000/svg"))
            .collect();
        assert!(found.is_empty(), "{external}: {found:?}");
    }
    assert!(html.contains("class=\"land\" d=\"M"), "the land outlines");

    let api = get_json(&server.url("/api"));
    assert_eq!(api["name"], "fly-placer");
    for endpoint in [
        "POST /trigger",
        "GET /health",
        "GET /state",
        "GET /api/status",
    ] {
        assert!(
            api["endpoints"][endpoint].is_string(),
            "{endpoint} in {api}"
        );
    }

    let missing = client()
        .get(server.url("/api/status?app=nope"))
        .send()
        .unwrap();
    assert_eq!(missing.status(), 404);
    assert!(missing.text().unwrap().contains("nope"));
    assert!(server.stop().success());
}

#[test]
fn the_status_document_shows_regions_ticks_and_mode() {
    let workspace = Workspace::new(&default_config());
    let mut server = workspace.serve(&[], &[]);
    let before = get_json(&server.url("/api/status"));
    assert_eq!(before["app"], "default");
    assert_eq!(before["apps"], serde_json::json!(["default"]));
    assert_eq!(before["dry_run"], true);
    assert_eq!(before["recent_ticks"], serde_json::json!([]));
    // The loop (every 60 s by default) says when it ticks, before its
    // first tick too; triggered ticks do not move it.
    let next: placer_core::Timestamp = before["next_tick_at"]
        .as_str()
        .and_then(|at| at.parse().ok())
        .unwrap_or_else(|| panic!("{before}"));
    let now: placer_core::Timestamp = before["now"].as_str().unwrap().parse().unwrap();
    assert!(next > now, "{before}");
    assert!(
        next.duration_since(now) <= std::time::Duration::from_secs(60),
        "{before}"
    );

    let mut reports = Vec::new();
    for _ in 0..3 {
        reports.push(trigger(&server));
    }
    let status = get_json(&server.url("/api/status"));
    assert_eq!(status["next_tick_at"], before["next_tick_at"], "{status}");
    let ticks = status["recent_ticks"].as_array().unwrap();
    assert_eq!(ticks.len(), 3);
    // Newest first.
    assert_eq!(ticks[0]["at"], reports[2]["at"]);
    assert_eq!(ticks[2]["at"], reports[0]["at"]);
    let last = &reports[2];
    let regions = status["regions"].as_array().unwrap();
    let traffic = get_json(&server.url("/traffic"));
    for (code, requests) in traffic["traffic"].as_object().unwrap() {
        let region = regions
            .iter()
            .find(|r| r["code"] == code.as_str())
            .unwrap_or_else(|| panic!("{code} in {status}"));
        assert_eq!(&region["requests"], requests);
        assert_eq!(region["history"].as_array().unwrap().len(), 3, "{region}");
        assert!(region["latitude"].is_f64() && region["longitude"].is_f64());
        let deployed = strings(&last["updated_deployment"]).contains(code);
        assert_eq!(region["deployed"], deployed, "{region}");
        if !deployed && !last["updated_deployment"].as_array().unwrap().is_empty() {
            assert!(region["served_from"]["rtt_ms"].as_f64().unwrap() > 0.0);
        }
    }
    assert!(server.stop().success());
}

#[ignore = "needs chromium and chromedriver"]
#[test]
fn the_page_in_a_browser_maps_the_traffic_and_follows_new_ticks() {
    let workspace = Workspace::new(&default_config());
    let mut server = workspace.serve(&[], &[]);
    for _ in 0..4 {
        trigger(&server);
    }
    let browser = Browser::start(1280, 800);
    browser.goto(&server.url("/"));
    browser.wait_until(
        "return document.querySelectorAll('#dots circle').length > 0",
        WAIT,
    );

    // One dot per region in the traffic, and the deployed ones marked.
    let traffic = get_json(&server.url("/traffic"));
    let state = get_json(&server.url("/state"));
    let traffic_regions: BTreeSet<String> = traffic["traffic"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    let dots = browser.eval(
        "return [...document.querySelectorAll('#dots circle')].map(c => c.dataset.region)",
        vec![],
    );
    let dot_list: Vec<String> = serde_json::from_value(dots).unwrap();
    let dot_set: BTreeSet<String> = dot_list.iter().cloned().collect();
    assert_eq!(
        dot_list.len(),
        dot_set.len(),
        "one dot per region: {dot_list:?}"
    );
    let expected: BTreeSet<String> = traffic_regions
        .union(&strings(&state["deployment"]))
        .cloned()
        .collect();
    assert_eq!(dot_set, expected);
    let marked = browser.eval(
        "return [...document.querySelectorAll('#dots circle.deployed')].map(c => c.dataset.region)",
        vec![],
    );
    let marked: BTreeSet<String> = serde_json::from_value(marked).unwrap();
    assert_eq!(marked, strings(&state["deployment"]));
    assert!(!marked.is_empty(), "the simulation deploys something");
    // Busy regions left undeployed are linked to the region serving them,
    // with the RTT on hover.
    let links = browser.eval(
        "return [...document.querySelectorAll('#links .link-group')].map(g => [g.dataset.from, g.dataset.to, g.querySelector('title').textContent])",
        vec![],
    );
    let links: Vec<(String, String, String)> = serde_json::from_value(links).unwrap();
    let busy_undeployed: BTreeSet<String> = traffic["traffic"]
        .as_object()
        .unwrap()
        .iter()
        .filter(|(code, requests)| requests.as_f64().unwrap() > 0.0 && !marked.contains(*code))
        .map(|(code, _)| code.clone())
        .collect();
    assert_eq!(
        links.iter().map(|l| l.0.clone()).collect::<BTreeSet<_>>(),
        busy_undeployed
    );
    for (from, to, title) in &links {
        assert!(marked.contains(to), "{from} served from {to}");
        assert!(title.contains("ms RTT"), "{title}");
    }
    assert_eq!(browser.count("#ticks li.tick"), 4);
    assert_eq!(browser.count("#regions tbody tr"), expected.len());
    assert_eq!(
        browser.eval("return document.getElementById('mode').textContent", vec![]),
        "dry run"
    );

    // A trigger from outside shows up without a reload.
    browser.eval("window.__still_this_page = true; return null", vec![]);
    let report = trigger(&server);
    let at = report["at"].as_str().unwrap().to_owned();
    browser.wait_until(
        &format!(
            "const t = document.querySelector('#ticks li.tick'); return t && t.dataset.at === {}",
            serde_json::to_string(&at).unwrap()
        ),
        WAIT,
    );
    assert_eq!(
        browser.eval("return window.__still_this_page === true", vec![]),
        true,
        "the page was not reloaded"
    );
    assert_eq!(browser.count("#ticks li.tick"), 5);

    let desktop = browser.screenshot("status-page-desktop.png");
    assert!(std::fs::metadata(desktop).unwrap().len() > 10_000);
    // Phone width: nothing wider than the screen but the regions table,
    // which scrolls inside its panel.
    browser.assert_fits_a_phone(WAIT);
    browser.screenshot("status-page-phone.png");
    let errors = browser.console_errors();
    assert!(errors.is_empty(), "console errors: {errors:?}");
    drop(browser);
    assert!(server.stop().success());
}

#[ignore = "needs chromium and chromedriver"]
#[test]
fn with_several_apps_the_page_has_an_app_picker() {
    let config = format!("{}\nsimulation:\n  seed: 42\n  apps: 2\n", default_config());
    let workspace = Workspace::new(&config);
    let mut server = workspace.serve(&[], &[]);
    let first = client()
        .post(server.url("/trigger?app=sim-2"))
        .send()
        .unwrap();
    assert_eq!(first.status(), 200);
    let status = get_json(&server.url("/api/status?app=sim-2"));
    assert_eq!(status["apps"], serde_json::json!(["sim-1", "sim-2"]));
    assert_eq!(status["recent_ticks"].as_array().unwrap().len(), 1);
    let browser = Browser::start(1280, 800);
    // With several apps / is the fleet page; an app's page is at ?app=.
    browser.goto(&server.url("/"));
    browser.wait_until(
        "return document.querySelectorAll('#fleet tbody tr').length === 2",
        WAIT,
    );
    browser.goto(&server.url("/?app=sim-1"));
    browser.wait_until(
        "return !document.getElementById('app-picker').hidden && document.getElementById('app-select').options.length === 2 && !document.getElementById('fleet-link').hidden",
        WAIT,
    );
    // The first app has not ticked yet; picking sim-2 shows its tick.
    assert_eq!(browser.count("#ticks li.tick"), 0);
    browser.eval(
        "const s = document.getElementById('app-select'); s.value = 'sim-2'; s.dispatchEvent(new Event('change')); return null",
        vec![],
    );
    browser.wait_until(
        "return document.querySelectorAll('#ticks li.tick').length === 1",
        WAIT,
    );
    assert_eq!(browser.eval("return location.search", vec![]), "?app=sim-2");
    let errors = browser.console_errors();
    assert!(errors.is_empty(), "console errors: {errors:?}");
    drop(browser);
    assert!(server.stop().success());
}

#[ignore = "needs chromium and chromedriver"]
#[test]
fn a_failed_tick_shows_in_red_with_its_reason() {
    // A loopback port nobody listens on: fetching traffic fails.
    let port = crate::kit::free_port();
    let url = format!("http://127.0.0.1:{port}");
    let workspace = Workspace::new(&default_config());
    let mut server = workspace.serve(
        &[],
        &[
            ("FLY_PROMETHEUS_URL", url.as_str()),
            ("FLY_APP_NAME", "shop"),
        ],
    );
    let failed = client().post(server.url("/trigger")).send().unwrap();
    assert_eq!(failed.status(), 502);
    let browser = Browser::start(1280, 800);
    browser.goto(&server.url("/"));
    let text = browser.wait_until(
        "const t = document.querySelector('#ticks li.tick.failed'); return t && t.textContent",
        WAIT,
    );
    assert!(
        text.as_str().unwrap().contains("fetching traffic failed"),
        "{text}"
    );
    let colour = browser.eval(
        "return getComputedStyle(document.querySelector('#ticks li.tick.failed')).color",
        vec![],
    );
    assert_eq!(colour, "rgb(185, 28, 28)", "failures are red");
    assert_eq!(
        browser.eval(
            "return document.getElementById('status').textContent",
            vec![]
        ),
        "degraded"
    );
    let errors = browser.console_errors();
    assert!(errors.is_empty(), "console errors: {errors:?}");
    drop(browser);
    assert!(server.stop().success());
}

/// A simulated serve with a `machines:` section (`requests_per_machine`
/// and one standby a region), after `ticks` triggered ticks. The workspace
/// is returned to keep its directory alive while the server runs.
fn served_with_machines(requests_per_machine: u32, ticks: usize) -> (Workspace, Server) {
    let config = format!(
        "{}\nmachines:\n  requests_per_machine: {requests_per_machine}\n  standby_per_region: 1\n",
        default_config()
    );
    let workspace = Workspace::new(&config);
    let server = workspace.serve(&[], &[]);
    for _ in 0..ticks {
        trigger(&server);
    }
    (workspace, server)
}

#[ignore = "needs chromium and chromedriver"]
#[test]
fn with_a_machines_section_the_page_shows_counts_on_the_map_and_in_the_table() {
    let (_workspace, mut server) = served_with_machines(20, 4);
    let status = get_json(&server.url("/api/status"));
    let counted: Vec<&Value> = status["regions"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|region| region["deployed"] == true)
        .collect();
    assert!(!counted.is_empty(), "the simulation deploys something");
    for region in &counted {
        let machines = &region["machines"];
        assert!(machines["target"].as_u64().unwrap() >= 1, "{region}");
        assert!(
            machines["reason"].as_str().unwrap().contains("per machine"),
            "{region}"
        );
    }

    let browser = Browser::start(1280, 800);
    browser.goto(&server.url("/"));
    browser.wait_until(
        "return document.querySelectorAll('#regions tbody td.machines').length > 0",
        WAIT,
    );
    let heads = browser.eval(
        "return [...document.querySelectorAll('#regions-head th')].map(th => th.textContent)",
        vec![],
    );
    let heads: Vec<String> = serde_json::from_value(heads).unwrap();
    assert_eq!(heads[3], "machines", "{heads:?}");
    let cells = browser.eval(
        "return [...document.querySelectorAll('#regions tbody tr')].filter(tr => tr.querySelector('.tag.deployed')).map(tr => tr.querySelector('td.machines').textContent)",
        vec![],
    );
    let cells: Vec<String> = serde_json::from_value(cells).unwrap();
    assert!(!cells.is_empty());
    assert!(
        cells.iter().all(|cell| cell.contains("running")),
        "{cells:?}"
    );
    // Deployed regions are labelled with their running machines.
    let labels = browser.eval(
        "return [...document.querySelectorAll('#labels text.region-label')].map(t => t.textContent)",
        vec![],
    );
    let labels: Vec<String> = serde_json::from_value(labels).unwrap();
    assert!(labels.iter().any(|label| label.contains('×')), "{labels:?}");
    browser.screenshot("status-page-machines.png");
    let errors = browser.console_errors();
    assert!(errors.is_empty(), "console errors: {errors:?}");
    drop(browser);
    assert!(server.stop().success());
}

#[ignore = "needs chromium and chromedriver"]
#[test]
fn a_resize_is_listed_among_the_latest_decisions() {
    // Five requests a machine: the regions want more machines than a tick
    // may start, so the ticks after their deploy scale them up.
    let (_workspace, mut server) = served_with_machines(5, 5);
    let status = get_json(&server.url("/api/status"));
    let resizes: Vec<&Value> = status["recent_ticks"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|tick| tick["actions"].as_array().unwrap())
        .filter(|action| action["action"] == "resize")
        .collect();
    assert!(!resizes.is_empty(), "{status}");
    for resize in &resizes {
        let machines = resize["machines"].as_str().unwrap();
        assert!(machines.starts_with("from "), "{resize}");
        assert!(
            resize["reason"].as_str().unwrap().contains("per machine"),
            "{resize}"
        );
    }
    // The engine remembers it as a resize, not as a deploy.
    let state = get_json(&server.url("/state"));
    let cooldowns = state["cooldowns"].as_array().unwrap();
    assert!(
        cooldowns.iter().any(|c| c["last_action"] == "resize"),
        "{state}"
    );

    let browser = Browser::start(1280, 900);
    browser.goto(&server.url("/"));
    let text = browser.wait_until(
        "const a = document.querySelector('#ticks .act-resize'); return a && a.textContent",
        WAIT,
    );
    let text = text.as_str().unwrap();
    assert!(
        text.starts_with("resize ") && text.contains(" from "),
        "{text}"
    );
    browser.eval(
        "document.getElementById('ticks').scrollIntoView(); return null",
        vec![],
    );
    browser.screenshot("status-page-resize.png");
    let errors = browser.console_errors();
    assert!(errors.is_empty(), "console errors: {errors:?}");
    drop(browser);
    assert!(server.stop().success());
}
