//! Conformance checks for `MetricsSource` implementations.
//!
//! Each check fetches through the trait only and panics with a message that
//! names the broken rule, like an assertion, so a backend's test reads:
//!
//! ```
//! # futures::executor::block_on(async {
//! use placer_core::{conformance, ScriptedSource, Timestamp, TrafficSnapshot};
//!
//! let at = Timestamp::from_unix_seconds(1_800_000_000);
//! let expected = TrafficSnapshot::new(at, [("iad", 120.0)]).unwrap();
//! let source = ScriptedSource::from_snapshots([expected.clone()]);
//! conformance::fetch_reports_expected_traffic(&source, at, &expected).await;
//! conformance::failing_backend_is_an_error(&source, at).await; // script exhausted
//! # });
//! ```

use crate::{MetricsError, MetricsSource, Timestamp, TrafficSnapshot};

/// Counts from real backends pass through floating point arithmetic; this is
/// the relative difference still taken as equal.
const RELATIVE_TOLERANCE: f64 = 1e-9;

/// A successful fetch at `at` yields a snapshot stamped `at` with exactly the
/// regions of `expected` and, within floating point rounding, its counts.
/// Returns the fetched snapshot for further checks.
///
/// # Panics
/// When the fetch fails, or the snapshot's time, regions or counts differ.
pub async fn fetch_reports_expected_traffic<S>(
    source: &S,
    at: Timestamp,
    expected: &TrafficSnapshot,
) -> TrafficSnapshot
where
    S: MetricsSource + ?Sized,
{
    let snapshot = match source.fetch(at).await {
        Ok(snapshot) => snapshot,
        Err(err) => panic!(
            "fetch at {at} failed where traffic was expected: {}",
            chain(&err)
        ),
    };
    assert_eq!(
        snapshot.at(),
        at,
        "a snapshot fetched at {at} must be stamped {at}"
    );
    let regions = |s: &TrafficSnapshot| s.iter().map(|(r, _)| *r).collect::<Vec<_>>();
    assert_eq!(
        regions(&snapshot),
        regions(expected),
        "regions fetched at {at} differ from the expected ones"
    );
    for (region, want) in expected.iter() {
        let got = snapshot.requests(region);
        let scale = want.abs().max(got.abs()).max(1.0);
        assert!(
            (got - want).abs() <= RELATIVE_TOLERANCE * scale,
            "region {region} at {at}: fetched {got} requests, expected {want}"
        );
    }
    snapshot
}

/// A source whose backend is failing reports an error with a message, and
/// never an empty snapshot (which would read as zero traffic everywhere).
/// Returns the error for further checks.
///
/// # Panics
/// When the fetch succeeds, or the error's message is empty.
pub async fn failing_backend_is_an_error<S>(source: &S, at: Timestamp) -> MetricsError
where
    S: MetricsSource + ?Sized,
{
    match source.fetch(at).await {
        Ok(snapshot) => panic!(
            "fetch at {at} from a failing backend succeeded with {} region(s); it must be an error",
            snapshot.len()
        ),
        Err(err) => {
            assert!(
                !err.to_string().trim().is_empty(),
                "the error for a failing backend has no message"
            );
            err
        }
    }
}

/// A failing fetch's error, including every error it wraps, in both its
/// `Display` and `Debug` forms, does not contain `secret` (e.g. the token the
/// source was configured with).
///
/// # Panics
/// When the fetch succeeds, or the secret shows up in the error.
pub async fn errors_do_not_reveal<S>(source: &S, at: Timestamp, secret: &str)
where
    S: MetricsSource + ?Sized,
{
    assert!(!secret.is_empty(), "give a non-empty secret to look for");
    let err = failing_backend_is_an_error(source, at).await;
    let shown = format!("{}\n{err:?}", chain(&err));
    assert!(
        !shown.contains(secret),
        "the error reveals the secret: {shown}"
    );
}

/// Two fetches at the same `at` agree. Holds for sources over stored
/// history (a time-series database, a recording), not for scripted ones.
///
/// # Panics
/// When either fetch fails or the snapshots differ.
pub async fn repeated_fetches_agree<S>(source: &S, at: Timestamp)
where
    S: MetricsSource + ?Sized,
{
    let first = fetch_reports_any(source, at).await;
    fetch_reports_expected_traffic(source, at, &first).await;
}

async fn fetch_reports_any<S>(source: &S, at: Timestamp) -> TrafficSnapshot
where
    S: MetricsSource + ?Sized,
{
    source
        .fetch(at)
        .await
        .unwrap_or_else(|err| panic!("fetch at {at} failed: {}", chain(&err)))
}

/// An error and all its sources, joined by `: `.
fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut next = err.source();
    while let Some(inner) = next {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        next = inner.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ScriptedSource;
    use futures::executor::block_on;
    use std::panic::{catch_unwind, AssertUnwindSafe};

    fn at() -> Timestamp {
        Timestamp::from_unix_seconds(1_800_000_000)
    }

    fn snapshot(iad: f64) -> TrafficSnapshot {
        TrafficSnapshot::new(at(), [("iad", iad), ("fra", 4.0)]).unwrap()
    }

    fn panics(check: impl FnOnce()) -> String {
        let payload = catch_unwind(AssertUnwindSafe(check)).expect_err("the check should fail");
        payload
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default()
    }

    #[test]
    fn matching_traffic_passes_and_rounding_is_tolerated() {
        let source = ScriptedSource::from_snapshots([snapshot(10.0 + 1e-12)]);
        block_on(fetch_reports_expected_traffic(
            &source,
            at(),
            &snapshot(10.0),
        ));
    }

    #[test]
    fn a_different_count_fails_naming_the_region() {
        let source = ScriptedSource::from_snapshots([snapshot(11.0)]);
        let message = panics(|| {
            drop(block_on(fetch_reports_expected_traffic(
                &source,
                at(),
                &snapshot(10.0),
            )))
        });
        assert!(message.contains("region iad"), "{message}");
    }

    #[test]
    fn a_missing_region_fails() {
        let only_iad = TrafficSnapshot::new(at(), [("iad", 10.0)]).unwrap();
        let source = ScriptedSource::from_snapshots([only_iad]);
        let message = panics(|| {
            drop(block_on(fetch_reports_expected_traffic(
                &source,
                at(),
                &snapshot(10.0),
            )))
        });
        assert!(message.contains("regions"), "{message}");
    }

    #[test]
    fn an_empty_snapshot_from_a_failing_backend_is_caught() {
        let source = ScriptedSource::from_snapshots([TrafficSnapshot::empty(at())]);
        let message = panics(|| drop(block_on(failing_backend_is_an_error(&source, at()))));
        assert!(message.contains("must be an error"), "{message}");
    }

    #[test]
    fn failures_pass_and_secrets_are_looked_for_in_the_whole_chain() {
        let source = ScriptedSource::new();
        source.push_failure("backend down");
        source.push_failure("token s3cret rejected");
        block_on(errors_do_not_reveal(&source, at(), "s3cret-other"));
        let message = panics(|| block_on(errors_do_not_reveal(&source, at(), "s3cret")));
        assert!(message.contains("reveals the secret"), "{message}");
    }

    #[test]
    fn repeated_fetches_must_agree() {
        let source = ScriptedSource::from_snapshots([snapshot(10.0), snapshot(10.0)]);
        block_on(repeated_fetches_agree(&source, at()));
        let source = ScriptedSource::from_snapshots([snapshot(10.0), snapshot(12.0)]);
        panics(|| block_on(repeated_fetches_agree(&source, at())));
    }
}
