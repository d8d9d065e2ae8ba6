//! In-memory [`MetricsSource`] and [`RegionActuator`] for tests, backtests
//! and embedders that hold their own data.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;

use crate::network::platform::PlatformRegions;
use crate::{
    ActuatorError, MachineCount, MetricsError, MetricsSource, Region, RegionActuator, Timestamp,
    TrafficSnapshot,
};

/// A [`MetricsSource`] that plays back a script of snapshots and failures,
/// one per fetch, in order.
///
/// ```
/// # futures::executor::block_on(async {
/// use placer_core::{MetricsSource, ScriptedSource, Timestamp, TrafficSnapshot};
///
/// let t = Timestamp::from_unix_seconds(60);
/// let source = ScriptedSource::new();
/// source.push(TrafficSnapshot::new(t, [("iad", 10.0)]).unwrap());
/// source.push_failure("prometheus is down");
///
/// assert_eq!(source.fetch(t).await.unwrap().total(), 10.0);
/// assert!(source.fetch(t).await.is_err());
/// assert!(source.fetch(t).await.is_err()); // script exhausted
/// # });
/// ```
#[derive(Debug, Default)]
pub struct ScriptedSource {
    script: Mutex<VecDeque<Result<TrafficSnapshot, String>>>,
}

impl ScriptedSource {
    /// An empty script.
    pub fn new() -> Self {
        Self::default()
    }

    /// A script that yields `snapshots` in order.
    pub fn from_snapshots(snapshots: impl IntoIterator<Item = TrafficSnapshot>) -> Self {
        let source = Self::new();
        for snapshot in snapshots {
            source.push(snapshot);
        }
        source
    }

    /// Appends a snapshot to the script.
    pub fn push(&self, snapshot: TrafficSnapshot) {
        self.lock().push_back(Ok(snapshot));
    }

    /// Appends a failed fetch with `message` to the script.
    pub fn push_failure(&self, message: impl Into<String>) {
        self.lock().push_back(Err(message.into()));
    }

    /// Number of scripted steps not yet fetched.
    pub fn remaining(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Result<TrafficSnapshot, String>>> {
        self.script
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait]
impl MetricsSource for ScriptedSource {
    async fn fetch(&self, at: Timestamp) -> Result<TrafficSnapshot, MetricsError> {
        match self.lock().pop_front() {
            Some(Ok(snapshot)) => Ok(snapshot),
            Some(Err(message)) => Err(MetricsError::backend("scripted", message)),
            None => Err(MetricsError::NoSample { at }),
        }
    }
}

/// A [`RegionActuator`] that keeps the deployment in memory: how many
/// machines run in each region and how many are kept stopped as standbys.
///
/// It is a simulation ([`RegionActuator::is_simulation`] is true), so the
/// engine drives it in dry-run too. Individual regions can be made to fail, to
/// exercise partial failures, and a test can play Fly's proxy starting a
/// standby on a spike ([`start_standby`](Self::start_standby)) and stopping
/// it when idle ([`stop_started`](Self::stop_started)).
///
/// ```
/// # futures::executor::block_on(async {
/// use placer_core::{InMemoryActuator, MachineCount, RegionActuator, Region};
///
/// let iad: Region = "iad".parse().unwrap();
/// let actuator = InMemoryActuator::new([]);
/// actuator.scale(&iad, MachineCount::new(3, 1)).await.unwrap();
/// assert!(actuator.start_standby(&iad)); // the proxy starts it
/// assert_eq!(actuator.deployment().await.unwrap()[&iad], MachineCount::new(4, 0));
/// actuator.scale(&iad, MachineCount::NONE).await.unwrap();
/// assert!(actuator.regions().is_empty());
/// # });
/// ```
///
/// ```
/// # futures::executor::block_on(async {
/// use placer_core::{InMemoryActuator, RegionActuator, Region};
///
/// let fra: Region = "fra".parse().unwrap();
/// let actuator = InMemoryActuator::new(["iad".parse().unwrap()]);
/// actuator.deploy(&fra).await.unwrap();
/// assert!(actuator.deployed_regions().await.unwrap().contains(&fra));
/// # });
/// ```
#[derive(Debug, Default)]
pub struct InMemoryActuator {
    inner: Mutex<ActuatorState>,
}

#[derive(Debug, Default)]
struct ActuatorState {
    /// Every region with a machine of ours, running or standby.
    machines: BTreeMap<Region, MachineCount>,
    failing: BTreeSet<Region>,
    /// Errors to answer the next calls about a region with, and how many
    /// times.
    refusals: BTreeMap<Region, (u32, ActuatorError)>,
    listing_fails: bool,
    /// What `platform_regions` answers.
    platform: Option<Arc<PlatformRegions>>,
    transient_failures: u32,
    transient_retry_after: Option<Duration>,
    calls: Vec<ActuatorCall>,
}

impl ActuatorState {
    /// Takes one injected error for `region`, if any are left.
    fn take_refusal(&mut self, region: &Region) -> Result<(), ActuatorError> {
        let Some((left, error)) = self.refusals.get_mut(region) else {
            return Ok(());
        };
        let error = error.clone();
        *left -= 1;
        if *left == 0 {
            self.refusals.remove(region);
        }
        Err(error)
    }

    /// Takes one injected transient failure, if any are left.
    fn take_transient(&mut self, region: Option<&Region>) -> Result<(), ActuatorError> {
        if self.transient_failures == 0 {
            return Ok(());
        }
        self.transient_failures -= 1;
        let error = ActuatorError::backend("in-memory", region, "transient failure");
        Err(match self.transient_retry_after {
            Some(after) => error.with_retry_after(after),
            None => error.transient(),
        })
    }
}

/// A deploy, remove or scale call received by an [`InMemoryActuator`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActuatorCall {
    /// `deploy(region)` was called: a scale to one running machine.
    Deploy(Region),
    /// `remove(region)` was called: a scale to no machine.
    Remove(Region),
    /// `scale(region, target)` was called with any other count.
    Scale(Region, MachineCount),
}

impl InMemoryActuator {
    /// An actuator whose app runs in `regions`.
    pub fn new(regions: impl IntoIterator<Item = Region>) -> Self {
        InMemoryActuator {
            inner: Mutex::new(ActuatorState {
                machines: regions
                    .into_iter()
                    .map(|region| (region, MachineCount::ONE))
                    .collect(),
                ..ActuatorState::default()
            }),
        }
    }

    /// The same actuator, reporting `platform` as the platform's picture
    /// of its regions ([`RegionActuator::platform_regions`]), as an
    /// actuator that reads Fly's regions does.
    pub fn with_platform_regions(self, platform: PlatformRegions) -> Self {
        self.set_platform_regions(Some(platform));
        self
    }

    /// Reports `platform` from now on (`None`: no picture, the engine
    /// keeps the one it has), as when the platform's answer changes:
    /// capacity comes back to a region, a region is deprecated.
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use placer_core::network::platform::{PlatformRegion, PlatformRegions};
    /// use placer_core::{InMemoryActuator, RegionActuator, Timestamp};
    ///
    /// let at = Timestamp::from_unix_seconds(1_800_000_000);
    /// let full = PlatformRegion::new("syd".parse().unwrap(), -33.95, 151.18).with_capacity(0);
    /// let actuator = InMemoryActuator::new([])
    ///     .with_platform_regions(PlatformRegions::from_platform([full], at));
    /// let picture = actuator.platform_regions().await.unwrap();
    /// assert!(!picture.is_deployable(&"syd".parse().unwrap()));
    /// actuator.set_platform_regions(None);
    /// assert!(actuator.platform_regions().await.is_none());
    /// # });
    /// ```
    pub fn set_platform_regions(&self, platform: Option<PlatformRegions>) {
        self.lock().platform = platform.map(Arc::new);
    }

    /// Makes every later deploy or remove of `region` fail: a deploy with
    /// [`ActuatorError::RegionUnavailable`] (as when the backend has no
    /// capacity there, so the engine backs off from the region), a removal
    /// with a backend error.
    pub fn fail_region(&self, region: Region) {
        self.lock().failing.insert(region);
    }

    /// Makes the next `times` deploys or removes of `region` fail with
    /// `error`; later ones succeed again. A failed call changes nothing.
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use placer_core::{ActuatorError, InMemoryActuator, RegionActuator, Region};
    ///
    /// let nrt: Region = "nrt".parse().unwrap();
    /// let actuator = InMemoryActuator::new([]);
    /// actuator.refuse_region(nrt, 2, ActuatorError::region_unavailable("fly", &nrt, "no capacity"));
    /// assert!(actuator.deploy(&nrt).await.unwrap_err().unavailable_region().is_some());
    /// assert!(actuator.deploy(&nrt).await.is_err());
    /// actuator.deploy(&nrt).await.unwrap();
    /// assert!(actuator.regions().contains(&nrt));
    /// # });
    /// ```
    pub fn refuse_region(&self, region: Region, times: u32, error: ActuatorError) {
        let mut state = self.lock();
        if times == 0 {
            state.refusals.remove(&region);
        } else {
            state.refusals.insert(region, (times, error));
        }
    }

    /// Makes the next `times` calls of any kind fail with a transient error
    /// ([`ActuatorError::is_transient`]), asking to wait `retry_after` if
    /// given, as a backend does when it is briefly unavailable. A failed
    /// call changes nothing.
    pub fn fail_transiently(&self, times: u32, retry_after: Option<Duration>) {
        let mut state = self.lock();
        state.transient_failures = times;
        state.transient_retry_after = retry_after;
    }

    /// Makes later listings fail (`fails = true`) or succeed again.
    pub fn fail_listing(&self, fails: bool) {
        self.lock().listing_fails = fails;
    }

    /// The regions currently deployed: those with a running machine.
    pub fn regions(&self) -> BTreeSet<Region> {
        self.lock()
            .machines
            .iter()
            .filter(|(_, count)| count.is_deployed())
            .map(|(region, _)| *region)
            .collect()
    }

    /// Every region with a machine, and how many run and stand by.
    pub fn machines(&self) -> BTreeMap<Region, MachineCount> {
        self.lock().machines.clone()
    }

    /// Plays Fly's proxy starting one of `region`'s standbys on a spike:
    /// it counts as running from now on. False when the region has none.
    pub fn start_standby(&self, region: &Region) -> bool {
        let mut state = self.lock();
        match state.machines.get_mut(region) {
            Some(count) if count.standby > 0 => {
                count.standby -= 1;
                count.running += 1;
                true
            }
            _ => false,
        }
    }

    /// Plays Fly's proxy stopping an idle machine of `region`: it counts
    /// as a standby again. False when none runs.
    pub fn stop_started(&self, region: &Region) -> bool {
        let mut state = self.lock();
        match state.machines.get_mut(region) {
            Some(count) if count.running > 0 => {
                count.running -= 1;
                count.standby += 1;
                true
            }
            _ => false,
        }
    }

    /// Every deploy, remove and scale call received so far, in order.
    pub fn calls(&self) -> Vec<ActuatorCall> {
        self.lock().calls.clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ActuatorState> {
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[async_trait]
impl RegionActuator for InMemoryActuator {
    async fn deployment(&self) -> Result<BTreeMap<Region, MachineCount>, ActuatorError> {
        let mut state = self.lock();
        state.take_transient(None)?;
        if state.listing_fails {
            return Err(ActuatorError::backend("in-memory", None, "listing failed"));
        }
        Ok(state.machines.clone())
    }

    /// Brings `region` to `target`. Logged as a [deploy](ActuatorCall::Deploy)
    /// for [`MachineCount::ONE`], a [removal](ActuatorCall::Remove) for
    /// [`MachineCount::NONE`], a [scale](ActuatorCall::Scale) otherwise.
    async fn scale(&self, region: &Region, target: MachineCount) -> Result<(), ActuatorError> {
        let mut state = self.lock();
        state.calls.push(match target {
            MachineCount::ONE => ActuatorCall::Deploy(*region),
            MachineCount::NONE => ActuatorCall::Remove(*region),
            _ => ActuatorCall::Scale(*region, target),
        });
        state.take_transient(Some(region))?;
        state.take_refusal(region)?;
        if state.failing.contains(region) {
            return Err(if target.is_deployed() {
                ActuatorError::region_unavailable("in-memory", region, "deploy failed")
            } else {
                ActuatorError::backend("in-memory", Some(region), "remove failed")
            });
        }
        if target.total() == 0 {
            state.machines.remove(region);
        } else {
            state.machines.insert(*region, target);
        }
        Ok(())
    }

    fn is_simulation(&self) -> bool {
        true
    }

    async fn platform_regions(&self) -> Option<Arc<PlatformRegions>> {
        self.lock().platform.clone()
    }
}
