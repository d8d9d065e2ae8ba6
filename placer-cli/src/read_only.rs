//! [`ReadOnly`]: an actuator that lists and never changes.

use std::collections::BTreeSet;

use async_trait::async_trait;
use placer_core::{ActuatorError, Region, RegionActuator};

/// Wraps the real Fly actuator in a dry run with Fly credentials: the
/// deployment is read from the Machines API, and deploy and remove are
/// refused here, before any request.
///
/// The engine already never calls deploy or remove on a non-simulating
/// actuator in dry-run; this guard keeps a real app safe even if that rule
/// were ever broken.
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
}

fn refusal(region: &Region) -> ActuatorError {
    ActuatorError::Refused {
        region: *region,
        reason: "dry run: the real deployment is only observed".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use placer_core::InMemoryActuator;

    use super::*;

    #[tokio::test]
    async fn lists_through_and_refuses_changes() {
        let iad: Region = "iad".parse().unwrap();
        let inner = InMemoryActuator::new([iad]);
        let guard = ReadOnly(inner);
        assert_eq!(
            guard.deployed_regions().await.unwrap(),
            BTreeSet::from([iad])
        );
        assert!(guard.deploy(&"fra".parse().unwrap()).await.is_err());
        assert!(guard.remove(&iad).await.is_err());
        assert!(guard.0.calls().is_empty());
        assert!(!guard.is_simulation());
    }
}
