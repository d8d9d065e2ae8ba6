//! A real VictoriaMetrics on a free loopback port, loaded with a traffic
//! series. Missing binary: a failure (tests that start it are ignored
//! unless run with `--include-ignored`).
#![allow(dead_code)] // each test file uses a different part

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use super::{free_port, locate};

pub struct VictoriaMetrics {
    child: Child,
    pub url: String,
    _dir: tempfile::TempDir,
}

impl VictoriaMetrics {
    /// Starts it; panics when it is not installed.
    pub fn start() -> Self {
        Self::start_with(&[])
    }

    /// Starts it with `extra` command-line flags.
    pub fn start_with(extra: &[&str]) -> Self {
        let binary = locate("victoria-metrics", "victoria-metrics");
        for _ in 0..3 {
            let dir = tempfile::tempdir().unwrap();
            let port = free_port();
            let log = std::fs::File::create(dir.path().join("vm.log")).unwrap();
            let child = Command::new(&binary)
                .arg(format!("-httpListenAddr=127.0.0.1:{port}"))
                .arg(format!(
                    "-storageDataPath={}",
                    dir.path().join("data").display()
                ))
                .arg("-search.latencyOffset=0s")
                .arg("-search.disableCache")
                .arg("-loggerLevel=WARN")
                .args(extra)
                .stdin(Stdio::null())
                .stdout(log.try_clone().unwrap())
                .stderr(log)
                .spawn()
                .unwrap();
            let mut server = VictoriaMetrics {
                child,
                url: format!("http://127.0.0.1:{port}"),
                _dir: dir,
            };
            if server.wait_ready() {
                return server;
            }
        }
        panic!("VictoriaMetrics did not start");
    }

    fn wait_ready(&mut self) -> bool {
        let client = super::client();
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if self.child.try_wait().unwrap().is_some() {
                return false;
            }
            if client
                .get(format!("{}/health", self.url))
                .send()
                .is_ok_and(|r| r.status().is_success())
            {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }

    /// Imports Fly's request counter for `app`, counting `per_second`
    /// requests in each region from 20 minutes ago to 20 minutes ahead, and
    /// waits until the series are searchable.
    pub fn load_traffic(&self, app: &str, per_second: &[(&str, f64)]) {
        self.load_apps_traffic(&[(app, per_second)]);
    }

    /// [`load_traffic`](Self::load_traffic) for several apps at once.
    pub fn load_apps_traffic(&self, apps: &[(&str, &[(&str, f64)])]) {
        let mut text = String::new();
        let mut series = 0;
        for (app, per_second) in apps {
            text.push_str(&Self::traffic_text(app, per_second));
            series += per_second.len();
        }
        self.import(&text, series);
    }

    /// Instant queries the server has answered so far
    /// (`vm_http_requests_total{path="/api/v1/query"}`).
    pub fn query_count(&self) -> u64 {
        self.request_count("/api/v1/query")
    }

    /// [`query_count`](Self::query_count) once it has settled (see
    /// [`settled_request_count`](Self::settled_request_count)).
    pub fn settled_query_count(&self) -> u64 {
        self.settled_request_count("/api/v1/query")
    }

    /// Requests to `path` the server has answered so far
    /// (`vm_http_requests_total{path="..."}`).
    pub fn request_count(&self, path: &str) -> u64 {
        let text = super::client()
            .get(format!("{}/metrics", self.url))
            .send()
            .unwrap()
            .text()
            .unwrap();
        let label = format!("path=\"{path}\"");
        text.lines()
            .filter(|line| line.starts_with("vm_http_requests_total{") && line.contains(&label))
            .filter_map(|line| line.rsplit(' ').next()?.parse::<u64>().ok())
            .sum()
    }

    /// [`request_count`](Self::request_count) once it has stopped changing
    /// (the same for a second), within 30 s: the server counts a request
    /// once its connection is done with it.
    pub fn settled_request_count(&self, path: &str) -> u64 {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut seen = (self.request_count(path), Instant::now());
        loop {
            std::thread::sleep(Duration::from_millis(100));
            let count = self.request_count(path);
            if count != seen.0 {
                seen = (count, Instant::now());
            } else if seen.1.elapsed() >= Duration::from_secs(1) || Instant::now() > deadline {
                return count;
            }
        }
    }

    fn traffic_text(app: &str, per_second: &[(&str, f64)]) -> String {
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as i64;
        let start = now_ms - 20 * 60 * 1000;
        let mut text = String::new();
        for (region, rate) in per_second {
            let mut at = start;
            while at <= now_ms + 20 * 60 * 1000 {
                let value = rate * ((at - start) as f64 / 1000.0);
                text.push_str(&format!(
                    "fly_edge_http_responses_count{{app=\"{app}\",region=\"{region}\",status=\"200\"}} {value} {at}\n"
                ));
                at += 15_000;
            }
        }
        text
    }

    /// Imports samples in the Prometheus text format (`name{labels} value
    /// millis` per line) and waits until `series` series of Fly's request
    /// counter are searchable.
    pub fn import(&self, text: &str, series: usize) {
        let client = super::client();
        let response = client
            .post(format!("{}/api/v1/import/prometheus", self.url))
            .body(text.to_owned())
            .send()
            .unwrap();
        assert!(
            response.status().is_success(),
            "import: {}",
            response.status()
        );
        client
            .get(format!("{}/internal/force_flush", self.url))
            .send()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let body: serde_json::Value = client
                .post(format!("{}/api/v1/query", self.url))
                .form(&[("query", "count(fly_edge_http_responses_count)")])
                .send()
                .unwrap()
                .json()
                .unwrap();
            // The count comes back as a string, as Prometheus values do.
            let visible = body["data"]["result"][0]["value"][1].as_str();
            if visible == Some(series.to_string().as_str()) {
                return;
            }
            assert!(Instant::now() < deadline, "series never visible: {body}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for VictoriaMetrics {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
