//! The wrappers around the in-memory actuator, on an [`InstantTimer`]: exact
//! delays, no waiting.

use std::sync::Arc;
use std::time::Duration;

use futures::executor::block_on;

use super::*;
use crate::{memory::ActuatorCall, ActuatorError, InMemoryActuator, Region, RegionActuator};

fn region(code: &str) -> Region {
    code.parse().unwrap()
}

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

fn quick() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 4,
        base_delay: ms(10),
        max_delay: ms(50),
        tick_budget: Duration::from_secs(10),
        jitter: 0.0,
    }
}

fn retrying(
    inner: InMemoryActuator,
    policy: RetryPolicy,
) -> (Retrying<InMemoryActuator>, Arc<InstantTimer>) {
    let timer = Arc::new(InstantTimer::new());
    (Retrying::new(inner, policy, timer.clone()), timer)
}

#[test]
fn a_transient_error_is_retried_with_doubling_backoff() {
    let inner = InMemoryActuator::new([region("iad")]);
    inner.fail_transiently(3, None);
    let (actuator, timer) = retrying(inner, quick());
    block_on(actuator.deploy(&region("fra"))).unwrap();
    assert!(actuator.inner().regions().contains(&region("fra")));
    assert_eq!(actuator.inner().calls().len(), 4);
    assert_eq!(timer.sleeps(), [ms(10), ms(20), ms(40)]);
}

#[test]
fn a_failure_the_backend_did_not_mark_transient_is_not_retried() {
    let inner = InMemoryActuator::new([]);
    inner.fail_region(region("fra"));
    let (actuator, timer) = retrying(inner, quick());
    let err = block_on(actuator.deploy(&region("fra"))).unwrap_err();
    assert!(!err.is_transient());
    assert_eq!(
        actuator.inner().calls(),
        [ActuatorCall::Deploy(region("fra"))]
    );
    assert!(timer.sleeps().is_empty());
}

#[test]
fn a_change_in_doubt_is_not_retried() {
    let inner = InMemoryActuator::new([]);
    let fra = region("fra");
    let in_doubt = ActuatorError::in_doubt("bot", &fra, "HTTP 500").with_retry_after(ms(5));
    inner.refuse_region(fra, 1, in_doubt);
    let (actuator, timer) = retrying(inner, quick());
    let err = block_on(actuator.deploy(&fra)).unwrap_err();
    assert!(err.may_have_taken_effect());
    assert_eq!(actuator.inner().calls(), [ActuatorCall::Deploy(fra)]);
    assert!(timer.sleeps().is_empty());
}

#[test]
fn a_refusal_is_not_retried() {
    let (actuator, timer) = retrying(InMemoryActuator::new([]), quick());
    let guarded = Retrying::new(ReadOnly(actuator), quick(), timer.clone());
    let err = block_on(guarded.remove(&region("iad"))).unwrap_err();
    assert!(matches!(err, ActuatorError::Refused { .. }));
    assert!(timer.sleeps().is_empty());
}

#[test]
fn the_delay_the_backend_asked_for_wins_over_a_shorter_backoff() {
    let inner = InMemoryActuator::new([region("iad")]);
    inner.fail_transiently(1, Some(Duration::from_secs(3)));
    let (actuator, timer) = retrying(inner, quick());
    block_on(actuator.deployed_regions()).unwrap();
    assert_eq!(timer.sleeps(), [Duration::from_secs(3)]);
}

#[test]
fn a_backoff_longer_than_the_asked_delay_is_kept() {
    let inner = InMemoryActuator::new([region("iad")]);
    inner.fail_transiently(1, Some(ms(1)));
    let (actuator, timer) = retrying(inner, quick());
    block_on(actuator.deployed_regions()).unwrap();
    assert_eq!(timer.sleeps(), [ms(10)]);
}

#[test]
fn attempts_are_bounded_and_the_last_error_is_returned() {
    let inner = InMemoryActuator::new([region("iad")]);
    inner.fail_transiently(10, None);
    let policy = RetryPolicy {
        max_attempts: 3,
        ..quick()
    };
    let (actuator, timer) = retrying(inner, policy);
    let err = block_on(actuator.deploy(&region("fra"))).unwrap_err();
    assert!(err.is_transient());
    assert_eq!(actuator.inner().calls().len(), 3);
    assert_eq!(timer.sleeps().len(), 2);
}

#[test]
fn no_retry_starts_after_the_tick_budget() {
    let inner = InMemoryActuator::new([region("iad")]);
    inner.fail_transiently(10, Some(Duration::from_secs(4)));
    let policy = RetryPolicy {
        max_attempts: 10,
        tick_budget: Duration::from_secs(10),
        ..quick()
    };
    let (actuator, timer) = retrying(inner, policy);
    let err = block_on(actuator.deployed_regions()).unwrap_err();
    assert!(err.is_transient());
    // 0 s, 4 s, 8 s; a fourth attempt at 12 s would pass the 10 s budget.
    assert_eq!(timer.sleeps(), [Duration::from_secs(4); 2]);
}

#[test]
fn listing_starts_a_new_tick_budget_and_changes_share_it() {
    let inner = InMemoryActuator::new([region("iad")]);
    let policy = RetryPolicy {
        tick_budget: Duration::from_secs(5),
        ..quick()
    };
    let (actuator, timer) = retrying(inner, policy);
    block_on(actuator.deployed_regions()).unwrap();
    timer.advance(Duration::from_secs(6));
    actuator.inner().fail_transiently(1, None);
    // The tick began 6 s ago: its budget is spent, so the deploy is not retried.
    assert!(block_on(actuator.deploy(&region("fra"))).is_err());
    // The next listing starts a new tick, whose calls are retried again.
    block_on(actuator.deployed_regions()).unwrap();
    actuator.inner().fail_transiently(1, None);
    block_on(actuator.deploy(&region("fra"))).unwrap();
    assert_eq!(timer.sleeps(), [ms(10)]);
    // start_tick does the same for embedders that do not list first.
    timer.advance(Duration::from_secs(6));
    actuator.start_tick();
    actuator.inner().fail_transiently(1, None);
    block_on(actuator.remove(&region("fra"))).unwrap();
}

#[test]
fn a_policy_reads_its_keys_and_keeps_the_default_jitter() {
    let policy: RetryPolicy = serde_json::from_str(
        r#"{"max_attempts": 2, "base_delay": 0.25, "max_delay": "3s", "tick_budget": "1m"}"#,
    )
    .unwrap();
    assert_eq!(policy.max_attempts, 2);
    assert_eq!(policy.base_delay, ms(250));
    assert_eq!(policy.max_delay, Duration::from_secs(3));
    assert_eq!(policy.tick_budget, Duration::from_secs(60));
    assert_eq!(policy.jitter, RetryPolicy::default().jitter);
    let err = serde_json::from_str::<RetryPolicy>(r#"{"jitter": 0}"#).unwrap_err();
    assert!(err.to_string().contains("unknown field `jitter`"), "{err}");
}

#[test]
fn backoff_doubles_up_to_the_cap() {
    let policy = RetryPolicy {
        base_delay: ms(100),
        max_delay: ms(350),
        ..RetryPolicy::default()
    };
    let delays: Vec<u128> = (1..=4).map(|n| policy.backoff(n).as_millis()).collect();
    assert_eq!(delays, [100, 200, 350, 350]);
}

#[test]
fn jitter_stays_within_its_fraction_and_varies() {
    let policy = RetryPolicy {
        jitter: 0.5,
        ..RetryPolicy::default()
    };
    let picks: Vec<Duration> = (0..200).map(|_| policy.jittered(ms(1000))).collect();
    for d in &picks {
        assert!(*d >= ms(500) && *d <= ms(1000), "{d:?}");
    }
    assert!(picks.iter().any(|d| *d != picks[0]), "jitter is not random");
    let none = RetryPolicy {
        jitter: 0.0,
        ..policy
    };
    assert_eq!(none.jittered(ms(1000)), ms(1000));
}

#[test]
fn rate_limited_calls_wait_their_turn_and_go_through() {
    let timer = Arc::new(InstantTimer::new());
    let actuator = RateLimited::new(InMemoryActuator::new([]), 2.0, 2, timer.clone());
    for code in ["fra", "cdg", "ams", "lhr"] {
        block_on(actuator.deploy(&region(code))).unwrap();
    }
    // A burst of two, then one call every 500 ms.
    assert_eq!(timer.sleeps(), [ms(500), ms(500)]);
    assert_eq!(actuator.inner().regions().len(), 4);
}

#[test]
fn a_rate_that_is_not_positive_means_no_limit() {
    let timer = Arc::new(InstantTimer::new());
    for rate in [0.0, -1.0, f64::NAN] {
        let actuator = RateLimited::new(InMemoryActuator::new([]), rate, 1, timer.clone());
        for _ in 0..5 {
            block_on(actuator.deployed_regions()).unwrap();
        }
    }
    assert!(timer.sleeps().is_empty());
}

#[test]
fn read_only_lists_through_and_refuses_changes_before_the_backend() {
    let iad = region("iad");
    let guard = ReadOnly(InMemoryActuator::new([iad]));
    assert_eq!(block_on(guard.deployed_regions()).unwrap(), [iad].into());
    assert!(block_on(guard.deploy(&region("fra"))).is_err());
    assert!(block_on(guard.remove(&iad)).is_err());
    assert!(guard.0.calls().is_empty());
    assert!(!guard.is_simulation());
}

#[test]
fn retrying_and_rate_limiting_keep_the_inner_simulation_flag() {
    let timer = Arc::new(InstantTimer::new());
    let stacked = Retrying::new(
        RateLimited::new(InMemoryActuator::new([]), 1.0, 1, timer.clone()),
        quick(),
        timer,
    );
    assert!(stacked.is_simulation());
    assert!(!ReadOnly(stacked).is_simulation());
}

proptest::proptest! {
    #[test]
    fn backoff_grows_and_stays_under_the_cap(base_ms in 1u64..5_000, cap_ms in 1u64..60_000, retries in 1u32..40) {
        let policy = RetryPolicy {
            base_delay: ms(base_ms),
            max_delay: ms(cap_ms),
            ..RetryPolicy::default()
        };
        let delays: Vec<Duration> = (1..=retries).map(|n| policy.backoff(n)).collect();
        proptest::prop_assert!(delays.windows(2).all(|w| w[0] <= w[1]));
        proptest::prop_assert!(delays.iter().all(|d| *d <= policy.max_delay));
        proptest::prop_assert_eq!(delays[0], policy.base_delay.min(policy.max_delay));
    }
}
