//! A create refused because the region has no room, in each shape Fly
//! answers it: read from the body first, so the engine backs off the region
//! instead of retrying it or reading a 409 as a taken name.

use placer_core::wrap::Retrying;
use placer_core::RegionActuator;
use placer_fly::fake::Fault;
use placer_fly::INSUFFICIENT_CAPACITY;

use crate::support::*;

/// Each shape: the fault the fake answers the create with.
fn full_region_answers() -> Vec<Fault> {
    vec![
        Fault::ErrorWithStatus {
            status: 503,
            code: INSUFFICIENT_CAPACITY.into(),
            message: "no capacity for performance-1x in syd".into(),
        },
        Fault::ErrorWithStatus {
            status: 412,
            code: INSUFFICIENT_CAPACITY.into(),
            message: "could not reserve resource for machine".into(),
        },
        Fault::Error {
            status: 412,
            message: "insufficient resources available to fulfill request".into(),
        },
        Fault::Error {
            status: 409,
            message: "insufficient memory available to fulfill request".into(),
        },
    ]
}

#[tokio::test]
async fn a_full_region_is_unavailable_whatever_the_status_and_nothing_is_retried() {
    for fault in full_region_answers() {
        let api = fake_with_app().await;
        api.inject_on("POST", "/machines", fault.clone());
        // Retries on: a capacity refusal must not be taken for a transient
        // 5xx or for a taken name.
        let actuator = Retrying::new(actuator(settings(&api)), Default::default(), timer());

        let err = actuator.deploy(&region("syd")).await.unwrap_err();

        let (unavailable, reason) = err
            .unavailable_region()
            .unwrap_or_else(|| panic!("{fault:?}: not a region refusal: {err}"));
        assert_eq!(unavailable.as_str(), "syd", "{fault:?}");
        assert!(!err.is_transient(), "{fault:?}");
        assert!(reason.contains("HTTP"), "{fault:?}: {reason}");
        let creates = calls(&api)
            .into_iter()
            .filter(|call| call.starts_with("POST") && call.ends_with("/machines"))
            .count();
        assert_eq!(creates, 1, "{fault:?}: asked once, not retried");
        assert!(live_in(&api, "syd").is_empty(), "{fault:?}");
    }
}

#[tokio::test]
async fn a_409_that_names_no_shortage_is_still_a_taken_name() {
    let api = fake_with_app().await;
    api.inject_on(
        "POST",
        "/machines",
        Fault::Error {
            status: 409,
            message: "machine name already in use".into(),
        },
    );
    let err = actuator(settings(&api))
        .deploy(&region("syd"))
        .await
        .unwrap_err();
    // Read as a taken name: the actuator looks for the holder (none is
    // listed yet), so the create is in doubt, never a region refusal.
    assert!(err.unavailable_region().is_none(), "{err}");
    let listed_after_create = calls(&api)
        .iter()
        .skip_while(|call| !call.starts_with("POST"))
        .any(|call| call.starts_with("GET"));
    assert!(listed_after_create, "{:?}", calls(&api));
}
