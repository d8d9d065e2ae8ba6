//! The token never shows in errors, Debug output or recorded requests.

use std::time::Duration;

use placer_core::wrap::{RateLimited, RetryPolicy, Retrying};
use placer_core::RegionActuator;
use placer_fly::fake::Fault;
use placer_fly::ApiToken;
use placer_fly::{FlyMachinesActuator, FlyOptions};

use crate::support::*;

const SECRET: &str = "test-secret-token";

/// Display, Debug and every source of an error.
fn everything_about(err: &dyn std::error::Error) -> String {
    let mut text = format!("{err} {err:?}");
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(&format!(" {cause} {cause:?}"));
        source = cause.source();
    }
    text
}

#[tokio::test]
async fn errors_never_contain_the_token() {
    let api = fake_with_app().await;
    let mut errors = Vec::new();

    // Refused by the API.
    let mut bad = settings(&api);
    bad.token = Some(ApiToken::new(format!("FlyV1 {SECRET}-wrong")));
    errors.push(actuator(bad).deployed_regions().await.unwrap_err());

    // Server error, timeout, and an unreachable server.
    let good = actuator(settings(&api));
    api.inject(Fault::Error {
        status: 500,
        message: "boom".into(),
    });
    errors.push(good.deployed_regions().await.unwrap_err());
    let mut slow = settings(&api);
    slow.request_timeout = Duration::from_millis(200);
    api.inject(Fault::Slow(Duration::from_secs(2)));
    errors.push(actuator(slow).deployed_regions().await.unwrap_err());
    let mut closed = settings(&api);
    closed.api_url = "http://127.0.0.1:9".into();
    errors.push(actuator(closed).deploy(&region("fra")).await.unwrap_err());

    assert_eq!(errors.len(), 4);
    for err in &errors {
        let text = everything_about(err);
        assert!(!text.contains(SECRET), "token leaked: {text}");
    }
}

#[tokio::test]
async fn debug_output_never_contains_the_token() {
    let api = fake_with_app().await;
    let settings = settings(&api);
    let actuator = Retrying::new(
        RateLimited::new(
            FlyMachinesActuator::new(settings.clone()).unwrap(),
            5.0,
            2,
            timer(),
        ),
        RetryPolicy::default(),
        timer(),
    );
    for text in [
        format!("{settings:?}"),
        format!("{actuator:?}"),
        format!("{settings:#?}"),
    ] {
        assert!(!text.contains(SECRET), "token leaked: {text}");
        assert!(text.contains("my-app"), "Debug output still useful: {text}");
    }
}

#[tokio::test]
async fn invalid_settings_errors_never_contain_the_token() {
    let mut settings = FlyOptions::new("ok-app".parse().unwrap(), ApiToken::new(SECRET));
    settings.api_url = "not a url".into();
    let err = FlyMachinesActuator::new(settings.clone()).unwrap_err();
    assert!(!everything_about(&err).contains(SECRET));
    settings.api_url = placer_fly::PUBLIC_API_URL.into();
    settings.token = Some(ApiToken::new(format!("{SECRET}\nX-Injected: 1")));
    let err = FlyMachinesActuator::new(settings).unwrap_err();
    assert!(err.to_string().contains("token"), "{err}");
    assert!(!everything_about(&err).contains(SECRET));
}

#[tokio::test]
async fn recorded_requests_redact_the_token_but_keep_the_scheme() {
    let api = placer_fly::fake::FakeMachinesApi::start(APP, "plain-personal-token")
        .await
        .unwrap();
    let mut settings = settings(&api);
    settings.token = Some(ApiToken::new("plain-personal-token"));
    actuator(settings).deployed_regions().await.unwrap();
    let request = &api.requests()[0];
    assert_eq!(request.headers["authorization"], "Bearer [redacted]");
    assert!(!format!("{request:?}").contains("plain-personal-token"));
}

#[tokio::test]
async fn a_password_in_the_api_url_shows_in_no_error_or_debug_output() {
    let api = fake_with_app().await;
    let mut errors = Vec::new();
    // Unreachable: the transport error names the URL it could not reach.
    let mut closed = settings(&api);
    closed.api_url = "http://placer:url-password@127.0.0.1:9".into();
    let shown = format!("{closed:?} {closed:#?}");
    errors.push(actuator(closed).deploy(&region("fra")).await.unwrap_err());
    // Reachable, with the credentials sent along: refused by the fake.
    let mut reached = settings(&api);
    reached.api_url = api
        .base_url()
        .replacen("http://", "http://placer:url-password@", 1);
    api.inject(Fault::Error {
        status: 500,
        message: "boom".into(),
    });
    errors.push(actuator(reached).deployed_regions().await.unwrap_err());

    assert!(!shown.contains("url-password"), "{shown}");
    assert!(
        shown.contains("127.0.0.1:9"),
        "Debug still names the host: {shown}"
    );
    for err in &errors {
        let text = everything_about(err);
        assert!(!text.contains("url-password"), "password leaked: {text}");
    }
    assert!(
        everything_about(&errors[0]).contains("127.0.0.1:9"),
        "the error still says where it failed"
    );
}
