//! [`ReadOnly`]: an actuator that lists and never changes.

use std::collections::BTreeSet;

use async_trait::async_trait;

use crate::{ActuatorError, Region, RegionActuator};

/// Lists the deployment through the wrapped actuator and refuses every
/// deploy and remove before it reaches it.
///
/// For a dry run against a real deployment: the engine already never calls
/// deploy or remove on a non-simulating actuator in dry-run; this guard keeps
/// a real app safe even if that rule were ever broken. It is not a
/// simulation, whatever it wraps.
///
/// ```
/// # futures::executor::block_on(async {
/// use placer_core::wrap::ReadOnly;
/// use placer_core::{ActuatorError, InMemoryActuator, RegionActuator};
///
/// let guard = ReadOnly(InMemoryActuator::new(["iad".parse().unwrap()]));
/// assert_eq!(guard.deployed_regions().await.unwrap().len(), 1);
/// let err = guard.deploy(&"fra".parse().unwrap()).await.unwrap_err();
/// assert!(matches!(err, ActuatorError::Refused { .. }));
/// assert!(guard.0.calls().is_empty());
/// # });
/// ```
#[derive(Debug)]
pub struct ReadOnly<A>(pub A);

#[async_trait]
impl<A: RegionActuator> RegionActuator for ReadOnly<A> {
    async fn deployed_regions(&self) -> Result<BTreeSet<Region>, ActuatorError> {
        self.0.deployed_regions().await
    }

    async fn deploy(&self, region: &Region) -> Result<(), ActuatorError> {
        Err(refusal(region))
    }

    async fn remove(&self, region: &Region) -> Result<(), ActuatorError> {
        Err(refusal(region))
    }

    fn tick_finished(&self) {
        self.0.tick_finished();
    }

    async fn platform_regions(
        &self,
    ) -> Option<std::sync::Arc<crate::network::platform::PlatformRegions>> {
        self.0.platform_regions().await
    }
}

fn refusal(region: &Region) -> ActuatorError {
    ActuatorError::Refused {
        region: *region,
        reason: "dry run: the real deployment is only observed".to_owned(),
    }
}
