//! [`DryRunActuator`]: a simulated deployment kept in a state file, for
//! `dry_run: true`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use async_trait::async_trait;

use crate::store::atomic::{move_aside_as, write_atomically as write_file};
use placer_core::{ActuatorError, MachineCount, Region, RegionActuator, Timestamp};
use serde::{Deserialize, Serialize};

/// The name errors from this actuator carry in [`ActuatorError::Backend`].
const BACKEND: &str = "dry-run";

/// Why the dry-run state file could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DryRunError {
    /// The file could not be read or written.
    #[error("cannot {action} dry-run state file {}: {source}", path.display())]
    Io {
        /// The file at fault.
        path: PathBuf,
        /// What was being done, e.g. `"write"`.
        action: &'static str,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The file held something other than a dry-run state. It was moved
    /// aside to `moved_to` and the simulation started afresh.
    #[error(
        "dry-run state file {} is not valid ({source}); moved it to {} and started from the initial regions",
        path.display(),
        moved_to.display()
    )]
    Corrupt {
        /// The file that was read.
        path: PathBuf,
        /// Where it is now.
        moved_to: PathBuf,
        /// What was wrong with its content.
        #[source]
        source: serde_json::Error,
    },
    /// A simulated deployment handed over from elsewhere (a shared state
    /// store) was not one; the simulation was left as it was.
    #[error("the simulated deployment read from {from} is not valid: {source}")]
    Invalid {
        /// Where it was read, for messages.
        from: String,
        /// What was wrong with it.
        #[source]
        source: serde_json::Error,
    },
}

/// The state file's content: every region the simulation has known, whether
/// it is deployed, how many machines it has, and when that last changed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StateFile {
    regions: BTreeMap<Region, RegionState>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RegionState {
    /// True while at least one machine runs there.
    deployed: bool,
    /// The region's machines, written only when they are not what
    /// `deployed` alone says (one running machine, or none): files of
    /// one machine per region, older ones included, have no such key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    machines: Option<MachineCount>,
    /// `null` for regions of the initial deployment, never changed since.
    changed_at: Option<Timestamp>,
}

impl RegionState {
    fn count(&self) -> MachineCount {
        self.machines.unwrap_or(if self.deployed {
            MachineCount::ONE
        } else {
            MachineCount::NONE
        })
    }
}

type Clock = Arc<dyn Fn() -> Timestamp + Send + Sync>;

/// A [`RegionActuator`] that only simulates: scaling changes counts of
/// machines per region kept in a JSON state file, never anything on Fly.
///
/// The file records each region known to the simulation, whether it is
/// deployed, its machines when they are not just one running machine, and
/// when that last changed:
///
/// ```json
/// {
///   "regions": {
///     "fra": { "deployed": true, "changed_at": "2026-11-28T10:00:00Z" },
///     "iad": { "deployed": true, "machines": { "running": 3, "standby": 1 },
///              "changed_at": "2026-11-28T10:05:00Z" },
///     "lhr": { "deployed": false, "changed_at": "2026-11-28T09:00:00Z" }
///   }
/// }
/// ```
///
/// Files written before counts (no `machines` key) load as one running
/// machine per deployed region.
///
/// Every change is written atomically (a temporary file in the same
/// directory, flushed to disk, then renamed over the old one), so a crash
/// leaves the old state or the new one, never half of one.
pub struct DryRunActuator {
    path: PathBuf,
    state: Mutex<StateFile>,
    clock: Clock,
    recovered: Option<DryRunError>,
}

impl fmt::Debug for DryRunActuator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DryRunActuator")
            .field("path", &self.path)
            .field("regions", &self.regions())
            .finish_non_exhaustive()
    }
}

impl DryRunActuator {
    /// Restores the simulation from `state_file`, or starts it from
    /// `initial` when the file does not exist (and writes it).
    ///
    /// A file that cannot be parsed is never overwritten: it is moved aside
    /// to `<name>.corrupt-<n>`, the simulation starts from `initial`, and
    /// [`recovered_from`](Self::recovered_from) returns
    /// [`DryRunError::Corrupt`] so the caller can report it.
    ///
    /// # Errors
    /// [`DryRunError::Io`] when the file exists but cannot be read, cannot be
    /// moved aside, or the new state cannot be written.
    pub fn open(
        state_file: impl Into<PathBuf>,
        initial: BTreeSet<Region>,
    ) -> Result<Self, DryRunError> {
        let path = state_file.into();
        let fresh = StateFile {
            regions: initial
                .into_iter()
                .map(|region| {
                    let state = RegionState {
                        deployed: true,
                        machines: None,
                        changed_at: None,
                    };
                    (region, state)
                })
                .collect(),
        };
        let io = |action, source| DryRunError::Io {
            path: path.clone(),
            action,
            source,
        };
        let (state, recovered, needs_write) = match std::fs::read(&path) {
            Ok(bytes) => match serde_json::from_slice::<StateFile>(&bytes) {
                Ok(state) => (state, None, false),
                Err(source) => {
                    let moved_to =
                        move_aside_as(&path, "corrupt").map_err(|err| io("move aside", err))?;
                    let error = DryRunError::Corrupt {
                        path: path.clone(),
                        moved_to,
                        source,
                    };
                    // Returned, not logged: the caller reports it once.
                    (fresh, Some(error), true)
                }
            },
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => (fresh, None, true),
            Err(err) => return Err(io("read", err)),
        };
        if needs_write {
            write_atomically(&path, &state).map_err(|err| io("write", err))?;
        }
        Ok(DryRunActuator {
            path,
            state: Mutex::new(state),
            clock: Arc::new(|| Timestamp::from_system_time(SystemTime::now())),
            recovered,
        })
    }

    /// Uses `clock` instead of the system clock to stamp changes (for
    /// replays and tests).
    #[cfg(test)]
    pub fn with_clock(mut self, clock: impl Fn() -> Timestamp + Send + Sync + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The simulated deployment: the regions with a running machine.
    pub fn regions(&self) -> BTreeSet<Region> {
        self.lock()
            .regions
            .iter()
            .filter(|(_, state)| state.count().is_deployed())
            .map(|(region, _)| *region)
            .collect()
    }

    /// The simulated machines: every region with at least one.
    pub fn counts(&self) -> BTreeMap<Region, MachineCount> {
        self.lock()
            .regions
            .iter()
            .map(|(region, state)| (*region, state.count()))
            .filter(|(_, count)| count.total() > 0)
            .collect()
    }

    /// When `region` was last deployed or removed; `None` for regions of the
    /// initial deployment and regions never seen.
    #[cfg(test)]
    pub fn changed_at(&self, region: &Region) -> Option<Timestamp> {
        self.lock().regions.get(region)?.changed_at
    }

    /// The simulated deployment as its state file holds it (JSON), to keep
    /// it somewhere else as well, such as a store shared by several placers.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(&*self.lock()).expect("the state always encodes")
    }

    /// Replaces the simulated deployment with one written by
    /// [`to_json`](Self::to_json), on disk first. `from` names where it was
    /// read, for the error.
    ///
    /// # Errors
    /// [`DryRunError::Invalid`] when `json` is not a simulated deployment,
    /// [`DryRunError::Io`] when the state file cannot be written; either
    /// way nothing changes.
    pub fn replace_from_json(&self, json: &[u8], from: &str) -> Result<(), DryRunError> {
        let next: StateFile =
            serde_json::from_slice(json).map_err(|source| DryRunError::Invalid {
                from: from.to_owned(),
                source,
            })?;
        let mut state = self.lock();
        write_atomically(&self.path, &next).map_err(|source| DryRunError::Io {
            path: self.path.clone(),
            action: "write",
            source,
        })?;
        *state = next;
        Ok(())
    }

    /// The problem found in the state file at [`open`](Self::open), if the
    /// file was moved aside and the simulation started afresh.
    pub fn recovered_from(&self) -> Option<&DryRunError> {
        self.recovered.as_ref()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, StateFile> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Sets `region` to `target` machines, on disk first: memory changes
    /// only once the file holds the new state, so the two never disagree.
    fn set(&self, region: &Region, target: MachineCount) -> Result<(), ActuatorError> {
        let mut state = self.lock();
        let current = state
            .regions
            .get(region)
            .map_or(MachineCount::NONE, RegionState::count);
        if current == target {
            return Ok(());
        }
        let deployed = target.is_deployed();
        let implied = if deployed {
            MachineCount::ONE
        } else {
            MachineCount::NONE
        };
        let mut next = state.clone();
        next.regions.insert(
            *region,
            RegionState {
                deployed,
                machines: (target != implied).then_some(target),
                changed_at: Some((self.clock)()),
            },
        );
        write_atomically(&self.path, &next).map_err(|source| {
            let error = DryRunError::Io {
                path: self.path.clone(),
                action: "write",
                source,
            };
            ActuatorError::backend(BACKEND, Some(region), error)
        })?;
        *state = next;
        Ok(())
    }
}

#[async_trait]
impl RegionActuator for DryRunActuator {
    async fn deployment(&self) -> Result<BTreeMap<Region, MachineCount>, ActuatorError> {
        Ok(self.counts())
    }

    async fn scale(&self, region: &Region, target: MachineCount) -> Result<(), ActuatorError> {
        self.set(region, target)
    }

    fn is_simulation(&self) -> bool {
        true
    }
}

fn write_atomically(path: &Path, state: &StateFile) -> std::io::Result<()> {
    let mut json = serde_json::to_vec_pretty(state).map_err(std::io::Error::other)?;
    json.push(b'\n');
    write_file(path, &json)
}

#[cfg(test)]
mod tests;
