//! A real etcd on free loopback ports, which a test can stop, start again
//! on the same ports and data, and pause, and look into or set up as an
//! operator would through its JSON gateway. Missing binary: a failure (tests
//! that start it are ignored unless run with `--include-ignored`).
#![allow(dead_code)] // each test file uses a different part

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::{json, Value};

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
    /// More flags for the server.
    args: Vec<String>,
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
        Self::start_with(tls, &[])
    }

    /// Starts it with these flags besides the usual ones (and TLS as in
    /// [`start_with_tls`](Self::start_with_tls)); panics when it is not
    /// installed.
    pub fn start_with(tls: Option<(PathBuf, PathBuf)>, args: &[&str]) -> Self {
        let binary = locate("etcd", "etcd-server");
        let mut etcd = Etcd {
            binary,
            child: None,
            client_port: free_port(),
            peer_port: free_port(),
            metrics_port: free_port(),
            tls,
            args: args.iter().map(|arg| (*arg).to_owned()).collect(),
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
            .args(&self.args)
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

    /// Posts `body` to the JSON gateway at `path` (e.g. `/v3/kv/range`)
    /// as `token`'s user, or anonymously, and returns the HTTP status and
    /// the answer. Plain HTTP over a socket, so it works inside an async
    /// test too; not for a TLS-only etcd.
    pub fn post(&self, token: Option<&str>, path: &str, body: &Value) -> (u16, Value) {
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", self.client_port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let body = body.to_string();
        let authorization =
            token.map_or(String::new(), |token| format!("Authorization: {token}\r\n"));
        let request = format!(
            "POST {path} HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
             {authorization}Content-Length: {}\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).unwrap();
        let mut answer = String::new();
        stream.read_to_string(&mut answer).unwrap();
        let (head, json) = answer.split_once("\r\n\r\n").unwrap();
        let status = head.split(' ').nth(1).unwrap().parse().unwrap();
        let value = serde_json::Deserializer::from_str(json)
            .into_iter::<Value>()
            .next()
            .unwrap()
            .unwrap();
        (status, value)
    }

    /// [`post`](Self::post) without a user, which must succeed; its
    /// answer.
    pub fn gateway(&self, path: &str, body: &Value) -> Value {
        let (status, answer) = self.post(None, path, body);
        assert_eq!(status, 200, "{path}: {answer}");
        answer
    }

    /// The value at `key`, read anonymously.
    pub fn get(&self, key: &str) -> Option<Vec<u8>> {
        let answer = self.gateway("/v3/kv/range", &json!({ "key": STANDARD.encode(key) }));
        answer["kvs"][0]["value"]
            .as_str()
            .map(|value| STANDARD.decode(value).unwrap())
    }

    /// The keys starting with `prefix`, read anonymously.
    pub fn keys(&self, prefix: &str) -> Vec<String> {
        // Every key from `prefix` up to (not including) the prefix with
        // its last byte one higher.
        let mut end = prefix.as_bytes().to_vec();
        *end.last_mut().unwrap() += 1;
        let answer = self.gateway(
            "/v3/kv/range",
            &json!({
                "key": STANDARD.encode(prefix),
                "range_end": STANDARD.encode(end),
                "keys_only": true,
            }),
        );
        answer["kvs"]
            .as_array()
            .map(|kvs| {
                kvs.iter()
                    .map(|kv| {
                        let key = STANDARD.decode(kv["key"].as_str().unwrap()).unwrap();
                        String::from_utf8(key).unwrap()
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Turns authentication on the way an operator would: a `root` user
    /// with the root role, then `auth enable`.
    pub fn enable_auth(&self, root_password: &str) {
        self.gateway(
            "/v3/auth/user/add",
            &json!({ "name": "root", "password": root_password }),
        );
        self.gateway(
            "/v3/auth/user/grant",
            &json!({ "user": "root", "role": "root" }),
        );
        self.gateway("/v3/auth/enable", &json!({}));
    }

    /// A token for `user`, as `/v3/auth/authenticate` hands it out.
    pub fn authenticate(&self, user: &str, password: &str) -> String {
        let answer = self.gateway(
            "/v3/auth/authenticate",
            &json!({ "name": user, "password": password }),
        );
        answer["token"].as_str().unwrap().to_owned()
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
