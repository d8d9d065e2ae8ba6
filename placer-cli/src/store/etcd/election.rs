//! The election: each placer's background campaign for the leader key,
//! on a lease it renews, and the fence its writes are checked against.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::watch;
use tokio::time::Instant;

use super::super::leader::{Fence, Role};
use super::super::NotLeader;
use super::gateway::GatewayError;
use super::messages::{Compare, Op, Txn};
use super::EtcdStore;

/// The background campaign of one placer.
pub(super) struct Election {
    store: EtcdStore,
    identity: String,
    ttl: Duration,
    role: watch::Sender<Role>,
    /// The lease in use.
    lease: Mutex<Option<i64>>,
    /// When the last renewal that the store answered was sent.
    renewed: Mutex<Option<Instant>>,
    /// Set by [`Fence::resign`]: campaign no more.
    resigned: std::sync::atomic::AtomicBool,
}

impl std::fmt::Debug for Election {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Election")
            .field("identity", &self.identity)
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

impl Election {
    /// A campaign for `store`'s leader key as `identity`, on a lease of
    /// `ttl`, telling `role` what it finds.
    pub(super) fn new(
        store: EtcdStore,
        identity: String,
        ttl: Duration,
        role: watch::Sender<Role>,
    ) -> Self {
        Election {
            store,
            identity,
            ttl,
            role,
            lease: Mutex::new(None),
            renewed: Mutex::new(None),
            resigned: std::sync::atomic::AtomicBool::new(false),
        }
    }

    fn step(&self) -> Duration {
        self.ttl / 3
    }

    /// Whether the lease surely still holds: two thirds of a TTL since the
    /// last renewal the store answered was sent.
    fn lease_holds(&self) -> bool {
        self.renewed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some_and(|at| at.elapsed() < self.ttl * 2 / 3)
    }

    fn set_role(&self, role: Role) {
        let previous = self.role.borrow().clone();
        if previous == role {
            return;
        }
        match (&previous, &role) {
            (_, Role::Leader { term, .. }) => {
                tracing::info!("elected leader (term {term}) as {}", self.identity)
            }
            (Role::Leader { .. }, Role::Follower { leader }) => tracing::warn!(
                "no longer the leader; {}",
                leader
                    .as_ref()
                    .map_or("no leader known".to_owned(), |l| format!(
                        "the leader is {l}"
                    ))
            ),
            (
                _,
                Role::Follower {
                    leader: Some(leader),
                },
            ) => {
                tracing::info!("following the leader {leader}")
            }
            _ => {}
        }
        self.role.send_replace(role);
    }

    fn step_down(&self, why: &str) {
        if matches!(*self.role.borrow(), Role::Leader { .. }) {
            tracing::warn!("stepping down: {why}");
        }
        self.set_role(Role::Follower { leader: None });
    }

    fn resigned(&self) -> bool {
        self.resigned.load(std::sync::atomic::Ordering::SeqCst)
    }

    pub(super) async fn run(self: Arc<Self>) {
        while !self.resigned() {
            if let Err(err) = self.campaign_with_new_lease().await {
                self.step_down(&err);
                tracing::warn!("leader election: {err}; trying again");
            }
            tokio::time::sleep(self.step()).await;
        }
    }

    /// Grants a lease and campaigns with it until it is lost.
    async fn campaign_with_new_lease(&self) -> Result<(), String> {
        let timeout = self.store.inner.timeout.min(self.step());
        let gateway = self.store.gateway();
        let ttl_secs = i64::try_from(self.ttl.as_secs()).unwrap_or(i64::MAX);
        let sent = Instant::now();
        let lease = gateway
            .lease_grant(ttl_secs, timeout)
            .await
            .map_err(|err| match err {
                GatewayError::Timeout => "no answer to a lease grant".to_owned(),
                err => format!("cannot get a lease: {err}"),
            })?;
        *self.lease.lock().unwrap_or_else(|p| p.into_inner()) = Some(lease);
        *self.renewed.lock().unwrap_or_else(|p| p.into_inner()) = Some(sent);
        while !self.resigned() {
            self.campaign(lease).await?;
            tokio::time::sleep(self.step()).await;
            let sent = Instant::now();
            match gateway.lease_keep_alive(lease, timeout).await {
                Ok(ttl) if ttl > 0 => {
                    *self.renewed.lock().unwrap_or_else(|p| p.into_inner()) = Some(sent);
                }
                Ok(_) => return Err("the lease expired".to_owned()),
                Err(GatewayError::Timeout) if !self.lease_holds() => {
                    return Err("no answer to lease renewals".to_owned())
                }
                Err(err) if !self.lease_holds() => {
                    return Err(format!("cannot renew the lease: {err}"))
                }
                Err(_) => {
                    // Renewal failed, but the lease surely holds for a while:
                    // try again at the next step.
                    tracing::warn!("renewing the leader lease failed; retrying");
                }
            }
        }
        Ok(())
    }

    /// Takes the leader key if it is free, else learns who holds it.
    async fn campaign(&self, lease: i64) -> Result<(), String> {
        if self.resigned() {
            return Ok(());
        }
        if !self.lease_holds() {
            return Err("the lease may have expired".to_owned());
        }
        let key = self.store.leader_key();
        let txn = Txn {
            compare: vec![Compare::CreateRevision(key.clone(), 0)],
            success: vec![Op::Put {
                key: key.clone(),
                value: self.identity.clone().into_bytes(),
                lease: Some(lease),
            }],
            failure: vec![Op::Get(key.clone())],
        };
        let response = self
            .store
            .txn(&key, &txn)
            .await
            .map_err(|err| err.to_string())?;
        if response.succeeded {
            self.set_role(Role::Leader {
                term: response.revision(),
                identity: self.identity.clone(),
            });
            return Ok(());
        }
        match response.range(0) {
            Some(kv) if kv.lease == lease => self.set_role(Role::Leader {
                term: kv.create_revision,
                identity: self.identity.clone(),
            }),
            Some(kv) => self.set_role(Role::Follower {
                leader: Some(String::from_utf8_lossy(&kv.value).into_owned()),
            }),
            None => self.set_role(Role::Follower { leader: None }),
        }
        Ok(())
    }
}

#[async_trait]
impl Fence for Election {
    async fn confirm(&self, term: i64) -> Result<(), NotLeader> {
        let not_leader = |leader| Err(NotLeader { leader });
        if !self.lease_holds() {
            self.step_down("the lease could not be renewed in time");
            return not_leader(None);
        }
        let key = self.store.leader_key();
        let timeout = self.store.inner.timeout.min(self.step());
        match self.store.gateway().get(&key, timeout).await {
            Ok(Some(kv)) if kv.create_revision == term => Ok(()),
            Ok(Some(kv)) => {
                let leader = String::from_utf8_lossy(&kv.value).into_owned();
                self.set_role(Role::Follower {
                    leader: Some(leader.clone()),
                });
                not_leader(Some(leader))
            }
            Ok(None) => {
                self.set_role(Role::Follower { leader: None });
                not_leader(None)
            }
            // Cannot confirm: do not act.
            Err(_) => not_leader(None),
        }
    }

    async fn resign(&self) {
        self.resigned
            .store(true, std::sync::atomic::Ordering::SeqCst);
        let lease = *self.lease.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(lease) = lease {
            let timeout = self.store.inner.timeout.min(self.step());
            if let Err(err) = self.store.gateway().lease_revoke(lease, timeout).await {
                tracing::debug!("revoking the leader lease: {err}");
            }
        }
        self.step_down("shutting down");
    }
}
