//! The actuator's memory of its own recent changes.
//!
//! The Machines API's listing is eventually consistent: a machine created a
//! moment ago may be missing from it, and one destroyed a moment ago may
//! still show as started. Trusting such a listing would make a retried tick
//! create a second machine, or count a removed region as deployed. For a
//! short window the actuator therefore lays its own changes over what the
//! API lists (read-your-writes); once the listing agrees, or the window has
//! passed, the API is the only truth again.
//!
//! It also remembers, per region, the name of a machine whose create got no
//! clear answer (in doubt), so every later attempt in that region creates
//! under that same name, which an API with unique names refuses. The
//! engine's first guard is elsewhere: the deploy fails as
//! `ActuatorError::InDoubt`, and the engine keeps the region pending in its
//! saved state. This memory is a shortcut only: after a restart the name is
//! derived from the listing again (see
//! [`NameFamily::next_attempt`](crate::naming::NameFamily::next_attempt)).

use std::collections::HashMap;
use std::time::Duration;

use placer_core::Region;
use tokio::time::Instant;

use crate::machine::Machine;
use crate::options::PARKED_KEY;

/// A change made to a listed machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Change {
    Destroyed,
    Parked,
    Unparked,
}

#[derive(Debug)]
pub(crate) struct Ledger {
    window: Duration,
    /// Machines created, keyed by id, until the listing shows them.
    created: HashMap<String, (Machine, Instant)>,
    /// Regions whose create request got no clear answer: the name it used.
    in_doubt: HashMap<Region, (String, Instant)>,
    /// Changes to machines, until the listing shows them.
    changes: HashMap<String, (Change, Instant)>,
}

impl Ledger {
    pub(crate) fn new(window: Duration) -> Self {
        Ledger {
            window,
            created: HashMap::new(),
            in_doubt: HashMap::new(),
            changes: HashMap::new(),
        }
    }

    /// The listing with recent changes laid over it.
    pub(crate) fn reconcile(&mut self, mut listed: Vec<Machine>, now: Instant) -> Vec<Machine> {
        let window = self.window;
        let fresh = |at: &Instant| now.saturating_duration_since(*at) < window;
        self.created
            .retain(|id, (_, at)| fresh(at) && !listed.iter().any(|m| &m.id == id));
        self.in_doubt.retain(|_, (name, at)| {
            fresh(at) && !listed.iter().any(|m| &m.name == name && m.is_alive())
        });
        self.changes.retain(|_, (_, at)| fresh(at));

        for machine in &mut listed {
            let Some((change, _)) = self.changes.get(&machine.id) else {
                continue;
            };
            let shown = match change {
                Change::Destroyed => !machine.is_alive(),
                Change::Parked => machine.is_parked(),
                Change::Unparked => !machine.is_parked(),
            };
            if shown {
                self.changes.remove(&machine.id);
            } else {
                apply(machine, *change);
            }
        }
        for (machine, _) in self.created.values() {
            let mut machine = machine.clone();
            if let Some((change, _)) = self.changes.get(&machine.id) {
                apply(&mut machine, *change);
            }
            listed.push(machine);
        }
        listed
    }

    pub(crate) fn record_created(&mut self, machine: Machine, now: Instant) {
        self.in_doubt.remove(&machine.region);
        self.created.insert(machine.id.clone(), (machine, now));
    }

    /// True when a machine this actuator created in `region` within the
    /// window is not listed yet (as of the latest reconcile).
    pub(crate) fn created_unlisted(&self, region: &Region, now: Instant) -> bool {
        self.created.values().any(|(machine, at)| {
            &machine.region == region && now.saturating_duration_since(*at) < self.window
        })
    }

    /// Notes that a create of `name` in `region` got no clear answer: the
    /// machine may exist.
    pub(crate) fn record_in_doubt(&mut self, region: &Region, name: &str, now: Instant) {
        self.in_doubt.insert(*region, (name.to_owned(), now));
    }

    /// The name of the create in doubt in `region`, within the window.
    pub(crate) fn in_doubt(&self, region: &Region, now: Instant) -> Option<&str> {
        let (name, at) = self.in_doubt.get(region)?;
        (now.saturating_duration_since(*at) < self.window).then_some(name.as_str())
    }

    pub(crate) fn record_change(&mut self, machine_id: &str, change: Change, now: Instant) {
        self.changes.insert(machine_id.to_owned(), (change, now));
    }
}

fn apply(machine: &mut Machine, change: Change) {
    match change {
        Change::Destroyed => machine.state = "destroyed".to_owned(),
        Change::Parked => {
            machine
                .config
                .metadata
                .insert(PARKED_KEY.to_owned(), "true".to_owned());
        }
        Change::Unparked => {
            machine.config.metadata.remove(PARKED_KEY);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::parse_machine_list;

    fn machine(id: &str, region: &str, state: &str) -> Machine {
        let json = format!(r#"[{{"id":"{id}","state":"{state}","region":"{region}"}}]"#);
        parse_machine_list(json.as_bytes()).unwrap().remove(0)
    }

    #[test]
    fn a_created_machine_counts_until_listed_or_expired() {
        let t0 = Instant::now();
        let mut ledger = Ledger::new(Duration::from_secs(60));
        ledger.record_created(machine("a1", "fra", "started"), t0);

        let view = ledger.reconcile(vec![], t0 + Duration::from_secs(1));
        assert_eq!(view.len(), 1, "not listed yet, still ours");

        let view = ledger.reconcile(vec![machine("a1", "fra", "started")], t0);
        assert_eq!(view.len(), 1, "listed once, not twice");

        ledger.record_created(machine("b2", "cdg", "started"), t0);
        assert!(ledger
            .reconcile(vec![], t0 + Duration::from_secs(61))
            .is_empty());
    }

    #[test]
    fn a_destroyed_machine_stays_destroyed_while_the_listing_lags() {
        let t0 = Instant::now();
        let mut ledger = Ledger::new(Duration::from_secs(60));
        ledger.record_change("a1", Change::Destroyed, t0);
        let view = ledger.reconcile(vec![machine("a1", "fra", "started")], t0);
        assert!(!view[0].is_alive());
        let later = ledger.reconcile(
            vec![machine("a1", "fra", "started")],
            t0 + Duration::from_secs(61),
        );
        assert!(later[0].is_alive(), "after the window the API is the truth");
    }

    #[test]
    fn a_name_in_doubt_is_kept_for_the_window_or_until_listed() {
        let t0 = Instant::now();
        let fra: Region = "fra".parse().unwrap();
        let mut ledger = Ledger::new(Duration::from_secs(60));
        ledger.record_in_doubt(&fra, "fly-placer-app-fra-1", t0);
        assert_eq!(
            ledger.in_doubt(&fra, t0 + Duration::from_secs(20)),
            Some("fly-placer-app-fra-1")
        );
        assert_eq!(ledger.in_doubt(&fra, t0 + Duration::from_secs(60)), None);

        ledger.record_in_doubt(&fra, "fly-placer-app-fra-1", t0);
        let mut listed = machine("a1", "fra", "started");
        listed.name = "fly-placer-app-fra-1".to_owned();
        ledger.reconcile(vec![listed], t0);
        assert_eq!(ledger.in_doubt(&fra, t0), None, "the listing shows it");
    }
}
