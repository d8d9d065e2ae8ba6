//! [`Leadership`]: whether this placer acts. With a shared store several
//! placers run, every one serving the read endpoints; only the leader ticks
//! and acts. With the file store the data directory's lock already keeps
//! others out, so the one placer is the sole leader ([`Role::Sole`]).
//!
//! A leader checks it still leads ([`Leadership::confirm`]) before each
//! batch of actions, and the shared store refuses its writes once it does
//! not ([`StoreError::Fenced`](super::StoreError::Fenced)).

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;
use serde::Serialize;
use tokio::sync::watch;

/// This placer's part in the election.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "role", rename_all = "snake_case")]
pub enum Role {
    /// The only placer (file store): always acts.
    Sole,
    /// Elected: ticks and acts.
    Leader {
        /// The term, unique to this election win (etcd: the revision that
        /// created the leader key). State is reloaded when it changes.
        term: i64,
        /// This placer's name.
        identity: String,
    },
    /// Another placer leads, or none does yet: serves the read endpoints
    /// only.
    Follower {
        /// The leader's name, when one is known.
        leader: Option<String>,
    },
}

impl Role {
    /// `leader`, `follower` (`/health`'s words; the sole placer leads).
    pub fn name(&self) -> &'static str {
        match self {
            Role::Sole | Role::Leader { .. } => "leader",
            Role::Follower { .. } => "follower",
        }
    }
}

/// A placer that does not lead was asked to act.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct NotLeader {
    /// Who leads, when known.
    pub leader: Option<String>,
}

impl fmt::Display for NotLeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.leader {
            Some(leader) => write!(f, "this placer is a follower; the leader is {leader}"),
            None => write!(
                f,
                "this placer is a follower and no leader is elected at the moment"
            ),
        }
    }
}

/// The check behind [`Leadership::confirm`], done by the store.
#[async_trait]
pub trait Fence: Send + Sync + fmt::Debug {
    /// Confirms with the store that `term` still leads.
    ///
    /// # Errors
    /// [`NotLeader`] when it does not, or when the store cannot say.
    async fn confirm(&self, term: i64) -> Result<(), NotLeader>;

    /// Gives leadership up now (at shutdown), so another placer takes over
    /// without waiting for the lease to run out.
    async fn resign(&self);
}

/// Whether this placer acts, kept up to date by the store. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Leadership {
    role: watch::Receiver<Role>,
    fence: Option<Arc<dyn Fence>>,
}

impl Leadership {
    /// The only placer: always leads.
    pub fn sole() -> Self {
        let (_, role) = watch::channel(Role::Sole);
        Leadership { role, fence: None }
    }

    /// Leadership as an election reports it through `role`, confirmed with
    /// `fence`.
    pub fn elected(role: watch::Receiver<Role>, fence: Arc<dyn Fence>) -> Self {
        Leadership {
            role,
            fence: Some(fence),
        }
    }

    /// The role now.
    pub fn role(&self) -> Role {
        self.role.borrow().clone()
    }

    /// Whether this placer is in an election (a shared store).
    pub fn is_elected(&self) -> bool {
        self.fence.is_some()
    }

    /// The term this placer leads in (`0` for the sole placer), or who
    /// leads instead. Does not ask the store: see [`confirm`](Self::confirm).
    ///
    /// # Errors
    /// [`NotLeader`] naming the leader.
    pub fn term(&self) -> Result<i64, NotLeader> {
        match self.role() {
            Role::Sole => Ok(0),
            Role::Leader { term, .. } => Ok(term),
            Role::Follower { leader } => Err(NotLeader { leader }),
        }
    }

    /// Confirms with the store that this placer still leads, right before
    /// a batch of actions, and returns the term.
    ///
    /// # Errors
    /// [`NotLeader`] when it does not lead (any more).
    pub async fn confirm(&self) -> Result<i64, NotLeader> {
        let term = self.term()?;
        if let Some(fence) = &self.fence {
            fence.confirm(term).await?;
        }
        Ok(term)
    }

    /// Resolves when the role changes.
    pub async fn changed(&mut self) {
        if self.role.changed().await.is_err() {
            std::future::pending::<()>().await;
        }
    }

    /// Gives leadership up (at shutdown); nothing for the sole placer.
    pub async fn resign(&self) {
        if let Some(fence) = &self.fence {
            fence.resign().await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sole_placer_always_leads() {
        let sole = Leadership::sole();
        assert_eq!(sole.term(), Ok(0));
        assert_eq!(sole.role().name(), "leader");
        assert!(!sole.is_elected());
    }

    #[test]
    fn a_follower_names_the_leader() {
        let message = NotLeader {
            leader: Some("placer-b".into()),
        }
        .to_string();
        assert_eq!(message, "this placer is a follower; the leader is placer-b");
    }
}
