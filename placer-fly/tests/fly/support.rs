//! Shared helpers: a fake API with an app already deployed, and settings
//! pointing at it.

use std::sync::Arc;
use std::time::Duration;

use placer_core::wrap::Timer;

use placer_core::Region;
use placer_fly::fake::{FakeMachinesApi, MachineSpec};
use placer_fly::{ApiToken, FlyMachinesActuator, FlyOptions, TokioTimer};

pub const APP: &str = "my-app";
pub const TOKEN: &str = "FlyV1 fm2_test-secret-token";

pub fn region(code: &str) -> Region {
    code.parse().unwrap()
}

/// A fake API whose app runs one machine in `iad`, not created by fly-placer.
pub async fn fake_with_app() -> FakeMachinesApi {
    let api = FakeMachinesApi::start(APP, TOKEN).await.unwrap();
    api.add_machine(MachineSpec::new("iad"));
    api
}

/// Settings for the fake, with a short request timeout and without Fly's
/// per-app limits (the fake does not enforce them unless told to; the
/// `limits` tests keep them).
pub fn settings(api: &FakeMachinesApi) -> FlyOptions {
    let mut settings = FlyOptions::new(APP.parse().unwrap(), ApiToken::new(TOKEN));
    settings.api_url = api.base_url();
    settings.request_timeout = Duration::from_secs(5);
    settings.api_limits = placer_fly::ApiLimits::unlimited();
    settings
}

/// The wrappers' timer on tokio's clock (paused in the timing tests).
pub fn timer() -> Arc<dyn Timer> {
    Arc::new(TokioTimer::new())
}

pub fn actuator(settings: FlyOptions) -> FlyMachinesActuator {
    FlyMachinesActuator::new(settings).unwrap()
}

/// Method and path of each request, for compact assertions.
pub fn calls(api: &FakeMachinesApi) -> Vec<String> {
    api.requests()
        .iter()
        .map(|r| format!("{} {}", r.method, r.path))
        .collect()
}

/// Live machines of the fake in `region`.
pub fn live_in(api: &FakeMachinesApi, code: &str) -> Vec<placer_fly::Machine> {
    api.machines()
        .into_iter()
        .filter(|m| m.region.as_str() == code && m.state != "destroyed")
        .collect()
}
