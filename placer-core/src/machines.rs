//! How many machines of an app a region runs, or should run.

use serde::{Deserialize, Serialize};

/// The machines of an app in one region: how many are started
/// (`running`) and how many are kept stopped beside them (`standby`), for
/// Fly's proxy to start when the running ones are over their soft limit.
///
/// A region with no running machine is not deployed. A standby that the
/// proxy has started counts as running until the proxy stops it again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct MachineCount {
    /// Machines that are started.
    pub running: u32,
    /// Machines of ours that are stopped, kept as standbys.
    pub standby: u32,
}

impl MachineCount {
    /// No machine at all: the region is not deployed.
    pub const NONE: MachineCount = MachineCount {
        running: 0,
        standby: 0,
    };

    /// One running machine and no standby: a region deployed as the
    /// engine deploys it without a `machines:` section.
    pub const ONE: MachineCount = MachineCount {
        running: 1,
        standby: 0,
    };

    /// `running` started machines and `standby` stopped ones.
    pub const fn new(running: u32, standby: u32) -> Self {
        MachineCount { running, standby }
    }

    /// True when at least one machine is running: the region is deployed.
    pub const fn is_deployed(&self) -> bool {
        self.running > 0
    }

    /// Every machine, running or standby.
    pub const fn total(&self) -> u32 {
        self.running + self.standby
    }
}

impl std::fmt::Display for MachineCount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} running, {} standby", self.running, self.standby)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_region_is_deployed_while_a_machine_runs() {
        assert!(!MachineCount::NONE.is_deployed());
        assert!(MachineCount::ONE.is_deployed());
        assert!(!MachineCount::new(0, 2).is_deployed());
        assert_eq!(MachineCount::new(3, 1).total(), 4);
        assert_eq!(MachineCount::new(3, 1).to_string(), "3 running, 1 standby");
    }
}
