//! The shared RegionActuator conformance suite, run against the Fly
//! actuator against the fake.

use std::time::Duration;

use placer_core::conformance::check_region_actuator;
use placer_fly::RemovalMode;

use crate::support::*;

#[tokio::test]
async fn fly_actuator_conforms() {
    let api = fake_with_app().await;
    check_region_actuator(&actuator(settings(&api)), [region("fra"), region("cdg")]).await;
    assert_eq!(api.live_regions(), ["iad"]);
}

#[tokio::test]
async fn fly_actuator_conforms_with_a_lagging_listing() {
    let api = fake_with_app().await;
    api.set_list_lag(Duration::from_secs(30));
    check_region_actuator(&actuator(settings(&api)), [region("fra"), region("cdg")]).await;
    assert_eq!(api.live_regions(), ["iad"]);
}

#[tokio::test]
async fn fly_actuator_conforms_in_stop_mode() {
    let api = fake_with_app().await;
    let mut settings = settings(&api);
    settings.removal = RemovalMode::Stop;
    check_region_actuator(&actuator(settings), [region("fra"), region("cdg")]).await;
    let parked: Vec<_> = api
        .machines()
        .into_iter()
        .filter(|m| m.is_parked())
        .collect();
    assert_eq!(parked.len(), 2, "one parked machine per removed region");
}
