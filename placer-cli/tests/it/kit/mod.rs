//! The test kit: running the real `fly-placer` binary in a scratch
//! directory, and the servers (VictoriaMetrics, Prometheus, etcd, a headless
//! Chromium) and fakes the tests start on free loopback ports.
#![allow(dead_code)] // each test module uses a different part

pub mod browser;
pub mod etcd;
pub mod exposed;
pub mod fake_traffic;
pub mod prometheus;
mod servers;
pub mod victoria;

pub use servers::{free_port, locate, which};

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const BINARY: &str = env!("CARGO_BIN_EXE_fly-placer");

/// The repository's default config file.
pub fn default_config() -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/config.yml");
    std::fs::read_to_string(path).unwrap()
}

/// A scratch working directory with a config file at `config/config.yml`.
pub struct Workspace {
    pub dir: tempfile::TempDir,
}

impl Workspace {
    pub fn new(config: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("config")).unwrap();
        std::fs::write(dir.path().join("config/config.yml"), config).unwrap();
        Workspace { dir }
    }

    pub fn path(&self, relative: &str) -> PathBuf {
        self.dir.path().join(relative)
    }

    pub fn write(&self, relative: &str, text: &str) {
        let path = self.path(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    /// The binary with a clean environment, run in this directory.
    pub fn command(&self, args: &[&str], env: &[(&str, &str)]) -> Command {
        let mut command = Command::new(BINARY);
        command
            .args(args)
            .current_dir(self.dir.path())
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("RUST_LOG", "info")
            .envs(env.iter().copied())
            .stdin(Stdio::null());
        command
    }

    /// Runs a command to completion.
    pub fn run(&self, args: &[&str], env: &[(&str, &str)]) -> Output {
        let mut command = self.command(args, env);
        let child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        wait_output(child, Duration::from_secs(60))
    }

    /// Starts `fly-placer serve` on a free loopback port and waits until it
    /// listens.
    pub fn serve(&self, extra_args: &[&str], env: &[(&str, &str)]) -> Server {
        let mut args = vec!["serve", "--listen", "127.0.0.1:0"];
        args.extend_from_slice(extra_args);
        let mut child = self
            .command(&args, env)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let log = Arc::new(Mutex::new(Vec::<String>::new()));
        let stderr = child.stderr.take().unwrap();
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                sink.lock().unwrap().push(line);
            }
        });
        let mut server = Server {
            child,
            log,
            base: String::new(),
            stopped: None,
        };
        let line = server.wait_for_log("listening on http://", Duration::from_secs(30));
        let address = line
            .split("listening on http://")
            .nth(1)
            .and_then(|rest| rest.split_whitespace().next())
            .unwrap();
        server.base = format!("http://{address}");
        server
    }
}

/// Runs `gen-trace` in `workspace` and returns the trace it wrote.
pub fn gen_trace(
    workspace: &Workspace,
    scenario: &str,
    hours: &str,
    seed: &str,
    out: &str,
) -> placer_lab::Trace {
    let output = workspace.run(
        &[
            "gen-trace",
            "--scenario",
            scenario,
            "--hours",
            hours,
            "--seed",
            seed,
            "--out",
            out,
        ],
        &[],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        String::from_utf8_lossy(&output.stderr).contains(&format!("to {out}")),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = std::fs::read_to_string(workspace.path(out)).unwrap();
    assert!(text.starts_with("timestamp,region,requests\n"));
    text.parse().unwrap()
}

pub fn wait_output(mut child: Child, limit: Duration) -> Output {
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > limit {
            let _ = child.kill();
            panic!("the command did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// A running `fly-placer serve`, stopped with SIGTERM when dropped.
pub struct Server {
    child: Child,
    log: Arc<Mutex<Vec<String>>>,
    pub base: String,
    stopped: Option<ExitStatus>,
}

impl Server {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    /// Waits for a log line containing `needle` and returns it.
    pub fn wait_for_log(&mut self, needle: &str, limit: Duration) -> String {
        let started = Instant::now();
        loop {
            if let Some(line) = self.log().into_iter().find(|line| line.contains(needle)) {
                return line;
            }
            if let Some(status) = self.child.try_wait().unwrap() {
                std::thread::sleep(Duration::from_millis(100));
                panic!(
                    "fly-placer exited ({status}) before logging {needle:?}:\n{}",
                    self.log().join("\n")
                );
            }
            if started.elapsed() > limit {
                panic!(
                    "no log line with {needle:?} within {limit:?}:\n{}",
                    self.log().join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until `count` log lines contain `needle`.
    pub fn wait_for_count(&self, needle: &str, count: usize, limit: Duration) {
        let started = Instant::now();
        while self.count_log(needle) < count {
            if started.elapsed() > limit {
                panic!(
                    "fewer than {count} log lines with {needle:?} within {limit:?}:\n{}",
                    self.log().join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Counts log lines containing `needle`.
    pub fn count_log(&self, needle: &str) -> usize {
        self.log()
            .iter()
            .filter(|line| line.contains(needle))
            .count()
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Kills the server with SIGKILL, as a crash would, and waits for it.
    pub fn kill(&mut self) -> ExitStatus {
        let _ = self.child.kill();
        let status = self.child.wait().unwrap();
        self.stopped = Some(status);
        status
    }

    /// Sends SIGTERM and waits for the exit.
    pub fn stop(&mut self) -> ExitStatus {
        if let Some(status) = self.stopped {
            return status;
        }
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let started = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            if started.elapsed() > Duration::from_secs(30) {
                let _ = self.child.kill();
                panic!(
                    "fly-placer did not stop on SIGTERM:\n{}",
                    self.log().join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        // Let the reader thread collect the last lines.
        std::thread::sleep(Duration::from_millis(100));
        self.stopped = Some(status);
        status
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if self.stopped.is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A runtime of one worker thread that keeps serving what the test starts
/// on it (the fake Machines API) while the test thread blocks.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
}

/// A blocking HTTP client for the tests (loopback only).
pub fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(60))
        .no_proxy()
        .build()
        .unwrap()
}

pub fn get_json(url: &str) -> serde_json::Value {
    let response = client().get(url).send().unwrap();
    assert!(
        response.status().is_success(),
        "GET {url}: {}",
        response.status()
    );
    response.json().unwrap()
}

pub fn trigger(server: &Server) -> serde_json::Value {
    let response = client().post(server.url("/trigger")).send().unwrap();
    assert_eq!(response.status(), 200, "POST /trigger");
    response.json().unwrap()
}
