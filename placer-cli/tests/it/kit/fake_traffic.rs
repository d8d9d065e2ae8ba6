//! An app's traffic served by placer-prom's `FakePrometheus`, for tests
//! whose point is not the metrics server: no binary to install, and the
//! answer is known exactly.
#![allow(dead_code)] // each test module uses a different part

use placer_prom::test_server::FakePrometheus;

/// The window of the default query (`increase(…[5m])`): a rate of one
/// request a second reads as this many requests.
const QUERY_WINDOW_SECONDS: f64 = 300.0;

/// A fake Prometheus API answering every query with the same requests per
/// region. It stops when dropped.
pub struct FakeTraffic {
    server: FakePrometheus,
    /// Its base URL, for `FLY_PROMETHEUS_URL`.
    pub url: String,
}

impl FakeTraffic {
    /// Starts it on `runtime` (which keeps serving it while the test thread
    /// blocks: [`runtime`](super::runtime)), with `per_second` requests a
    /// second in each region, as
    /// [`VictoriaMetrics::load_traffic`](super::victoria::VictoriaMetrics::load_traffic)
    /// would load them.
    pub fn start(runtime: &tokio::runtime::Runtime, per_second: &[(&str, f64)]) -> Self {
        let server = runtime.block_on(FakePrometheus::start()).unwrap();
        let traffic = FakeTraffic {
            url: server.url(),
            server,
        };
        traffic.set(per_second);
        traffic
    }

    /// Replaces the traffic.
    pub fn set(&self, per_second: &[(&str, f64)]) {
        self.server.set_rates(
            per_second
                .iter()
                .map(|(region, rate)| (*region, rate * QUERY_WINDOW_SECONDS)),
        );
    }

    /// How many queries it has answered.
    pub fn query_count(&self) -> usize {
        self.server.queries().len()
    }
}
