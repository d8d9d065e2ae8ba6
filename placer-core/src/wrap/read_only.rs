//! [`ReadOnly`]: an actuator that lists and never changes.

use std::collections::BTreeMap;

use async_trait::async_trait;

use crate::{ActuatorError, MachineCount, Region, RegionActuator};

/// Lists the deployment through the wrapped actuator and refuses every
/// change ([`scale`](RegionActuator::scale), and so deploy and remove)
/// before it reaches it.
///
/// For a dry run against a real deployment: the engine already never
/// changes a non-simulating actuator's deployment in dry-run; this guard keeps
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
    async fn deployment(&self) -> Result<BTreeMap<Region, MachineCount>, ActuatorError> {
        self.0.deployment().await
    }

    async fn scale(&self, region: &Region, _target: MachineCount) -> Result<(), ActuatorError> {
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
