//! The names fly-placer gives the machines it creates, which make a create
//! idempotent.
//!
//! The Machines API refuses a second machine with a name the app already
//! uses. fly-placer names each machine it creates after the process group,
//! the region and an attempt number — `fly-placer-<group>-<region>-<n>` —
//! and chooses the same name for as long as it is deciding to create the
//! same machine. So a create repeated after an answer it did not get (a 5xx,
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
/// `fly-placer-<group>-<region>-<n>` for attempts `n` = 1, 2, …
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

    /// The name of attempt `attempt`.
    pub(crate) fn name(&self, attempt: u32) -> String {
        format!("{}{attempt}", self.stem)
    }

    /// The attempt number of `name`, if it belongs to the family.
    pub(crate) fn attempt(&self, name: &str) -> Option<u32> {
        let digits = name.strip_prefix(&self.stem)?;
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        digits.parse().ok().filter(|n| *n > 0)
    }

    /// The attempt a new create decision starts with: one past the highest
    /// attempt any listed machine of the family has, whatever its state
    /// (or 1).
    ///
    /// It is called only when the region has no alive machine of the group,
    /// so every listed member is dead (failed, destroyed, host unreachable)
    /// or another group's: their names are taken, and skipping them saves a
    /// refused create. The number depends on the listing alone, not on
    /// anything held in memory, so a restarted fly-placer, or a second one
    /// sharing the app, derives the same name from the same listing; a
    /// machine created under that name but not listed yet (the listing is
    /// eventually consistent) makes the API refuse the name, and the
    /// actuator adopts that machine instead of creating another. A name
    /// refused because a dead or foreign machine holds it moves on to the
    /// next attempt.
    pub(crate) fn next_attempt(&self, listed: &[Machine]) -> u32 {
        listed
            .iter()
            .filter_map(|m| self.attempt(&m.name))
            .max()
            .map_or(1, |n| n.saturating_add(1))
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
    fn the_next_attempt_passes_every_listed_name_of_the_family() {
        let family = NameFamily::new("app", &fra());
        assert_eq!(family.next_attempt(&[]), 1);
        let listed = [
            named("fly-placer-app-fra-1", "destroyed"),
            named("fly-placer-app-fra-3", "failed"),
            named("fly-placer-worker-fra-7", "started"),
            named("my-app-fra-9", "started"),
        ];
        assert_eq!(family.next_attempt(&listed), 4);
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
