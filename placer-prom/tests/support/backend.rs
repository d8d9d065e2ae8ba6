//! Starting a real server binary on a free loopback port, and stopping it.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use tempfile::TempDir;

const READY_TIMEOUT: Duration = Duration::from_secs(30);
const START_ATTEMPTS: usize = 3;

/// Finds `binary` on `PATH`; panics, naming the Debian `package` that has
/// it, when it is missing. The tests that call it are ignored by default
/// (`#[ignore = "needs …"]`), so this runs only with `--include-ignored`.
pub fn locate(binary: &str, package: &str) -> PathBuf {
    std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join(binary))
                .find(|candidate| candidate.is_file())
        })
        .unwrap_or_else(|| {
            panic!(
                "`{binary}` is not on PATH: this test needs it (Debian package `{package}`). \
                 Install it, or run the tests without `--include-ignored` to leave out \
                 the ones that need a server."
            )
        })
}

/// A port on 127.0.0.1 that was free a moment ago.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("no free loopback port")
}

/// A running server process with its temporary directory.
///
/// Dropping it kills the process and waits for it, also when a test panics,
/// then removes the directory (fields drop in order: process first).
pub struct BackendProcess {
    child: Child,
    name: &'static str,
    port: u16,
    log: PathBuf,
    dir: TempDir,
}

impl BackendProcess {
    /// Runs `command(port)` with output going to a log in `dir`, and waits
    /// until `GET ready_path` answers 200. Retries on a fresh port when the
    /// process exits early (another program may have taken the port).
    pub async fn start(
        name: &'static str,
        mut dir: TempDir,
        ready_path: &str,
        command: impl Fn(u16) -> Command,
    ) -> Self {
        let log = dir.path().join(format!("{name}.log"));
        let mut last_exit = None;
        for _ in 0..START_ATTEMPTS {
            let port = free_port();
            let log_file = File::create(&log).expect("cannot create the server log");
            let mut command = command(port);
            command
                .stdin(Stdio::null())
                .stdout(log_file.try_clone().expect("cannot share the log"))
                .stderr(log_file);
            let child = command
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
            let mut process = BackendProcess {
                child,
                name,
                port,
                log: log.clone(),
                dir,
            };
            match process.wait_until_ready(ready_path).await {
                Ok(()) => return process,
                Err(Some(status)) => {
                    last_exit = Some(status);
                    dir = process.into_dir();
                }
                Err(None) => panic!(
                    "{name} did not become ready within {READY_TIMEOUT:?}\n{}",
                    process.log_text()
                ),
            }
        }
        panic!(
            "{name} exited before becoming ready ({last_exit:?}) {START_ATTEMPTS} times\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
    }

    /// `http://127.0.0.1:<port>`
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The temporary directory the server works in.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The server's output so far, for failure messages.
    pub fn log_text(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        format!("--- {} log ---\n{text}--- end of log ---", self.name)
    }

    /// `Err(Some(status))`: the process exited; `Err(None)`: it timed out.
    async fn wait_until_ready(&mut self, ready_path: &str) -> Result<(), Option<ExitStatus>> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(2))
            .build()
            .unwrap();
        let url = format!("{}{ready_path}", self.url());
        let deadline = Instant::now() + READY_TIMEOUT;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(Some(status));
            }
            if let Ok(response) = client.get(&url).send().await {
                if response.status().is_success() {
                    return Ok(());
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Err(None)
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    fn into_dir(mut self) -> TempDir {
        self.stop();
        // Swap the directory out so Drop only has the (stopped) process left.
        let placeholder = tempfile::tempdir().expect("cannot create a temporary directory");
        std::mem::replace(&mut self.dir, placeholder)
    }
}

impl Drop for BackendProcess {
    fn drop(&mut self) {
        self.stop();
    }
}
