//! Conformance checks for `RegionActuator` implementations: one machine
//! per region ([`check_region_actuator`]), and counts of running machines
//! and standbys ([`check_scaling_actuator`]).
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

use std::collections::{BTreeMap, BTreeSet};

use crate::{MachineCount, Region, RegionActuator};

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

async fn counted(actuator: &dyn RegionActuator, when: &str) -> BTreeMap<Region, MachineCount> {
    match actuator.deployment().await {
        Ok(deployment) => deployment,
        Err(err) => panic!("deployment() failed {when}: {err}"),
    }
}

async fn count_of(actuator: &dyn RegionActuator, region: &Region, when: &str) -> MachineCount {
    counted(actuator, when)
        .await
        .get(region)
        .copied()
        .unwrap_or(MachineCount::NONE)
}

async fn scale(actuator: &dyn RegionActuator, region: &Region, target: MachineCount, when: &str) {
    if let Err(err) = actuator.scale(region, target).await {
        panic!("scale({region}, {target}) failed {when}: {err}");
    }
}

/// The deployment and the regions listed agree: a region is listed by
/// `deployed_regions` exactly when `deployment` counts a running machine
/// there, and `deployment` names no region without a machine.
pub async fn deployment_agrees_with_the_listing(actuator: &dyn RegionActuator) {
    let deployment = counted(actuator, "to compare with the listing").await;
    let regions = listed(actuator, "to compare with the deployment").await;
    let running: BTreeSet<Region> = deployment
        .iter()
        .filter(|(_, count)| count.is_deployed())
        .map(|(region, _)| *region)
        .collect();
    assert_eq!(
        running, regions,
        "deployed_regions() differs from the regions deployment() counts running machines in"
    );
    for (region, count) in &deployment {
        assert!(
            count.total() > 0,
            "deployment() names {region} with no machine at all"
        );
    }
}

/// Scaling a region up brings it to the count asked for, asking again
/// changes nothing, scaling down lowers it, and scaling to
/// [`MachineCount::NONE`] takes the region out of the deployment.
pub async fn scale_up_down_and_to_none(actuator: &dyn RegionActuator, region: &Region) {
    let before = counted(actuator, "before scaling").await;
    assert!(
        !before.contains_key(region),
        "precondition: {region} must have no machine yet, deployment: {before:?}"
    );
    for (target, when) in [
        (MachineCount::new(3, 0), "scaling up to 3"),
        (MachineCount::new(3, 0), "asking for 3 again"),
        (MachineCount::new(1, 0), "scaling down to 1"),
        (MachineCount::new(2, 0), "scaling up to 2"),
    ] {
        scale(actuator, region, target, when).await;
        let got = count_of(actuator, region, &format!("after {when}")).await;
        assert_eq!(got, target, "{region} after {when}");
    }
    scale(actuator, region, MachineCount::NONE, "to none").await;
    scale(actuator, region, MachineCount::NONE, "to none again").await;
    let after = counted(actuator, "after scaling to none").await;
    assert!(
        !after.contains_key(region),
        "{region} still in the deployment after scaling to none: {after:?}"
    );
    let others = |d: &BTreeMap<Region, MachineCount>| {
        d.iter()
            .filter(|(r, _)| *r != region)
            .map(|(r, c)| (*r, *c))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        others(&after),
        others(&before),
        "scaling {region} touched other regions"
    );
}

/// Standbys are counted apart from running machines: a region scaled to
/// two running machines and one standby is counted so, is deployed, and
/// keeps its count when asked for it again; its standbys go when the
/// region is scaled to none.
pub async fn standbys_are_counted(actuator: &dyn RegionActuator, region: &Region) {
    let target = MachineCount::new(2, 1);
    scale(actuator, region, target, "with a standby").await;
    assert_eq!(
        count_of(actuator, region, "after scaling with a standby").await,
        target,
        "{region} after scaling to {target}"
    );
    scale(actuator, region, target, "with a standby again").await;
    assert_eq!(
        count_of(actuator, region, "after asking for the standby again").await,
        target,
        "asking for {target} again in {region} changed it"
    );
    assert!(
        listed(actuator, "with a standby").await.contains(region),
        "{region} with running machines and a standby is not listed as deployed"
    );
    scale(
        actuator,
        region,
        MachineCount::new(1, 0),
        "without standbys",
    )
    .await;
    assert_eq!(
        count_of(actuator, region, "after dropping the standby").await,
        MachineCount::new(1, 0),
        "{region}'s standby stayed"
    );
    scale(
        actuator,
        region,
        MachineCount::NONE,
        "after the standby test",
    )
    .await;
}

/// Runs every check of counts. `spare` is a region with no machine; the
/// actuator must already run the app in some other region. The spare
/// region ends up with no machine again.
pub async fn check_scaling_actuator(actuator: &dyn RegionActuator, spare: Region) {
    deployment_agrees_with_the_listing(actuator).await;
    scale_up_down_and_to_none(actuator, &spare).await;
    standbys_are_counted(actuator, &spare).await;
    deployment_agrees_with_the_listing(actuator).await;
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
