//! Removals under the machine's lease: taken before a stop, a park or a
//! destroy, its nonce on the calls that change the machine, released
//! after (also after a failure); a machine another client holds the lease
//! of is skipped with a reason. And the fake's leases themselves.

use std::time::Duration;

use placer_core::{ActuatorError, RegionActuator};
use placer_fly::fake::{FakeMachinesApi, Fault, MachineSpec};
use placer_fly::{RemovalMode, LEASED_ELSEWHERE, LEASE_NONCE_HEADER};

use crate::support::*;

/// An app with a machine in `iad` and one fly-placer made in `fra`: the
/// id of the one in `fra`.
async fn app_with_fra(api: &FakeMachinesApi) -> String {
    let id = api.add_machine(MachineSpec::new("fra").managed());
    api.take_requests();
    id
}

fn nonce_of(request: &placer_fly::fake::RecordedRequest) -> Option<&str> {
    request.headers.get(LEASE_NONCE_HEADER).map(String::as_str)
}

#[tokio::test(start_paused = true)]
async fn a_destroy_carries_the_lease_nonce_and_releases_the_lease() {
    let api = fake_with_app().await;
    let id = app_with_fra(&api).await;
    let actuator = actuator(settings(&api));

    actuator.remove(&region("fra")).await.unwrap();

    assert!(live_in(&api, "fra").is_empty());
    let requests = api.requests();
    let acquired = requests
        .iter()
        .find(|r| r.method == "POST" && r.path.ends_with("/lease"))
        .expect("the lease is taken");
    let body = acquired.body.as_ref().unwrap();
    // force_destroy_after (60 s) and 30 s of margin.
    assert_eq!(body["ttl"], 90);
    let nonce = acquired.response.as_ref().unwrap().body.as_ref().unwrap()["nonce"]
        .as_str()
        .unwrap()
        .to_owned();
    let changes: Vec<_> = requests
        .iter()
        .filter(|r| r.path.contains(&id) && r.method != "GET" && !r.path.ends_with("/lease"))
        .collect();
    assert!(!changes.is_empty());
    for change in changes {
        assert_eq!(nonce_of(change), Some(nonce.as_str()), "{}", change.path);
    }
    let last = requests.last().unwrap();
    assert_eq!(
        (last.method.as_str(), last.path.as_str()),
        (
            "DELETE",
            format!("/v1/apps/{APP}/machines/{id}/lease").as_str()
        )
    );
    assert_eq!(nonce_of(last), Some(nonce.as_str()));
}

#[tokio::test(start_paused = true)]
async fn parking_sets_metadata_and_stops_under_the_lease() {
    let api = fake_with_app().await;
    let id = app_with_fra(&api).await;
    let mut settings = settings(&api);
    settings.removal = RemovalMode::Stop;
    let actuator = actuator(settings);

    actuator.remove(&region("fra")).await.unwrap();

    let calls = calls(&api);
    let path = format!("/v1/apps/{APP}/machines/{id}");
    assert_eq!(
        calls,
        [
            format!("GET /v1/apps/{APP}/machines"),
            format!("POST {path}/lease"),
            format!("POST {path}/metadata/fly_placer_parked"),
            format!("POST {path}/stop"),
            format!("DELETE {path}/lease"),
        ]
    );
    let requests = api.requests();
    assert!(requests[2..4].iter().all(|r| nonce_of(r).is_some()));
    assert_eq!(requests[1].body.as_ref().unwrap()["ttl"], 30);
    // The lease is gone: another client may take it now.
    assert!(api.hold_lease(&id, Duration::from_secs(10)).is_some());
}

#[tokio::test(start_paused = true)]
async fn a_machine_leased_by_another_client_is_skipped_with_a_reason() {
    let api = fake_with_app().await;
    let id = app_with_fra(&api).await;
    let theirs = api.hold_lease(&id, Duration::from_secs(300)).unwrap();
    let actuator = actuator(settings(&api));

    let err = actuator.remove(&region("fra")).await.unwrap_err();

    let ActuatorError::Busy { reason, .. } = &err else {
        panic!("expected a busy region, got {err:?}");
    };
    assert!(reason.contains(LEASED_ELSEWHERE), "{reason}");
    assert!(reason.contains(&id), "{reason}");
    assert!(!err.is_transient(), "not retried within the tick");
    // Nothing changed, nothing but the lease was asked for, and their lease
    // is still theirs.
    assert_eq!(live_in(&api, "fra").len(), 1);
    assert_eq!(
        calls(&api),
        [
            format!("GET /v1/apps/{APP}/machines"),
            format!("POST /v1/apps/{APP}/machines/{id}/lease"),
        ]
    );
    assert_eq!(api.requests()[1].response.as_ref().unwrap().status, 409);
    assert_eq!(
        api.hold_lease(&id, Duration::from_secs(1)),
        None,
        "{theirs}"
    );

    // Once their lease has expired, the next tick removes the region.
    tokio::time::advance(Duration::from_secs(301)).await;
    actuator.tick_finished();
    actuator.remove(&region("fra")).await.unwrap();
    assert!(live_in(&api, "fra").is_empty());
}

#[tokio::test(start_paused = true)]
async fn every_plausible_answer_for_a_held_lease_skips_the_machine() {
    for status in [409, 412, 423] {
        let api = fake_with_app().await;
        app_with_fra(&api).await;
        api.inject_on(
            "POST",
            "/lease",
            Fault::Error {
                status,
                message: "lease currently held by someone@example.com".into(),
            },
        );
        let err = actuator(settings(&api))
            .remove(&region("fra"))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, ActuatorError::Busy { reason, .. } if reason.contains(LEASED_ELSEWHERE)),
            "{status}: {err}"
        );
        assert_eq!(live_in(&api, "fra").len(), 1, "{status}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_lease_lost_half_way_skips_the_machine_and_is_released() {
    let api = fake_with_app().await;
    let id = app_with_fra(&api).await;
    // The stop is refused because someone took the machine meanwhile.
    api.inject_on(
        "POST",
        "/stop",
        Fault::Error {
            status: 409,
            message: "machine is leased by someone else".into(),
        },
    );
    let err = actuator(settings(&api))
        .remove(&region("fra"))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, ActuatorError::Busy { reason, .. } if reason.contains(LEASED_ELSEWHERE)),
        "{err}"
    );
    assert_eq!(
        calls(&api).last().unwrap(),
        &format!("DELETE /v1/apps/{APP}/machines/{id}/lease")
    );
}

#[tokio::test(start_paused = true)]
async fn the_lease_is_released_after_a_failure() {
    let api = fake_with_app().await;
    let id = app_with_fra(&api).await;
    api.inject_on(
        "POST",
        "/stop",
        Fault::Error {
            status: 400,
            message: "bad stop".into(),
        },
    );
    let err = actuator(settings(&api))
        .remove(&region("fra"))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("bad stop"), "{err}");
    assert_eq!(
        calls(&api).last().unwrap(),
        &format!("DELETE /v1/apps/{APP}/machines/{id}/lease")
    );
    assert!(
        api.hold_lease(&id, Duration::from_secs(1)).is_some(),
        "released"
    );
}

#[tokio::test(start_paused = true)]
async fn a_lease_request_answered_404_does_not_block_the_removal() {
    // 404: the machine is gone, or the API has no leases here. Either way
    // nobody holds one; the removal goes on without a nonce.
    let api = fake_with_app().await;
    let id = app_with_fra(&api).await;
    api.inject_on(
        "POST",
        "/lease",
        Fault::Error {
            status: 404,
            message: "not found".into(),
        },
    );
    let actuator = actuator(settings(&api));
    actuator.remove(&region("fra")).await.unwrap();
    assert!(live_in(&api, "fra").is_empty());
    let requests = api.requests();
    assert!(requests
        .iter()
        .filter(|r| r.path.contains(&id))
        .all(|r| nonce_of(r).is_none()));
    assert!(
        !calls(&api)
            .iter()
            .any(|c| c.starts_with("DELETE") && c.ends_with("/lease")),
        "no lease to release"
    );
}

#[tokio::test(start_paused = true)]
async fn a_machine_gone_before_its_removal_counts_as_removed() {
    let api = fake_with_app().await;
    let id = app_with_fra(&api).await;
    let actuator = actuator(settings(&api));
    actuator.deployed_regions().await.unwrap();
    // Destroyed by someone else after the listing.
    api.set_machine(&id, Some("destroyed"), None);
    actuator.remove(&region("fra")).await.unwrap();
    assert!(!actuator
        .deployed_regions()
        .await
        .unwrap()
        .contains(&region("fra")));
}

#[tokio::test]
async fn creates_take_no_lease() {
    let api = fake_with_app().await;
    actuator(settings(&api))
        .deploy(&region("fra"))
        .await
        .unwrap();
    assert!(calls(&api).iter().all(|c| !c.contains("/lease")));
}

/// The fake's leases as the description has them, over plain HTTP.
#[tokio::test(start_paused = true)]
async fn the_fakes_leases_conflict_expire_and_release() {
    let api = fake_with_app().await;
    let id = app_with_fra(&api).await;
    let http = reqwest::Client::new();
    let auth = placer_fly::authorization_header(&placer_fly::ApiToken::new(TOKEN));
    let lease_url = format!("{}/v1/apps/{APP}/machines/{id}/lease", api.base_url());
    let stop_url = format!("{}/v1/apps/{APP}/machines/{id}/stop", api.base_url());
    let send = |method: &str, url: &str, nonce: Option<&str>, body: Option<serde_json::Value>| {
        let mut request = http
            .request(method.parse().unwrap(), url)
            .header("authorization", &auth);
        if let Some(nonce) = nonce {
            request = request.header(LEASE_NONCE_HEADER, nonce);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        async move {
            let response = request.send().await.unwrap();
            let status = response.status().as_u16();
            let body: serde_json::Value = response.json().await.unwrap_or_default();
            (status, body)
        }
    };
    let ttl = Some(serde_json::json!({"ttl": 10}));

    let (status, lease) = send("POST", &lease_url, None, ttl.clone()).await;
    assert_eq!(status, 200);
    let ours = lease["nonce"].as_str().unwrap().to_owned();
    assert!(lease["expires_at"].as_u64().is_some());
    assert_eq!(
        send("GET", &lease_url, None, None).await.1["nonce"],
        ours.as_str()
    );
    // Held: another acquire, a change without the nonce or with a wrong
    // one, and a release with a wrong one are refused.
    assert_eq!(send("POST", &lease_url, None, ttl.clone()).await.0, 409);
    assert_eq!(send("POST", &stop_url, None, None).await.0, 409);
    assert_eq!(send("POST", &stop_url, Some("wrong"), None).await.0, 409);
    assert_eq!(send("DELETE", &lease_url, Some("wrong"), None).await.0, 409);
    // With the nonce: the acquire extends it, the change goes through.
    assert_eq!(
        send("POST", &lease_url, Some(&ours), ttl.clone()).await.0,
        200
    );
    assert_eq!(send("POST", &stop_url, Some(&ours), None).await.0, 200);
    // Expired: anyone may change the machine and take the lease.
    tokio::time::advance(Duration::from_secs(11)).await;
    assert_eq!(send("GET", &lease_url, None, None).await.0, 404);
    let (status, theirs) = send("POST", &lease_url, None, ttl.clone()).await;
    assert_eq!(status, 200);
    assert_ne!(theirs["nonce"], ours.as_str());
    let theirs = theirs["nonce"].as_str().unwrap().to_owned();
    assert_eq!(send("DELETE", &lease_url, Some(&theirs), None).await.0, 200);
    assert_eq!(send("GET", &lease_url, None, None).await.0, 404);
    assert_eq!(send("DELETE", &lease_url, Some(&theirs), None).await.0, 404);
}
