//! The platform's regions: read from `GET /v1/platform/regions` for the
//! template's size, kept between ticks, read again after the refresh
//! interval or a create refused for capacity, and the built-in catalog
//! (logged once) when they cannot be read.

use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use placer_core::network::platform::{RegionsSource, Unavailable, COMPUTE_REGIONS};
use placer_core::RegionActuator;
use placer_fly::fake::{FakeMachinesApi, MachineSpec, PlatformFailure};
use placer_fly::INSUFFICIENT_CAPACITY;
use serde_json::json;

use crate::support::*;

const REFRESH: Duration = Duration::from_secs(3600);

/// The requests for the platform's regions so far, path and query.
fn platform_reads(api: &FakeMachinesApi) -> Vec<String> {
    calls(api)
        .into_iter()
        .filter(|call| call.contains("/v1/platform/regions"))
        .collect()
}

#[tokio::test(start_paused = true)]
async fn read_once_for_the_template_size_then_kept_until_the_refresh() {
    let api = fake_with_app().await;
    api.set_region_capacity("syd", Some(0));
    let actuator = actuator(settings(&api));
    assert_eq!(actuator.settings().platform_regions_refresh, REFRESH);

    let first = actuator.platform_regions().await.unwrap();
    assert!(matches!(first.source(), RegionsSource::Platform { .. }));
    assert_eq!(
        first.unavailable(&region("syd")),
        Some(Unavailable::Full),
        "the fake's room is read"
    );
    assert_eq!(
        first.unavailable(&region("mad")),
        Some(Unavailable::Deprecated)
    );
    let deployable: Vec<String> = first.deployable().map(|r| r.to_string()).collect();
    let expected: Vec<&str> = COMPUTE_REGIONS
        .iter()
        .copied()
        .filter(|code| *code != "syd")
        .collect();
    assert_eq!(deployable, expected);
    // The template is MachineSpec's shared-cpu-1x guest.
    assert_eq!(
        platform_reads(&api),
        ["GET /v1/platform/regions?size=shared-cpu-1x"]
    );

    // Within the refresh interval: from the cache, even with syd free.
    api.set_region_capacity("syd", Some(5));
    tokio::time::advance(REFRESH - Duration::from_secs(1)).await;
    let cached = actuator.platform_regions().await.unwrap();
    assert!(Arc::ptr_eq(&first, &cached));
    assert_eq!(platform_reads(&api).len(), 1);

    // After it: read again.
    tokio::time::advance(Duration::from_secs(2)).await;
    let again = actuator.platform_regions().await.unwrap();
    assert_eq!(platform_reads(&api).len(), 2);
    assert!(again.is_deployable(&region("syd")));
    assert_eq!(again.get(&region("syd")).unwrap().capacity, Some(5));
}

#[tokio::test]
async fn the_size_follows_the_template_machine() {
    let api = FakeMachinesApi::start(APP, TOKEN).await.unwrap();
    let template = api.add_machine(MachineSpec::new("fra").config_field(
        "guest",
        json!({"cpu_kind": "performance", "cpus": 2, "memory_mb": 4096}),
    ));
    let mut options = settings(&api);
    options.template_machine = Some(template);
    actuator(options).platform_regions().await.unwrap();
    assert_eq!(
        platform_reads(&api),
        ["GET /v1/platform/regions?size=performance-2x"]
    );
}

#[tokio::test]
async fn without_a_template_the_default_size_is_asked_for() {
    let api = FakeMachinesApi::start(APP, TOKEN).await.unwrap();
    let picture = actuator(settings(&api)).platform_regions().await.unwrap();
    assert!(matches!(picture.source(), RegionsSource::Platform { .. }));
    assert_eq!(platform_reads(&api), ["GET /v1/platform/regions"]);
}

/// Every log line of this test binary from the first capture on (one
/// global subscriber: tests run on many threads at once); a test picks its
/// own by its app's name.
fn logs() -> &'static Mutex<Vec<u8>> {
    static LOGS: OnceLock<&'static Mutex<Vec<u8>>> = OnceLock::new();
    LOGS.get_or_init(|| {
        let buffer: &'static Mutex<Vec<u8>> = Box::leak(Box::new(Mutex::new(Vec::new())));
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_max_level(tracing::Level::INFO)
            .with_writer(move || SharedWriter(buffer))
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
        buffer
    })
}

/// The lines logged so far that hold both texts.
fn logged(app: &str, text: &str) -> Vec<String> {
    String::from_utf8_lossy(&logs().lock().unwrap())
        .lines()
        .filter(|line| line.contains(app) && line.contains(text))
        .map(str::to_owned)
        .collect()
}

struct SharedWriter(&'static Mutex<Vec<u8>>);

impl Write for SharedWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_refused_token_falls_back_to_the_catalog_logged_once_and_retried_at_the_refresh() {
    logs();
    let app = "logged-once";
    let api = FakeMachinesApi::start(app, TOKEN).await.unwrap();
    api.add_machine(MachineSpec::new("iad"));
    api.set_platform_regions_failure(Some(PlatformFailure::Error {
        status: 403,
        message: "token does not have access to platform regions".into(),
    }));
    let mut options = settings(&api);
    options.app = Some(app.parse().unwrap());
    let actuator = actuator(options);

    let fallback = actuator.platform_regions().await.unwrap();
    let RegionsSource::Fallback { reason, .. } = fallback.source() else {
        panic!("not a fallback: {:?}", fallback.source());
    };
    assert!(reason.contains("HTTP 403"), "{reason}");
    assert!(reason.contains("token"), "{reason}");
    let built_in: Vec<_> = placer_core::network::platform::PlatformRegions::built_in()
        .deployable()
        .collect();
    assert_eq!(fallback.deployable().collect::<Vec<_>>(), built_in);

    // Between refreshes nothing is asked; at each refresh it is tried
    // again, and the same failure is not logged again.
    actuator.platform_regions().await.unwrap();
    assert_eq!(platform_reads(&api).len(), 1);
    for _ in 0..3 {
        tokio::time::advance(REFRESH).await;
        let again = actuator.platform_regions().await.unwrap();
        assert!(matches!(again.source(), RegionsSource::Fallback { .. }));
    }
    assert_eq!(platform_reads(&api).len(), 4);
    let warned = logged(app, "cannot read the platform's regions");
    assert_eq!(warned.len(), 1, "{warned:#?}");
    assert!(warned[0].contains("WARN"), "{}", warned[0]);
    assert!(
        logged("", "fm2_test-secret-token").is_empty(),
        "the token is never logged"
    );

    // A different failure is logged; a read that works again says so.
    api.set_platform_regions_failure(Some(PlatformFailure::Garbage));
    tokio::time::advance(REFRESH).await;
    let garbage = actuator.platform_regions().await.unwrap();
    let RegionsSource::Fallback { reason, .. } = garbage.source() else {
        panic!("not a fallback: {:?}", garbage.source());
    };
    assert!(reason.contains("unreadable"), "{reason}");
    assert_eq!(logged(app, "cannot read the platform's regions").len(), 2);

    api.set_platform_regions_failure(None);
    tokio::time::advance(REFRESH).await;
    let read = actuator.platform_regions().await.unwrap();
    assert!(matches!(read.source(), RegionsSource::Platform { .. }));
    assert_eq!(logged(app, "can be read again").len(), 1);
}

#[tokio::test]
async fn an_api_in_trouble_or_out_of_reach_falls_back() {
    let api = fake_with_app().await;
    api.set_platform_regions_failure(Some(PlatformFailure::Error {
        status: 500,
        message: "internal error".into(),
    }));
    let picture = actuator(settings(&api)).platform_regions().await.unwrap();
    assert!(
        matches!(picture.source(), RegionsSource::Fallback { reason, .. } if reason.starts_with("HTTP 500"))
    );

    let mut nowhere = settings(&api);
    nowhere.api_url = format!("http://127.0.0.1:{}", closed_port());
    let picture = actuator(nowhere).platform_regions().await.unwrap();
    assert!(matches!(picture.source(), RegionsSource::Fallback { .. }));
}

/// A loopback port nothing listens on.
fn closed_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[tokio::test]
async fn a_create_refused_for_capacity_has_the_next_tick_read_them_again() {
    let api = fake_with_app().await;
    let actuator = actuator(settings(&api));
    let before = actuator.platform_regions().await.unwrap();
    assert!(before.is_deployable(&region("syd")));

    // syd fills up behind the actuator's back.
    api.set_region_capacity("syd", Some(0));
    let err = actuator.deploy(&region("syd")).await.unwrap_err();
    assert!(err.unavailable_region().is_some(), "{err}");
    let refusal = api
        .requests()
        .into_iter()
        .rev()
        .find(|r| r.method == "POST")
        .and_then(|r| r.response)
        .unwrap();
    assert_eq!(refusal.status, 503);
    assert_eq!(refusal.body.unwrap()["status"], INSUFFICIENT_CAPACITY);

    let after = actuator.platform_regions().await.unwrap();
    assert_eq!(platform_reads(&api).len(), 2, "read again at once");
    assert_eq!(after.unavailable(&region("syd")), Some(Unavailable::Full));
    // And kept again afterwards.
    actuator.platform_regions().await.unwrap();
    assert_eq!(platform_reads(&api).len(), 2);
}

#[tokio::test(start_paused = true)]
async fn the_fakes_room_follows_the_machines_started_and_destroyed() {
    let api = fake_with_app().await;
    api.add_machine(MachineSpec::new("fra"));
    api.set_region_capacity("syd", Some(1));
    let actuator = actuator(settings(&api));
    let before = actuator.read_platform_regions().await;
    assert_eq!(before.get(&region("syd")).unwrap().capacity, Some(1));

    actuator.deploy(&region("syd")).await.unwrap();
    assert_eq!(api.region_capacity("syd"), Some(0));
    let picture = actuator.read_platform_regions().await;
    assert!(picture.is_deployable(&region("syd")), "kept: read before");

    // Full: another app's create there is refused too.
    api.add_app("blog");
    api.add_machine(MachineSpec::new("iad").app("blog"));
    let mut blog = settings(&api);
    blog.app = Some("blog".parse().unwrap());
    let err = actuator_for(blog).deploy(&region("syd")).await.unwrap_err();
    assert!(err.unavailable_region().is_some(), "{err}");

    actuator.remove(&region("syd")).await.unwrap();
    assert_eq!(api.region_capacity("syd"), Some(1));
    // Unknown room: the field is left out and creates go through.
    api.set_region_capacity("jnb", None);
    assert_eq!(api.region_capacity("jnb"), None);
    actuator.deploy(&region("jnb")).await.unwrap();
    // Deprecated again, or not: the answer says so.
    api.set_region_deprecated("mad", false);
    api.set_region_capacity("mad", Some(3));
    api.set_region_deprecated("fra", true);
    tokio::time::advance(REFRESH).await;
    let read = actuator.platform_regions().await.unwrap();
    assert!(read.is_deployable(&region("mad")));
    assert_eq!(
        read.unavailable(&region("fra")),
        Some(Unavailable::Deprecated)
    );
    assert_eq!(read.get(&region("jnb")).unwrap().capacity, None);
}

fn actuator_for(options: placer_fly::FlyOptions) -> placer_fly::FlyMachinesActuator {
    placer_fly::FlyMachinesActuator::new(options).unwrap()
}

#[tokio::test]
async fn apps_sharing_a_cache_read_the_regions_once_per_size() {
    let api = fake_with_app().await;
    api.add_app("blog");
    api.add_machine(MachineSpec::new("iad").app("blog"));
    api.add_app("vault");
    api.add_machine(
        MachineSpec::new("iad")
            .app("vault")
            .config_field("guest", json!({"cpu_kind": "performance", "cpus": 1})),
    );
    let shared = placer_fly::PlatformRegionsCache::new();
    let for_app = |app: &str| {
        let mut options = settings(&api);
        options.app = Some(app.parse().unwrap());
        placer_fly::FlyMachinesActuator::new(options)
            .unwrap()
            .sharing_platform_regions(shared.clone())
    };
    let (shop, blog, vault) = (for_app(APP), for_app("blog"), for_app("vault"));
    let (a, b) = tokio::join!(shop.platform_regions(), blog.platform_regions());
    assert!(Arc::ptr_eq(&a.unwrap(), &b.unwrap()));
    vault.platform_regions().await.unwrap();
    assert_eq!(
        platform_reads(&api),
        [
            "GET /v1/platform/regions?size=shared-cpu-1x",
            "GET /v1/platform/regions?size=performance-1x"
        ]
    );

    // A capacity refusal for one app has every app read them again.
    api.set_region_capacity("syd", Some(0));
    blog.deploy(&region("syd")).await.unwrap_err();
    let again = shop.platform_regions().await.unwrap();
    assert_eq!(again.unavailable(&region("syd")), Some(Unavailable::Full));
    assert_eq!(platform_reads(&api).len(), 3);
}

#[tokio::test(start_paused = true)]
async fn a_read_that_times_out_falls_back() {
    let api = fake_with_app().await;
    api.inject_on(
        "GET",
        "/platform/regions",
        placer_fly::fake::Fault::Slow(Duration::from_secs(600)),
    );
    let picture = actuator(settings(&api)).platform_regions().await.unwrap();
    let RegionsSource::Fallback { reason, .. } = picture.source() else {
        panic!("not a fallback: {:?}", picture.source());
    };
    assert!(
        reason.contains("reading the platform's regions"),
        "{reason}"
    );
}
