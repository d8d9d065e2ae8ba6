//! One tick of many apps (1,000 by default) × 35 regions, live, by the
//! real `fly-placer serve` process against a real VictoriaMetrics holding
//! every app's series and the fake Machines API: how long start and the
//! tick take, where the time goes, the requests the fake answered 429
//! beyond Fly's per-app limits (which it enforces), and the serve
//! process's memory.
//!
//! ```text
//! cargo build --release -p placer-cli --bin fly-placer
//! cargo run --release -p placer-benches --bin many_apps -- [APPS] [CALLS_PER_SECOND] [MORE_CONFIG]
//! ```
//!
//! Needs `victoria-metrics` on the PATH and `fly-placer` built beside this
//! binary (the first command; or set `FLY_PLACER` to its path). The fake
//! API and the import of the series run in this process; the placer runs
//! as `fly-placer serve` in its own process, so the memory figures are the
//! whole serve process's, read from its `/proc/PID/status`: after start,
//! after the tick, after one scrape of `/metrics`, after reading every
//! app's `/state` and `/health`, and the peak (`VmHWM`).

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use placer_fly::fake::{FakeMachinesApi, MachineSpec};

const TOKEN: &str = "FlyV1 fm2_bench-token";
/// Apps with a busy region that has no machine yet: each deploys one.
const HOT_EVERY: usize = 10;

fn app_name(i: usize) -> String {
    format!("app-{i:04}")
}

fn regions() -> Vec<String> {
    placer_core::network::geo::catalog()
        .iter()
        .take(35)
        .map(|info| info.code.to_string())
        .collect()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let apps: usize = args.get(1).map_or(1000, |n| n.parse().unwrap());
    let rate: f64 = args.get(2).map_or(200.0, |n| n.parse().unwrap());
    // More top-level config, e.g. `forecast: {method: none}`.
    let extra = args.get(3).cloned().unwrap_or_default();
    run(apps, rate, &extra);
}

/// The `fly-placer` binary: `FLY_PLACER`, else the one beside this binary.
fn fly_placer() -> PathBuf {
    let path = std::env::var_os("FLY_PLACER").map_or_else(
        || {
            std::env::current_exe()
                .unwrap()
                .with_file_name("fly-placer")
        },
        PathBuf::from,
    );
    assert!(
        path.is_file(),
        "{} not found: build it first with `cargo build --release -p placer-cli --bin fly-placer`, or set FLY_PLACER",
        path.display()
    );
    path
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn run(apps: usize, rate: f64, extra: &str) {
    let binary = fly_placer();
    let scratch = tempfile::tempdir().unwrap();
    let port = free_port();
    let vm_url = format!("http://127.0.0.1:{port}");
    let _vm = Killed(
        Command::new("victoria-metrics")
            .arg(format!("-httpListenAddr=127.0.0.1:{port}"))
            .arg(format!(
                "-storageDataPath={}",
                scratch.path().join("vm").display()
            ))
            .arg("-search.maxUniqueTimeseries=100000")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("victoria-metrics on the PATH"),
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    while reqwest::blocking::get(format!("{vm_url}/health")).is_err() {
        assert!(Instant::now() < deadline, "VictoriaMetrics did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let api = runtime
        .block_on(FakeMachinesApi::start(&app_name(0), TOKEN))
        .unwrap();
    for i in 0..apps {
        let name = app_name(i);
        api.add_app(&name);
        api.add_machine(MachineSpec::new("iad").app(&name));
    }
    // Fly's published limits per app and action, 429 beyond them.
    api.set_limits(Some(placer_fly::ApiLimits::default()));
    import_series(apps, &vm_url);

    let names: Vec<String> = (0..apps).map(app_name).collect();
    let config = format!(
        "dry_run: false\ncooldown_period: 10\nsustain_ticks: 1\n\
         apps: [{}]\n\
         service:\n  interval: 0\n  data_dir: {}\n\
         fly:\n  api_url: {}\n  max_in_flight: 16\n  retry:\n    max_attempts: 1\n  \
         rate_limit:\n    requests_per_second: {rate}\n    burst: {}\n",
        names.join(", "),
        scratch.path().join("data").display(),
        api.base_url(),
        (rate as u32).max(1),
    );
    let config = format!("{config}{extra}\n");
    let config_path = scratch.path().join("config.yml");
    std::fs::write(&config_path, config).unwrap();

    // The one traffic query on its own, to see its share of the tick.
    let query_took = runtime.block_on(async {
        let mut options =
            placer_prom::PrometheusOptions::new(vm_url.clone(), "app-0000".parse().unwrap());
        options.timeout = Duration::from_secs(60);
        let source = placer_prom::PrometheusSource::new(options).unwrap();
        let started = Instant::now();
        let answer = source
            .query_apps(
                &names,
                placer_core::Timestamp::from_system_time(SystemTime::now()),
            )
            .await
            .unwrap();
        let took = started.elapsed();
        let ok = answer.values().filter(|result| result.is_ok()).count();
        assert_eq!(ok, apps, "every app has its series");
        took
    });

    let started = Instant::now();
    let mut serve = Killed(
        Command::new(&binary)
            .args(["--config", config_path.to_str().unwrap()])
            .args(["serve", "--listen", "127.0.0.1:0"])
            .env_clear()
            .env("FLY_API_TOKEN", TOKEN)
            .env("FLY_PROMETHEUS_URL", &vm_url)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let pid = serve.0.id();
    let (lines, listening) = mpsc::channel();
    let stderr = serve.0.stderr.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(rest) = line.split("listening on http://").nth(1) {
                let address = rest.split_whitespace().next().unwrap().to_owned();
                let _ = lines.send(address);
            }
        }
    });
    let address = listening
        .recv_timeout(Duration::from_secs(600))
        .expect("fly-placer serve did not start listening");
    let start_took = started.elapsed();
    let rss_started = memory(pid, "VmRSS");
    let peak_started = memory(pid, "VmHWM");
    keep_smaps(pid, "started");

    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(600))
        .build()
        .unwrap();
    let started = Instant::now();
    let reports: serde_json::Map<String, serde_json::Value> = client
        .post(format!("http://{address}/trigger"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    let tick_took = started.elapsed();
    let rss_ticked = memory(pid, "VmRSS");
    let peak_ticked = memory(pid, "VmHWM");
    keep_smaps(pid, "ticked");
    // Scraped as Prometheus scrapes: asking for gzip.
    let compressed = client
        .get(format!("http://{address}/metrics"))
        .header("Accept-Encoding", "gzip")
        .send()
        .unwrap()
        .bytes()
        .unwrap();
    let mut metrics = String::new();
    std::io::Read::read_to_string(
        &mut flate2::read::GzDecoder::new(&compressed[..]),
        &mut metrics,
    )
    .expect("the scrape is gzip");
    let rss_scraped = memory(pid, "VmRSS");
    keep_smaps(pid, "scraped");
    // Every app's state and health, as an operator would look at them.
    let mut documents = 0;
    for path in ["/state", "/health"] {
        let body = client
            .get(format!("http://{address}{path}"))
            .send()
            .unwrap()
            .bytes()
            .unwrap();
        documents += body.len();
    }
    let rss_read = memory(pid, "VmRSS");
    keep_smaps(pid, "read");
    let peak = memory(pid, "VmHWM");
    let threads = memory(pid, "Threads");
    // Last, a scraper that does not ask for gzip gets the whole text.
    let plain = client
        .get(format!("http://{address}/metrics"))
        .send()
        .unwrap()
        .bytes()
        .unwrap();
    assert!(plain.starts_with(b"# HELP"), "the text, not compressed");
    let peak_plain = memory(pid, "VmHWM");
    // Stopped as a service is (SIGTERM), so it saves its state and exits.
    let _ = Command::new("kill").arg(pid.to_string()).status();
    let _ = serve.0.wait();

    assert_eq!(reports.len(), apps, "one report per app");
    let mut deploys = 0;
    let mut failed = 0;
    let mut refused = 0;
    for report in reports.values() {
        let actions = report["actions"].as_array().cloned().unwrap_or_default();
        let outcome = |kind: &str| actions.iter().any(|a| a["outcome"].get(kind).is_some());
        if !report["error"].is_null() || outcome("error") {
            failed += 1;
        }
        // Removals of machines fly-placer did not create (the bench's
        // own), refused as they should be.
        if outcome("skipped") {
            refused += 1;
        }
        deploys += report["deployed"].as_array().map_or(0, Vec::len);
    }
    let calls = apps + deploys;
    let state_bytes: u64 = std::fs::read_dir(scratch.path().join("data/apps"))
        .unwrap()
        .map(|dir| {
            let file = dir.unwrap().path().join("engine_state.json");
            std::fs::metadata(file).map_or(0, |m| m.len())
        })
        .sum();
    let series = metrics.lines().filter(|l| !l.starts_with('#')).count();
    println!("apps: {apps} × {} regions", regions().len());
    println!("rate limit: {rate} actuator calls/s (shared), 16 requests in flight");
    println!(
        "one traffic query for all apps: {:.2} s",
        query_took.as_secs_f64()
    );
    println!(
        "start of fly-placer serve (config, {apps} runners, one listing each) until it listens: {:.2} s",
        start_took.as_secs_f64()
    );
    println!(
        "one tick of every app (POST /trigger): {:.2} s ({calls} actuator calls: {apps} listings, {deploys} deploys, which at {rate}/s take {:.2} s; {failed} apps failed, {refused} had a change refused)",
        tick_took.as_secs_f64(),
        calls as f64 / rate
    );
    println!(
        "requests answered 429 beyond Fly's per-app limits (start and tick): {}",
        api.throttled()
    );
    println!(
        "GET /metrics (gzip): {} series, {} KiB of text, {} KiB sent",
        series,
        metrics.len() / 1024,
        compressed.len() / 1024
    );
    println!(
        "GET /state and /health of every app: {} KiB",
        documents / 1024
    );
    println!(
        "serve process memory (KiB): RSS after start {rss_started} (peak so far {peak_started}), after the tick {rss_ticked} (peak so far {peak_ticked}), after a scrape {rss_scraped}, after /state and /health {rss_read}; peak {peak}; {threads} threads; peak after one more scrape without gzip {peak_plain}"
    );
    println!(
        "engine state files: {:.1} KiB per app on disk",
        state_bytes as f64 / 1024.0 / apps as f64
    );
    drop(api);
}

/// With `MANY_APPS_SMAPS=DIR`, a copy of the serve process's
/// `/proc/PID/smaps` at each stage, as `DIR/STAGE.smaps`, to see which
/// mappings (heap arenas, thread stacks, the binary) hold the memory.
fn keep_smaps(pid: u32, stage: &str) {
    if let Some(dir) = std::env::var_os("MANY_APPS_SMAPS") {
        let dir = PathBuf::from(dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::copy(
            format!("/proc/{pid}/smaps"),
            dir.join(format!("{stage}.smaps")),
        )
        .unwrap();
    }
}

/// A figure of `/proc/PID/status` (memory in KiB).
fn memory(pid: u32, key: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix(&format!("{key}:")))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Imports every app's series into VictoriaMetrics at `vm_url` and waits
/// until they can be queried.
fn import_series(apps: usize, vm_url: &str) {
    let started = Instant::now();
    let regions = regions();
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let client = reqwest::blocking::Client::new();
    let mut series = 0;
    for chunk in (0..apps).collect::<Vec<_>>().chunks(50) {
        let mut text = String::new();
        for &i in chunk {
            let app = app_name(i);
            for (r, region) in regions.iter().enumerate() {
                // Quiet everywhere, busy in iad, and every HOT_EVERY-th app
                // busy in one more region.
                let rate = if region == "iad" {
                    1.0
                } else if i % HOT_EVERY == 0 && r == (i / HOT_EVERY) % regions.len() {
                    3.0
                } else {
                    0.005
                };
                let mut at = now_ms - 10 * 60 * 1000;
                while at <= now_ms + 10 * 60 * 1000 {
                    let value = rate * ((at - now_ms + 10 * 60 * 1000) as f64 / 1000.0);
                    text.push_str(&format!(
                        "fly_edge_http_responses_count{{app=\"{app}\",region=\"{region}\",status=\"200\"}} {value} {at}\n"
                    ));
                    at += 60_000;
                }
                series += 1;
            }
        }
        let response = client
            .post(format!("{vm_url}/api/v1/import/prometheus"))
            .body(text)
            .send()
            .unwrap();
        assert!(response.status().is_success());
    }
    client
        .get(format!("{vm_url}/internal/force_flush"))
        .send()
        .unwrap();
    loop {
        let body: serde_json::Value = client
            .post(format!("{vm_url}/api/v1/query"))
            .form(&[("query", "count(fly_edge_http_responses_count)")])
            .send()
            .unwrap()
            .json()
            .unwrap();
        if body["data"]["result"][0]["value"][1].as_str() == Some(series.to_string().as_str()) {
            break;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    eprintln!(
        "imported {series} series into VictoriaMetrics in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}
