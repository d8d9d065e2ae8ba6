//! Machine time spent against a [`MachineBudget`], and how many regions
//! what is left of it pays for.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{LatencyMemory, LatencySettings, MachineBudget, PlanningView};
use crate::Timestamp;

/// How many regions the machine budget pays for this tick: `now` to the
/// end of the period, `soon` from the end of the stabilization window on
/// (when the regions running now run until then), reached `soon_in` from
/// now.
#[derive(Debug, Clone, Copy)]
pub(super) struct BudgetLimits {
    pub now: usize,
    pub soon: usize,
    pub soon_in: Duration,
}

impl BudgetLimits {
    /// Brings the budget's spending in `memory` up to date and reads what
    /// it pays for; `None` without a budget.
    pub fn read(
        view: &PlanningView<'_>,
        settings: &LatencySettings,
        memory: &mut LatencyMemory,
    ) -> Option<Self> {
        let budget = settings.budget.as_ref()?;
        let running = view.deployed.len();
        let spent = match memory.machine_time {
            Some(spent) => spent.charge(budget, running, view.now),
            None => MachineTime::first(budget, running, view.now),
        };
        memory.machine_time = Some(spent);
        let window = settings.stabilization_window;
        let now = spent.affordable(budget, view.now, Duration::ZERO, running);
        let soon = spent.affordable(budget, view.now, window, running);
        let soon_in = spent
            .time_until(budget, view.now, running, soon)
            .map_or(window, |wait| wait.min(window));
        Some(BudgetLimits { now, soon, soon_in })
    }
}

/// Machine time spent so far in the current budget period.
///
/// Each tick charges the regions that ran since the previous tick for the
/// time between the two; only the part inside the current period counts.
/// On the first tick the regions found are counted as running since the
/// period started: what ran before cannot be known, and this never counts
/// too little.
///
/// ```
/// use std::time::Duration;
/// use placer_core::policy::MachineBudget;
/// use placer_core::policy::MachineTime;
/// use placer_core::Timestamp;
///
/// let hour = Duration::from_secs(3600);
/// let budget = MachineBudget::new(36.0);
/// let midnight = Timestamp::from_unix_seconds(20_000 * 24 * 3600);
/// let noon = midnight + 12 * hour;
/// let spent = MachineTime::first(&budget, 1, midnight).charge(&budget, 2, noon);
/// assert_eq!(spent.machine_seconds, 2.0 * 12.0 * 3600.0);
/// // 12 machine-hours are left for the 12 hours left: one region.
/// assert_eq!(spent.affordable(&budget, noon, Duration::ZERO, 2), 1);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MachineTime {
    /// Start of the period the spending is counted in.
    pub period_start: Timestamp,
    /// Machine-seconds spent in that period.
    pub machine_seconds: f64,
    /// When the spending was last brought up to date.
    pub at: Timestamp,
}

/// Slack for rounding when dividing what is left of a budget by the time
/// left: a plan that spends the budget exactly must not read as one machine
/// short.
const ROUNDING: f64 = 1e-6;

impl MachineTime {
    /// The spending at the first tick under `budget`: `running` regions
    /// since the start of the period `now` falls in.
    pub fn first(budget: &MachineBudget, running: usize, now: Timestamp) -> Self {
        let period_start = budget.period_start(now);
        MachineTime {
            period_start,
            machine_seconds: 0.0,
            at: period_start,
        }
        .charge(budget, running, now)
    }

    /// The spending after `running` regions ran from the last update until
    /// `now`. A new period starts from nothing; a clock that went backwards
    /// charges nothing.
    pub fn charge(self, budget: &MachineBudget, running: usize, now: Timestamp) -> Self {
        let start = budget.period_start(now);
        let from = if self.at > start { self.at } else { start };
        let carried = if self.period_start == start {
            self.machine_seconds
        } else {
            0.0
        };
        MachineTime {
            period_start: start,
            machine_seconds: carried + running as f64 * now.duration_since(from).as_secs_f64(),
            at: if now > self.at { now } else { self.at },
        }
    }

    /// How many regions `budget` pays for from `now + ahead` to the end of
    /// the period, when `running` regions run until then. From the start of
    /// a later period, a whole period's budget is there again.
    pub fn affordable(
        &self,
        budget: &MachineBudget,
        now: Timestamp,
        ahead: Duration,
        running: usize,
    ) -> usize {
        let end = self.period_start + budget.period;
        let from = now + ahead;
        let total = budget.machine_hours * 3600.0;
        if from >= end {
            return regions_paid(total, budget.period.as_secs_f64());
        }
        let spent = self.machine_seconds + running as f64 * ahead.as_secs_f64();
        regions_paid(total - spent, end.duration_since(from).as_secs_f64())
    }

    /// How long `running` regions must run on from `now` before `budget`
    /// pays for `regions` regions to the end of the period; `None` when
    /// that does not happen within the period.
    pub fn time_until(
        &self,
        budget: &MachineBudget,
        now: Timestamp,
        running: usize,
        regions: usize,
    ) -> Option<Duration> {
        let end = self.period_start + budget.period;
        let left = end.duration_since(now).as_secs_f64();
        let remaining = budget.machine_hours * 3600.0 - self.machine_seconds;
        let shortfall = regions as f64 * left - remaining;
        if shortfall <= 0.0 {
            return Some(Duration::ZERO);
        }
        if regions <= running {
            return None;
        }
        let wait = shortfall / (regions - running) as f64;
        (wait < left).then(|| Duration::from_secs_f64(wait.ceil()))
    }
}

/// Whole regions that `machine_seconds` keep running for `seconds`.
fn regions_paid(machine_seconds: f64, seconds: f64) -> usize {
    if machine_seconds <= 0.0 || seconds <= 0.0 {
        return 0;
    }
    (machine_seconds / seconds + ROUNDING).floor() as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINUTE: Duration = Duration::from_secs(60);
    const HOUR: Duration = Duration::from_secs(3600);

    /// Midnight UTC on a day in 2026.
    fn midnight() -> Timestamp {
        Timestamp::from_unix_seconds(20_454 * 24 * 3600)
    }

    fn daily(machine_hours: f64) -> MachineBudget {
        MachineBudget {
            machine_hours,
            ..MachineBudget::default()
        }
    }

    #[test]
    fn the_first_tick_counts_what_it_finds_as_running_since_the_period_began() {
        let budget = daily(48.0);
        let spent = MachineTime::first(&budget, 2, midnight() + 6 * HOUR);
        assert_eq!(spent.period_start, midnight());
        assert_eq!(spent.machine_seconds, 2.0 * 6.0 * 3600.0);
        // 36 machine-hours left for 18 hours: two regions.
        assert_eq!(
            spent.affordable(&budget, midnight() + 6 * HOUR, Duration::ZERO, 2),
            2
        );
    }

    #[test]
    fn only_the_part_of_an_interval_inside_the_new_period_counts() {
        let budget = daily(48.0);
        let late = midnight() - 10 * MINUTE;
        let spent =
            MachineTime::first(&budget, 1, late).charge(&budget, 3, midnight() + 5 * MINUTE);
        assert_eq!(spent.period_start, midnight());
        assert_eq!(spent.machine_seconds, 3.0 * 300.0);
        assert_eq!(spent.at, midnight() + 5 * MINUTE);
    }

    #[test]
    fn a_clock_that_goes_back_charges_nothing() {
        let budget = daily(48.0);
        let spent = MachineTime::first(&budget, 1, midnight() + HOUR);
        let back = spent.charge(&budget, 5, midnight() + 30 * MINUTE);
        assert_eq!(back.machine_seconds, spent.machine_seconds);
        assert_eq!(back.at, spent.at);
    }

    #[test]
    fn spending_the_budget_exactly_never_reads_as_a_region_short() {
        // Two regions all day on a two-region budget, charged every minute.
        let budget = daily(48.0);
        let mut spent = MachineTime::first(&budget, 2, midnight());
        for minute in 1..24 * 60 {
            let now = midnight() + minute * MINUTE;
            spent = spent.charge(&budget, 2, now);
            assert_eq!(
                spent.affordable(&budget, now, Duration::ZERO, 2),
                2,
                "minute {minute}"
            );
        }
    }

    #[test]
    fn a_budget_short_of_whole_regions_pays_for_more_once_enough_is_saved() {
        // 47.9 machine-hours: two regions all day are six minutes too many.
        let budget = daily(47.9);
        let spent = MachineTime::first(&budget, 1, midnight());
        assert_eq!(spent.affordable(&budget, midnight(), Duration::ZERO, 1), 1);
        assert_eq!(spent.affordable(&budget, midnight(), 30 * MINUTE, 1), 2);
        assert_eq!(
            spent.time_until(&budget, midnight(), 1, 2),
            Some(6 * MINUTE)
        );
        let later = midnight() + 6 * MINUTE;
        let spent = spent.charge(&budget, 1, later);
        assert_eq!(spent.affordable(&budget, later, Duration::ZERO, 1), 2);
        // Running two regions meanwhile saves nothing: never in this period.
        assert_eq!(spent.time_until(&budget, later, 2, 3), None);
    }

    #[test]
    fn past_the_end_of_the_period_a_whole_budget_is_there_again() {
        let budget = daily(48.0);
        let late = midnight() + 23 * HOUR;
        let spent = MachineTime::first(&budget, 2, late);
        assert_eq!(spent.affordable(&budget, late, 2 * HOUR, 2), 2);
        let next_day = spent.charge(&budget, 2, midnight() + 25 * HOUR);
        assert_eq!(next_day.period_start, midnight() + 24 * HOUR);
        assert_eq!(next_day.machine_seconds, 2.0 * 3600.0);
    }

    #[test]
    fn periods_follow_on_from_their_start_in_both_directions() {
        let budget = MachineBudget {
            machine_hours: 10.0,
            period: 7 * 24 * HOUR,
            starts: midnight() + 9 * HOUR,
        };
        assert_eq!(
            budget.period_start(midnight() + 9 * HOUR),
            midnight() + 9 * HOUR
        );
        assert_eq!(
            budget.period_start(midnight() + 3 * 24 * HOUR),
            midnight() + 9 * HOUR
        );
        // Before `starts`: the period that ends where it begins.
        assert_eq!(
            budget.period_start(midnight()),
            midnight() + 9 * HOUR - 7 * 24 * HOUR
        );
    }
}
