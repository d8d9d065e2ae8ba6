//! Conformance checks for `RegionActuator` implementations.
//!
//! Each check drives an actuator through the contract and panics with a
//! message naming the broken rule, so it reads well in a failing test.
//! Checks need regions that are not deployed (`spare`) and, for removals,
//! an app that keeps running elsewhere: start the actuator with at least
//! one other region deployed.
//!
//! What the checks cannot provoke, the contract still says: a deploy that
//! failed without knowing whether it took effect (its answer was lost, the
//! connection dropped after the request was sent) must fail with
//! [`ActuatorError::in_doubt`](crate::ActuatorError::in_doubt) — not with an
//! error marked transient, which a retry wrapper would repeat, possibly
//! running a second machine. The engine then keeps the region *pending*
//! (counted as deployed, not deployed again) until the listing shows it or
//! `pending_grace` has passed; only then may the same deploy be asked for
//! again, and it must then not add a second machine where the first one
//! exists.
//!
//! ```
//! # futures::executor::block_on(async {
//! use placer_core::{conformance, InMemoryActuator};
//!
//! let actuator = InMemoryActuator::new(["iad".parse().unwrap()]);
//! conformance::check_region_actuator(&actuator, ["fra".parse().unwrap(), "cdg".parse().unwrap()]).await;
//! # });
//! ```

use std::collections::BTreeSet;

use crate::{Region, RegionActuator};

async fn listed(actuator: &dyn RegionActuator, when: &str) -> BTreeSet<Region> {
    match actuator.deployed_regions().await {
        Ok(regions) => regions,
        Err(err) => panic!("deployed_regions() failed {when}: {err}"),
    }
}

async fn deploy(actuator: &dyn RegionActuator, region: &Region, when: &str) {
    if let Err(err) = actuator.deploy(region).await {
        panic!("deploy({region}) failed {when}: {err}");
    }
}

async fn remove(actuator: &dyn RegionActuator, region: &Region, when: &str) {
    if let Err(err) = actuator.remove(region).await {
        panic!("remove({region}) failed {when}: {err}");
    }
}

/// Deploying a region that is not deployed makes the listing contain it.
pub async fn deploy_then_list_contains_region(actuator: &dyn RegionActuator, region: &Region) {
    let before = listed(actuator, "before deploying").await;
    assert!(
        !before.contains(region),
        "precondition: {region} must not be deployed yet, deployed: {before:?}"
    );
    deploy(actuator, region, "for a region not deployed").await;
    let after = listed(actuator, "after deploying").await;
    assert!(
        after.contains(region),
        "{region} missing from the listing after deploy: {after:?}"
    );
}

/// Deploying a deployed region succeeds and changes nothing.
pub async fn deploy_is_idempotent(actuator: &dyn RegionActuator, region: &Region) {
    deploy(actuator, region, "the first time").await;
    let once = listed(actuator, "after the first deploy").await;
    deploy(actuator, region, "for a region already deployed").await;
    let twice = listed(actuator, "after the second deploy").await;
    assert_eq!(
        once, twice,
        "a second deploy of {region} changed the deployment"
    );
}

/// Removing a deployed region makes the listing lack it.
pub async fn remove_then_list_lacks_region(actuator: &dyn RegionActuator, region: &Region) {
    deploy(actuator, region, "before removing").await;
    remove(actuator, region, "for a deployed region").await;
    let after = listed(actuator, "after removing").await;
    assert!(
        !after.contains(region),
        "{region} still listed after remove: {after:?}"
    );
}

/// Removing a region that is not deployed succeeds and changes nothing.
pub async fn remove_is_idempotent(actuator: &dyn RegionActuator, region: &Region) {
    remove(actuator, region, "the first time").await;
    let once = listed(actuator, "after the first remove").await;
    remove(actuator, region, "for a region not deployed").await;
    let twice = listed(actuator, "after the second remove").await;
    assert_eq!(
        once, twice,
        "a second remove of {region} changed the deployment"
    );
    assert!(
        !twice.contains(region),
        "{region} listed after remove: {twice:?}"
    );
}

/// Deploying and removing one region leaves every other region as it was.
pub async fn other_regions_are_untouched(actuator: &dyn RegionActuator, region: &Region) {
    let before = listed(actuator, "at the start").await;
    assert!(
        !before.contains(region),
        "precondition: {region} must not be deployed yet, deployed: {before:?}"
    );
    deploy(actuator, region, "next to other regions").await;
    let mut expected = before.clone();
    expected.insert(*region);
    assert_eq!(
        listed(actuator, "after deploying").await,
        expected,
        "deploy({region}) touched other regions"
    );
    remove(actuator, region, "next to other regions").await;
    assert_eq!(
        listed(actuator, "after removing").await,
        before,
        "remove({region}) touched other regions"
    );
}

/// The listing does not change by itself between two calls.
pub async fn listing_is_stable(actuator: &dyn RegionActuator) {
    let first = listed(actuator, "the first time").await;
    let second = listed(actuator, "the second time").await;
    assert_eq!(first, second, "two listings without changes differ");
}

/// What [`RegionActuator::platform_regions`] answers is a picture the
/// engine can plan over: `None` (the actuator does not know), or regions
/// with coordinates on the globe of which those it calls deployable are
/// ones it knows; and asked twice without a change in between, the same
/// picture (an actuator answers from its cache, not with a fresh read per
/// call).
pub async fn platform_regions_are_a_usable_picture(actuator: &dyn RegionActuator) {
    let first = actuator.platform_regions().await;
    let second = actuator.platform_regions().await;
    assert_eq!(
        first, second,
        "two platform_regions() answers without changes differ"
    );
    let Some(picture) = first else {
        return;
    };
    for region in picture.regions() {
        assert!(
            (-90.0..=90.0).contains(&region.latitude)
                && (-180.0..=180.0).contains(&region.longitude),
            "platform_regions() places {} at ({}, {}), off the globe",
            region.code,
            region.latitude,
            region.longitude
        );
    }
    for region in picture.deployable() {
        assert!(
            picture.knows(&region) && picture.unavailable(&region).is_none(),
            "platform_regions() calls {region} deployable but does not know it"
        );
    }
}

/// Runs every check. `spare` are two regions that are not deployed; the
/// actuator must already run the app in some other region. Both spare
/// regions end up removed again.
pub async fn check_region_actuator(actuator: &dyn RegionActuator, spare: [Region; 2]) {
    let [first, second] = spare;
    listing_is_stable(actuator).await;
    platform_regions_are_a_usable_picture(actuator).await;
    deploy_then_list_contains_region(actuator, &first).await;
    deploy_is_idempotent(actuator, &first).await;
    remove_then_list_lacks_region(actuator, &first).await;
    remove_is_idempotent(actuator, &first).await;
    other_regions_are_untouched(actuator, &second).await;
    listing_is_stable(actuator).await;
}
