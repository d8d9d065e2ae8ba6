//! Ticks of many apps (1,000 by default) × 35 regions, live, by the real
//! `fly-placer serve` process against a real VictoriaMetrics at its
//! default flags holding every app's series and the fake Machines API:
//! how long start and each tick take (and the serve process's CPU time
//! in each, which depends far less than the wall time on what else runs
//! on the machine), where the time goes, the requests
//! the fake answered 429 beyond Fly's per-app limits (which it enforces),
//! and the serve process's memory after every tick and every scrape.
//!
//! ```text
//! cargo build --release -p placer-cli --bin fly-placer
//! cargo run --release -p placer-benches --bin many_apps -- [APPS] [CALLS_PER_SECOND|fly] [MORE_CONFIG]
//! ```
//!
//! `fly` as the second argument sets no client-wide rate limit (Fly's
//! limits are kept per app, the default). `MANY_APPS_TICKS` sets the
//! number of ticks (1), each followed by a scrape of `/metrics`;
//! `MANY_APPS_REGIONS` the regions each app has traffic in (35);
//! glibc's `MALLOC_*` variables are handed to the serve process.
//!
//! Needs `victoria-metrics` on the PATH and `fly-placer` built beside this
//! binary (the first command; or set `FLY_PLACER` to its path). The fake
//! API and the import of the series run in this process; the placer runs
//! as `fly-placer serve` in its own process, so the memory figures are the
//! whole serve process's, read from its `/proc/PID/status`. Every wait has
//! a deadline.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use placer_fly::fake::{FakeMachinesApi, MachineSpec};

const TOKEN: &str = "FlyV1 fm2_bench-token";
/// Apps with a busy region that has no machine yet: each deploys one.
const HOT_EVERY: usize = 10;
/// The longest any one request, tick or start may take.
const DEADLINE: Duration = Duration::from_secs(900);
/// How often the series hold a sample.
const SAMPLE_EVERY_MS: i64 = 120_000;

fn app_name(i: usize) -> String {
    format!("app-{i:04}")
}

fn regions(count: usize) -> Vec<String> {
    placer_core::network::geo::catalog()
        .iter()
        .take(count)
        .map(|info| info.code.to_string())
        .collect()
}

fn knob(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let apps: usize = args.get(1).map_or(1000, |n| n.parse().unwrap());
    // Calls per second shared by every app, or none (`fly`).
    let rate: Option<f64> = match args.get(2).map(String::as_str) {
        None => Some(200.0),
        Some("fly") => None,
        Some(n) => Some(n.parse().unwrap()),
    };
    // More top-level config, e.g. `forecast: {method: none}`.
    let extra = args.get(3).cloned().unwrap_or_default();
    let ticks = knob("MANY_APPS_TICKS", 1).max(1);
    let regions = knob("MANY_APPS_REGIONS", 35).clamp(1, 35);
    run(apps, rate, &extra, ticks, regions);
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

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

fn run(apps: usize, rate: Option<f64>, extra: &str, ticks: usize, region_count: usize) {
    let binary = fly_placer();
    let scratch = tempfile::tempdir().unwrap();
    let port = free_port();
    let vm_url = format!("http://127.0.0.1:{port}");
    // Default flags but for where it listens and keeps its data.
    let _vm = Killed(
        Command::new("victoria-metrics")
            .arg(format!("-httpListenAddr=127.0.0.1:{port}"))
            .arg(format!(
                "-storageDataPath={}",
                scratch.path().join("vm").display()
            ))
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
    // Samples far enough ahead for every tick (a tick takes well under
    // two minutes).
    let ahead_minutes = 20 + 2 * ticks as i64;
    import_series(apps, &vm_url, region_count, ahead_minutes);

    let names: Vec<String> = (0..apps).map(app_name).collect();
    let limits = match rate {
        Some(rate) => format!(
            "  max_in_flight: 16\n  rate_limit:\n    requests_per_second: {rate}\n    burst: {}\n",
            (rate as u32).max(1)
        ),
        None => String::new(),
    };
    let config = format!(
        "dry_run: false\ncooldown_period: 10\nsustain_ticks: 1\n\
         apps: [{}]\n\
         service:\n  interval: 0\n  data_dir: {}\n\
         fly:\n  api_url: {}\n  retry:\n    max_attempts: 1\n{limits}{extra}\n",
        names.join(", "),
        scratch.path().join("data").display(),
        api.base_url(),
    );
    let config_path = scratch.path().join("config.yml");
    std::fs::write(&config_path, config).unwrap();

    compare_traffic_queries(&runtime, &vm_url, &names);

    let started = Instant::now();
    let mut command = Command::new(&binary);
    command
        .args(["--config", config_path.to_str().unwrap()])
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env_clear()
        .env("FLY_API_TOKEN", TOKEN)
        .env("FLY_PROMETHEUS_URL", &vm_url)
        .env("RUST_LOG", "info");
    // The allocator's settings, as the Dockerfile sets them.
    for (name, value) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("MALLOC_") {
            command.env(name, value);
        }
    }
    let mut serve = Killed(
        command
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
        .recv_timeout(DEADLINE)
        .expect("fly-placer serve did not start listening");
    let start_took = started.elapsed();
    println!("apps: {apps} × {region_count} regions");
    match rate {
        Some(rate) => {
            println!("rate limit: {rate} actuator calls/s (shared), 16 requests in flight")
        }
        None => println!(
            "Fly's limits per app, no client-wide rate limit, fly.max_in_flight at its default"
        ),
    }
    println!(
        "start of fly-placer serve ({apps} runners, one listing each) until it listens: {:.2} s; RSS {:.1} MiB",
        start_took.as_secs_f64(),
        mib(memory(pid, "VmRSS"))
    );
    keep_smaps(pid, "started");

    let client = reqwest::blocking::Client::builder()
        .timeout(DEADLINE)
        .build()
        .unwrap();
    let throttled_at_start = api.throttled();
    let mut metrics = String::new();
    let mut compressed_len = 0;
    let mut tick_times = Vec::new();
    let mut deploys = 0;
    let mut tick_cpu = Vec::new();
    for tick in 1..=ticks {
        let started = Instant::now();
        let cpu_before = cpu_secs(pid);
        let reports: serde_json::Map<String, serde_json::Value> = client
            .post(format!("http://{address}/trigger"))
            .send()
            .unwrap()
            .json()
            .unwrap();
        let took = started.elapsed();
        let cpu = cpu_secs(pid) - cpu_before;
        tick_times.push(took.as_secs_f64());
        tick_cpu.push(cpu);
        let rss_ticked = memory(pid, "VmRSS");
        // Scraped as Prometheus scrapes: asking for gzip.
        let compressed = client
            .get(format!("http://{address}/metrics"))
            .header("Accept-Encoding", "gzip")
            .send()
            .unwrap()
            .bytes()
            .unwrap();
        compressed_len = compressed.len();
        metrics.clear();
        std::io::Read::read_to_string(
            &mut flate2::read::GzDecoder::new(&compressed[..]),
            &mut metrics,
        )
        .expect("the scrape is gzip");
        let rss_scraped = memory(pid, "VmRSS");
        assert_eq!(reports.len(), apps, "one report per app");
        let (failed, deployed) = outcomes(&reports);
        deploys += deployed;
        println!(
            "tick {tick:>3}: {:6.2} s ({cpu:.2} s of CPU), {failed} apps failed, {deployed} deploys; RSS after the tick {:6.1} MiB, after the scrape {:6.1} MiB",
            took.as_secs_f64(),
            mib(rss_ticked),
            mib(rss_scraped)
        );
    }
    keep_smaps(pid, "ticked");
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
    // Stopped as a service is (SIGTERM), so it saves its state and exits.
    let _ = Command::new("kill").arg(pid.to_string()).status();
    let _ = serve.0.wait();

    let state_bytes: u64 = std::fs::read_dir(scratch.path().join("data/apps"))
        .unwrap()
        .map(|dir| {
            let file = dir.unwrap().path().join("engine_state.json");
            std::fs::metadata(file).map_or(0, |m| m.len())
        })
        .sum();
    let series = metrics.lines().filter(|l| !l.starts_with('#')).count();
    let mut sorted = tick_times.clone();
    sorted.sort_by(f64::total_cmp);
    println!(
        "ticks: first {:.2} s, median {:.2} s, slowest {:.2} s; {deploys} deploys in all",
        tick_times[0],
        sorted[sorted.len() / 2],
        sorted[sorted.len() - 1]
    );
    // The serve process's own work, whatever share of the machine it got.
    let mut later_cpu = tick_cpu.get(1..).unwrap_or_default().to_vec();
    if !later_cpu.is_empty() {
        later_cpu.sort_by(f64::total_cmp);
        println!(
            "CPU time of the serve process in a tick: first {:.2} s; later ticks median {:.2} s, most {:.2} s",
            tick_cpu[0],
            later_cpu[later_cpu.len() / 2],
            later_cpu[later_cpu.len() - 1]
        );
    }
    println!(
        "requests answered 429 beyond Fly's per-app limits (start / ticks): {throttled_at_start} / {}",
        api.throttled() - throttled_at_start
    );
    println!(
        "GET /metrics (gzip): {} series, {} KiB of text, {} KiB sent",
        series,
        metrics.len() / 1024,
        compressed_len / 1024
    );
    println!(
        "GET /state and /health of every app: {} KiB; RSS after them {:.1} MiB; peak {:.1} MiB; {threads} threads",
        documents / 1024,
        mib(rss_read),
        mib(peak)
    );
    println!(
        "engine state files: {:.1} KiB per app on disk",
        state_bytes as f64 / 1024.0 / apps as f64
    );
    drop(api);
}

/// Apps whose tick or an action failed, and deploys, in one tick's reports.
fn outcomes(reports: &serde_json::Map<String, serde_json::Value>) -> (usize, usize) {
    let mut failed = 0;
    let mut deploys = 0;
    for report in reports.values() {
        let actions = report["actions"].as_array().cloned().unwrap_or_default();
        let errored = actions.iter().any(|a| a["outcome"].get("error").is_some());
        if !report["error"].is_null() || errored {
            failed += 1;
        }
        deploys += report["deployed"].as_array().map_or(0, Vec::len);
    }
    (failed, deploys)
}

/// The traffic of every app two ways, three times each: the batches
/// `fly-placer` sends (`PrometheusSource::query_apps`, at most
/// `max_query_bytes` each, four at a time), and one query for the whole
/// organization without naming the apps, to be filtered on our side.
fn compare_traffic_queries(runtime: &tokio::runtime::Runtime, vm_url: &str, names: &[String]) {
    let mut options = placer_prom::PrometheusOptions::new(vm_url, "app-0000".parse().unwrap());
    options.timeout = Duration::from_secs(120);
    let batches = options.apps_queries(names).unwrap();
    let source = placer_prom::PrometheusSource::new(options).unwrap();
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap();
    let post = |query: &str| {
        let started = Instant::now();
        let response = client
            .post(format!("{vm_url}/api/v1/query"))
            .form(&[("query", query)])
            .send()
            .unwrap();
        let status = response.status();
        let body = response.bytes().unwrap();
        (started.elapsed(), status, body)
    };
    for _ in 0..3 {
        let now = placer_core::Timestamp::from_system_time(SystemTime::now());
        let started = Instant::now();
        let answer = runtime.block_on(source.query_apps(names, now)).unwrap();
        let took = started.elapsed();
        let ok = answer.values().filter(|result| result.is_ok()).count();
        let mut bytes = 0;
        let mut one_by_one = Duration::ZERO;
        for batch in &batches {
            let (took, status, body) = post(&batch.query);
            assert!(status.is_success(), "{status}");
            one_by_one += took;
            bytes += body.len();
        }
        let (org_took, org_status, org_body) =
            post("sum by (app, region) (increase(fly_edge_http_responses_count[5m]))");
        let org_outcome = if org_status.is_success() {
            format!("{} KiB", org_body.len() / 1024)
        } else {
            format!(
                "refused, HTTP {org_status}: {}",
                String::from_utf8_lossy(&org_body[..org_body.len().min(200)])
            )
        };
        println!(
            "traffic of {} apps: {} batches of ≤ {} bytes, 4 at a time, answers parsed: {:.2} s ({ok} apps with traffic); the same one after the other {:.2} s, {} KiB of answers | one org-wide query: {:.2} s, {org_outcome}",
            names.len(),
            batches.len(),
            placer_prom::DEFAULT_MAX_QUERY_BYTES,
            took.as_secs_f64(),
            one_by_one.as_secs_f64(),
            bytes / 1024,
            org_took.as_secs_f64(),
        );
    }
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
/// CPU time the process has used, user and system, in seconds (from
/// `/proc/PID/stat`, whose clock ticks are 1/100 s on Linux).
fn cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    // The fields after the command name, which is in parentheses.
    let fields: Vec<&str> = stat[stat.rfind(')').unwrap() + 2..]
        .split_whitespace()
        .collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    ticks as f64 / 100.0
}

fn memory(pid: u32, key: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix(&format!("{key}:")))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Imports every app's series into VictoriaMetrics at `vm_url`, from ten
/// minutes ago to `ahead_minutes` ahead, and waits until they can be
/// queried.
fn import_series(apps: usize, vm_url: &str, region_count: usize, ahead_minutes: i64) {
    let started = Instant::now();
    let regions = regions(region_count);
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let from = now_ms - 10 * 60 * 1000;
    let client = reqwest::blocking::Client::builder()
        .timeout(DEADLINE)
        .build()
        .unwrap();
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
                let mut at = from;
                while at <= now_ms + ahead_minutes * 60 * 1000 {
                    let value = rate * ((at - from) as f64 / 1000.0);
                    text.push_str(&format!(
                        "fly_edge_http_responses_count{{app=\"{app}\",region=\"{region}\",status=\"200\"}} {value} {at}\n"
                    ));
                    at += SAMPLE_EVERY_MS;
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
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        // The last app's series, imported last: one query selecting every
        // series could be more than the server's default limit (300,000).
        let last = format!(
            "count(fly_edge_http_responses_count{{app=\"{}\"}})",
            app_name(apps - 1)
        );
        let body: serde_json::Value = client
            .post(format!("{vm_url}/api/v1/query"))
            .form(&[("query", last.as_str())])
            .send()
            .unwrap()
            .json()
            .unwrap();
        let visible = body["data"]["result"][0]["value"][1].as_str();
        if visible == Some(regions.len().to_string().as_str()) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the series never became searchable: {body}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    eprintln!(
        "imported {series} series into VictoriaMetrics in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}
