//! The etcd store (`etcd://HOST:PORT[,HOST:PORT…]/PREFIX`, `etcds://` for
//! TLS) and its leader election, over etcd's v3 API through its JSON
//! gateway (HTTP on the client port, etcd 3.4 and later), so
//! that building it needs nothing but cargo. Requests go to one member at a
//! time; when it cannot be reached, the next one in the URL is asked. A
//! write that timed out is reported instead (it may still be applied, and
//! sent again it would fail its own revision check), and the next request
//! starts with the next member.
//!
//! Keys, all under the prefix:
//! - `PREFIX/apps/<app>/<item>` — one value per app and item (JSON);
//! - `PREFIX/apps/<app>/<item>.corrupt-<revision>` — an unreadable value set
//!   aside;
//! - `PREFIX/leader` — the leader's name, attached to its lease.
//!
//! **Revision-checked writes.** The store remembers, per key, the revision
//! it last read or wrote. A write is one transaction that puts the value
//! only if the key still has that revision *and* the leader key was still
//! created at this placer's term: a placer that missed a newer write gets
//! [`StoreError::Stale`], one that no longer leads [`StoreError::Fenced`].
//!
//! **Election.** Each placer holds a lease of `lease_ttl`, renewed every
//! third of it. A placer takes `PREFIX/leader` when no one has it (a
//! transaction: create if absent), attached to its lease; the revision
//! that created the key is its term. When the leader dies its lease runs
//! out and the key goes with it: another placer takes it within one TTL
//! plus a third. A leader that cannot renew steps down two thirds of a TTL
//! after its last successful renewal was sent — before the lease can
//! expire on the server, which counts from when it received that renewal.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::watch;

use super::leader::Role;
use super::url::EtcdUrl;
use super::{Aside, Leadership, NotLeader, OpenedStore, Opening, StateKey, StateStore, StateUrl};
use super::{StoreEntry, StoreError, StoreSettings};
use election::Election;
use gateway::{Connection, Credentials, Gateway};
use messages::{Compare, KeyValue, Op, Txn, TxnResponse};

mod election;
mod gateway;
mod messages;

/// The registry's line for `etcd://` URLs.
pub const ENTRY: StoreEntry = StoreEntry::new("etcd", open);
/// The registry's line for `etcds://` URLs (TLS).
pub const TLS_ENTRY: StoreEntry = StoreEntry::new("etcds", open);

fn open(settings: StoreSettings) -> Opening {
    Box::pin(async move {
        let store = EtcdStore::connect(&settings).await?;
        let leadership = store.join_election(&settings);
        Ok(OpenedStore {
            store: Arc::new(store),
            leadership,
        })
    })
}

/// Values as keys in etcd, written with revision checks and fenced by the
/// election.
#[derive(Debug, Clone)]
pub struct EtcdStore {
    inner: Arc<Inner>,
}

struct Inner {
    gateway: Gateway,
    prefix: String,
    described: String,
    timeout: Duration,
    /// The revision last read or written, per key.
    revisions: Mutex<HashMap<String, i64>>,
    /// The election's view, once joined: writes are fenced by its term.
    role: Mutex<Option<watch::Receiver<Role>>>,
}

impl std::fmt::Debug for Inner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EtcdStore")
            .field("at", &self.described)
            .finish_non_exhaustive()
    }
}

fn unavailable(at: &str, err: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable {
        at: at.to_owned(),
        problem: err.to_string(),
    }
}

impl EtcdStore {
    /// Connects to the cluster `settings` name (no election; see
    /// [`join_election`](Self::join_election)).
    ///
    /// # Errors
    /// [`StoreError::Unavailable`] when a setting is unusable (e.g. an
    /// unreadable certificate) or the cluster cannot be reached.
    pub async fn connect(settings: &StoreSettings) -> Result<EtcdStore, StoreError> {
        let StateUrl::Etcd(url) = &settings.url else {
            unreachable!("the registry hands etcd URLs only");
        };
        let described = settings.url.to_string();
        let username = settings.username.clone().or_else(|| url.username.clone());
        let password = settings.password.clone().or_else(|| url.password.clone());
        let credentials = username.map(|user| Credentials {
            user,
            password: password.unwrap_or_else(|| crate::Secret::new("")),
        });
        let tls = settings.tls || url.tls || settings.ca_file.is_some();
        let (ca_pem, identity_pem) = if tls {
            tls_files(settings).map_err(|problem| StoreError::Unavailable {
                at: described.clone(),
                problem,
            })?
        } else {
            (None, None)
        };
        let connection = Connection {
            endpoints: endpoints(url, tls),
            ca_pem,
            identity_pem,
            credentials,
            connect_timeout: settings.timeout,
        };
        let gateway = Gateway::connect(connection, settings.timeout)
            .await
            .map_err(|err| unavailable(&described, err))?;
        Ok(EtcdStore {
            inner: Arc::new(Inner {
                gateway,
                prefix: url.prefix.clone(),
                described,
                timeout: settings.timeout,
                revisions: Mutex::new(HashMap::new()),
                role: Mutex::new(None),
            }),
        })
    }

    /// The key holding `key`.
    pub fn key(&self, key: &StateKey) -> String {
        format!("{}/apps/{}/{}", self.inner.prefix, key.app, key.item.name())
    }

    /// The election's key.
    pub fn leader_key(&self) -> String {
        format!("{}/leader", self.inner.prefix)
    }

    /// Joins the election as `settings.identity` and keeps campaigning in
    /// the background; writes are fenced by its term from now on.
    pub fn join_election(&self, settings: &StoreSettings) -> Leadership {
        let (tx, rx) = watch::channel(Role::Follower { leader: None });
        *self.inner.role.lock().unwrap_or_else(|p| p.into_inner()) = Some(rx.clone());
        let election = Arc::new(Election::new(
            self.clone(),
            settings.identity.clone(),
            settings.lease_ttl.max(Duration::from_secs(2)),
            tx,
        ));
        tokio::spawn(Arc::clone(&election).run());
        Leadership::elected(rx, election)
    }

    fn gateway(&self) -> &Gateway {
        &self.inner.gateway
    }

    fn remember(&self, key: &str, revision: i64) {
        self.inner
            .revisions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key.to_owned(), revision);
    }

    fn remembered(&self, key: &str) -> i64 {
        self.inner
            .revisions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(key)
            .copied()
            .unwrap_or(0)
    }

    /// The term writes are fenced with: `None` outside an election, the
    /// leader's term, or who leads instead.
    fn fencing_term(&self) -> Result<Option<i64>, NotLeader> {
        let role = self.inner.role.lock().unwrap_or_else(|p| p.into_inner());
        match role.as_ref().map(|role| role.borrow().clone()) {
            None | Some(Role::Sole) => Ok(None),
            Some(Role::Leader { term, .. }) => Ok(Some(term)),
            Some(Role::Follower { leader }) => Err(NotLeader { leader }),
        }
    }

    async fn txn(&self, at: &str, txn: &Txn) -> Result<TxnResponse, StoreError> {
        self.gateway()
            .txn(txn, self.inner.timeout)
            .await
            .map_err(|err| unavailable(at, err))
    }

    async fn get(&self, at: &str, key: &str) -> Result<Option<KeyValue>, StoreError> {
        self.gateway()
            .get(key, self.inner.timeout)
            .await
            .map_err(|err| unavailable(at, err))
    }
}

fn endpoints(url: &EtcdUrl, tls: bool) -> Vec<String> {
    let scheme = if tls { "https" } else { "http" };
    url.endpoints
        .iter()
        .map(|host| format!("{scheme}://{host}"))
        .collect()
}

/// The CA certificate and the client certificate and key, read.
type TlsFiles = (Option<Vec<u8>>, Option<(Vec<u8>, Vec<u8>)>);

fn tls_files(settings: &StoreSettings) -> Result<TlsFiles, String> {
    let read = |path: &std::path::Path, what: &str| {
        std::fs::read(path).map_err(|err| format!("state.{what} {}: {err}", path.display()))
    };
    let ca = match &settings.ca_file {
        Some(ca) => Some(read(ca, "ca_file")?),
        None => None,
    };
    let identity = match (&settings.cert_file, &settings.key_file) {
        (Some(cert), Some(key)) => Some((read(cert, "cert_file")?, read(key, "key_file")?)),
        (None, None) => None,
        _ => return Err("state.cert_file and state.key_file go together".to_owned()),
    };
    Ok((ca, identity))
}

#[async_trait]
impl StateStore for EtcdStore {
    fn describe(&self) -> String {
        format!("etcd at {}", self.inner.described)
    }

    fn location(&self, key: &StateKey) -> String {
        format!("etcd key {}", self.key(key))
    }

    async fn load(&self, key: &StateKey) -> Result<Option<Vec<u8>>, StoreError> {
        let at = self.location(key);
        let name = self.key(key);
        match self.get(&at, &name).await? {
            Some(kv) => {
                self.remember(&name, kv.mod_revision);
                Ok(Some(kv.value))
            }
            None => {
                self.remember(&name, 0);
                Ok(None)
            }
        }
    }

    async fn save(&self, key: &StateKey, value: &[u8]) -> Result<(), StoreError> {
        let at = self.location(key);
        let name = self.key(key);
        let expected = self.remembered(&name);
        let term = self.fencing_term().map_err(|source| StoreError::Fenced {
            at: at.clone(),
            source,
        })?;
        let leader_key = self.leader_key();
        let mut compare = vec![Compare::ModRevision(name.clone(), expected)];
        if let Some(term) = term {
            compare.push(Compare::CreateRevision(leader_key.clone(), term));
        }
        let txn = Txn {
            compare,
            success: vec![Op::Put {
                key: name.clone(),
                value: value.to_vec(),
                lease: None,
            }],
            failure: vec![Op::Get(name.clone()), Op::Get(leader_key)],
        };
        let response = self.txn(&at, &txn).await?;
        if response.succeeded {
            self.remember(&name, response.revision());
            return Ok(());
        }
        let leader = response.range(1);
        if let Some(term) = term {
            if leader.map(|kv| kv.create_revision) != Some(term) {
                return Err(StoreError::Fenced {
                    at,
                    source: NotLeader {
                        leader: leader.map(|kv| String::from_utf8_lossy(&kv.value).into_owned()),
                    },
                });
            }
        }
        Err(StoreError::Stale {
            at,
            expected,
            found: response.range(0).map_or(0, |kv| kv.mod_revision),
        })
    }

    async fn move_aside(&self, key: &StateKey, why: Aside) -> Result<String, StoreError> {
        let at = self.location(key);
        let name = self.key(key);
        let Some(kv) = self.get(&at, &name).await? else {
            return Err(StoreError::Write {
                at,
                problem: "the key vanished before it could be moved aside".to_owned(),
            });
        };
        let aside = format!("{name}.{}-{}", why.label(), kv.mod_revision);
        let txn = Txn {
            compare: vec![
                Compare::ModRevision(name.clone(), kv.mod_revision),
                Compare::CreateRevision(aside.clone(), 0),
            ],
            success: vec![
                Op::Put {
                    key: aside.clone(),
                    value: kv.value,
                    lease: None,
                },
                Op::Delete(name.clone()),
            ],
            failure: Vec::new(),
        };
        let response = self.txn(&at, &txn).await?;
        if !response.succeeded {
            return Err(StoreError::Write {
                at,
                problem: "the key changed while it was being moved aside".to_owned(),
            });
        }
        self.remember(&name, 0);
        Ok(format!("etcd key {aside}"))
    }
}
