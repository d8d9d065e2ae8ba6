//! Where an app's state is kept: the [`StateStore`] seam, its backends and
//! the leadership that comes with a shared store.
//!
//! One setting chooses the backend: `state.url` (or `PLACER_STATE_URL`),
//! parsed into a [`StateUrl`]. Each backend is one module and one line in
//! [`STORES`]:
//!
//! - [`file`](mod@file) (`file:DIR`, the default: the data directory): today's files,
//!   written atomically, an unreadable one moved aside. One placer per
//!   directory (the data directory's lock), so it is always the leader.
//! - `etcd` (`etcd://HOST:PORT[,HOST:PORT…]/PREFIX`, cargo feature `etcd`,
//!   on by default): one key per app and item under the prefix, every write
//!   checked against the revision last read or written, so a stale writer
//!   cannot overwrite a newer state; with leader election over a lease (see
//!   [`leader`]). It talks to etcd 3.4 or later through etcd's JSON gateway
//!   over HTTP, so building it needs nothing but cargo.
//!
//! Values are opaque bytes to a store; [`load_json`] and [`save_json`] turn
//! them into values and handle an unusable one (kept aside, then a fresh
//! start).

pub mod atomic;
pub mod data_lock;
pub mod file;
pub mod leader;
mod section;
mod url;

#[cfg(feature = "etcd")]
pub mod etcd;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::de::DeserializeOwned;
use serde::Serialize;

pub use leader::{Leadership, NotLeader, Role};
pub use section::StateSection;
pub use url::{StateUrl, StateUrlError};

use placer_core::secret::Secret;

/// What is kept for an app, one value each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StateItem {
    /// The engine's memory in live mode.
    EngineState,
    /// The engine's memory in dry-run (kept apart from live, so simulated
    /// cooldowns never hold back real changes).
    EngineStateDryRun,
    /// The simulated deployment of a dry run without Fly credentials, kept
    /// in a shared store (with files it stays in the data directory's
    /// `deployment_state_dry_run.json`).
    SimulatedDeployment,
}

impl StateItem {
    /// Every item an app may have in a store.
    pub const ALL: [StateItem; 3] = [
        StateItem::EngineState,
        StateItem::EngineStateDryRun,
        StateItem::SimulatedDeployment,
    ];

    /// The item's name in keys: `engine_state`, `engine_state_dry_run`.
    pub fn name(self) -> &'static str {
        match self {
            StateItem::EngineState => "engine_state",
            StateItem::EngineStateDryRun => "engine_state_dry_run",
            StateItem::SimulatedDeployment => "simulated_deployment",
        }
    }

    /// The engine state item for the mode.
    pub fn engine_state(dry_run: bool) -> Self {
        if dry_run {
            StateItem::EngineStateDryRun
        } else {
            StateItem::EngineState
        }
    }
}

/// One value of one app.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StateKey {
    /// The app's key (its name, or `default`).
    pub app: String,
    /// Which of its values.
    pub item: StateItem,
}

impl StateKey {
    /// `item` of `app`.
    pub fn new(app: impl Into<String>, item: StateItem) -> Self {
        StateKey {
            app: app.into(),
            item,
        }
    }
}

/// Why a store could not read or write a value. Messages name the value
/// (file or key) and never hold credentials.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// The value is there but cannot be read; it may be moved aside.
    #[error("{at} cannot be read: {problem}")]
    Unreadable {
        /// The file or key.
        at: String,
        /// What is wrong.
        problem: String,
    },
    /// The store cannot be reached or failed; trying again may help.
    #[error("{at}: the state store is unavailable: {problem}")]
    Unavailable {
        /// The file, key or store.
        at: String,
        /// What failed.
        problem: String,
    },
    /// Someone else wrote the value since this process last read or wrote
    /// it: this writer is stale and must not overwrite the newer state.
    #[error("{at} was changed by another placer (revision {found}, expected {expected}); not overwritten")]
    Stale {
        /// The key.
        at: String,
        /// The revision this process last saw.
        expected: i64,
        /// The revision in the store.
        found: i64,
    },
    /// This process is no longer the leader: the store refused its write.
    #[error("{at} not written: {source}")]
    Fenced {
        /// The key.
        at: String,
        /// Who leads instead.
        #[source]
        source: NotLeader,
    },
    /// Writing failed.
    #[error("cannot write {at}: {problem}")]
    Write {
        /// The file or key.
        at: String,
        /// What failed.
        problem: String,
    },
    /// An unusable value could not be moved aside, so continuing would
    /// overwrite it.
    #[error("{at} cannot be used ({problem}) and could not be moved aside: {reason}")]
    MoveAside {
        /// The file or key.
        at: String,
        /// Why it could not be used.
        problem: String,
        /// Why moving it failed.
        reason: String,
    },
}

/// A place to keep apps' state. Implementations keep each [`StateKey`]
/// apart, write atomically, and refuse a write that would overwrite a value
/// someone else wrote since this store last read or wrote it
/// ([`StoreError::Stale`]).
#[async_trait]
pub trait StateStore: Send + Sync + std::fmt::Debug {
    /// The store in a few words, without credentials.
    fn describe(&self) -> String;

    /// Where `key` lives (a file, a key), for messages.
    fn location(&self, key: &StateKey) -> String;

    /// The value at `key`, `None` when there is none yet.
    ///
    /// # Errors
    /// [`StoreError::Unreadable`] when the value cannot be read (it may be
    /// moved aside); [`StoreError::Unavailable`] when the store cannot be
    /// reached.
    async fn load(&self, key: &StateKey) -> Result<Option<Vec<u8>>, StoreError>;

    /// Writes `value` at `key`.
    ///
    /// # Errors
    /// [`StoreError::Stale`] when someone else wrote `key` since this store
    /// last read or wrote it; [`StoreError::Fenced`] when a leader-only
    /// store is written by a process that no longer leads; others when the
    /// write failed.
    async fn save(&self, key: &StateKey, value: &[u8]) -> Result<(), StoreError>;

    /// Moves a value out of the way (`why` names the copy), never
    /// replacing an earlier copy, and says where it went.
    ///
    /// # Errors
    /// [`StoreError`] when it could not be moved.
    async fn move_aside(&self, key: &StateKey, why: Aside) -> Result<String, StoreError>;
}

/// Why a value is moved aside: the word in the copy's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Aside {
    /// It could not be read or used (`<key>.corrupt-…`).
    Unusable,
    /// Its app is placed no more (`<key>.dropped-…`): a new app of the
    /// same name starts afresh.
    Dropped,
}

impl Aside {
    /// The word in the copy's name: `corrupt` or `dropped`.
    pub fn label(self) -> &'static str {
        match self {
            Aside::Unusable => "corrupt",
            Aside::Dropped => "dropped",
        }
    }
}

/// The state settings in force (`state:` section, `PLACER_STATE_URL`,
/// `PLACER_STATE_PASSWORD`), resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct StoreSettings {
    /// Which store.
    pub url: StateUrl,
    /// Where the URL came from, for messages.
    pub url_from: String,
    /// User for a store with authentication (or from the URL).
    pub username: Option<String>,
    /// Its password.
    pub password: Option<Secret>,
    /// CA certificate (PEM) that signs the store's server certificates;
    /// setting it turns TLS on.
    pub ca_file: Option<std::path::PathBuf>,
    /// Client certificate (PEM) for mutual TLS.
    pub cert_file: Option<std::path::PathBuf>,
    /// Its private key (PEM).
    pub key_file: Option<std::path::PathBuf>,
    /// Whether to use TLS (on when `ca_file` is set or the scheme is
    /// `etcds`).
    pub tls: bool,
    /// How long a leader's lease lasts without renewal: the longest a
    /// failover waits for a leader that died.
    pub lease_ttl: Duration,
    /// This process's name in the election, shown by `/health`.
    pub identity: String,
    /// Time allowed for one request to the store.
    pub timeout: Duration,
}

impl StoreSettings {
    /// The settings in force from the `state:` section, the URL chosen
    /// (`PLACER_STATE_URL` or `state.url`, named by `url_from`), the
    /// password from the environment (which wins over `state.password`),
    /// and the identity to use when `state.identity` is not set.
    pub fn from_section(
        section: &StateSection,
        url: StateUrl,
        url_from: String,
        password: Option<Secret>,
        identity: String,
    ) -> StoreSettings {
        StoreSettings {
            url,
            url_from,
            username: section.username.clone(),
            password: password.or(section.password.clone()),
            ca_file: section.ca_file.clone(),
            cert_file: section.cert_file.clone(),
            key_file: section.key_file.clone(),
            tls: section.tls,
            lease_ttl: section.lease_ttl,
            identity: section.identity.clone().unwrap_or(identity),
            timeout: section.timeout,
        }
    }
}

/// A store and the leadership that goes with it.
#[derive(Debug, Clone)]
pub struct OpenedStore {
    /// The store.
    pub store: Arc<dyn StateStore>,
    /// Who acts.
    pub leadership: Leadership,
}

/// The future [`StoreEntry`]'s `open` returns.
pub type Opening = Pin<Box<dyn Future<Output = Result<OpenedStore, StoreError>> + Send>>;

/// A backend: the URL scheme it serves and how to open it.
#[derive(Debug, Clone, Copy)]
pub struct StoreEntry {
    scheme: &'static str,
    open: fn(StoreSettings) -> Opening,
}

impl StoreEntry {
    /// A backend for URLs starting `scheme:`.
    pub const fn new(scheme: &'static str, open: fn(StoreSettings) -> Opening) -> Self {
        StoreEntry { scheme, open }
    }

    /// The backend serving `scheme`.
    pub fn find(scheme: &str) -> Option<&'static StoreEntry> {
        STORES.iter().find(|entry| entry.scheme == scheme)
    }
}

/// Every backend built in: a new one is one module plus one line here.
pub static STORES: &[StoreEntry] = &[
    file::ENTRY,
    #[cfg(feature = "etcd")]
    etcd::ENTRY,
    #[cfg(feature = "etcd")]
    etcd::TLS_ENTRY,
];

/// Opens the store `settings` name (connecting, and for a shared store
/// joining the leader election).
///
/// # Errors
/// [`StoreError::Unavailable`] when it cannot be reached or set up.
pub async fn open(settings: StoreSettings) -> Result<OpenedStore, StoreError> {
    let scheme = settings.url.scheme();
    let Some(entry) = StoreEntry::find(scheme) else {
        return Err(StoreError::Unavailable {
            at: settings.url.to_string(),
            problem: format!(
                "this build has no `{scheme}` store (built without the cargo feature `{scheme}`)"
            ),
        });
    };
    (entry.open)(settings).await
}

/// The store an app's state goes to: with files, the app's own data
/// directory (`app_dir`: the data directory, or `apps/<app>/` inside it
/// with several apps); a shared store is `shared` itself, its keys naming
/// the app.
pub fn store_for_app(
    shared: &Arc<dyn StateStore>,
    settings: &StoreSettings,
    app_dir: &std::path::Path,
) -> Arc<dyn StateStore> {
    match settings.url {
        StateUrl::File(_) => Arc::new(file::FileStore::new(app_dir)),
        _ => Arc::clone(shared),
    }
}

/// What [`load_json`] found.
#[derive(Debug)]
pub enum Restored<T> {
    /// Nothing yet: start afresh.
    Missing,
    /// The value was read.
    Loaded(T),
    /// The value could not be used; it was moved aside. Start afresh.
    MovedAside {
        /// Why it could not be used.
        problem: String,
        /// Where it is now.
        moved_to: String,
    },
}

/// Reads the value at `key` as JSON; one that cannot be read or parsed is
/// moved aside ([`Restored::MovedAside`]).
///
/// # Errors
/// [`StoreError::Unavailable`] when the store cannot be reached (nothing is
/// moved then); [`StoreError::MoveAside`] when an unusable value cannot be
/// moved.
pub async fn load_json<T: DeserializeOwned>(
    store: &dyn StateStore,
    key: &StateKey,
) -> Result<Restored<T>, StoreError> {
    let problem = match store.load(key).await {
        Ok(None) => return Ok(Restored::Missing),
        Ok(Some(bytes)) => match serde_json::from_slice(&bytes) {
            Ok(value) => return Ok(Restored::Loaded(value)),
            Err(err) => format!("is not valid: {err}"),
        },
        Err(StoreError::Unreadable { problem, .. }) => format!("cannot be read: {problem}"),
        Err(err) => return Err(err),
    };
    match store.move_aside(key, Aside::Unusable).await {
        Ok(moved_to) => Ok(Restored::MovedAside { problem, moved_to }),
        Err(err) => Err(StoreError::MoveAside {
            at: store.location(key),
            problem,
            reason: err.to_string(),
        }),
    }
}

/// Writes `value` at `key` as compact JSON (one line; a reader of any
/// JSON, and every earlier build's reader, reads it as it read the
/// indented form written before).
///
/// # Errors
/// [`StoreError`] naming the file or key.
pub async fn save_json<T: Serialize>(
    store: &dyn StateStore,
    key: &StateKey,
    value: &T,
) -> Result<(), StoreError> {
    let mut bytes = serde_json::to_vec(value).map_err(|err| StoreError::Write {
        at: store.location(key),
        problem: format!("cannot encode: {err}"),
    })?;
    bytes.push(b'\n');
    store.save(key, &bytes).await
}
