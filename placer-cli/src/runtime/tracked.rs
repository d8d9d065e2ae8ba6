//! [`Tracked`]: an actuator that keeps an app's [`DeployedRegions`] up to
//! date, so the simulated traffic source reads the deployment itself and
//! nothing else has to tell it.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use placer_core::{ActuatorError, MachineCount, Region, RegionActuator};

use placer_lab::DeployedRegions;

/// Wraps an actuator and records in a [`DeployedRegions`] what it lists and
/// what it really changed. A refused or failed change records nothing, so
/// a dry run against a real app (which never changes it) records only what
/// was listed.
pub(crate) struct Tracked {
    inner: Arc<dyn RegionActuator>,
    deployment: DeployedRegions,
}

impl Tracked {
    /// `inner`, recording into `deployment`.
    pub(crate) fn new(inner: Arc<dyn RegionActuator>, deployment: DeployedRegions) -> Self {
        Tracked { inner, deployment }
    }
}

#[async_trait]
impl RegionActuator for Tracked {
    async fn deployment(&self) -> Result<BTreeMap<Region, MachineCount>, ActuatorError> {
        let deployment = self.inner.deployment().await?;
        self.deployment.set(
            deployment
                .iter()
                .filter(|(_, count)| count.is_deployed())
                .map(|(region, _)| *region),
        );
        Ok(deployment)
    }

    async fn scale(&self, region: &Region, target: MachineCount) -> Result<(), ActuatorError> {
        self.inner.scale(region, target).await?;
        if target.is_deployed() {
            self.deployment.insert(*region);
        } else {
            self.deployment.remove(region);
        }
        Ok(())
    }

    fn is_simulation(&self) -> bool {
        self.inner.is_simulation()
    }

    fn tick_finished(&self) {
        self.inner.tick_finished();
    }

    async fn platform_regions(
        &self,
    ) -> Option<std::sync::Arc<placer_core::network::platform::PlatformRegions>> {
        self.inner.platform_regions().await
    }
}

#[cfg(test)]
mod tests {
    use placer_core::InMemoryActuator;

    use super::*;
    use placer_core::wrap::ReadOnly;
    use std::collections::BTreeSet;

    fn region(code: &str) -> Region {
        code.parse().unwrap()
    }

    #[tokio::test]
    async fn records_what_is_listed_and_what_really_changed() {
        let deployment = DeployedRegions::default();
        let tracked = Tracked::new(
            Arc::new(InMemoryActuator::new([region("iad")])),
            deployment.clone(),
        );
        assert!(
            deployment.get().is_empty(),
            "nothing known before a listing"
        );
        tracked.deployed_regions().await.unwrap();
        assert_eq!(deployment.get(), BTreeSet::from([region("iad")]));
        tracked.deploy(&region("fra")).await.unwrap();
        tracked.remove(&region("iad")).await.unwrap();
        assert_eq!(deployment.get(), BTreeSet::from([region("fra")]));
        assert_eq!(tracked.deployed_regions().await.unwrap(), deployment.get());
    }

    #[tokio::test]
    async fn a_refused_change_records_nothing() {
        let deployment = DeployedRegions::default();
        let inner = ReadOnly(InMemoryActuator::new([region("iad")]));
        let tracked = Tracked::new(Arc::new(inner), deployment.clone());
        tracked.deployed_regions().await.unwrap();
        assert!(tracked.deploy(&region("fra")).await.is_err());
        assert!(tracked.remove(&region("iad")).await.is_err());
        assert_eq!(deployment.get(), BTreeSet::from([region("iad")]));
        assert!(!tracked.is_simulation());
    }
}
