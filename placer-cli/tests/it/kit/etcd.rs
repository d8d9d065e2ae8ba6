//! A real etcd on free loopback ports, which a test can stop, start again
//! on the same ports and data, and pause. Missing binary: a failure (tests
//! that start it are ignored unless run with `--include-ignored`).
#![allow(dead_code)] // each test file uses a different part

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{free_port, locate};

pub struct Etcd {
    binary: PathBuf,
    child: Option<Child>,
    client_port: u16,
    peer_port: u16,
    /// Plain HTTP `/health` and `/metrics`, also when clients speak TLS.
    metrics_port: u16,
    /// Server certificate and key: clients must speak TLS.
    tls: Option<(PathBuf, PathBuf)>,
    dir: tempfile::TempDir,
}

impl Etcd {
    /// Starts it; panics when it is not installed.
    pub fn start() -> Self {
        Self::start_with_tls(None)
    }

    /// Starts it with clients served over TLS with this certificate and
    /// key; panics when it is not installed.
    pub fn start_with_tls(tls: Option<(PathBuf, PathBuf)>) -> Self {
        let binary = locate("etcd", "etcd-server");
        let mut etcd = Etcd {
            binary,
            child: None,
            client_port: free_port(),
            peer_port: free_port(),
            metrics_port: free_port(),
            tls,
            dir: tempfile::tempdir().unwrap(),
        };
        etcd.resume_process();
        etcd
    }

    /// `host:port` of its client endpoint.
    pub fn endpoint(&self) -> String {
        format!("127.0.0.1:{}", self.client_port)
    }

    /// A state URL with `prefix`.
    pub fn url(&self, prefix: &str) -> String {
        format!("etcd://{}/{prefix}", self.endpoint())
    }

    fn resume_process(&mut self) {
        let log = std::fs::File::create(self.dir.path().join("etcd.log")).unwrap();
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        let client = format!("{scheme}://127.0.0.1:{}", self.client_port);
        let peer = format!("http://127.0.0.1:{}", self.peer_port);
        let mut command = Command::new(&self.binary);
        if let Some((cert, key)) = &self.tls {
            command
                .arg(format!("--cert-file={}", cert.display()))
                .arg(format!("--key-file={}", key.display()));
        }
        let child = command
            .arg("--name=test")
            .arg(format!(
                "--listen-metrics-urls=http://127.0.0.1:{}",
                self.metrics_port
            ))
            .arg(format!(
                "--data-dir={}",
                self.dir.path().join("data").display()
            ))
            .arg(format!("--listen-client-urls={client}"))
            .arg(format!("--advertise-client-urls={client}"))
            .arg(format!("--listen-peer-urls={peer}"))
            .arg(format!("--initial-advertise-peer-urls={peer}"))
            .arg(format!("--initial-cluster=test={peer}"))
            .arg("--log-level=warn")
            .env_remove("ETCDCTL_API")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
        self.wait_ready();
    }

    fn wait_ready(&mut self) {
        let started = Instant::now();
        loop {
            if self.healthy() {
                return;
            }
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                let log =
                    std::fs::read_to_string(self.dir.path().join("etcd.log")).unwrap_or_default();
                panic!("etcd exited ({status}):\n{log}");
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "etcd did not become ready"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Whether `GET /health` says so (plain HTTP over a socket, so it works
    /// inside an async test too).
    fn healthy(&self) -> bool {
        use std::io::{Read, Write};
        let Ok(mut stream) = std::net::TcpStream::connect(("127.0.0.1", self.metrics_port)) else {
            return false;
        };
        let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
        if stream
            .write_all(b"GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            .is_err()
        {
            return false;
        }
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer);
        answer.contains("\"health\":\"true\"")
    }

    /// Stops it (SIGKILL), keeping its data.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again on the same ports and data.
    pub fn restart(&mut self) {
        self.stop();
        self.resume_process();
    }

    /// The process id, to pause it with SIGSTOP.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }
}

impl Drop for Etcd {
    fn drop(&mut self) {
        if let Some(child) = &self.child {
            // A paused etcd does not die of SIGKILL until it is continued.
            let _ = Command::new("kill")
                .args(["-CONT", &child.id().to_string()])
                .status();
        }
        self.stop();
    }
}

/// Sends `signal` (`STOP`, `CONT`) to `pid`.
pub fn signal(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}
