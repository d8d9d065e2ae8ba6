//! [`Fenced`]: an actuator that changes nothing unless this placer still
//! leads, confirmed with the state store right before each change.

use std::collections::BTreeSet;
use std::sync::Arc;

use async_trait::async_trait;
use placer_core::{ActuatorError, Region, RegionActuator};

use crate::store::Leadership;

/// Wraps an actuator: listing goes through, a deploy or removal first
/// confirms leadership ([`Leadership::confirm`]) and fails without calling
/// the inner actuator when this placer no longer leads.
pub(crate) struct Fenced {
    inner: Arc<dyn RegionActuator>,
    leadership: Leadership,
}

impl Fenced {
    pub(crate) fn new(inner: Arc<dyn RegionActuator>, leadership: Leadership) -> Self {
        Fenced { inner, leadership }
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
    async fn deployed_regions(&self) -> Result<BTreeSet<Region>, ActuatorError> {
        self.inner.deployed_regions().await
    }

    async fn deploy(&self, region: &Region) -> Result<(), ActuatorError> {
        self.confirm(region).await?;
        self.inner.deploy(region).await
    }

    async fn remove(&self, region: &Region) -> Result<(), ActuatorError> {
        self.confirm(region).await?;
        self.inner.remove(region).await
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
            BTreeSet::from([region("fra"), region("iad")])
        );
    }
}
