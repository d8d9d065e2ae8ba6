//! The names fly-placer gives the machines it creates, which make a create
//! idempotent.
//!
//! The Machines API refuses a second machine with a name the app already
//! uses. fly-placer names each machine it creates after the process group,
//! the region and a number — `fly-placer-<group>-<region>-<n>`, machine 1,
//! 2, … of the region — and chooses the same name for as long as it is
//! deciding to create the same machine: a new machine takes the lowest
//! number no listed machine of the region holds. So a create repeated after an answer it did not get (a 5xx,
//! a timeout), after a restart or by a second fly-placer process sharing the
//! app is refused by the API instead of cloning the app a second time, and
//! fly-placer adopts the machine that holds the name. See
//! `docs/design.md`, "Idempotent creates".

use placer_core::Region;

use crate::machine::Machine;

/// Every name fly-placer gives starts with this.
const PREFIX: &str = "fly-placer";

/// Longest part of the process group kept in a name, so names stay short
/// (Fly uses them as host names).
const MAX_GROUP_CHARS: usize = 30;

/// The machine names of one process group in one region:
/// `fly-placer-<group>-<region>-<n>` for machines `n` = 1, 2, …
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NameFamily {
    /// Everything before the attempt number, `-` included.
    stem: String,
}

impl NameFamily {
    /// The family of `process_group` in `region`. Characters of the group
    /// other than lowercase letters and digits become `-`; two groups that
    /// differ only there share their names, which costs an attempt number
    /// now and then and is never unsafe (see [`next_attempt`](Self::next_attempt)).
    pub(crate) fn new(process_group: &str, region: &Region) -> Self {
        let group: String = process_group
            .chars()
            .take(MAX_GROUP_CHARS)
            .map(|c| {
                let c = c.to_ascii_lowercase();
                if c.is_ascii_lowercase() || c.is_ascii_digit() {
                    c
                } else {
                    '-'
                }
            })
            .collect();
        NameFamily {
            stem: format!("{PREFIX}-{group}-{region}-"),
        }
    }

    /// The name of machine number `attempt`.
    pub(crate) fn name(&self, attempt: u32) -> String {
        format!("{}{attempt}", self.stem)
    }

    /// The number of `name`, if it belongs to the family.
    pub(crate) fn attempt(&self, name: &str) -> Option<u32> {
        let digits = name.strip_prefix(&self.stem)?;
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits.parse().ok().filter(|n| *n > 0)
    }

    /// The numbers new machines take, lowest first: every number from 1
    /// up that no listed machine of the family holds, whatever its state
    /// (but `destroyed`, which the API does not list).
    ///
    /// Dead members (failed, destroyed, host unreachable) and other groups'
    /// machines that share the family keep their numbers: their names are
    /// taken, and skipping them saves a refused create. The numbers depend
    /// on the listing alone, not on anything held in memory, so a restarted
    /// fly-placer, or a second one sharing the app, derives the same names
    /// from the same listing; a machine created under one of them but not
    /// listed yet (the listing is eventually consistent) makes the API
    /// refuse the name, and the actuator adopts that machine instead of
    /// creating another. A name refused because a machine that cannot be
    /// adopted holds it moves on to the next free number.
    pub(crate) fn free_numbers<'a>(
        &'a self,
        listed: &'a [Machine],
    ) -> impl Iterator<Item = u32> + 'a {
        // A machine the listing shows destroyed is one this process has
        // just destroyed (the API lists no destroyed machine): its name is
        // free, as a fresh listing, the one another process reads, says.
        let held: std::collections::BTreeSet<u32> = listed
            .iter()
            .filter(|m| m.state != "destroyed")
            .filter_map(|m| self.attempt(&m.name))
            .collect();
        (1..=u32::MAX).filter(move |n| !held.contains(n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::machine::parse_machine_list;
    use proptest::prelude::*;

    fn fra() -> Region {
        "fra".parse().unwrap()
    }

    fn named(name: &str, state: &str) -> Machine {
        let json = format!(r#"[{{"id":"a1","name":"{name}","state":"{state}","region":"fra"}}]"#);
        parse_machine_list(json.as_bytes()).unwrap().remove(0)
    }

    #[test]
    fn names_say_group_region_and_attempt() {
        let family = NameFamily::new("app", &fra());
        assert_eq!(family.name(1), "fly-placer-app-fra-1");
        assert_eq!(
            NameFamily::new("Web_2", &fra()).name(3),
            "fly-placer-web-2-fra-3"
        );
        assert_eq!(family.attempt("fly-placer-app-fra-12"), Some(12));
        for other in [
            "fly-placer-app-fra-",
            "fly-placer-app-fra-x1",
            "fly-placer-app-fra-0",
            "fly-placer-app-cdg-1",
            "fly-placer-worker-fra-1",
            "my-app-fra-1",
        ] {
            assert_eq!(family.attempt(other), None, "{other}");
        }
    }

    #[test]
    fn new_machines_take_the_lowest_numbers_no_listed_machine_holds() {
        let family = NameFamily::new("app", &fra());
        let first: Vec<u32> = family.free_numbers(&[]).take(3).collect();
        assert_eq!(first, [1, 2, 3]);
        let listed = [
            named("fly-placer-app-fra-1", "failed"),
            named("fly-placer-app-fra-2", "destroyed"),
            named("fly-placer-app-fra-3", "failed"),
            named("fly-placer-app-fra-4", "started"),
            named("fly-placer-worker-fra-6", "started"),
            named("my-app-fra-5", "started"),
        ];
        let free: Vec<u32> = family.free_numbers(&listed).take(3).collect();
        assert_eq!(free, [2, 5, 6], "destroyed names are free");
    }

    proptest! {
        #[test]
        fn a_name_reads_back_as_its_attempt(group in "[a-zA-Z0-9_-]{1,40}", attempt in 1u32..) {
            let family = NameFamily::new(&group, &fra());
            prop_assert_eq!(family.attempt(&family.name(attempt)), Some(attempt));
            prop_assert!(family.name(attempt).len() <= 63);
        }
    }
}
