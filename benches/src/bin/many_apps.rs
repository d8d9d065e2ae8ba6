//! One tick of many apps (1,000 by default) × 35 regions, live, against a
//! real VictoriaMetrics holding every app's series and the fake Machines
//! API: how long the tick takes, where the time goes, and the process's
//! memory.
//!
//! ```text
//! cargo run --release -p placer-benches --bin many_apps -- [APPS] [CALLS_PER_SECOND]
//! ```
//!
//! Needs `victoria-metrics` on the PATH. The fake API and the import of
//! the series run in a child process, so the memory figures are the
//! placer's own (plus this harness's few allocations).

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use placer_cli::runtime::{Inputs, Role};
use placer_cli::{Cli, Environment, Service};
use placer_fly::fake::{FakeMachinesApi, MachineSpec};

const TOKEN: &str = "FlyV1 fm2_bench-token";
/// Apps with a busy region that has no machine yet: each deploys one.
const HOT_EVERY: usize = 10;

fn app_name(i: usize) -> String {
    format!("app-{i:04}")
}

fn regions() -> Vec<String> {
    placer_core::geo::catalog()
        .iter()
        .take(35)
        .map(|info| info.code.to_string())
        .collect()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--child") {
        let apps: usize = args[2].parse().unwrap();
        child(apps, &args[3]);
        return;
    }
    let apps: usize = args.get(1).map_or(1000, |n| n.parse().unwrap());
    let rate: f64 = args.get(2).map_or(200.0, |n| n.parse().unwrap());
    parent(apps, rate);
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

fn parent(apps: usize, rate: f64) {
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
    // The fake API and the series, from a child process.
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args(["--child", &apps.to_string(), &vm_url])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let api_url = lines.next().unwrap().unwrap();
    let import = lines.next().unwrap().unwrap();
    eprintln!("{import}");
    let _child_stdin = child.stdin.take();
    let _child = Killed(child);

    let names: Vec<String> = (0..apps).map(app_name).collect();
    let config = format!(
        "dry_run: false\ncooldown_period: 10\nsustain_ticks: 1\n\
         apps: [{}]\n\
         service:\n  interval: 0\n  data_dir: {}\n\
         fly:\n  api_url: {api_url}\n  max_in_flight: 16\n  retry:\n    max_attempts: 1\n  \
         rate_limit:\n    requests_per_second: {rate}\n    burst: {}\n",
        names.join(", "),
        scratch.path().join("data").display(),
        (rate as u32).max(1),
    );
    let config_path = scratch.path().join("config.yml");
    std::fs::write(&config_path, config).unwrap();

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let cli = <Cli as clap::Parser>::parse_from([
        "fly-placer",
        "--config",
        config_path.to_str().unwrap(),
        "serve",
    ]);
    let env = Environment::from_lookup(|name| match name {
        "FLY_API_TOKEN" => Some(TOKEN.to_owned()),
        "FLY_PROMETHEUS_URL" => Some(vm_url.clone()),
        _ => None,
    });
    let inputs = Inputs {
        args: cli.global,
        env,
        fallback_seed: 1,
    };
    let rss_before = memory("VmRSS");

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
    let service = runtime
        .block_on(Service::start(inputs, Role::Serve))
        .unwrap_or_else(|err| panic!("{err}"));
    let start_took = started.elapsed();
    let rss_started = memory("VmRSS");

    let started = Instant::now();
    let results = runtime.block_on(service.tick_all());
    let tick_took = started.elapsed();
    runtime.block_on(service.close());

    let mut deploys = 0;
    let mut failed = 0;
    for result in results.values() {
        let report = result.as_ref().unwrap();
        if !report.is_ok() || report.has_failed_actions() {
            failed += 1;
        }
        deploys += report.deployed.len();
    }
    let calls = apps + deploys;
    let state_bytes: u64 = std::fs::read_dir(scratch.path().join("data/apps"))
        .unwrap()
        .map(|dir| {
            let file = dir.unwrap().path().join("engine_state.json");
            std::fs::metadata(file).map_or(0, |m| m.len())
        })
        .sum();
    println!("apps: {apps} × {} regions", regions().len());
    println!("rate limit: {rate} actuator calls/s (shared), 16 requests in flight");
    println!(
        "one traffic query for all apps: {:.2} s",
        query_took.as_secs_f64()
    );
    println!(
        "start (config, {apps} runners, one listing each): {:.2} s",
        start_took.as_secs_f64()
    );
    println!(
        "one tick of every app: {:.2} s ({calls} actuator calls: {apps} listings, {deploys} deploys, which at {rate}/s take {:.2} s; {failed} apps failed)",
        tick_took.as_secs_f64(),
        calls as f64 / rate
    );
    println!(
        "memory: RSS {} KiB before start, {} KiB after start, peak {} KiB; engine state files {:.1} KiB per app on disk",
        rss_before,
        rss_started,
        memory("VmHWM"),
        state_bytes as f64 / 1024.0 / apps as f64
    );
}

/// A `/proc/self/status` figure in KiB.
fn memory(key: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find_map(|line| line.strip_prefix(&format!("{key}:")))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Serves the fake API with `apps` apps, one machine in iad each, and
/// imports every app's series into VictoriaMetrics at `vm_url`; prints the
/// API's URL, then a line on the import, and serves until stdin closes.
fn child(apps: usize, vm_url: &str) {
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
    println!("{}", api.base_url());
    std::io::stdout().flush().unwrap();

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
    println!(
        "imported {series} series into VictoriaMetrics in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    std::io::stdout().flush().unwrap();
    // Serve until the parent is done.
    let mut line = String::new();
    let _ = std::io::stdin().read_line(&mut line);
    drop(api);
}
