//! Fly's published Machines API limits, per app and action: kept by the
//! client, enforced by the fake, and a 429 holding back only its bucket.
//! Tokio's clock is paused: the waits take simulated time only.

use std::time::Duration;

use placer_core::RegionActuator;
use placer_fly::fake::{FakeMachinesApi, Fault, MachineSpec};
use placer_fly::{ApiLimits, FlyMachinesActuator, FlyOptions, RequestGate};
use tokio::time::Instant;

use crate::support::*;

/// Settings that keep Fly's published limits.
fn limited(api: &FakeMachinesApi, app: &str) -> FlyOptions {
    let mut settings = settings(api);
    settings.app = Some(app.parse().unwrap());
    settings.api_limits = ApiLimits::default();
    settings
}

/// A fake enforcing Fly's limits, its app running in `iad`.
async fn enforcing() -> FakeMachinesApi {
    let api = fake_with_app().await;
    api.set_limits(Some(ApiLimits::default()));
    api
}

fn arrivals(api: &FakeMachinesApi, path: &str, started: Instant) -> Vec<u64> {
    api.requests()
        .iter()
        .filter(|r| r.method == "GET" && r.path == path)
        .map(|r| r.received.duration_since(started).as_millis() as u64)
        .collect()
}

#[tokio::test(start_paused = true)]
async fn one_apps_listings_go_out_in_a_burst_of_three_then_one_a_second() {
    let api = enforcing().await;
    let actuator = actuator(limited(&api, APP));
    let started = Instant::now();
    for _ in 0..5 {
        actuator.deployed_regions().await.unwrap();
    }
    let at = arrivals(&api, &format!("/v1/apps/{APP}/machines"), started);
    assert_eq!(at.len(), 5);
    assert!(at[..3].iter().all(|ms| *ms < 100), "{at:?}");
    assert!(at[3] >= 1000 && at[4] >= 2000, "{at:?}");
    assert_eq!(api.throttled(), 0, "nothing beyond Fly's limits");
}

#[tokio::test(start_paused = true)]
async fn many_changes_of_one_app_stay_within_the_limits() {
    let api = enforcing().await;
    let actuator = actuator(limited(&api, APP));
    let regions = ["fra", "cdg", "ams", "lhr", "arn", "waw"];
    for code in regions {
        actuator.deploy(&region(code)).await.unwrap();
    }
    for code in regions {
        actuator.remove(&region(code)).await.unwrap();
    }
    assert_eq!(api.throttled(), 0);
    assert_eq!(api.live_regions(), ["iad"]);
}

#[tokio::test(start_paused = true)]
async fn apps_and_actions_have_buckets_of_their_own() {
    let api = enforcing().await;
    api.add_app("blog");
    api.add_machine(MachineSpec::new("iad").app("blog"));
    let gate = RequestGate::new();
    let shop = FlyMachinesActuator::with_gate(limited(&api, APP), gate.clone()).unwrap();
    let blog = FlyMachinesActuator::with_gate(limited(&api, "blog"), gate).unwrap();
    let started = Instant::now();
    // Three listings of each app and two creates of one: within each
    // bucket's burst, so nothing waits.
    for _ in 0..3 {
        let (a, b) = tokio::join!(shop.deployed_regions(), blog.deployed_regions());
        a.unwrap();
        b.unwrap();
    }
    shop.deploy(&region("fra")).await.unwrap();
    shop.deploy(&region("cdg")).await.unwrap();
    assert!(
        started.elapsed() < Duration::from_millis(100),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(api.throttled(), 0);
}

#[tokio::test(start_paused = true)]
async fn a_429_holds_back_its_bucket_and_the_request_goes_out_again_once() {
    let api = fake_with_app().await;
    api.add_app("blog");
    api.add_machine(MachineSpec::new("iad").app("blog"));
    let gate = RequestGate::new();
    let shop = FlyMachinesActuator::with_gate(limited(&api, APP), gate.clone()).unwrap();
    let blog = FlyMachinesActuator::with_gate(limited(&api, "blog"), gate).unwrap();
    shop.deployed_regions().await.unwrap();
    api.take_requests();
    api.inject_on(
        "POST",
        "/machines",
        Fault::TooManyRequests {
            retry_after_secs: 2,
        },
    );
    let started = Instant::now();
    // The create is sent again after two seconds, once, without the
    // retry wrapper; blog's listing does not wait for it.
    let fra = region("fra");
    let (deployed, listed) = tokio::join!(shop.deploy(&fra), async {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let listed = blog.deployed_regions().await;
        (listed, started.elapsed())
    });
    deployed.unwrap();
    listed.0.unwrap();
    assert!(listed.1 < Duration::from_millis(200), "{:?}", listed.1);
    let creates: Vec<_> = api
        .requests()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path == format!("/v1/apps/{APP}/machines"))
        .collect();
    assert_eq!(creates.len(), 2);
    assert!(creates[1].received.duration_since(started) >= Duration::from_secs(2));
    assert_eq!(live_in(&api, "fra").len(), 1, "created once");
}

#[tokio::test(start_paused = true)]
async fn a_long_retry_after_fails_the_call_and_holds_only_that_action() {
    let api = fake_with_app().await;
    let actuator = actuator(limited(&api, APP));
    api.inject_on(
        "GET",
        "/machines",
        Fault::TooManyRequests {
            retry_after_secs: 30,
        },
    );
    let err = actuator.deployed_regions().await.unwrap_err();
    assert!(err.is_transient(), "{err}");
    assert_eq!(err.retry_after(), Some(Duration::from_secs(30)));
    let throttled = Instant::now();
    // The next listing waits for the hold; nothing else of the app does.
    actuator.deployed_regions().await.unwrap();
    assert!(throttled.elapsed() >= Duration::from_secs(30));
    assert_eq!(
        calls(&api)
            .iter()
            .filter(|c| *c == &format!("GET /v1/apps/{APP}/machines"))
            .count(),
        2
    );
}

#[tokio::test(start_paused = true)]
async fn the_fake_answers_429_beyond_the_limits_and_counts_them() {
    let api = enforcing().await;
    // A client without limits of its own.
    let actuator = actuator(settings(&api));
    let mut refused = 0;
    for _ in 0..5 {
        if let Err(err) = actuator.deployed_regions().await {
            assert!(err.to_string().contains("429"), "{err}");
            assert_eq!(err.retry_after(), Some(Duration::from_secs(1)));
            refused += 1;
        }
    }
    // Three in the burst; the client sends each refused one again after
    // the second Retry-After asks for, so some pass late.
    assert!(api.throttled() >= 2, "{}", api.throttled());
    assert_eq!(
        api.requests()
            .iter()
            .filter(|r| r.response.as_ref().is_some_and(|a| a.status == 429))
            .count() as u64,
        api.throttled()
    );
    assert!(refused <= 2, "{refused}");
    // Off: nothing more is refused.
    api.set_limits(None);
    let before = api.throttled();
    for _ in 0..10 {
        actuator.deployed_regions().await.unwrap();
    }
    assert_eq!(api.throttled(), before);
}
