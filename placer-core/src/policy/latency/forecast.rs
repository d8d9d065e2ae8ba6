//! Planning for the traffic expected over the lead time rather than for
//! the last smoothed value (see [`forecast`](crate::forecast)).
//!
//! A machine deployed now serves from `lead_time` on, and the policy acts
//! on a change only once it has lasted `persist_ticks`: so an undeployed
//! region counts with the busiest traffic expected until `lead_time` plus
//! `persist_ticks` ticks from now. A deployed one counts with the busiest
//! traffic expected until then plus `stabilization_window`: once removed
//! it could not come back sooner, so a region needed again within that
//! time is kept, and one that the forecast says stays quiet for longer is
//! let go as soon as its traffic falls, rather than after its long-term
//! average has come down.
//!
//! Each forecast counts as far as it is trusted: with trust `τ` (from its
//! recent error) a region's weight is `max(latest, τ·forecast + (1 − τ)·
//! reactive)`, where `reactive` is the weight without forecasts and
//! `latest` the latest observed traffic: at τ = 0 the policy is the
//! reactive one, and no forecast ever counts a region below what it has
//! just served.

use std::collections::BTreeMap;

use super::{weight, LatencySettings};
use crate::forecast::Forecast;
use crate::policy::PlanningView;
use crate::Region;

/// Each region's weight for planning, and the forecasts that raised a
/// weight above the reactive one (for the reasons).
pub(super) struct Outlook {
    pub weights: Vec<(Region, f64)>,
    pub raised: BTreeMap<Region, Forecast>,
}

impl Outlook {
    pub fn new(view: &PlanningView<'_>, settings: &LatencySettings) -> Self {
        let forecast = view.state.forecast();
        let forecasting = forecast.status().is_forecasting();
        let ahead =
            view.now + forecast.lead_time(view.config) + forecast.tick() * settings.persist_ticks;
        let keep_until = ahead + settings.stabilization_window;
        let mut raised = BTreeMap::new();
        let weights = view
            .regions
            .iter()
            .map(|(region, detail)| {
                let deployed = view.deployed.contains(region);
                let reactive = weight(detail, deployed);
                if !forecasting {
                    return (*region, reactive);
                }
                let until = if deployed { keep_until } else { ahead };
                let Some(expected) = forecast.peak(region, view.now, until) else {
                    return (*region, reactive);
                };
                let latest = detail.current.max(detail.requests);
                let blended =
                    expected.trust * expected.expected + (1.0 - expected.trust) * reactive;
                let planned = latest.max(blended);
                if planned > reactive {
                    raised.insert(*region, expected);
                }
                (*region, planned)
            })
            .filter(|(_, weight)| *weight > 0.0)
            .collect();
        Outlook { weights, raised }
    }
}
