//! FlyMachinesActuator end to end against the fake: what it deploys, what it
//! removes, and what it refuses to touch.

use std::time::Duration;

use placer_core::{ActuatorError, RegionActuator};
use placer_fly::fake::{Fault, MachineSpec};
use placer_fly::ApiToken;
use placer_fly::{FlyError, RemovalMode};
use serde_json::json;

use crate::support::*;

fn fly_error(err: &ActuatorError) -> &FlyError {
    match err {
        ActuatorError::Backend { source, .. } | ActuatorError::InDoubt { source, .. } => source
            .downcast_ref::<FlyError>()
            .unwrap_or_else(|| panic!("not a FlyError: {err}")),
        other => panic!("expected a backend error, got {other}"),
    }
}

#[tokio::test]
async fn deployed_regions_are_live_machines_of_the_process_group() {
    let api = fake_with_app().await;
    api.add_machine(MachineSpec::new("ams").state("stopped"));
    api.add_machine(MachineSpec::new("cdg").state("failed"));
    api.add_machine(MachineSpec::new("lhr").state("destroying"));
    api.add_machine(MachineSpec::new("sin").host_status("unreachable"));
    api.add_machine(MachineSpec::new("nrt").process_group("worker"));
    let actuator = actuator(settings(&api));

    let regions = actuator.deployed_regions().await.unwrap();
    assert_eq!(regions, [region("ams"), region("iad")].into());

    let mut worker_settings = settings(&api);
    worker_settings.process_group = "worker".into();
    let workers = crate::support::actuator(worker_settings);
    assert_eq!(
        workers.deployed_regions().await.unwrap(),
        [region("nrt")].into()
    );
}

#[tokio::test]
async fn deploy_clones_the_newest_healthy_machine_of_the_group() {
    let api = fake_with_app().await;
    api.add_machine(
        MachineSpec::new("ams")
            .config_field("image", json!("registry.fly.io/my-app:deployment-02")),
    );
    // Newer still, but on an unreachable host or in another group: not templates.
    api.add_machine(MachineSpec::new("sin").host_status("unreachable"));
    api.add_machine(MachineSpec::new("nrt").process_group("worker"));
    let actuator = actuator(settings(&api));

    actuator.deploy(&region("fra")).await.unwrap();

    let created = live_in(&api, "fra");
    assert_eq!(created.len(), 1);
    let config = &created[0].config;
    assert_eq!(
        config.image.as_deref(),
        Some("registry.fly.io/my-app:deployment-02")
    );
    assert_eq!(config.metadata["fly_placer"], "managed");
    assert_eq!(config.metadata["fly_process_group"], "app");
    assert_eq!(config.other["guest"]["memory_mb"], 256);
    assert_eq!(config.other["services"][0]["internal_port"], 8080);
    assert_eq!(created[0].state, "started");
}

#[tokio::test]
async fn deploying_a_deployed_region_creates_nothing() {
    let api = fake_with_app().await;
    let actuator = actuator(settings(&api));
    actuator.deploy(&region("iad")).await.unwrap();
    assert_eq!(calls(&api), ["GET /v1/apps/my-app/machines"]);
}

#[tokio::test]
async fn a_configured_template_must_exist_be_alive_and_in_the_group() {
    let api = fake_with_app().await;
    let worker = api.add_machine(MachineSpec::new("ams").process_group("worker"));
    let failed = api.add_machine(MachineSpec::new("cdg").state("failed"));
    let with_volume = api.add_machine(
        MachineSpec::new("lhr")
            .config_field("mounts", json!([{"volume": "vol_1", "path": "/data"}])),
    );
    for (template, expected) in [
        ("00000000000000", "is not in the app"),
        (worker.as_str(), "process group `worker`"),
        (failed.as_str(), "is failed"),
        (with_volume.as_str(), "mounts a volume"),
    ] {
        let mut settings = settings(&api);
        settings.template_machine = Some(template.to_owned());
        let err = actuator(settings).deploy(&region("fra")).await.unwrap_err();
        assert!(
            matches!(fly_error(&err), FlyError::NoTemplate { .. }),
            "{err}"
        );
        assert!(err.to_string().contains(expected), "{err}");
        assert!(err.to_string().contains("fra"), "{err}");
    }
    assert!(live_in(&api, "fra").is_empty(), "nothing may be created");
}

#[tokio::test]
async fn an_app_without_a_healthy_machine_cannot_be_cloned() {
    let api = placer_fly::fake::FakeMachinesApi::start(APP, TOKEN)
        .await
        .unwrap();
    api.add_machine(MachineSpec::new("iad").host_status("unreachable"));
    let err = actuator(settings(&api))
        .deploy(&region("fra"))
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("no healthy machine of process group `app`"),
        "{err}"
    );
}

#[tokio::test]
async fn skip_launch_creates_the_machine_stopped() {
    let api = fake_with_app().await;
    let mut settings = settings(&api);
    settings.skip_launch = true;
    let actuator = actuator(settings);
    actuator.deploy(&region("fra")).await.unwrap();
    let created = live_in(&api, "fra");
    assert_eq!(created[0].state, "created");
    assert!(actuator
        .deployed_regions()
        .await
        .unwrap()
        .contains(&region("fra")));
}

#[tokio::test]
async fn wait_for_start_returns_once_the_machine_runs() {
    let api = fake_with_app().await;
    api.set_start_delay(Duration::from_millis(300));
    let mut settings = settings(&api);
    settings.wait_for_start = Some(Duration::from_secs(5));
    actuator(settings).deploy(&region("fra")).await.unwrap();
    assert_eq!(live_in(&api, "fra")[0].state, "started");
    let last = calls(&api).pop().unwrap();
    assert!(
        last.contains("/wait?state=started&timeout=5&instance_id="),
        "{last}"
    );
}

#[tokio::test]
async fn a_wait_longer_than_the_api_holds_one_request_is_several_requests() {
    // Fly holds one wait for at most 60 s; here the fake holds it 1 s, and
    // the machine starts after 2.5 s of a 4 s wait_for_start.
    let api = fake_with_app().await;
    api.set_max_wait(Duration::from_secs(1));
    api.set_start_delay(Duration::from_millis(2500));
    let mut settings = settings(&api);
    settings.wait_for_start = Some(Duration::from_secs(4));
    actuator(settings).deploy(&region("fra")).await.unwrap();
    assert_eq!(live_in(&api, "fra")[0].state, "started");
    let waits: Vec<String> = calls(&api)
        .into_iter()
        .filter(|call| call.contains("/wait?"))
        .collect();
    assert_eq!(waits.len(), 3, "{waits:?}");
    // Each asks for what is left of the four seconds.
    assert!(waits[0].contains("timeout=4&"), "{waits:?}");
    assert!(waits[1].contains("timeout=3&"), "{waits:?}");
}

#[tokio::test]
async fn a_wait_never_asks_for_more_than_the_api_holds() {
    let api = fake_with_app().await;
    let mut settings = settings(&api);
    settings.wait_for_start = Some(Duration::from_secs(600));
    actuator(settings).deploy(&region("fra")).await.unwrap();
    let last = calls(&api).pop().unwrap();
    assert!(
        last.contains("/wait?state=started&timeout=60&instance_id="),
        "{last}"
    );
}

#[tokio::test]
async fn a_machine_that_does_not_start_in_time_is_reported_and_not_recreated() {
    let api = fake_with_app().await;
    api.set_start_delay(Duration::from_secs(30));
    let mut settings = settings(&api);
    settings.wait_for_start = Some(Duration::from_secs(1));
    let actuator = actuator(settings);
    let err = actuator.deploy(&region("fra")).await.unwrap_err();
    // Made, not listed yet: the engine must count it as deployed.
    assert!(err.may_have_taken_effect(), "{err}");
    let FlyError::WaitTimedOut {
        machine,
        region: at,
        ..
    } = fly_error(&err)
    else {
        panic!("expected WaitTimedOut, got {err}");
    };
    assert_eq!(at, &region("fra"));
    assert_eq!(live_in(&api, "fra")[0].id, *machine);
    // The machine exists: the next deploy leaves it alone.
    actuator.deploy(&region("fra")).await.unwrap();
    assert_eq!(live_in(&api, "fra").len(), 1);
}

#[tokio::test]
async fn remove_destroys_the_machines_fly_placer_created() {
    let api = fake_with_app().await;
    let actuator = actuator(settings(&api));
    actuator.deploy(&region("fra")).await.unwrap();
    let id = live_in(&api, "fra")[0].id.clone();
    api.take_requests();

    actuator.remove(&region("fra")).await.unwrap();

    assert!(live_in(&api, "fra").is_empty());
    assert_eq!(
        calls(&api),
        // The deploy's listing is reused.
        [
            format!("POST /v1/apps/my-app/machines/{id}/lease"),
            format!("POST /v1/apps/my-app/machines/{id}/stop"),
            format!("GET /v1/apps/my-app/machines/{id}/wait?state=stopped&timeout=60&instance_id=01FAKE00000002"),
            format!("DELETE /v1/apps/my-app/machines/{id}"),
            format!("DELETE /v1/apps/my-app/machines/{id}/lease"),
        ]
    );
    assert_eq!(
        actuator.deployed_regions().await.unwrap(),
        [region("iad")].into()
    );
}

#[tokio::test]
async fn machines_without_the_mark_are_left_alone_unless_opted_in() {
    let api = fake_with_app().await;
    api.add_machine(MachineSpec::new("fra"));

    let err = actuator(settings(&api))
        .remove(&region("fra"))
        .await
        .unwrap_err();
    let ActuatorError::Refused { region: at, reason } = &err else {
        panic!("expected a refusal, got {err}");
    };
    assert_eq!(at, &region("fra"));
    assert!(
        reason.contains("did not create") && reason.contains("manage_unmarked"),
        "{reason}"
    );
    assert_eq!(live_in(&api, "fra").len(), 1);

    let mut opted_in = settings(&api);
    opted_in.manage_unmarked = true;
    actuator(opted_in).remove(&region("fra")).await.unwrap();
    assert!(live_in(&api, "fra").is_empty());
}

#[tokio::test]
async fn the_last_machine_is_never_removed() {
    let api = fake_with_app().await;
    let mut settings = settings(&api);
    settings.manage_unmarked = true;
    let err = actuator(settings).remove(&region("iad")).await.unwrap_err();
    assert!(matches!(err, ActuatorError::Refused { .. }), "{err}");
    assert!(err.to_string().contains("last machine"), "{err}");
    assert_eq!(live_in(&api, "iad").len(), 1);
}

#[tokio::test]
async fn the_last_started_machine_is_never_removed() {
    let api = placer_fly::fake::FakeMachinesApi::start(APP, TOKEN)
        .await
        .unwrap();
    api.add_machine(MachineSpec::new("iad").state("stopped"));
    api.add_machine(MachineSpec::new("fra").managed());
    let err = actuator(settings(&api))
        .remove(&region("fra"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("last started machine"), "{err}");
    assert_eq!(live_in(&api, "fra")[0].state, "started");
}

#[tokio::test]
async fn removing_a_region_that_is_not_deployed_does_nothing() {
    let api = fake_with_app().await;
    actuator(settings(&api))
        .remove(&region("fra"))
        .await
        .unwrap();
    assert_eq!(calls(&api), ["GET /v1/apps/my-app/machines"]);
}

#[tokio::test]
async fn stop_mode_parks_machines_and_a_later_deploy_starts_them_again() {
    let api = fake_with_app().await;
    let mut settings = settings(&api);
    settings.removal = RemovalMode::Stop;
    let actuator = actuator(settings);
    actuator.deploy(&region("fra")).await.unwrap();
    let id = live_in(&api, "fra")[0].id.clone();

    actuator.remove(&region("fra")).await.unwrap();
    let parked = &live_in(&api, "fra")[0];
    assert_eq!(
        (parked.state.as_str(), parked.is_parked()),
        ("stopped", true)
    );
    assert!(!actuator
        .deployed_regions()
        .await
        .unwrap()
        .contains(&region("fra")));

    api.take_requests();
    actuator.deploy(&region("fra")).await.unwrap();
    let machines = live_in(&api, "fra");
    assert_eq!(
        machines.len(),
        1,
        "the parked machine is reused, not cloned"
    );
    assert_eq!(
        (machines[0].state.as_str(), machines[0].is_parked()),
        ("started", false)
    );
    assert_eq!(
        calls(&api),
        // deployed_regions' listing is reused.
        [
            format!("POST /v1/apps/my-app/machines/{id}/start"),
            format!("DELETE /v1/apps/my-app/machines/{id}/metadata/fly_placer_parked"),
        ]
    );
}

#[tokio::test]
async fn a_bad_token_is_a_401_with_fly_s_message() {
    let api = fake_with_app().await;
    let mut settings = settings(&api);
    settings.token = Some(ApiToken::new("FlyV1 wrong-token"));
    let err = actuator(settings).deployed_regions().await.unwrap_err();
    let fly = fly_error(&err);
    assert_eq!(fly.status(), Some(401));
    assert!(!fly.is_retryable());
    assert!(err.to_string().contains("unauthorized"), "{err}");
}

#[tokio::test]
async fn a_wrong_app_is_a_404_naming_it() {
    let api = fake_with_app().await;
    let mut settings = settings(&api);
    settings.app = Some("other-app".parse().unwrap());
    let err = actuator(settings).deployed_regions().await.unwrap_err();
    assert_eq!(fly_error(&err).status(), Some(404));
    assert!(err.to_string().contains("app other-app not found"), "{err}");
}

#[tokio::test]
async fn errors_name_status_message_machine_and_region() {
    let api = fake_with_app().await;
    let actuator = actuator(settings(&api));
    actuator.deploy(&region("fra")).await.unwrap();
    let id = live_in(&api, "fra")[0].id.clone();
    // Refused without force, then with force.
    for _ in 0..2 {
        api.inject_on(
            "DELETE",
            "",
            Fault::Error {
                status: 412,
                message: "machine is busy".into(),
            },
        );
    }

    let err = actuator.remove(&region("fra")).await.unwrap_err();
    let text = err.to_string();
    for needle in [
        "fra",
        "412",
        "machine is busy",
        id.as_str(),
        "destroying a machine",
    ] {
        assert!(text.contains(needle), "{needle:?} missing from: {text}");
    }
}

#[tokio::test]
async fn apps_of_one_fake_org_keep_their_own_machines() {
    let api = fake_with_app().await;
    api.add_app("blog");
    api.add_machine(MachineSpec::new("syd").app("blog"));
    let mut blog_settings = settings(&api);
    blog_settings.app = Some("blog".parse().unwrap());
    let blog = actuator(blog_settings.clone());
    let shop = actuator(settings(&api));

    blog.deploy(&region("ams")).await.unwrap();
    shop.deploy(&region("fra")).await.unwrap();
    assert_eq!(api.live_regions_of("blog"), ["ams", "syd"]);
    assert_eq!(api.live_regions(), ["fra", "iad"]);
    assert_eq!(
        blog.deployed_regions().await.unwrap(),
        [region("ams"), region("syd")].into()
    );

    // A deleted app's endpoints answer 404, the other app carries on.
    api.delete_app("blog");
    let err = actuator(blog_settings)
        .deployed_regions()
        .await
        .unwrap_err();
    assert!(err.to_string().contains("404"), "{err}");
    assert!(api.machines_of("blog").is_empty());
    assert_eq!(
        shop.deployed_regions().await.unwrap(),
        [region("fra"), region("iad")].into()
    );
}

#[tokio::test]
async fn a_finished_tick_lets_the_listing_go_and_the_next_deploy_lists_again() {
    let api = fake_with_app().await;
    let actuator = actuator(settings(&api));
    actuator.deployed_regions().await.unwrap();
    actuator.tick_finished();
    api.take_requests();

    actuator.deploy(&region("fra")).await.unwrap();

    let requests = calls(&api);
    assert_eq!(
        requests.first().map(String::as_str),
        Some("GET /v1/apps/my-app/machines"),
        "{requests:?}"
    );
    assert_eq!(live_in(&api, "fra").len(), 1);
}
