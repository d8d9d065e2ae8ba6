//! [`ListedAtStart`]: hands the listing made at start to the first tick, so
//! `once` lists the deployment once.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use placer_core::{ActuatorError, MachineCount, Region, RegionActuator};

/// Wraps an actuator whose deployment was just listed: the next
/// [`deployment`](RegionActuator::deployment) call answers with
/// that listing's result — success or failure — instead of listing again;
/// later calls go through. `once` lists at start (the simulated traffic
/// source reads the deployment before the tick lists it) and then ticks at
/// once: without this, the API is listed twice, and an API that does not
/// answer costs two retry budgets.
pub(crate) struct ListedAtStart {
    inner: Arc<dyn RegionActuator>,
    listed: Mutex<Option<Result<BTreeMap<Region, MachineCount>, ActuatorError>>>,
}

impl ListedAtStart {
    /// `inner`, whose latest listing gave `listed`.
    pub(crate) fn new(
        inner: Arc<dyn RegionActuator>,
        listed: Result<BTreeMap<Region, MachineCount>, ActuatorError>,
    ) -> Self {
        ListedAtStart {
            inner,
            listed: Mutex::new(Some(listed)),
        }
    }
}

#[async_trait]
impl RegionActuator for ListedAtStart {
    async fn deployment(&self) -> Result<BTreeMap<Region, MachineCount>, ActuatorError> {
        let listed = self
            .listed
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        match listed {
            Some(listed) => listed,
            None => self.inner.deployment().await,
        }
    }

    async fn scale(&self, region: &Region, target: MachineCount) -> Result<(), ActuatorError> {
        self.inner.scale(region, target).await
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

    #[tokio::test]
    async fn the_first_listing_is_the_one_made_at_start() {
        let fra: Region = "fra".parse().unwrap();
        let inner = Arc::new(InMemoryActuator::new([fra]));
        let failed = Err(ActuatorError::backend("fly", None, "timed out"));
        let actuator = ListedAtStart::new(inner, failed);
        let first = actuator.deployed_regions().await.unwrap_err();
        assert!(first.to_string().contains("timed out"), "{first}");
        assert_eq!(actuator.deployed_regions().await.unwrap(), [fra].into());
    }
}
