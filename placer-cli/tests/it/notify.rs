//! Webhook notifications end to end: the real binary posts to a receiver on
//! 127.0.0.1 — one that never answers holds back no tick, one that answers
//! gets a `once` run's documents before the process exits — and the
//! webhook's credentials appear nowhere it prints.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::kit::{client, free_port, Workspace};

/// A webhook receiver: keeps the body of every request it reads, and
/// answers 200 or never answers (holding the connection open).
struct Receiver {
    port: u16,
    bodies: Arc<Mutex<Vec<Value>>>,
}

impl Receiver {
    fn start(answers: bool) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let kept = Arc::clone(&bodies);
        std::thread::spawn(move || {
            // Connections that are never answered stay open here.
            let mut held = Vec::new();
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let Some(body) = read_request(&mut stream) else {
                    continue;
                };
                kept.lock().unwrap().push(body);
                if answers {
                    let _ = stream.write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                    );
                } else {
                    held.push(stream);
                }
            }
        });
        Receiver { port, bodies }
    }

    /// The webhook's URL, with a token in its path and query as chat
    /// webhooks have.
    fn url(&self) -> String {
        format!(
            "http://hook:s3cr3t-pass@127.0.0.1:{}/services/s3cr3t-path?token=s3cr3t-query",
            self.port
        )
    }

    fn bodies(&self) -> Vec<Value> {
        self.bodies.lock().unwrap().clone()
    }

    fn wait_for(&self, count: usize) -> Vec<Value> {
        let started = Instant::now();
        while self.bodies.lock().unwrap().len() < count {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "{count} documents did not arrive: {:?}",
                self.bodies()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        self.bodies()
    }
}

fn read_request(stream: &mut TcpStream) -> Option<Value> {
    let mut read = Vec::new();
    let mut buffer = [0u8; 4096];
    loop {
        let count = stream.read(&mut buffer).ok()?;
        if count == 0 {
            return None;
        }
        read.extend_from_slice(&buffer[..count]);
        let Some(end) = read.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&read[..end]).to_ascii_lowercase();
        let length: usize = head
            .lines()
            .find_map(|line| line.strip_prefix("content-length:"))
            .and_then(|value| value.trim().parse().ok())?;
        if read.len() >= end + 4 + length {
            return serde_json::from_slice(&read[end + 4..end + 4 + length]).ok();
        }
    }
}

/// A dry run that deploys its always-running region at the first tick
/// (the simulated deployment starts empty), with a webhook.
fn config(webhook: &str, timeout: &str) -> String {
    format!(
        "dry_run: true\nalways_running_regions: [fra]\n\
         simulation:\n  seed: 7\n  initial_deployment: []\n\
         service:\n  interval: 0\n\
         notify:\n  webhooks:\n    - {webhook}\n  timeout: {timeout}\n"
    )
}

#[test]
fn a_receiver_that_never_answers_holds_back_no_tick() {
    let receiver = Receiver::start(false);
    let workspace = Workspace::new(&config(&receiver.url(), "1h"));
    // Traffic from a Prometheus nobody listens on: every tick fails, and
    // each failure is a document.
    let prometheus = format!("http://127.0.0.1:{}", free_port());
    let mut server = workspace.serve(
        &[],
        &[
            ("FLY_PROMETHEUS_URL", prometheus.as_str()),
            ("PLACER_APP", "shop"),
        ],
    );
    for _ in 0..4 {
        let answer = client().post(server.url("/trigger")).send().unwrap();
        let report: Value = answer.json().unwrap();
        assert!(
            report["error"]
                .as_str()
                .is_some_and(|error| error.starts_with("fetching traffic failed")),
            "{report}"
        );
    }
    // The first document is still held by the receiver (the request's
    // timeout is an hour), and every tick went on without it.
    let first = receiver.wait_for(1);
    assert_eq!(first[0]["event"], "tick_failed", "{first:?}");
    assert_eq!(first[0]["app"], "shop");
    assert_eq!(first[0]["dry_run"], true);
    let health: Value = client()
        .get(server.url("/health"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(health["ticks"], 4, "{health}");
    let metrics = client()
        .get(server.url("/metrics"))
        .send()
        .unwrap()
        .text()
        .unwrap();
    for counted in [
        "fly_placer_notifications_sent_total 0",
        "fly_placer_notifications_failed_total 0",
        "fly_placer_notifications_dropped_total 0",
    ] {
        assert!(metrics.contains(counted), "{counted} in {metrics}");
    }
    // A stop waits a little for the queue, not for the hour.
    assert!(server.stop().success());
    let log = server.log().join("\n");
    assert!(log.contains("webhook 1 (http://127.0.0.1:"), "{log}");
    assert!(log.contains("notifications dropped unsent"), "{log}");
    assert!(!log.contains("s3cr3t"), "{log}");
    assert_eq!(receiver.bodies().len(), 1);
}

#[test]
fn once_delivers_its_documents_before_it_exits() {
    let receiver = Receiver::start(true);
    let workspace = Workspace::new(&config(&receiver.url(), "30s"));
    let output = workspace.run(&["once"], &[]);
    let log = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{log}");
    assert!(!log.contains("s3cr3t"), "{log}");
    let bodies = receiver.bodies();
    let deploy = bodies
        .iter()
        .find(|body| body["region"] == "fra")
        .unwrap_or_else(|| panic!("no document for fra: {bodies:?}"));
    assert_eq!(deploy["event"], "action");
    assert_eq!(deploy["action"], "deploy");
    assert_eq!(deploy["dry_run"], true);
    assert_eq!(
        deploy["reason"],
        "Region is in always_running_regions list and is not deployed"
    );
    assert!(deploy["text"].as_str().unwrap().contains("fra"), "{deploy}");
}

#[test]
fn check_config_shows_webhooks_as_scheme_and_host_and_refuses_other_schemes() {
    let workspace = Workspace::new(&config(
        "https://hooks.example.com/services/T0/B0/s3cr3t",
        "3s",
    ));
    let output = workspace.run(&["check-config"], &[]);
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{printed}");
    assert!(!printed.contains("s3cr3t"), "{printed}");
    let effective: Value = serde_json::from_str(&printed).unwrap();
    assert_eq!(
        effective["notify"]["webhooks"],
        serde_json::json!(["https://hooks.example.com"])
    );
    assert_eq!(effective["notify"]["dry_run"], true);
    assert_eq!(effective["notify"]["timeout"], "3s");

    workspace.write(
        "bad.yml",
        "notify:\n  webhooks:\n    - https://hooks.example.com/ok\n    - ftp://me:s3cr3t@files.example.com/\n",
    );
    let output = workspace.run(&["check-config", "bad.yml"], &[]);
    let message = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{message}");
    assert!(!message.contains("s3cr3t"), "{message}");
    assert_eq!(
        message.trim(),
        "error: bad.yml:4: notify.webhooks[1]: must be an http:// or https:// URL, not ftp://"
    );
}

#[test]
fn a_webhook_added_while_it_runs_is_sent_the_next_ticks_documents() {
    let receiver = Receiver::start(true);
    let with_webhook = config(&receiver.url(), "30s");
    let without = with_webhook.split("notify:").next().unwrap().to_owned();
    let workspace = Workspace::new(&without);
    let mut server = workspace.serve(&[], &[]);
    workspace.write("config/config.yml", &with_webhook);
    let report: Value = client()
        .post(server.url("/trigger"))
        .send()
        .unwrap()
        .json()
        .unwrap();
    assert_eq!(report["deployed"], serde_json::json!(["fra"]), "{report}");
    let bodies = receiver.wait_for(1);
    assert_eq!(bodies[0]["region"], "fra", "{bodies:?}");
    assert!(server.stop().success());
    let log = server.log().join("\n");
    assert!(log.contains("notify.webhooks"), "{log}");
    assert!(!log.contains("s3cr3t"), "{log}");
}

#[test]
fn with_several_apps_check_config_shows_the_one_notify_section_once() {
    let workspace = Workspace::new(
        "apps: [shop, blog]\nnotify:\n  webhooks: [\"https://hooks.example.com/services/s3cr3t\"]\n  dry_run: false\n",
    );
    let output = workspace.run(&["check-config"], &[]);
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{printed}");
    assert!(!printed.contains("s3cr3t"), "{printed}");
    let effective: Value = serde_json::from_str(&printed).unwrap();
    assert_eq!(
        effective["notify"]["webhooks"],
        serde_json::json!(["https://hooks.example.com"])
    );
    assert_eq!(effective["notify"]["dry_run"], false);
    for app in ["shop", "blog"] {
        assert!(effective["apps"][app]["notify"].is_null(), "{effective}");
    }
}
