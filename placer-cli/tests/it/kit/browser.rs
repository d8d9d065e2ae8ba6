//! A real headless Chromium driven through chromedriver on a free loopback
//! port. Missing binaries: a failure (tests that start it are ignored unless
//! run with `--include-ignored`).
#![allow(dead_code)] // each test file uses a different part

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{json, Value};

use super::{free_port, locate, which};

/// Where tests leave files for a person to look at (screenshots, reports).
pub fn artifacts_dir() -> PathBuf {
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"))
        .join("test-artifacts");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A browser session. Its methods block.
pub struct Browser {
    runtime: tokio::runtime::Runtime,
    client: Option<Client>,
    driver: Child,
    driver_url: String,
    session: String,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts chromedriver and a headless Chromium with a fresh profile,
    /// its window `width`×`height`; panics when either is not installed.
    pub fn start(width: u32, height: u32) -> Browser {
        let chromium = ["chromium", "chromium-browser"]
            .iter()
            .find_map(|name| which(name))
            .unwrap_or_else(|| locate("chromium", "chromium"));
        let driver_binary = locate("chromedriver", "chromium-driver");
        let port = free_port();
        let driver = Command::new(driver_binary)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let driver_url = format!("http://127.0.0.1:{port}");
        let http = reqwest::blocking::Client::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        while http
            .get(format!("{driver_url}/status"))
            .send()
            .ok()
            .filter(|r| r.status().is_success())
            .is_none()
        {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        let profile = tempfile::tempdir().unwrap();
        let capabilities = json!({
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    "--disable-dev-shm-usage", "--hide-scrollbars",
                    format!("--user-data-dir={}", profile.path().display()),
                    format!("--window-size={width},{height}"),
                ],
            },
            "goog:loggingPrefs": { "browser": "ALL" },
        });
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let client = runtime
            .block_on(
                ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                    .capabilities(capabilities.as_object().unwrap().clone())
                    .connect(&driver_url),
            )
            .expect("a Chromium session");
        let session = runtime
            .block_on(client.session_id())
            .unwrap()
            .expect("a session id");
        Browser {
            runtime,
            client: Some(client),
            driver,
            driver_url,
            session,
            _profile: profile,
        }
    }

    fn client(&self) -> &Client {
        self.client.as_ref().unwrap()
    }

    /// Opens `url` and waits for it to load.
    pub fn goto(&self, url: &str) {
        self.runtime.block_on(self.client().goto(url)).unwrap();
    }

    /// Runs `script` (a function body; `arguments` holds `args`) in the page.
    pub fn eval(&self, script: &str, args: Vec<Value>) -> Value {
        self.runtime
            .block_on(self.client().execute(script, args))
            .unwrap()
    }

    /// How many elements match `css`.
    pub fn count(&self, css: &str) -> usize {
        self.runtime
            .block_on(self.client().find_all(Locator::Css(css)))
            .unwrap()
            .len()
    }

    /// Polls `script` until it returns something other than `null`/`false`,
    /// for up to `limit`.
    pub fn wait_until(&self, script: &str, limit: Duration) -> Value {
        let deadline = Instant::now() + limit;
        loop {
            let value = self.eval(script, vec![]);
            if !value.is_null() && value != Value::Bool(false) {
                return value;
            }
            assert!(Instant::now() < deadline, "timed out waiting for: {script}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Resizes the window.
    pub fn resize(&self, width: u32, height: u32) {
        self.runtime
            .block_on(self.client().set_window_size(width, height))
            .unwrap();
    }

    /// Resizes the window to a phone's (390 × 844) and checks that the
    /// page is no wider than the screen: only what scrolls inside its own
    /// box may be.
    pub fn assert_fits_a_phone(&self, limit: Duration) {
        self.resize(390, 844);
        self.wait_until("return window.innerWidth <= 400", limit);
        let overflow = self.eval(
            "return document.documentElement.scrollWidth - window.innerWidth",
            vec![],
        );
        assert!(
            overflow.as_i64().unwrap() <= 0,
            "page overflows by {overflow}px"
        );
    }

    /// Writes a PNG screenshot to the artifacts directory and returns its
    /// path.
    pub fn screenshot(&self, name: &str) -> PathBuf {
        let png = self.runtime.block_on(self.client().screenshot()).unwrap();
        assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
        let path = artifacts_dir().join(name);
        std::fs::write(&path, png).unwrap();
        eprintln!("screenshot: {}", path.display());
        path
    }

    /// A screenshot for the docs: written to the artifacts directory and,
    /// when `UPDATE_SCREENSHOTS` is set, to `docs/img/` as well (to be
    /// looked at and committed, like a snapshot).
    pub fn screenshot_for_docs(&self, name: &str) -> PathBuf {
        let path = self.screenshot(name);
        if std::env::var_os("UPDATE_SCREENSHOTS").is_some_and(|v| !v.is_empty()) {
            let docs = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/img");
            std::fs::create_dir_all(&docs).unwrap();
            std::fs::copy(&path, docs.join(name)).unwrap();
            eprintln!("updated docs/img/{name}");
        }
        path
    }

    /// The browser console's entries at level `SEVERE` (errors) since the
    /// last call.
    pub fn console_errors(&self) -> Vec<String> {
        let entries: Value = reqwest::blocking::Client::new()
            .post(format!(
                "{}/session/{}/se/log",
                self.driver_url, self.session
            ))
            .json(&json!({ "type": "browser" }))
            .send()
            .unwrap()
            .json()
            .unwrap();
        entries["value"]
            .as_array()
            .expect("the browser log")
            .iter()
            .filter(|entry| entry["level"] == "SEVERE")
            .map(|entry| entry["message"].as_str().unwrap_or_default().to_owned())
            .collect()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            let _ = self.runtime.block_on(client.close());
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
