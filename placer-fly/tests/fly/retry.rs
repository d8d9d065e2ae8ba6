//! The retry wrapper: against the fake for real HTTP failures, and against a
//! mock with tokio's paused clock for exact timing.

use std::collections::BTreeMap;
use std::time::Duration;

use placer_core::conformance::MockActuator;
use placer_core::wrap::{RetryPolicy, Retrying};
use placer_core::{ActuatorError, RegionActuator};
use placer_fly::fake::Fault;
use placer_fly::{FlyError, Operation, Target};
use tokio::time::Instant;

use crate::support::*;

fn quick() -> RetryPolicy {
    RetryPolicy::default()
        .with_max_attempts(4)
        .with_base_delay(Duration::from_millis(10))
        .with_max_delay(Duration::from_millis(50))
        .with_tick_budget(Duration::from_secs(10))
        .with_jitter(0.0)
}

fn lists(api: &placer_fly::fake::FakeMachinesApi) -> usize {
    calls(api)
        .iter()
        .filter(|c| *c == "GET /v1/apps/my-app/machines")
        .count()
}

#[tokio::test]
async fn a_429_is_retried_after_the_retry_after_delay() {
    let api = fake_with_app().await;
    api.inject(Fault::TooManyRequests {
        retry_after_secs: 1,
    });
    let actuator = Retrying::new(actuator(settings(&api)), quick(), timer());
    let started = std::time::Instant::now();
    let regions = actuator.deployed_regions().await.unwrap();
    assert_eq!(regions, [region("iad")].into());
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(lists(&api), 2);
}

#[tokio::test]
async fn server_errors_are_retried_until_success() {
    let api = fake_with_app().await;
    for _ in 0..2 {
        api.inject(Fault::Error {
            status: 503,
            message: "unavailable".into(),
        });
    }
    let actuator = Retrying::new(actuator(settings(&api)), quick(), timer());
    actuator.deployed_regions().await.unwrap();
    assert_eq!(lists(&api), 3);
}

#[tokio::test]
async fn attempts_are_bounded() {
    let api = fake_with_app().await;
    for _ in 0..10 {
        api.inject(Fault::Error {
            status: 500,
            message: "boom".into(),
        });
    }
    let policy = quick().with_max_attempts(3);
    let err = Retrying::new(actuator(settings(&api)), policy, timer())
        .deployed_regions()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("HTTP 500: boom"), "{err}");
    assert_eq!(lists(&api), 3);
}

#[tokio::test]
async fn client_errors_other_than_429_are_not_retried() {
    let api = fake_with_app().await;
    api.inject(Fault::Error {
        status: 422,
        message: "invalid config".into(),
    });
    let err = Retrying::new(actuator(settings(&api)), quick(), timer())
        .deploy(&region("fra"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("422"), "{err}");
    assert_eq!(api.requests().len(), 1);
}

#[tokio::test]
async fn a_create_answered_5xx_is_in_doubt_and_not_retried() {
    let api = fake_with_app().await;
    api.inject_on(
        "POST",
        "/machines",
        Fault::Error {
            status: 502,
            message: "bad gateway".into(),
        },
    );
    let actuator = Retrying::new(actuator(settings(&api)), quick(), timer());
    let err = actuator.deploy(&region("fra")).await.unwrap_err();
    // The server may have made the machine before failing: the engine
    // must look before it creates again.
    assert!(err.may_have_taken_effect(), "{err}");
    assert!(!err.is_transient(), "{err}");
    let posts = || calls(&api).iter().filter(|c| c.starts_with("POST")).count();
    assert_eq!(posts(), 1);
    // This one made nothing; a later deploy creates under the same name.
    actuator.deploy(&region("fra")).await.unwrap();
    assert_eq!(posts(), 2);
    let live = live_in(&api, "fra");
    assert_eq!(live.len(), 1);
}

#[tokio::test]
async fn a_retry_after_beyond_the_tick_budget_is_not_waited_for() {
    let api = fake_with_app().await;
    api.inject(Fault::TooManyRequests {
        retry_after_secs: 30,
    });
    let policy = quick().with_tick_budget(Duration::from_secs(2));
    let started = std::time::Instant::now();
    let err = Retrying::new(actuator(settings(&api)), policy, timer())
        .deployed_regions()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("429"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(lists(&api), 1);
}

/// A transient failure of a deploy (starting a parked machine: a create
/// answered 503 would be in doubt, never retried).
fn unavailable() -> ActuatorError {
    let err = FlyError::Http {
        operation: Operation::StartMachine,
        target: Target::region(&region("fra")),
        status: 503,
        message: "unavailable".into(),
        code: None,
        retry_after: None,
    };
    err.into_actuator_error(Some(&region("fra")))
}

#[tokio::test(start_paused = true)]
async fn backoff_doubles_between_attempts() {
    let mut mock = MockActuator::new();
    let mut failures = 3;
    mock.expect_scale().times(4).returning(move |_, _| {
        if failures > 0 {
            failures -= 1;
            Err(unavailable())
        } else {
            Ok(())
        }
    });
    let policy = RetryPolicy::default()
        .with_max_attempts(5)
        .with_base_delay(Duration::from_millis(100))
        .with_max_delay(Duration::from_secs(1))
        .with_tick_budget(Duration::from_secs(60))
        .with_jitter(0.0);
    let started = Instant::now();
    Retrying::new(mock, policy, timer())
        .deploy(&region("fra"))
        .await
        .unwrap();
    assert_eq!(started.elapsed(), Duration::from_millis(100 + 200 + 400));
}

#[tokio::test(start_paused = true)]
async fn calls_of_one_tick_share_the_budget() {
    let mut mock = MockActuator::new();
    mock.expect_deployment()
        .times(1)
        .returning(|| Ok(BTreeMap::new()));
    mock.expect_scale().returning(|_, _| Err(unavailable()));
    let policy = RetryPolicy::default()
        .with_max_attempts(100)
        .with_base_delay(Duration::from_secs(1))
        .with_max_delay(Duration::from_secs(1))
        .with_tick_budget(Duration::from_secs(5))
        .with_jitter(0.0);
    let actuator = Retrying::new(mock, policy, timer());
    let started = Instant::now();
    actuator.deployed_regions().await.unwrap();
    actuator.deploy(&region("fra")).await.unwrap_err();
    actuator.deploy(&region("cdg")).await.unwrap_err();
    // Both deploys together retried for at most the tick's 5 s.
    assert_eq!(started.elapsed(), Duration::from_secs(5));
}

#[tokio::test(start_paused = true)]
async fn refusals_and_foreign_errors_are_returned_at_once() {
    let mut mock = MockActuator::new();
    mock.expect_scale()
        .times(1)
        .withf(|_, target| !target.is_deployed())
        .returning(|r, _| {
            Err(ActuatorError::Refused {
                region: *r,
                reason: "last machine".into(),
            })
        });
    mock.expect_scale()
        .times(1)
        .withf(|_, target| target.is_deployed())
        .returning(|r, _| Err(ActuatorError::backend("other", Some(r), "disk full")));
    mock.expect_is_simulation().return_const(true);
    let actuator = Retrying::new(mock, quick(), timer());
    actuator.remove(&region("fra")).await.unwrap_err();
    actuator.deploy(&region("fra")).await.unwrap_err();
    assert!(
        actuator.is_simulation(),
        "wrappers pass is_simulation through"
    );
}

#[tokio::test(start_paused = true)]
async fn after_a_final_429_the_next_operation_waits_for_retry_after() {
    let api = fake_with_app().await;
    let no_retries = quick().with_max_attempts(1);
    let actuator = Retrying::new(actuator(settings(&api)), no_retries, timer());
    api.inject(Fault::TooManyRequests {
        retry_after_secs: 30,
    });
    actuator.deployed_regions().await.unwrap_err();
    let throttled = Instant::now();

    // Another operation: it does not go out before the pause ends.
    actuator.deploy(&region("fra")).await.unwrap();
    let requests = api.requests();
    assert_eq!(requests[0].response.as_ref().map(|r| r.status), Some(429));
    assert!(
        requests[1..]
            .iter()
            .all(|r| r.received.duration_since(throttled) >= Duration::from_secs(30)),
        "{:?}",
        requests
            .iter()
            .map(|r| (&r.method, &r.path, r.received.duration_since(throttled)))
            .collect::<Vec<_>>()
    );
    assert_eq!(live_in(&api, "fra").len(), 1);
}

#[tokio::test(start_paused = true)]
async fn actuators_sharing_a_gate_both_wait_after_a_429() {
    let api = fake_with_app().await;
    let gate = placer_fly::RequestGate::new();
    let first = placer_fly::FlyMachinesActuator::with_gate(settings(&api), gate.clone()).unwrap();
    let second = placer_fly::FlyMachinesActuator::with_gate(settings(&api), gate).unwrap();
    api.inject(Fault::TooManyRequests {
        retry_after_secs: 20,
    });
    first.deployed_regions().await.unwrap_err();
    let throttled = Instant::now();
    second.deployed_regions().await.unwrap();
    let listed = api.requests().last().unwrap().received;
    assert!(listed.duration_since(throttled) >= Duration::from_secs(20));
}

#[tokio::test]
async fn retries_of_a_deploy_reuse_the_ticks_listing() {
    let api = fake_with_app().await;
    let actuator = Retrying::new(actuator(settings(&api)), quick(), timer());
    actuator.deployed_regions().await.unwrap();
    api.inject_on(
        "POST",
        "/machines",
        Fault::TooManyRequests {
            retry_after_secs: 0,
        },
    );
    api.inject_on(
        "POST",
        "/machines",
        Fault::TooManyRequests {
            retry_after_secs: 0,
        },
    );
    actuator.deploy(&region("fra")).await.unwrap();
    assert_eq!(live_in(&api, "fra").len(), 1);
    assert_eq!(lists(&api), 1, "{:?}", calls(&api));
}

#[tokio::test]
async fn the_request_counter_tells_429s_and_server_errors_from_answers() {
    let api = fake_with_app().await;
    api.inject(Fault::TooManyRequests {
        retry_after_secs: 1,
    });
    api.inject(Fault::Error {
        status: 503,
        message: "unavailable".into(),
    });
    let fly = actuator(settings(&api));
    let counter = fly.request_counter();
    assert_eq!(counter.snapshot(), placer_fly::RequestCounts::default());
    let actuator = Retrying::new(fly, quick(), timer());
    actuator.deployed_regions().await.unwrap();
    let counts = counter.snapshot();
    assert_eq!(
        counts.by_outcome(),
        [
            ("ok", 1),
            ("rate_limited", 1),
            ("client_error", 0),
            ("server_error", 1),
            ("no_answer", 0)
        ],
        "{:?}",
        calls(&api)
    );
    assert_eq!(counts.total() as usize, lists(&api));
}

#[tokio::test]
async fn the_request_counter_counts_a_request_without_an_answer() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let api = fake_with_app().await;
    let mut options = settings(&api);
    // Nothing listens there any more.
    options.api_url = format!("http://127.0.0.1:{port}");
    let fly = actuator(options);
    let counter = fly.request_counter();
    fly.deployed_regions().await.unwrap_err();
    assert_eq!(counter.snapshot().no_answer, 1);
    assert_eq!(counter.snapshot().total(), 1);
}
