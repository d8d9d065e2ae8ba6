//! [`FlyMachinesActuator`]: scales regions by cloning, destroying or
//! stopping an app's machines.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use placer_core::network::platform::PlatformRegions;
use placer_core::{ActuatorError, MachineCount, Region, RegionActuator, Timestamp};
use tokio::time::Instant;

use crate::client::{MachinesClient, MAX_WAIT};
use crate::gate::RequestGate;
use crate::ledger::{Change, Ledger};
use crate::machine::{Machine, MachineConfig, StopConfig};
use crate::naming::NameFamily;
use crate::options::{
    MANAGED_KEY, MANAGED_VALUE, PARKED_KEY, PROCESS_GROUP_KEY, ROLE_KEY, ROLE_RUNNING, ROLE_STANDBY,
};
use crate::platform::{guest_size, PlatformRegionsCache};
use crate::{FlyError, FlyOptions, RemovalMode};

/// The name errors from this actuator carry in [`ActuatorError::Backend`].
pub const BACKEND: &str = "fly";

/// A [`RegionActuator`] over the Fly Machines API.
///
/// - **Deployment**: per region, the machines of the process group that
///   are alive (not destroyed, destroying or failed, host not unreachable)
///   and not parked, counted as standbys when their role is standby
///   (metadata `fly_placer_role=standby`) and they are not started, and as
///   running otherwise ([`Machine::counts_as_standby`]): a standby Fly's
///   proxy started counts as running until the proxy stops it. Read from
///   the API at every call.
/// - **Scale up**: the missing machines of each role are added: machines
///   parked there by [`RemovalMode::Stop`] first, then clones of the
///   template machine's config, marked `fly_placer=managed` and with their
///   role, named `fly-placer-<group>-<region>-<n>` with the lowest numbers
///   free in the region; standbys are created stopped (`skip_launch`).
///   Every machine of the group in the region counts, whoever made it. A
///   standby the proxy runs keeps its slot: no other standby is made for
///   it. A create whose answer is lost (a
///   5xx, no answer, an unreadable one), or one that made a machine the
///   listing does not show yet and then failed for good (the machine did
///   not start within `wait_for_start`), fails with
///   [`ActuatorError::InDoubt`]: the engine then keeps the region pending in
///   its persisted state and does not deploy it again until the listing
///   shows the machine or its grace period has passed. The name is the
///   second guard: a create repeated under it (after the grace period, by a
///   process that lost that state) is refused by an API that keeps names
///   unique, and the machine holding the name is adopted instead
///   (`docs/design.md`, "Idempotent creates").
/// - **Scale down**: under each machine's lease, destroys or stops (and
///   parks) the surplus of each role, newest first (highest number), only
///   machines marked as fly-placer's unless
///   [`manage_unmarked`](FlyOptions::manage_unmarked) is set, never a
///   standby the proxy runs, and never the process group's last started
///   machine. Machines it may not touch stay, even above the target.
/// - **Scale to none**: removes every machine of the region (refused when
///   some are not fly-placer's, or they are the process group's last
///   running or last started machines); a standby the proxy runs is left
///   until it stops, and the change is then [busy](ActuatorError::Busy). A destroy
///   stops the machine first with the template's `stop_config` and
///   destroys it once stopped; force only after
///   [`force_destroy_after`](FlyOptions::force_destroy_after).
/// - **Leases**: before it stops, parks or destroys a machine the actuator
///   takes the machine's lease (`POST …/lease`, a TTL of the longest wait
///   of the removal plus 30 s), sends its nonce in the
///   [`fly-machine-lease-nonce`](crate::LEASE_NONCE_HEADER) header of the
///   calls that change the machine, and releases it after, also after a
///   failure. A machine whose lease another client holds (a `fly deploy`
///   under way) is left alone: the removal is refused for this tick with
///   the reason "[being changed by another client](LEASED_ELSEWHERE)",
///   and not retried within the tick. Creates take no lease.
///
/// Scale calls are serialized, so the last-machine check always
/// sees the effect of the previous change.
///
/// **One listing per tick**: `deployment`, which the engine calls at
/// the start of every tick, always lists; the changes that
/// follow reuse that listing (with the actuator's own changes laid over it)
/// for up to [`LISTING_REUSE`] instead of listing again, and so do their
/// retries, until the engine says the tick is over
/// ([`RegionActuator::tick_finished`]), which lets the listing go. An answer that may have changed the app without saying how (a
/// 5xx, a request without an answer, a create in doubt) drops the listing,
/// so the next attempt looks again.
///
/// Every request keeps to Fly's per-app, per-action limits
/// ([`FlyOptions::api_limits`]) in the buckets of its [`RequestGate`]. A
/// 429 answer's `Retry-After` holds back that app's action until it has
/// passed; the request goes out again then when the wait is short, and
/// nothing is done twice (a 429 changes nothing).
///
/// **The platform's regions** ([`RegionActuator::platform_regions`]) are
/// read from `GET /v1/platform/regions` at the first call, for the template
/// machine's guest size (`?size=shared-cpu-1x` …), and again once
/// [`platform_regions_refresh`](FlyOptions::platform_regions_refresh) has
/// passed; calls in between answer from that read. After a create refused
/// for the region's capacity, the next call reads them again. When they
/// cannot be read (the API is down, the answer is unreadable, or the token
/// may not read them) the answer is the built-in catalog
/// ([`PlatformRegions::fallback`]) with the reason, logged once per
/// distinct reason, and the next read is tried at the next refresh.
pub struct FlyMachinesActuator {
    settings: FlyOptions,
    client: MachinesClient,
    gate: RequestGate,
    ledger: Mutex<Ledger>,
    listing: Mutex<Option<(Vec<Machine>, Instant)>>,
    changes: tokio::sync::Mutex<()>,
    /// The platform's regions as read last, maybe shared with other apps'
    /// actuators.
    platform: PlatformRegionsCache,
}

/// How long the changes of a tick reuse the latest listing.
pub const LISTING_REUSE: Duration = Duration::from_secs(30);

impl fmt::Debug for FlyMachinesActuator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FlyMachinesActuator")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl FlyMachinesActuator {
    /// Validates `settings` and builds the HTTP client. Sends nothing.
    ///
    /// # Errors
    /// [`FlyError::InvalidSettings`] naming the field at fault.
    pub fn new(settings: FlyOptions) -> Result<Self, FlyError> {
        Self::with_gate(settings, RequestGate::new())
    }

    /// Like [`new`](Self::new), with requests held back by `gate`, which
    /// other actuators using the same token may share.
    ///
    /// # Errors
    /// [`FlyError::InvalidSettings`] naming the field at fault.
    pub fn with_gate(settings: FlyOptions, gate: RequestGate) -> Result<Self, FlyError> {
        settings.validate()?;
        let client = MachinesClient::new(&settings, gate.clone())?;
        Ok(FlyMachinesActuator {
            ledger: Mutex::new(Ledger::new(settings.consistency_window)),
            settings,
            client,
            gate,
            listing: Mutex::new(None),
            changes: tokio::sync::Mutex::new(()),
            platform: PlatformRegionsCache::new(),
        })
    }

    /// The same actuator, keeping the platform's regions in `cache`, which
    /// the actuators of other apps (with the same token and API) share:
    /// they are read once per guest size and refresh for all of them.
    pub fn sharing_platform_regions(mut self, cache: PlatformRegionsCache) -> Self {
        self.platform = cache;
        self
    }

    /// How this actuator's Machines API requests were answered so far,
    /// counted as they are: a handle to take before wrapping the actuator,
    /// read with [`snapshot`](crate::RequestCounter::snapshot). For a
    /// program's metrics: how many were rate limited (429), failed on Fly's
    /// side (5xx) or got no answer.
    pub fn request_counter(&self) -> crate::RequestCounter {
        self.client.counter().clone()
    }

    /// The platform's regions: the latest read while it is fresh, else
    /// read now (see the type's documentation). Never fails: a failed read
    /// answers the built-in catalog with its reason.
    pub async fn read_platform_regions(&self) -> Arc<PlatformRegions> {
        let size = self.template_size().await;
        let mut sizes = self.platform.lock().await;
        let cache = sizes.entry(size.clone()).or_default();
        if let Some(picture) = cache.fresh(Instant::now(), self.settings.platform_regions_refresh) {
            return picture;
        }
        let read = self.client.platform_regions(size.as_deref()).await;
        let at = Timestamp::from_system_time(SystemTime::now());
        cache.store(
            read,
            self.settings.app_name(),
            size.as_deref(),
            at,
            Instant::now(),
        )
    }

    /// The guest size of the machine new regions get, from the latest
    /// listing; `None` when there is no template (Fly then answers for its
    /// default size).
    async fn template_size(&self) -> Option<String> {
        let machines = self.recent_machines().await.ok()?;
        // The region only names where a deploy was going in template's
        // errors, which are not used here.
        let anywhere: Region = "iad".parse().ok()?;
        let template = self.template(&machines, &anywhere).ok()?;
        guest_size(&template.config)
    }

    /// What keeps `standby_per_region` standbys from working with the
    /// template machine's services (see [`standby_warnings`](crate::standby_warnings)),
    /// read from the latest listing. Sends nothing when no standby is
    /// asked for.
    ///
    /// # Errors
    /// [`FlyError`] when the machines cannot be listed, or there is no
    /// template machine to read.
    pub async fn standby_warnings(&self, standby_per_region: u32) -> Result<Vec<String>, FlyError> {
        if standby_per_region == 0 {
            return Ok(Vec::new());
        }
        let machines = self.recent_machines().await?;
        // The region only names where a deploy was going in template's
        // errors.
        let anywhere: Region = "iad".parse().expect("a valid region");
        let template = self.template(&machines, &anywhere)?;
        Ok(crate::standby_warnings(
            &template.config,
            standby_per_region,
        ))
    }

    /// The gate whose buckets keep this actuator within Fly's limits (and
    /// hold its app's action back after a 429).
    pub fn gate(&self) -> &RequestGate {
        &self.gate
    }

    /// The settings this actuator was built with.
    pub fn settings(&self) -> &FlyOptions {
        &self.settings
    }

    /// Every machine of the app as the actuator sees it: the API's listing
    /// with the actuator's own changes of the last
    /// [`consistency_window`](FlyOptions::consistency_window) laid over it.
    ///
    /// # Errors
    /// [`FlyError`] when the listing fails.
    pub async fn machines(&self) -> Result<Vec<Machine>, FlyError> {
        let listed = self.client.list().await?;
        *self.lock_listing() = Some((listed.clone(), Instant::now()));
        Ok(self.ledger().reconcile(listed, Instant::now()))
    }

    /// [`machines`](Self::machines), from the latest listing while it may
    /// be reused.
    async fn recent_machines(&self) -> Result<Vec<Machine>, FlyError> {
        let now = Instant::now();
        let cached = self
            .lock_listing()
            .as_ref()
            .filter(|(_, at)| now.saturating_duration_since(*at) < LISTING_REUSE)
            .map(|(listed, _)| listed.clone());
        match cached {
            Some(listed) => Ok(self.ledger().reconcile(listed, now)),
            None => self.machines().await,
        }
    }

    /// Drops the latest listing after `err`, unless `err` says the app is
    /// as listed.
    fn after_failure(&self, err: &FlyError) {
        if err.may_have_taken_effect() || err.is_creation_in_doubt() {
            self.forget_listing();
        }
    }

    fn forget_listing(&self) {
        *self.lock_listing() = None;
    }

    fn lock_listing(&self) -> std::sync::MutexGuard<'_, Option<(Vec<Machine>, Instant)>> {
        self.listing
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn ledger(&self) -> std::sync::MutexGuard<'_, Ledger> {
        self.ledger
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn in_group(&self, machine: &Machine) -> bool {
        machine.process_group() == self.settings.process_group
    }

    /// The process group's alive machines in `region`, parked ones included.
    fn alive_in<'a>(&self, machines: &'a [Machine], region: &Region) -> Vec<&'a Machine> {
        machines
            .iter()
            .filter(|m| self.in_group(m) && &m.region == region && m.is_alive())
            .collect()
    }

    /// True for a machine this actuator may stop, park or destroy: one it
    /// made, or any of the group with `manage_unmarked`.
    fn may_remove(&self, machine: &Machine) -> bool {
        machine.is_managed() || self.settings.manage_unmarked
    }

    /// Brings `region` to `target`: see the type's documentation.
    async fn scale_region(
        &self,
        region: &Region,
        target: MachineCount,
    ) -> Result<(), ScaleFailure> {
        if !target.is_deployed() {
            if target.standby > 0 {
                return Err(ScaleFailure::Refused(format!(
                    "a region without running machines keeps no standby (asked for {target})"
                )));
            }
            return self.remove_region(region).await;
        }
        let machines = self.recent_machines().await?;
        let here = self.alive_in(&machines, region);
        let deployed = |standby: bool| {
            here.iter()
                .filter(|m| m.is_deployed() && m.is_standby_role() == standby)
                .count()
        };
        let (running, standby) = (deployed(false), deployed(true));
        let wanted = |target: u32, have: usize| (target as usize).saturating_sub(have);
        let (add_running, add_standby) = (
            wanted(target.running, running),
            wanted(target.standby, standby),
        );
        if add_running + add_standby > 0 {
            self.add_machines(&machines, region, add_running, add_standby)
                .await?;
        }
        let excess = |target: u32, have: usize| have.saturating_sub(target as usize);
        let (drop_running, drop_standby) = (
            excess(target.running, running),
            excess(target.standby, standby),
        );
        if drop_running + drop_standby > 0 {
            self.drop_machines(region, drop_running, drop_standby)
                .await?;
        }
        Ok(())
    }

    /// Adds `running` machines and `standby` standbys to `region`: parked
    /// machines of the role first, then new ones under the lowest free
    /// names of the region (see [`NameFamily::free_numbers`]), the name of
    /// a create in doubt before any other.
    async fn add_machines(
        &self,
        machines: &[Machine],
        region: &Region,
        mut running: usize,
        mut standby: usize,
    ) -> Result<(), FlyError> {
        for parked in self
            .alive_in(machines, region)
            .into_iter()
            .filter(|m| m.is_parked())
        {
            if parked.is_standby_role() && standby > 0 {
                self.unpark_standby(parked).await?;
                standby -= 1;
            } else if !parked.is_standby_role() && running > 0 {
                self.unpark(parked).await?;
                running -= 1;
            }
        }
        if running + standby == 0 {
            return Ok(());
        }
        let base = self.clone_config(self.template(machines, region)?);
        let family = NameFamily::new(&self.settings.process_group, region);
        // The name of this create decision: the one a create in doubt used,
        // then those derived from the listing alone (see NameFamily).
        let remembered = self
            .ledger()
            .in_doubt(region, Instant::now())
            .and_then(|name| family.attempt(name));
        let mut numbers = remembered.into_iter().chain(
            family
                .free_numbers(machines)
                .filter(move |n| Some(*n) != remembered),
        );
        for (role, count) in [(ROLE_RUNNING, running), (ROLE_STANDBY, standby)] {
            let mut config = base.clone();
            config.metadata.insert(ROLE_KEY.to_owned(), role.to_owned());
            let stopped = role == ROLE_STANDBY || self.settings.skip_launch;
            for _ in 0..count {
                self.create_one(region, &family, &mut numbers, &config, stopped)
                    .await?;
            }
        }
        Ok(())
    }

    /// Creates one machine under the next of `numbers` whose name it can
    /// have (or adopts the machine an earlier create made under it).
    async fn create_one(
        &self,
        region: &Region,
        family: &NameFamily,
        numbers: &mut impl Iterator<Item = u32>,
        config: &MachineConfig,
        stopped: bool,
    ) -> Result<(), FlyError> {
        let mut tried = Vec::new();
        while tried.len() < MAX_NAMES_PER_CREATE as usize {
            let Some(number) = numbers.next() else { break };
            let name = family.name(number);
            match self.create_named(region, &name, config, stopped).await? {
                Created::Yes(machine) | Created::Adopted(machine) => {
                    if let (Some(timeout), false) = (self.settings.wait_for_start, stopped) {
                        self.client.wait_started(&machine, timeout).await?;
                    }
                    return Ok(());
                }
                Created::Unparked => return Ok(()),
                Created::NameHeldElsewhere => tried.push(name),
            }
        }
        Err(FlyError::NamesTaken {
            region: *region,
            first: tried.first().cloned().unwrap_or_default(),
            last: tried.last().cloned().unwrap_or_default(),
        })
    }

    /// Removes `running` running machines and `standby` standbys of ours
    /// from `region`, the newest first (highest number, then latest
    /// created). A standby Fly's proxy has started is left alone, and so
    /// are machines fly-placer did not make (unless `manage_unmarked`) and
    /// the process group's last started machine.
    async fn drop_machines(
        &self,
        region: &Region,
        running: usize,
        standby: usize,
    ) -> Result<(), ScaleFailure> {
        let machines = self.recent_machines().await?;
        let family = NameFamily::new(&self.settings.process_group, region);
        let newest_first = |chosen: &mut Vec<&Machine>| {
            chosen.sort_by_key(|m| {
                std::cmp::Reverse((
                    family.attempt(&m.name).unwrap_or(0),
                    m.created(),
                    m.id.clone(),
                ))
            });
        };
        let deployed: Vec<&Machine> = self
            .alive_in(&machines, region)
            .into_iter()
            .filter(|m| m.is_deployed() && self.may_remove(m))
            .collect();
        let mut running_victims: Vec<&Machine> = deployed
            .iter()
            .copied()
            .filter(|m| !m.is_standby_role())
            .collect();
        newest_first(&mut running_victims);
        let mut standby_victims: Vec<&Machine> = deployed
            .iter()
            .copied()
            .filter(|m| m.is_standby_role() && !m.is_started_or_starting())
            .collect();
        newest_first(&mut standby_victims);
        let mut started_left = machines
            .iter()
            .filter(|m| self.in_group(m) && m.is_deployed() && m.is_started())
            .count();
        let mut victims = Vec::new();
        for machine in running_victims.into_iter().take(running) {
            if machine.is_started() {
                if started_left <= 1 {
                    continue;
                }
                started_left -= 1;
            }
            victims.push(machine);
        }
        victims.extend(standby_victims.into_iter().take(standby));
        self.remove_all(&machines, region, &victims).await
    }

    /// Creates machine `name` in `region`, or adopts the machine of the
    /// process group that already holds the name there. A create without a
    /// clear answer is remembered as in doubt, so the next attempt uses the
    /// same name.
    async fn create_named(
        &self,
        region: &Region,
        name: &str,
        config: &MachineConfig,
        skip_launch: bool,
    ) -> Result<Created, FlyError> {
        let app = self.settings.app_name();
        tracing::info!(%app, %region, machine_name = name, "creating a machine");
        let err = match self.client.create(region, name, config, skip_launch).await {
            Ok(created) => {
                self.ledger()
                    .record_created(created.clone(), Instant::now());
                return Ok(Created::Yes(created));
            }
            Err(err) => err,
        };
        if err.is_creation_in_doubt() {
            self.ledger().record_in_doubt(region, name, Instant::now());
            return Err(err);
        }
        if err.status() != Some(409) || err.refuses_region() {
            return Err(err);
        }
        // The name is taken (a 409 that is not about the region's
        // resources): look at who holds it. Destroyed machines are
        // included in case the API keeps their names reserved.
        let listed = self.client.list_including_deleted().await?;
        let holders: Vec<&Machine> = listed.iter().filter(|m| m.name == name).collect();
        if let Some(ours) = holders
            .iter()
            .find(|m| m.is_alive() && self.in_group(m) && &m.region == region)
        {
            if ours.is_parked() {
                self.unpark(ours).await?;
                return Ok(Created::Unparked);
            }
            tracing::info!(%app, %region, machine = %ours.id, machine_name = name,
                "adopting the machine an earlier create made");
            self.ledger()
                .record_created((*ours).clone(), Instant::now());
            return Ok(Created::Adopted((*ours).clone()));
        }
        if holders.is_empty() {
            // Made, but not listed yet: never create under another name.
            self.ledger().record_in_doubt(region, name, Instant::now());
            return Err(FlyError::CreationInDoubt {
                region: *region,
                name: name.to_owned(),
            });
        }
        Ok(Created::NameHeldElsewhere)
    }

    /// Takes a parked standby back as a standby: it stays stopped.
    async fn unpark_standby(&self, machine: &Machine) -> Result<(), FlyError> {
        tracing::info!(app = self.settings.app_name(), machine = %machine.id, region = %machine.region, "taking a parked standby back");
        self.client.delete_metadata(machine, PARKED_KEY).await?;
        self.ledger()
            .record_change(&machine.id, Change::Unparked, Instant::now());
        Ok(())
    }

    async fn unpark(&self, machine: &Machine) -> Result<(), FlyError> {
        tracing::info!(app = self.settings.app_name(), machine = %machine.id, region = %machine.region, "starting a parked machine");
        let stopped = matches!(machine.state.as_str(), "stopped" | "suspended");
        if stopped && !self.settings.skip_launch {
            self.client.start(machine).await?;
        }
        self.client.delete_metadata(machine, PARKED_KEY).await?;
        self.ledger()
            .record_change(&machine.id, Change::Unparked, Instant::now());
        if stopped && !self.settings.skip_launch {
            // Started again, which the ledger does not model.
            self.forget_listing();
        }
        if let (Some(timeout), true) = (self.settings.wait_for_start, stopped) {
            self.client.wait_started(machine, timeout).await?;
        }
        Ok(())
    }

    /// The machine whose config new regions get.
    fn template<'a>(
        &self,
        machines: &'a [Machine],
        region: &Region,
    ) -> Result<&'a Machine, FlyError> {
        let no_template = |reason: String| FlyError::NoTemplate {
            region: *region,
            reason,
        };
        let group = &self.settings.process_group;
        let template = match &self.settings.template_machine {
            Some(id) => {
                let machine = machines.iter().find(|m| &m.id == id).ok_or_else(|| {
                    no_template(format!("template machine {id} is not in the app"))
                })?;
                if !machine.is_alive() {
                    return Err(no_template(format!(
                        "template machine {id} is {} (host {})",
                        machine.state,
                        machine.host_status.as_deref().unwrap_or("unknown")
                    )));
                }
                if !self.in_group(machine) {
                    // Its clones would not count as deployed: each tick would
                    // create another.
                    return Err(no_template(format!(
                        "template machine {id} belongs to process group `{}`, not `{group}`",
                        machine.process_group()
                    )));
                }
                machine
            }
            None => machines
                .iter()
                .filter(|m| self.in_group(m) && m.is_healthy())
                .max_by_key(|m| (m.created(), m.id.clone()))
                .ok_or_else(|| {
                    no_template(format!(
                        "no healthy machine of process group `{group}` to clone; \
                         deploy the app with `fly deploy` first, or set template_machine"
                    ))
                })?,
        };
        if template.mounts_volumes() {
            return Err(no_template(format!(
                "template machine {} mounts a volume, and volumes cannot follow a clone into another region",
                template.id
            )));
        }
        Ok(template)
    }

    fn clone_config(&self, template: &Machine) -> MachineConfig {
        let mut config = template.config.clone();
        let metadata = &mut config.metadata;
        metadata.insert(MANAGED_KEY.to_owned(), MANAGED_VALUE.to_owned());
        metadata.insert(
            PROCESS_GROUP_KEY.to_owned(),
            self.settings.process_group.clone(),
        );
        metadata.remove(PARKED_KEY);
        metadata.remove(ROLE_KEY);
        config
    }

    /// Takes every machine of the process group out of `region`, except a
    /// standby Fly's proxy runs now, which is left until the proxy stops
    /// it (the change is then [busy](ActuatorError::Busy)).
    async fn remove_region(&self, region: &Region) -> Result<(), ScaleFailure> {
        let machines = self.recent_machines().await?;
        let group = &self.settings.process_group;
        let deployed: Vec<&Machine> = machines
            .iter()
            .filter(|m| self.in_group(m) && m.is_deployed())
            .collect();
        let (here, others): (Vec<&Machine>, Vec<&Machine>) =
            deployed.into_iter().partition(|m| &m.region == region);
        if here.is_empty() {
            return Ok(());
        }
        let foreign: Vec<&str> = here
            .iter()
            .filter(|m| !self.may_remove(m))
            .map(|m| m.id.as_str())
            .collect();
        if !foreign.is_empty() {
            return Err(ScaleFailure::Refused(format!(
                "{region} runs machine(s) {} of process group `{group}` that fly-placer did not create \
                 (no metadata {MANAGED_KEY}={MANAGED_VALUE}); set manage_unmarked to let it remove them",
                foreign.join(", ")
            )));
        }
        if !others.iter().any(|m| !m.counts_as_standby()) {
            return Err(ScaleFailure::Refused(format!(
                "{region} has the last machine(s) of process group `{group}`; the app keeps at least one"
            )));
        }
        if here.iter().any(|m| m.is_started()) && !others.iter().any(|m| m.is_started()) {
            return Err(ScaleFailure::Refused(format!(
                "{region} runs the last started machine of process group `{group}`"
            )));
        }
        let (proxied, victims): (Vec<&Machine>, Vec<&Machine>) = here
            .into_iter()
            .partition(|m| m.is_standby_role() && m.is_started_or_starting());
        self.remove_all(&machines, region, &victims).await?;
        if !proxied.is_empty() {
            let ids: Vec<&str> = proxied.iter().map(|m| m.id.as_str()).collect();
            return Err(ScaleFailure::Busy(format!(
                "standby machine(s) {} in {region} {STARTED_BY_PROXY}; left until it stops them",
                ids.join(", ")
            )));
        }
        Ok(())
    }

    /// Removes each of `victims` under its lease; a machine whose lease
    /// another client holds is skipped, and the change is then busy.
    async fn remove_all(
        &self,
        machines: &[Machine],
        region: &Region,
        victims: &[&Machine],
    ) -> Result<(), ScaleFailure> {
        let mut leased_elsewhere = Vec::new();
        for machine in victims {
            let how = self.stop_config(machines, machine);
            match self.remove_machine(machine, &how).await {
                Ok(()) => {}
                Err(err) if err.is_lease_conflict() => {
                    tracing::info!(app = self.settings.app_name(), machine = %machine.id, %region,
                        "skipping a machine another client holds the lease of: {err}");
                    leased_elsewhere.push(machine.id.as_str());
                }
                Err(err) => return Err(err.into()),
            }
        }
        if !leased_elsewhere.is_empty() {
            return Err(ScaleFailure::Busy(format!(
                "machine(s) {} in {region} {LEASED_ELSEWHERE} (it holds their lease); skipped this tick",
                leased_elsewhere.join(", ")
            )));
        }
        Ok(())
    }

    /// How a machine is stopped: the template machine's `stop_config` (the
    /// config new regions get), else the machine's own, else Fly's defaults.
    fn stop_config(&self, machines: &[Machine], machine: &Machine) -> StopConfig {
        self.template(machines, &machine.region)
            .ok()
            .and_then(|template| template.config.stop_config())
            .or_else(|| machine.config.stop_config())
            .unwrap_or_default()
    }

    /// Removes one machine under its lease: takes the lease, stops and
    /// destroys (or parks) the machine with the lease's nonce, and
    /// releases the lease after, also after a failure. A lease another
    /// client holds is an error that
    /// [`is_lease_conflict`](FlyError::is_lease_conflict); nothing was
    /// changed then.
    async fn remove_machine(&self, machine: &Machine, how: &StopConfig) -> Result<(), FlyError> {
        let ttl = self.lease_ttl();
        let nonce = match self.client.acquire_lease(machine, ttl).await {
            Ok(nonce) => Some(nonce),
            // The machine is gone, or the API has no leases for it: either
            // way nobody holds one, and the calls below find out which (a
            // machine that is gone counts as removed).
            Err(FlyError::Http { status: 404, .. }) => {
                tracing::debug!(app = self.settings.app_name(), machine = %machine.id,
                    "no lease to take (404); removing without one");
                None
            }
            Err(err) => return Err(err),
        };
        let removed = self.remove_leased(machine, how, nonce.as_deref()).await;
        if let Some(nonce) = &nonce {
            if let Err(err) = self.client.release_lease(machine, nonce).await {
                tracing::warn!(app = self.settings.app_name(), machine = %machine.id,
                    "could not release the machine's lease, which ends by itself within {ttl:?}: {err}");
            }
        }
        removed
    }

    /// How long a removal's lease lasts at most: the longest a removal
    /// waits for a machine to stop, and some margin for the requests
    /// around it. It is released as soon as the removal is over.
    fn lease_ttl(&self) -> Duration {
        match self.settings.removal {
            RemovalMode::Destroy => self.settings.force_destroy_after + LEASE_MARGIN,
            RemovalMode::Stop => LEASE_MARGIN,
        }
    }

    async fn remove_leased(
        &self,
        machine: &Machine,
        how: &StopConfig,
        lease: Option<&str>,
    ) -> Result<(), FlyError> {
        let app = self.settings.app_name();
        match self.settings.removal {
            RemovalMode::Destroy => {
                tracing::info!(%app, machine = %machine.id, region = %machine.region, "stopping and destroying a machine");
                self.destroy_gracefully(machine, how, lease).await?;
                self.ledger()
                    .record_change(&machine.id, Change::Destroyed, Instant::now());
            }
            RemovalMode::Stop => {
                tracing::info!(%app, machine = %machine.id, region = %machine.region, "stopping and parking a machine");
                // Parked first: from then on the region counts as removed,
                // whether or not the stop below goes through.
                self.client
                    .set_metadata(machine, PARKED_KEY, "true", lease)
                    .await?;
                self.ledger()
                    .record_change(&machine.id, Change::Parked, Instant::now());
                if is_running(machine) {
                    self.client.stop(machine, how, lease).await?;
                    // The ledger knows the machine is parked, not that it
                    // stopped: the next change lists again.
                    self.forget_listing();
                }
            }
        }
        Ok(())
    }

    /// Stops the machine, waits until it is stopped, then destroys it
    /// without force; with force only when it is not stopped within
    /// [`force_destroy_after`](FlyOptions::force_destroy_after), or started
    /// again before the destroy.
    async fn destroy_gracefully(
        &self,
        machine: &Machine,
        how: &StopConfig,
        lease: Option<&str>,
    ) -> Result<(), FlyError> {
        let bound = self.settings.force_destroy_after;
        let reason = if bound.is_zero() {
            "force_destroy_after is zero"
        } else {
            if is_running(machine) {
                match self.client.stop(machine, how, lease).await {
                    // Already gone.
                    Err(FlyError::Http { status: 404, .. }) => return Ok(()),
                    other => other?,
                }
            }
            if !self.wait_stopped(machine, bound).await? {
                "it did not stop in time"
            } else {
                match self.client.destroy(machine, false, lease).await {
                    Ok(()) => return Ok(()),
                    // Started again (e.g. by Fly's proxy) after it stopped.
                    Err(FlyError::Http { status: 412, .. }) => "it was running again",
                    Err(err) => return Err(err),
                }
            }
        };
        tracing::warn!(
            app = self.settings.app_name(),
            machine = %machine.id,
            region = %machine.region,
            force_destroy_after = ?bound,
            "destroying a machine with force: {reason}"
        );
        self.client.destroy(machine, true, lease).await
    }

    /// Waits until the machine is stopped, at most `bound` (in waits the
    /// API holds open for at most a minute each). False when it is not.
    async fn wait_stopped(&self, machine: &Machine, bound: Duration) -> Result<bool, FlyError> {
        if matches!(machine.state.as_str(), "stopped" | "suspended" | "created") {
            return Ok(true);
        }
        let deadline = Instant::now() + bound;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(false);
            }
            if self
                .client
                .wait_for(machine, "stopped", left.min(MAX_WAIT))
                .await?
            {
                return Ok(true);
            }
        }
    }
}

/// True for a machine that runs, or is about to.
fn is_running(machine: &Machine) -> bool {
    matches!(machine.state.as_str(), "started" | "starting")
}

/// What a removal says of a machine whose lease another client holds.
pub const LEASED_ELSEWHERE: &str = "being changed by another client";

/// What a removal says of a standby that Fly's proxy runs now.
pub const STARTED_BY_PROXY: &str = "run now, started by Fly's proxy";

/// A removal's lease outlasts its longest wait by this much.
const LEASE_MARGIN: Duration = Duration::from_secs(30);

/// How many names one machine's create tries before giving up, when each is held by
/// a machine it cannot adopt.
const MAX_NAMES_PER_CREATE: u32 = 8;

/// What [`FlyMachinesActuator::create_named`] did.
enum Created {
    /// Created the machine.
    Yes(Machine),
    /// The process group's alive machine in the region already had the
    /// name: an earlier create made it.
    Adopted(Machine),
    /// That machine was parked, and is started again.
    Unparked,
    /// A machine that cannot be adopted holds the name: try the next one.
    NameHeldElsewhere,
}

enum ScaleFailure {
    Refused(String),
    /// Another client holds the lease of some of the region's machines.
    Busy(String),
    Fly(FlyError),
}

impl From<FlyError> for ScaleFailure {
    fn from(err: FlyError) -> Self {
        ScaleFailure::Fly(err)
    }
}

#[async_trait]
impl RegionActuator for FlyMachinesActuator {
    /// Every region with a deployed machine of the process group, counted
    /// as running or standby (see [`Machine::counts_as_standby`]).
    async fn deployment(&self) -> Result<BTreeMap<Region, MachineCount>, ActuatorError> {
        let machines = self
            .machines()
            .await
            .map_err(|err| err.into_actuator_error(None))?;
        let mut counts: BTreeMap<Region, MachineCount> = BTreeMap::new();
        for machine in machines
            .iter()
            .filter(|m| self.in_group(m) && m.is_deployed())
        {
            let count = counts.entry(machine.region).or_default();
            if machine.counts_as_standby() {
                count.standby += 1;
            } else {
                count.running += 1;
            }
        }
        Ok(counts)
    }

    async fn scale(&self, region: &Region, target: MachineCount) -> Result<(), ActuatorError> {
        let _one_change_at_a_time = self.changes.lock().await;
        let err = match self.scale_region(region, target).await {
            Ok(()) => return Ok(()),
            Err(ScaleFailure::Refused(reason)) => {
                return Err(ActuatorError::refused(region, reason))
            }
            Err(ScaleFailure::Busy(reason)) => return Err(ActuatorError::busy(region, reason)),
            Err(ScaleFailure::Fly(err)) => err,
        };
        if !target.is_deployed() {
            // A removal takes several requests (stop, wait, destroy): after
            // any failure the app may be half way.
            self.forget_listing();
            return Err(err.into_actuator_error(Some(region)));
        }
        self.after_failure(&err);
        if err.refuses_region() {
            // The region may have no room now: look again next tick.
            self.platform.mark_stale().await;
            return Err(err.into_actuator_error(Some(region)));
        }
        // A create went through, and what failed after it (waiting for the
        // machine to start) is not worth repeating: the region may already
        // have the machine, unseen by a listing that lags.
        let created = self.ledger().created_unlisted(region, Instant::now());
        if created && !err.is_retryable() && !err.is_creation_in_doubt() {
            return Err(ActuatorError::in_doubt(BACKEND, region, err));
        }
        Err(err.into_actuator_error(Some(region)))
    }

    /// Lets the latest listing go: the next tick lists again anyway, and
    /// with many apps their listings would otherwise stay in memory between
    /// ticks.
    fn tick_finished(&self) {
        self.forget_listing();
    }

    async fn platform_regions(&self) -> Option<Arc<PlatformRegions>> {
        Some(self.read_platform_regions().await)
    }
}
