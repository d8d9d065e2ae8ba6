//! The exact requests the actuator sends, token redacted, as snapshots.

use std::time::Duration;

use placer_core::RegionActuator;
use placer_fly::RemovalMode;

use crate::support::*;

#[tokio::test]
async fn deploy_and_destroy_requests() {
    let api = fake_with_app().await;
    let mut settings = settings(&api);
    settings.wait_for_start = Some(Duration::from_secs(30));
    let actuator = actuator(settings);
    actuator.deploy(&region("fra")).await.unwrap();
    actuator.remove(&region("fra")).await.unwrap();
    insta::assert_yaml_snapshot!(api.requests());
}

#[tokio::test]
async fn skip_launch_and_stop_mode_requests() {
    let api = fake_with_app().await;
    let mut settings = settings(&api);
    settings.skip_launch = true;
    settings.removal = RemovalMode::Stop;
    let actuator = actuator(settings);
    actuator.deploy(&region("fra")).await.unwrap();
    // Fly's proxy starts the machine on demand.
    let id = live_in(&api, "fra")[0].id.clone();
    api.set_machine(&id, Some("started"), None);
    // The next tick lists first, as the engine does.
    actuator.deployed_regions().await.unwrap();
    actuator.remove(&region("fra")).await.unwrap();
    actuator.deploy(&region("fra")).await.unwrap();
    insta::assert_yaml_snapshot!(api.requests());
}
