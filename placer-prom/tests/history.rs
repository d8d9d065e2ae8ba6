//! Long ranges in several range queries, against a local HTTP stub on
//! 127.0.0.1 that answers every query from the range it was asked for.

mod support;

use std::time::Duration;

use placer_core::Timestamp;
use placer_prom::{PromError, MAX_POINTS_PER_QUERY};
use support::stub::*;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// Answers a range query with one `iad` series whose value at each
/// evaluation time `t` (unix seconds) is `t mod 1000`, but only from
/// `data_from` on; a query for a later range than `fail_after` gets a 503.
struct Synthetic {
    data_from: i64,
    fail_after: Option<i64>,
}

impl Respond for Synthetic {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let form = form(request);
        let seconds = |key: &str| form[key].parse::<f64>().unwrap();
        let (start, end, step) = (seconds("start"), seconds("end"), seconds("step"));
        if self.fail_after.is_some_and(|limit| start as i64 > limit) {
            return ResponseTemplate::new(503).set_body_string("overloaded");
        }
        let points = ((end - start) / step).floor() as i64 + 1;
        assert!(
            points as usize <= MAX_POINTS_PER_QUERY,
            "a query asked for {points} points"
        );
        let values: Vec<String> = (0..points)
            .map(|i| (start + i as f64 * step) as i64)
            .filter(|t| *t >= self.data_from)
            .map(|t| format!("[{t},\"{}\"]", t.rem_euclid(1000)))
            .collect();
        let result = if values.is_empty() {
            String::new()
        } else {
            format!(
                r#"{{"metric":{{"region":"iad"}},"values":[{}]}}"#,
                values.join(",")
            )
        };
        json(format!(
            r#"{{"status":"success","data":{{"resultType":"matrix","result":[{result}]}}}}"#
        ))
    }
}

async fn stub(synthetic: Synthetic) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path(RANGE_PATH))
        .respond_with(synthetic)
        .mount(&server)
        .await;
    server
}

const START: i64 = 1_795_000_000;

#[tokio::test]
async fn a_long_range_is_fetched_in_pieces_and_joined_without_gaps_or_repeats() {
    let server = stub(Synthetic {
        data_from: 0,
        fail_after: None,
    })
    .await;
    let start = Timestamp::from_unix_seconds(START);
    let end = start + Duration::from_secs(24_999);
    let mut calls = Vec::new();
    let snapshots = source(settings(&server))
        .query_history(start, end, Duration::from_secs(1), |done, total| {
            calls.push((done, total))
        })
        .await
        .unwrap();

    assert_eq!(calls, vec![(1, 3), (2, 3), (3, 3)]);
    assert_eq!(snapshots.len(), 25_000);
    for (i, snapshot) in snapshots.iter().enumerate() {
        let t = START + i as i64;
        assert_eq!(snapshot.at(), Timestamp::from_unix_seconds(t));
        assert_eq!(
            snapshot.requests(&"iad".parse().unwrap()),
            (t % 1000) as f64
        );
    }
    let requests = server.received_requests().await.unwrap();
    let ranges: Vec<(String, String)> = requests
        .iter()
        .map(|r| {
            let form = form(r);
            (form["start"].clone(), form["end"].clone())
        })
        .collect();
    assert_eq!(
        ranges,
        vec![
            ("1795000000.000".to_owned(), "1795009999.000".to_owned()),
            ("1795010000.000".to_owned(), "1795019999.000".to_owned()),
            ("1795020000.000".to_owned(), "1795024999.000".to_owned()),
        ]
    );
}

#[tokio::test]
async fn pieces_before_the_data_starts_add_nothing() {
    let server = stub(Synthetic {
        data_from: START + 15_000,
        fail_after: None,
    })
    .await;
    let start = Timestamp::from_unix_seconds(START);
    let snapshots = source(settings(&server))
        .query_history(
            start,
            start + Duration::from_secs(19_999),
            Duration::from_secs(1),
            |_, _| {},
        )
        .await
        .unwrap();
    assert_eq!(snapshots.len(), 5_000);
    assert_eq!(
        snapshots[0].at(),
        Timestamp::from_unix_seconds(START + 15_000)
    );

    // No data anywhere is an error, as for one query.
    let err = source(settings(&server))
        .query_history(
            start,
            start + Duration::from_secs(12_000),
            Duration::from_secs(1),
            |_, _| {},
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, PromError::NoRegionSeries { unlabelled: 0, .. }),
        "{err}"
    );
}

#[tokio::test]
async fn a_failing_piece_fails_the_fetch() {
    let server = stub(Synthetic {
        data_from: 0,
        fail_after: Some(START + 5_000),
    })
    .await;
    let start = Timestamp::from_unix_seconds(START);
    let mut done = 0;
    let err = source(settings(&server))
        .query_history(
            start,
            start + Duration::from_secs(30_000),
            Duration::from_secs(1),
            |count, _| done = count,
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("503"), "{err}");
    assert_eq!(done, 1, "the second query failed");
}
