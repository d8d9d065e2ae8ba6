//! `platform_region_unavailable`: the regions the platform lists that take
//! no new machine of an app's (deprecated, at capacity), written at each
//! scrape from the picture each app's latest tick planned over. Regions
//! that become available again leave the family, so it is kept as a map,
//! not as gauges one would have to remember to remove.

use std::collections::BTreeMap;
use std::sync::Mutex;

use placer_core::network::platform::Unavailable;
use placer_core::Region;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;
use prometheus_client::metrics::MetricType;

const NAME: &str = "platform_region_unavailable";
const HELP: &str = "1 for a region the platform lists that takes no new machine of the app's, labelled why (deprecated, full); regions that do are not listed";

/// Every app's unavailable regions, as its latest tick saw them.
#[derive(Debug, Default)]
pub(super) struct PlatformGauges {
    apps: Mutex<BTreeMap<String, BTreeMap<Region, Unavailable>>>,
}

impl PlatformGauges {
    fn apps(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, BTreeMap<Region, Unavailable>>> {
        self.apps
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Replaces `app`'s unavailable regions.
    pub(super) fn set(&self, app: &str, unavailable: &BTreeMap<Region, Unavailable>) {
        let mut apps = self.apps();
        if unavailable.is_empty() {
            apps.remove(app);
        } else {
            apps.insert(app.to_owned(), unavailable.clone());
        }
    }

    /// Forgets `app` (no longer placed).
    pub(super) fn remove(&self, app: &str) {
        self.apps().remove(app);
    }
}

/// The `why` label: the serialized name (`deprecated`, `full`).
fn why(unavailable: Unavailable) -> &'static str {
    match unavailable {
        Unavailable::Deprecated => "deprecated",
        Unavailable::Full => "full",
        Unavailable::NotCompute => "not_compute",
        _ => "other",
    }
}

impl Collector for PlatformGauges {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let apps = self.apps();
        // The family is declared even without a series, so alerting rules
        // and dashboards can be checked against the names exposed.
        let mut metric = encoder.encode_descriptor(NAME, HELP, None, MetricType::Gauge)?;
        for (app, regions) in apps.iter() {
            for (region, unavailable) in regions {
                let labels = [
                    ("app", app.as_str()),
                    ("region", region.as_str()),
                    ("why", why(*unavailable)),
                ];
                metric.encode_family(&labels)?.encode_gauge(&1_i64)?;
            }
        }
        Ok(())
    }
}
