//! mockall mocks of [`MetricsSource`] and [`RegionActuator`].

use std::collections::BTreeSet;
use std::time::Duration;

use async_trait::async_trait;

use crate::{ActuatorError, MetricsError, MetricsSource, Region, RegionActuator};
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
    /// `expect_deployed_regions`, `expect_deploy`, `expect_remove`,
    /// `expect_is_simulation` and `expect_tick_finished`.
    pub Actuator {}

    #[async_trait]
    impl RegionActuator for Actuator {
        async fn deployed_regions(&self) -> Result<BTreeSet<Region>, ActuatorError>;
        async fn deploy(&self, region: &Region) -> Result<(), ActuatorError>;
        async fn remove(&self, region: &Region) -> Result<(), ActuatorError>;
        fn is_simulation(&self) -> bool;
        fn tick_finished(&self);
    }
}
