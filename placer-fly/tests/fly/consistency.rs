//! The listing is eventually consistent; a retried tick must still never
//! create a second machine, nor count a removed region as deployed.

use std::time::Duration;

use placer_core::wrap::{RetryPolicy, Retrying};
use placer_core::{ActuatorError, RegionActuator};
use placer_fly::fake::{Fault, MachineSpec};
use placer_fly::FlyError;

use crate::support::*;

fn creates(api: &placer_fly::fake::FakeMachinesApi) -> usize {
    calls(api)
        .iter()
        .filter(|c| *c == "POST /v1/apps/my-app/machines")
        .count()
}

#[tokio::test]
async fn a_repeated_deploy_while_the_listing_lags_creates_one_machine() {
    let api = fake_with_app().await;
    api.set_list_lag(Duration::from_secs(30));
    let actuator = actuator(settings(&api));

    actuator.deploy(&region("fra")).await.unwrap();
    // The next tick: the listing does not show the new machine yet.
    actuator.deploy(&region("fra")).await.unwrap();
    assert!(actuator
        .deployed_regions()
        .await
        .unwrap()
        .contains(&region("fra")));

    assert_eq!(creates(&api), 1);
    assert_eq!(live_in(&api, "fra").len(), 1);
}

#[tokio::test]
async fn a_retried_tick_after_a_failed_wait_creates_one_machine() {
    let api = fake_with_app().await;
    api.set_list_lag(Duration::from_secs(30));
    api.inject_on(
        "GET",
        "/wait",
        Fault::Error {
            status: 503,
            message: "flyd busy".into(),
        },
    );
    let mut settings = settings(&api);
    settings.wait_for_start = Some(Duration::from_secs(5));
    let policy = RetryPolicy::default().with_base_delay(Duration::from_millis(10));
    let actuator = Retrying::new(actuator(settings), policy, timer());

    // The wait fails with a 503 after the create went through; the retry
    // re-reads the (lagging) listing and must not create again.
    actuator.deploy(&region("fra")).await.unwrap();

    assert_eq!(creates(&api), 1);
    assert_eq!(live_in(&api, "fra").len(), 1);
}

#[tokio::test]
async fn a_create_without_answer_is_looked_up_not_cloned() {
    let api = fake_with_app().await;
    api.set_list_lag(Duration::from_secs(30));
    api.inject_on("POST", "/machines", Fault::Slow(Duration::from_secs(3)));
    let mut settings = settings(&api);
    settings.request_timeout = Duration::from_millis(500);
    let policy = RetryPolicy::default().with_base_delay(Duration::from_millis(10));
    let actuator = Retrying::new(actuator(settings), policy, timer());

    let err = actuator.deploy(&region("fra")).await.unwrap_err();
    assert!(matches!(err, ActuatorError::InDoubt { .. }), "{err}");
    assert!(err.to_string().contains("did not complete"), "{err}");
    assert_eq!(
        creates(&api),
        1,
        "a create with a lost answer is not retried"
    );

    // The next deploy creates under the same name; the API refuses it, and
    // the listing does not show the machine yet.
    let err = actuator.deploy(&region("fra")).await.unwrap_err();
    let ActuatorError::InDoubt { source, .. } = &err else {
        panic!("{err}")
    };
    assert!(
        matches!(
            source.downcast_ref::<FlyError>(),
            Some(FlyError::CreationInDoubt { name, .. }) if name == "fly-placer-app-fra-1"
        ),
        "{err}"
    );
    assert!(!err.is_transient(), "{err}");
    assert_eq!(
        live_in(&api, "fra").len(),
        1,
        "the fake did create the machine once"
    );
}

#[tokio::test]
async fn a_destroyed_machine_still_listed_does_not_count_as_deployed() {
    let api = fake_with_app().await;
    api.add_machine(MachineSpec::new("fra").managed());
    api.set_list_lag(Duration::from_secs(30));
    let actuator = actuator(settings(&api));

    actuator.remove(&region("fra")).await.unwrap();
    assert!(!actuator
        .deployed_regions()
        .await
        .unwrap()
        .contains(&region("fra")));
    actuator.remove(&region("fra")).await.unwrap();

    let deletes = calls(&api)
        .iter()
        .filter(|c| c.starts_with("DELETE") && !c.ends_with("/lease"))
        .count();
    assert_eq!(
        deletes, 1,
        "the second remove sees the machine as destroyed"
    );
}

#[tokio::test]
async fn after_the_consistency_window_the_api_is_the_truth_again() {
    let api = fake_with_app().await;
    api.set_list_lag(Duration::from_secs(30));
    let mut settings = settings(&api);
    settings.consistency_window = Duration::from_secs(1);
    let actuator = actuator(settings);

    actuator.deploy(&region("fra")).await.unwrap();
    assert!(actuator
        .deployed_regions()
        .await
        .unwrap()
        .contains(&region("fra")));
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert!(!actuator
        .deployed_regions()
        .await
        .unwrap()
        .contains(&region("fra")));
}
