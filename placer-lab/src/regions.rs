//! Where the backtests may place machines: the regions the engine's
//! built-in picture of the platform takes machines in
//! ([`PlatformRegions::built_in`]). Traffic is counted where users entered
//! Fly; an edge region's users are served from its home, the nearest of
//! those regions, so no reference ever deploys an edge region, and a
//! region with no coordinates at all (a mislabelled `xyz`) is ignored.
//!
//! ```
//! use placer_core::TrafficSnapshot;
//! use placer_core::Timestamp;
//! use placer_lab::regions;
//!
//! let at = Timestamp::from_unix_seconds(60);
//! let entered = TrafficSnapshot::new(at, [("mad", 30.0), ("cdg", 10.0), ("xyz", 5.0)]).unwrap();
//! let served = regions::by_home(&entered);
//! assert_eq!(served.requests(&"cdg".parse().unwrap()), 40.0);
//! assert_eq!(served.len(), 1);
//! ```

use std::collections::{BTreeMap, BTreeSet};

use placer_core::network::platform::PlatformRegions;
use placer_core::{Region, TrafficSnapshot};

/// The regions the built-in picture takes machines in.
pub fn deployable() -> BTreeSet<Region> {
    PlatformRegions::built_in().deployable().collect()
}

/// True when the built-in picture knows where `region` is.
pub fn known(region: &Region) -> bool {
    PlatformRegions::built_in().knows(region)
}

/// Where the users entering at `region` are served best: the nearest
/// deployable region (`region` itself when it is one); `None` for a region
/// without coordinates.
pub fn home(region: &Region) -> Option<Region> {
    PlatformRegions::built_in()
        .home(region, |_| true)
        .map(|home| home.region)
}

/// `snapshot` with each region's requests counted at its [`home`]; regions
/// without coordinates are left out.
pub fn by_home(snapshot: &TrafficSnapshot) -> TrafficSnapshot {
    let mut served: BTreeMap<Region, f64> = BTreeMap::new();
    for (region, requests) in snapshot.iter() {
        if let Some(home) = home(region) {
            *served.entry(home).or_default() += requests;
        }
    }
    TrafficSnapshot::new(
        snapshot.at(),
        served
            .iter()
            .map(|(region, requests)| (region.as_str(), *requests)),
    )
    .expect("sums of valid counts are valid")
}
