//! mockall mocks of [`MetricsSource`] and [`RegionActuator`].

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use async_trait::async_trait;

use crate::{ActuatorError, MachineCount, MetricsError, MetricsSource, Region, RegionActuator};
use crate::{Timestamp, TrafficSnapshot};

mockall::mock! {
    /// A [`MetricsSource`] whose answers a test sets with `expect_fetch`
    /// and `expect_history`.
    pub Source {}

    #[async_trait]
    impl MetricsSource for Source {
        async fn fetch(&self, at: Timestamp) -> Result<TrafficSnapshot, MetricsError>;
        async fn history(
            &self,
            start: Timestamp,
            end: Timestamp,
            step: Duration,
        ) -> Result<Vec<TrafficSnapshot>, MetricsError>;
    }
}

mockall::mock! {
    /// A [`RegionActuator`] whose answers a test sets with
    /// `expect_deployment`, `expect_scale`, `expect_is_simulation` and
    /// `expect_tick_finished`. Unlike a real actuator, the mock also
    /// scripts the shorthands on their own (`expect_deployed_regions`,
    /// `expect_deploy`, `expect_remove`), so a test can expect either kind
    /// of call.
    pub Actuator {}

    #[async_trait]
    impl RegionActuator for Actuator {
        async fn deployment(&self) -> Result<BTreeMap<Region, MachineCount>, ActuatorError>;
        async fn scale(&self, region: &Region, target: MachineCount) -> Result<(), ActuatorError>;
        async fn deployed_regions(&self) -> Result<BTreeSet<Region>, ActuatorError>;
        async fn deploy(&self, region: &Region) -> Result<(), ActuatorError>;
        async fn remove(&self, region: &Region) -> Result<(), ActuatorError>;
        fn is_simulation(&self) -> bool;
        fn tick_finished(&self);
    }
}
