//! [`Fenced`]: an actuator that changes nothing unless this placer still
//! leads, confirmed with the state store right before each change.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use async_trait::async_trait;
use placer_core::{ActuatorError, MachineCount, Region, RegionActuator};

use crate::store::Leadership;

/// Wraps an actuator: listing goes through, a change ([`scale`](RegionActuator::scale)) first
/// confirms leadership ([`Leadership::confirm`]) and fails without calling
/// the inner actuator when this placer no longer leads.
/// It also counts the changes the inner actuator found busy
/// ([`ActuatorError::Busy`]), which the tick's report does not tell from
/// refusals.
pub(crate) struct Fenced {
    inner: Arc<dyn RegionActuator>,
    leadership: Leadership,
    busy: AtomicU64,
}

impl Fenced {
    pub(crate) fn new(inner: Arc<dyn RegionActuator>, leadership: Leadership) -> Self {
        Fenced {
            inner,
            leadership,
            busy: AtomicU64::new(0),
        }
    }

    /// How many changes were not made because the region was busy.
    pub(crate) fn busy(&self) -> u64 {
        self.busy.load(Ordering::Relaxed)
    }

    fn count_busy(&self, result: Result<(), ActuatorError>) -> Result<(), ActuatorError> {
        if matches!(result, Err(ActuatorError::Busy { .. })) {
            self.busy.fetch_add(1, Ordering::Relaxed);
        }
        result
    }

    async fn confirm(&self, region: &Region) -> Result<(), ActuatorError> {
        self.leadership
            .confirm()
            .await
            .map(|_| ())
            .map_err(|err| ActuatorError::backend("leadership", Some(region), err))
    }
}

#[async_trait]
impl RegionActuator for Fenced {
    async fn deployment(&self) -> Result<BTreeMap<Region, MachineCount>, ActuatorError> {
        self.inner.deployment().await
    }

    async fn scale(&self, region: &Region, target: MachineCount) -> Result<(), ActuatorError> {
        self.confirm(region).await?;
        self.count_busy(self.inner.scale(region, target).await)
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
    use std::sync::Mutex;

    use placer_core::InMemoryActuator;
    use tokio::sync::watch;

    use super::*;
    use crate::store::leader::{Fence, Role};
    use crate::store::NotLeader;

    /// A store's answer to "does this term still lead?", set by the test.
    #[derive(Debug)]
    struct Answer(Mutex<bool>);

    #[async_trait]
    impl Fence for Answer {
        async fn confirm(&self, _term: i64) -> Result<(), NotLeader> {
            if *self.0.lock().unwrap() {
                Ok(())
            } else {
                Err(NotLeader {
                    leader: Some("placer-b".into()),
                })
            }
        }
        async fn resign(&self) {}
    }

    fn region(code: &str) -> Region {
        code.parse().unwrap()
    }

    #[tokio::test]
    async fn changes_only_while_the_store_confirms_the_lead() {
        let inner = Arc::new(InMemoryActuator::new([region("iad")]));
        let (role, watched) = watch::channel(Role::Leader {
            term: 7,
            identity: "placer-a".into(),
        });
        let answer = Arc::new(Answer(Mutex::new(true)));
        let fenced = Fenced::new(inner.clone(), Leadership::elected(watched, answer.clone()));
        fenced.deploy(&region("fra")).await.unwrap();

        // The store says another placer leads now: nothing is changed.
        *answer.0.lock().unwrap() = false;
        let err = fenced.deploy(&region("cdg")).await.unwrap_err();
        assert!(err.to_string().contains("the leader is placer-b"), "{err}");
        assert!(fenced.remove(&region("iad")).await.is_err());

        // A follower does not even ask.
        *answer.0.lock().unwrap() = true;
        role.send_replace(Role::Follower { leader: None });
        assert!(fenced.deploy(&region("cdg")).await.is_err());

        assert_eq!(
            fenced.deployed_regions().await.unwrap(),
            std::collections::BTreeSet::from([region("fra"), region("iad")])
        );
    }

    #[tokio::test]
    async fn counts_the_changes_found_busy_and_only_those() {
        let mut inner = placer_core::conformance::MockActuator::new();
        inner.expect_scale().returning(|region, target| {
            if target.is_deployed() {
                Err(ActuatorError::busy(region, "a deploy holds the lease"))
            } else {
                Err(ActuatorError::refused(region, "last machine"))
            }
        });
        let fenced = Fenced::new(Arc::new(inner), Leadership::sole());
        assert_eq!(fenced.busy(), 0);
        fenced.deploy(&region("fra")).await.unwrap_err();
        fenced.deploy(&region("cdg")).await.unwrap_err();
        // A refusal is not a busy region.
        fenced.remove(&region("iad")).await.unwrap_err();
        assert_eq!(fenced.busy(), 2);
    }
}
