//! The `machines:` section end to end against a real VictoriaMetrics and
//! the fake Fly Machines API: a busy region is scaled to its load with a
//! standby beside it, a standby Fly's proxy started is left alone, and when
//! the traffic falls the region is scaled down after its cooldown. The
//! machine fly-placer did not make is never touched.

use std::time::{Duration, Instant};

use crate::kit::victoria::VictoriaMetrics;
use crate::kit::{self, trigger, Workspace};
use placer_fly::fake::{FakeMachinesApi, MachineSpec};

const APP: &str = "shop";
const TOKEN: &str = "FlyV1 fm2_test-token";
const COOLDOWN: Duration = Duration::from_secs(10);

fn config(api_url: &str) -> String {
    // 150 requests per 5 minutes per machine; fra's 3 per second are 900,
    // six machines' worth. The app is sized as a whole: with iad's 30,
    // 930 × 1.2 / 150 = 7.44, so 8 machines; iad's one takes the rounding
    // and fra runs 7 (8 is max_per_region).
    format!(
        "dry_run: false\ncooldown_period: {}\nsustain_ticks: 1\nmax_actions_per_tick: 12\n\
         service:\n  interval: 0\n\
         fly:\n  api_url: {api_url}\n  retry:\n    max_attempts: 1\n\
         machines:\n  requests_per_machine: 150\n  max_per_region: 8\n  standby_per_region: 1\n",
        COOLDOWN.as_secs()
    )
}

/// `(started, stopped)` machines of the app in `region`, other than `except`.
fn counts(api: &FakeMachinesApi, region: &str, except: &str) -> (usize, usize) {
    let machines: Vec<_> = api
        .machines()
        .into_iter()
        .filter(|m| m.region.as_str() == region && m.id != except)
        .collect();
    let started = machines.iter().filter(|m| m.state == "started").count();
    // A standby is created stopped (`created`, never started yet) or
    // stopped again by the proxy.
    let stopped = machines
        .iter()
        .filter(|m| matches!(m.state.as_str(), "created" | "stopped"))
        .count();
    (started, stopped)
}

/// `(name, state)` of every machine in `region`, for failure messages.
fn states(api: &FakeMachinesApi, region: &str) -> Vec<(String, String)> {
    api.machines()
        .into_iter()
        .filter(|m| m.region.as_str() == region)
        .map(|m| (m.name, m.state))
        .collect()
}

fn changes(api: &FakeMachinesApi) -> Vec<(String, String)> {
    api.take_requests()
        .into_iter()
        .filter(|r| r.method != "GET")
        .map(|r| (r.method, r.path))
        .collect()
}

#[ignore = "needs victoria-metrics"]
#[test]
fn a_busy_region_is_scaled_to_its_load_and_down_after_the_cooldown() {
    let busy = VictoriaMetrics::start();
    busy.load_traffic(APP, &[("fra", 3.0), ("iad", 0.1)]);
    let runtime = kit::runtime();
    let api = runtime
        .block_on(FakeMachinesApi::start(APP, TOKEN))
        .unwrap();
    // Made by `fly deploy`, not by fly-placer.
    let human = api.add_machine(MachineSpec::new("iad"));
    let workspace = Workspace::new(&config(&api.base_url()));
    let env = |url: &str| {
        vec![
            ("FLY_APP_NAME", APP.to_owned()),
            ("FLY_API_TOKEN", TOKEN.to_owned()),
            ("FLY_PROMETHEUS_URL", url.to_owned()),
        ]
    };
    let serve = |url: &str| {
        let env = env(url);
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        workspace.serve(&[], &env)
    };
    let mut server = serve(&busy.url);

    let report = trigger(&server);
    let scaled_at = Instant::now();
    assert_eq!(report["error"], serde_json::Value::Null, "{report}");
    assert_eq!(report["deployed"], serde_json::json!(["fra"]), "{report}");
    assert_eq!(
        counts(&api, "fra", &human),
        (7, 1),
        "{:?}",
        states(&api, "fra")
    );
    let fra = &report["regions"]["fra"]["machines"];
    assert_eq!(fra["target"], 7, "{report}");
    assert!(
        fra["reason"].as_str().unwrap().starts_with(
            "7 machines for 900 requests per 5 min (150 per machine, 20 % headroom), \
                 its share of the app's 8 for 930 requests"
        ),
        "{fra}"
    );
    let human_machine = |api: &FakeMachinesApi| {
        api.machines()
            .into_iter()
            .find(|m| m.id == human)
            .map(|m| m.state)
    };
    assert_eq!(human_machine(&api).as_deref(), Some("started"));

    // The proxy starts fra's standby on a spike: it counts as running, and
    // the next tick neither stops it nor replaces it.
    let standby = api
        .machines()
        .into_iter()
        .find(|m| m.region.as_str() == "fra" && m.state == "created")
        .unwrap()
        .id;
    assert!(api.proxy_start(&standby));
    changes(&api);
    let again = trigger(&server);
    assert_eq!(again["error"], serde_json::Value::Null, "{again}");
    assert_eq!(again["regions"]["fra"]["machines"]["running"], 8, "{again}");
    let made = changes(&api);
    assert!(
        !made.iter().any(
            |(method, path)| (method == "POST" && path.ends_with("/machines"))
                || method == "DELETE"
                || path.ends_with("/stop")
        ),
        "nothing created, stopped or destroyed: {made:?}"
    );
    assert_eq!(counts(&api, "fra", &human), (8, 0));
    assert!(api.proxy_stop(&standby));
    assert!(server.stop().success());

    // Traffic falls to 30 requests per 5 minutes: one machine is enough,
    // once the cooldown of the scale-up has passed.
    let quiet = VictoriaMetrics::start();
    quiet.load_traffic(APP, &[("fra", 0.1), ("iad", 0.1)]);
    let mut server = serve(&quiet.url);
    if let Some(left) = (COOLDOWN + Duration::from_secs(1)).checked_sub(scaled_at.elapsed()) {
        std::thread::sleep(left);
    }
    let report = trigger(&server);
    assert_eq!(report["error"], serde_json::Value::Null, "{report}");
    assert_eq!(
        report["regions"]["fra"]["machines"]["target"], 1,
        "{report}"
    );
    assert_eq!(counts(&api, "fra", &human), (1, 1), "{report}");
    assert_eq!(human_machine(&api).as_deref(), Some("started"));
    assert!(server.stop().success());
}
