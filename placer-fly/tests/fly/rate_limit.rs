//! The client-side rate limit.

use std::time::Duration;

use placer_core::wrap::RateLimited;
use placer_core::{InMemoryActuator, RegionActuator};
use tokio::time::Instant;

use crate::support::*;

#[tokio::test(start_paused = true)]
async fn a_burst_passes_and_the_rest_follow_at_the_rate() {
    let actuator = RateLimited::new(InMemoryActuator::new([]), 2.0, 2, timer());
    let started = Instant::now();
    for code in ["fra", "cdg", "ams", "lhr", "mad", "arn"] {
        actuator.deploy(&region(code)).await.unwrap();
    }
    // Two at once, then one every 500 ms.
    assert_eq!(started.elapsed(), Duration::from_secs(2));
    assert_eq!(actuator.inner().regions().len(), 6);
}

#[tokio::test]
async fn requests_reach_the_api_no_faster_than_the_limit() {
    let api = fake_with_app().await;
    let actuator = RateLimited::new(actuator(settings(&api)), 5.0, 1, timer());
    // The first call takes the burst and opens the connection; measure after it.
    actuator.deployed_regions().await.unwrap();
    api.take_requests();
    for _ in 0..6 {
        actuator.deployed_regions().await.unwrap();
    }
    let times: Vec<_> = api.requests().iter().map(|r| r.received).collect();
    assert_eq!(times.len(), 6);
    // Five gaps of 200 ms. Measured where the requests arrive, so a slow
    // trip of the first one shortens the span: a fifth of it is allowed for
    // that. Without the limit the six arrive within a few milliseconds.
    let span = times[5].duration_since(times[0]);
    assert!(
        span >= Duration::from_millis(800),
        "six requests within {span:?}"
    );
}
