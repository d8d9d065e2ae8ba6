//! The in-memory actuator against the shared `RegionActuator` conformance suite.

use placer_core::{conformance, InMemoryActuator, Region};

fn region(code: &str) -> Region {
    code.parse().unwrap()
}

#[test]
fn in_memory_actuator_passes_the_conformance_suite() {
    let actuator = InMemoryActuator::new([region("iad")]);
    futures::executor::block_on(conformance::check_region_actuator(
        &actuator,
        [region("fra"), region("cdg")],
    ));
    assert_eq!(actuator.regions(), [region("iad")].into());
}

#[test]
fn in_memory_actuator_passes_the_scaling_checks() {
    let actuator = InMemoryActuator::new([region("iad")]);
    futures::executor::block_on(conformance::check_scaling_actuator(
        &actuator,
        region("fra"),
    ));
    assert_eq!(actuator.regions(), [region("iad")].into());
}

#[test]
fn in_memory_actuator_with_a_platform_picture_passes_the_conformance_suite() {
    use placer_core::network::platform::{PlatformRegion, PlatformRegions};
    use placer_core::Timestamp;

    let picture = PlatformRegions::from_platform(
        [
            PlatformRegion::new(region("fra"), 50.03, 8.57),
            PlatformRegion::new(region("cdg"), 49.01, 2.55),
            PlatformRegion::new(region("syd"), -33.95, 151.18).with_capacity(0),
        ],
        Timestamp::from_unix_seconds(1_800_000_000),
    );
    let actuator = InMemoryActuator::new([region("iad")]).with_platform_regions(picture);
    futures::executor::block_on(conformance::check_region_actuator(
        &actuator,
        [region("fra"), region("cdg")],
    ));
}

#[test]
#[should_panic(expected = "off the globe")]
fn the_suite_catches_a_picture_off_the_globe() {
    use placer_core::network::platform::{PlatformRegion, PlatformRegions};
    use placer_core::Timestamp;

    let picture = PlatformRegions::from_platform(
        [PlatformRegion::new(region("fra"), 150.0, 8.57)],
        Timestamp::from_unix_seconds(1_800_000_000),
    );
    let actuator = InMemoryActuator::new([region("iad")]).with_platform_regions(picture);
    futures::executor::block_on(conformance::platform_regions_are_a_usable_picture(
        &actuator,
    ));
}

#[test]
#[should_panic(expected = "still listed after remove")]
fn the_suite_catches_an_actuator_that_ignores_removals() {
    use async_trait::async_trait;
    use placer_core::{ActuatorError, MachineCount, RegionActuator};
    use std::collections::BTreeMap;

    /// Deploys, but never removes anything.
    struct Sticky(InMemoryActuator);

    #[async_trait]
    impl RegionActuator for Sticky {
        async fn deployment(&self) -> Result<BTreeMap<Region, MachineCount>, ActuatorError> {
            self.0.deployment().await
        }
        async fn scale(&self, region: &Region, target: MachineCount) -> Result<(), ActuatorError> {
            if target == MachineCount::NONE {
                return Ok(());
            }
            self.0.scale(region, target).await
        }
    }

    let actuator = Sticky(InMemoryActuator::new([region("iad")]));
    futures::executor::block_on(conformance::check_region_actuator(
        &actuator,
        [region("fra"), region("cdg")],
    ));
}

#[test]
fn the_wrappers_pass_the_conformance_suite_around_a_flaky_backend() {
    use placer_core::wrap::{InstantTimer, RateLimited, RetryPolicy, Retrying};
    use std::sync::Arc;

    let timer = Arc::new(InstantTimer::new());
    let inner = InMemoryActuator::new([region("iad")]);
    // Every backend hiccups now and then; the retry wrapper hides it.
    inner.fail_transiently(3, None);
    let actuator = Retrying::new(
        RateLimited::new(inner, 5.0, 2, timer.clone()),
        RetryPolicy::default(),
        timer.clone(),
    );
    futures::executor::block_on(conformance::check_region_actuator(
        &actuator,
        [region("fra"), region("cdg")],
    ));
    assert_eq!(actuator.inner().inner().regions(), [region("iad")].into());
    assert!(!timer.sleeps().is_empty());
}

/// Counts per region, kept exactly as asked (or, when `drops_standbys`,
/// without the standbys).
struct Counting {
    counts: std::sync::Mutex<std::collections::BTreeMap<Region, placer_core::MachineCount>>,
    drops_standbys: bool,
}

impl Counting {
    fn new(drops_standbys: bool) -> Self {
        let counts = [(region("iad"), placer_core::MachineCount::ONE)].into();
        Counting {
            counts: std::sync::Mutex::new(counts),
            drops_standbys,
        }
    }
}

#[async_trait::async_trait]
impl placer_core::RegionActuator for Counting {
    async fn deployment(
        &self,
    ) -> Result<
        std::collections::BTreeMap<Region, placer_core::MachineCount>,
        placer_core::ActuatorError,
    > {
        Ok(self.counts.lock().unwrap().clone())
    }

    async fn scale(
        &self,
        region: &Region,
        mut target: placer_core::MachineCount,
    ) -> Result<(), placer_core::ActuatorError> {
        if self.drops_standbys {
            target.standby = 0;
        }
        let mut counts = self.counts.lock().unwrap();
        if target.total() == 0 {
            counts.remove(region);
        } else {
            counts.insert(*region, target);
        }
        Ok(())
    }
}

#[test]
fn an_actuator_that_keeps_counts_passes_the_scaling_suite() {
    let actuator = Counting::new(false);
    futures::executor::block_on(conformance::check_scaling_actuator(
        &actuator,
        region("fra"),
    ));
    futures::executor::block_on(conformance::check_region_actuator(
        &actuator,
        [region("fra"), region("cdg")],
    ));
}

#[test]
#[should_panic(expected = "after scaling to 2 running, 1 standby")]
fn the_scaling_suite_catches_an_actuator_that_drops_standbys() {
    let actuator = Counting::new(true);
    futures::executor::block_on(conformance::check_scaling_actuator(
        &actuator,
        region("fra"),
    ));
}
