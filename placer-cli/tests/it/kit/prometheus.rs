//! A real Prometheus on a free loopback port, scraping running
//! `fly-placer`s. Missing binary: a failure (tests that start it are ignored
//! unless run with `--include-ignored`).
#![allow(dead_code)] // each test module uses a different part

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{client, free_port, locate, Server};

/// A Prometheus server, killed when dropped.
pub struct Prometheus {
    child: Child,
    pub url: String,
    _dir: tempfile::TempDir,
}

impl Prometheus {
    /// Starts it scraping `targets` every second; panics when it is not
    /// installed.
    pub fn start(targets: &[&Server]) -> Prometheus {
        Prometheus::start_with_rules(targets, None)
    }

    /// Like [`start`](Self::start), also evaluating the rule file `rules`
    /// every second.
    pub fn start_with_rules(targets: &[&Server], rules: Option<&std::path::Path>) -> Prometheus {
        let binary = locate("prometheus", "prometheus");
        let dir = tempfile::tempdir().unwrap();
        let targets: Vec<String> = targets
            .iter()
            .map(|server| format!("'{}'", server.base.trim_start_matches("http://")))
            .collect();
        let mut config = format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nscrape_configs:\n  - job_name: fly-placer\n    static_configs:\n      - targets: [{}]\n",
            targets.join(", ")
        );
        if let Some(rules) = rules {
            config.push_str(&format!("rule_files:\n  - '{}'\n", rules.display()));
        }
        std::fs::write(dir.path().join("prometheus.yml"), config).unwrap();
        let port = free_port();
        let child = Command::new(binary)
            .arg(format!(
                "--config.file={}",
                dir.path().join("prometheus.yml").display()
            ))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.path().join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--log.level=warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let prometheus = Prometheus {
            child,
            url: format!("http://127.0.0.1:{port}"),
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(60);
        while !client()
            .get(format!("{}/-/ready", prometheus.url))
            .send()
            .is_ok_and(|r| r.status().is_success())
        {
            assert!(Instant::now() < deadline, "Prometheus did not start");
            std::thread::sleep(Duration::from_millis(200));
        }
        prometheus
    }

    /// The rule groups as Prometheus evaluates them (`/api/v1/rules`).
    pub fn rule_groups(&self) -> Vec<Value> {
        let answer: Value = client()
            .get(format!("{}/api/v1/rules", self.url))
            .send()
            .unwrap()
            .json()
            .unwrap();
        answer["data"]["groups"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    /// Runs an instant query: its result, or the error Prometheus gave.
    pub fn query(&self, expr: &str) -> Result<Vec<Value>, String> {
        let answer: Value = client()
            .get(format!("{}/api/v1/query", self.url))
            .query(&[("query", expr)])
            .send()
            .unwrap()
            .json()
            .unwrap();
        if answer["status"] != "success" {
            return Err(format!("{}: {}", answer["errorType"], answer["error"]));
        }
        Ok(answer["data"]["result"]
            .as_array()
            .cloned()
            .unwrap_or_default())
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
