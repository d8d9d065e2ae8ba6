//! The response parser on real-shaped answers (most captured from
//! Prometheus 2.42 and VictoriaMetrics 1.79), including the odd values.

use placer_core::{Timestamp, TrafficSnapshot};
use placer_prom::{parse_response, ParsedResponse, PromError, QueryOutcome, ResultType};
use proptest::prelude::*;
use serde::Serialize;

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {path}: {e}"))
}

fn parse(name: &str) -> Result<ParsedResponse, PromError> {
    parse_response(&fixture(name), "region")
}

/// What a snapshot file records: the decoded answer, or the error message.
#[derive(Serialize)]
enum Parsed {
    Ok(ParsedResponse),
    Err(String),
}

fn record(name: &str) -> Parsed {
    match parse(name) {
        Ok(parsed) => Parsed::Ok(parsed),
        Err(err) => Parsed::Err(err.to_string()),
    }
}

#[test]
fn every_fixture_decodes_as_recorded() {
    let dir = format!("{}/tests/fixtures", env!("CARGO_MANIFEST_DIR"));
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(names.len() >= 20, "fixtures missing from {dir}");
    for name in names {
        let snapshot_name = name.replace('.', "_");
        insta::assert_yaml_snapshot!(snapshot_name, record(&name));
    }
}

#[test]
fn a_vector_becomes_one_snapshot_with_exact_counts() {
    let parsed = parse("vector_prometheus.json").unwrap();
    assert_eq!(parsed.result_type, ResultType::Vector);
    let expected = TrafficSnapshot::new(
        Timestamp::from_unix_seconds(1_795_819_800),
        [("fra", 40.0), ("iad", 80.0), ("syd", 12.5)],
    )
    .unwrap();
    assert_eq!(parsed.snapshots, vec![expected]);
    assert!(parsed.unlabelled.is_empty() && parsed.warnings.is_empty() && !parsed.partial);
}

#[test]
fn nan_and_infinities_are_refused_naming_series_and_value() {
    for (name, raw) in [
        ("vector_nan.json", "NaN"),
        ("vector_plus_inf.json", "+Inf"),
        ("vector_minus_inf.json", "-Inf"),
        ("vector_negative.json", "-3"),
        ("value_not_a_number.json", "lots"),
    ] {
        match parse(name) {
            Err(PromError::InvalidValue { series, value, .. }) => {
                assert_eq!(value, raw, "{name}");
                assert!(series.contains("region="), "{name}: {series}");
            }
            other => panic!("{name}: expected InvalidValue, got {other:?}"),
        }
    }
}

#[test]
fn a_nan_in_the_middle_of_a_range_is_refused_with_its_time() {
    let err = parse("matrix_nan_midway.json").unwrap_err();
    assert!(
        matches!(err, PromError::InvalidValue { at, .. } if at == Timestamp::from_unix_seconds(1_795_819_500)),
        "{err:?}"
    );
}

#[test]
fn a_sample_time_past_the_year_9999_is_refused_in_words() {
    // Two samples, one stamped in the year 20718: formatting it once made a
    // tick panic.
    let body = br#"{"status":"success","data":{"resultType":"vector","result":[
        {"metric":{"region":"fra"},"value":[1800000000,"3"]},
        {"metric":{"region":"iad"},"value":[591639209200,".125"]}]}}"#;
    let err = parse_response(body, "region").unwrap_err();
    let message = err.to_string();
    assert!(message.contains("591639209200"), "{message}");
    assert!(message.contains("between 1970 and 9999"), "{message}");
}

#[test]
fn series_without_the_region_label_are_reported_not_counted() {
    let parsed = parse("vector_mixed_labels.json").unwrap();
    assert_eq!(parsed.snapshots.len(), 1);
    assert_eq!(parsed.snapshots[0].len(), 1, "only iad is traffic");
    // `{}` and `{region=""}` (an empty label is an absent label), even with a NaN.
    let shown: Vec<String> = parsed.unlabelled.iter().map(ToString::to_string).collect();
    assert_eq!(shown, ["{} = 7", "{region=\"\"} = NaN"]);
}

#[test]
fn a_different_region_label_can_be_configured() {
    let body = br#"{"status":"success","data":{"resultType":"vector","result":[
        {"metric":{"edge_region":"ams","region":"ignored"},"value":[1795819800,"9"]}]}}"#;
    let parsed = parse_response(body, "edge_region").unwrap();
    assert_eq!(parsed.snapshots[0].requests(&"ams".parse().unwrap()), 9.0);

    // With the wrong label configured, every series is reported, none counted.
    let parsed = parse_response(&fixture("vector_prometheus.json"), "edge_region").unwrap();
    assert!(parsed.snapshots.is_empty());
    assert_eq!(parsed.unlabelled.len(), 3);
}

#[test]
fn ungrouped_series_repeat_a_region_and_are_refused() {
    let err = parse("vector_per_status_duplicate_regions.json").unwrap_err();
    assert!(matches!(&err, PromError::DuplicateRegion { region, .. } if region.as_str() == "iad"));
    assert!(err.to_string().contains("sum by (region)"), "{err}");
}

#[test]
fn an_uppercase_region_code_is_refused_with_the_label() {
    let err = parse("vector_invalid_region_code.json").unwrap_err();
    assert!(matches!(err, PromError::InvalidRegion { .. }), "{err:?}");
    assert!(err.to_string().contains("region=\"IAD\""), "{err}");
}

#[test]
fn partial_answers_and_warnings_are_surfaced() {
    let parsed = parse("vector_partial_with_warnings.json").unwrap();
    assert!(parsed.partial);
    assert_eq!(
        parsed.warnings,
        ["cannot fetch data from vmstorage-2: connection refused"]
    );
    // Fractional seconds keep their milliseconds.
    assert_eq!(
        parsed.snapshots[0].at(),
        Timestamp::from_unix_millis(1_795_819_800_123)
    );
}

#[test]
fn a_matrix_gives_one_snapshot_per_time_with_data() {
    let parsed = parse("matrix_with_gap.json").unwrap();
    let totals: Vec<(i64, f64)> = parsed
        .snapshots
        .iter()
        .map(|s| (s.at().unix_seconds(), s.total()))
        .collect();
    // fra has no sample at :25, which leaves fra out there (not a zero for all).
    assert_eq!(
        totals,
        [
            (1_795_819_200, 120.0),
            (1_795_819_500, 81.0),
            (1_795_819_800, 126.0)
        ]
    );
    assert_eq!(parsed.unlabelled.len(), 1);
    assert_eq!(parsed.unlabelled[0].latest_value, "2");
}

#[test]
fn error_answers_keep_type_and_message() {
    match parse("error_prometheus_bad_data.json") {
        Err(PromError::Api {
            error_type,
            message,
            http_status: None,
        }) => {
            assert_eq!(error_type, "bad_data");
            assert!(message.contains("got range vector"), "{message}");
        }
        other => panic!("expected Api error, got {other:?}"),
    }
    assert!(matches!(
        parse("error_victoria_metrics_422.json"),
        Err(PromError::Api { error_type, .. }) if error_type == "422"
    ));
}

#[test]
fn bodies_that_are_not_answers_are_decode_errors() {
    for name in [
        "not_json.html",
        "success_without_data.json",
        "vector_native_histogram.json",
    ] {
        assert!(
            matches!(parse(name), Err(PromError::Decode { .. })),
            "{name}"
        );
    }
}

#[test]
fn instant_outcomes_accept_vectors_and_scalars_only() {
    let at = Timestamp::from_unix_seconds(1_795_819_800);
    let outcome = QueryOutcome::from_instant(parse("vector_prometheus.json").unwrap(), at).unwrap();
    assert_eq!(outcome.snapshot.at(), at);
    assert_eq!(outcome.snapshot.total(), 132.5);

    let scalar = QueryOutcome::from_instant(parse("scalar_prometheus.json").unwrap(), at).unwrap();
    assert!(scalar.snapshot.is_empty());
    assert_eq!(scalar.unlabelled[0].latest_value, "+Inf");

    for name in ["matrix_victoria_metrics.json", "string_result.json"] {
        let err = QueryOutcome::from_instant(parse(name).unwrap(), at).unwrap_err();
        assert!(
            matches!(err, PromError::UnexpectedResultType { .. }),
            "{name}: {err:?}"
        );
    }
}

#[test]
fn an_instant_outcome_is_stamped_with_the_time_asked_for() {
    let asked = Timestamp::from_unix_millis(1_795_819_800_123);
    let parsed = parse("vector_partial_with_warnings.json").unwrap();
    let outcome = QueryOutcome::from_instant(parsed, asked).unwrap();
    assert_eq!(outcome.snapshot.at(), asked);
    assert!(outcome.partial);
}

/// Renders counts the way Prometheus does, so the property below covers the
/// whole path from the wire to the snapshot.
fn vector_body(counts: &[(String, f64)], seconds: f64) -> String {
    let result: Vec<serde_json::Value> = counts
        .iter()
        .map(|(region, count)| {
            serde_json::json!({"metric": {"region": region}, "value": [seconds, count.to_string()]})
        })
        .collect();
    serde_json::json!({"status": "success", "data": {"resultType": "vector", "result": result}})
        .to_string()
}

proptest! {
    #[test]
    fn any_valid_vector_round_trips_exactly(
        counts in prop::collection::btree_map("[a-z]{3}", 0.0f64..1e12, 1..20),
        seconds in 0i64..4_000_000_000,
    ) {
        let counts: Vec<(String, f64)> = counts.into_iter().collect();
        let parsed = parse_response(vector_body(&counts, seconds as f64).as_bytes(), "region").unwrap();
        let expected = TrafficSnapshot::new(Timestamp::from_unix_seconds(seconds), counts).unwrap();
        prop_assert_eq!(parsed.snapshots, vec![expected]);
    }

    #[test]
    fn arbitrary_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_response(&body, "region");
    }

    #[test]
    fn arbitrary_json_shaped_text_never_panics(body in r#"\{"status":"(success|error)","data":\{"resultType":"(vector|matrix|scalar)","result":[\[\]\{\}",:0-9a-zA-Z.+-]{0,80}\}\}"#) {
        let _ = parse_response(body.as_bytes(), "region");
    }
}

#[test]
fn a_multi_app_answer_splits_by_app_and_a_bad_series_fails_its_app_alone() {
    let body = br#"{"status":"success","data":{"resultType":"vector","result":[
        {"metric":{"app":"shop","region":"fra"},"value":[1800000000,"90"]},
        {"metric":{"app":"shop","region":"iad"},"value":[1800000000,"10"]},
        {"metric":{"app":"blog","region":"syd"},"value":[1800000000,"NaN"]},
        {"metric":{"region":"ams"},"value":[1800000000,"5"]}]}}"#;
    let split = placer_prom::split_by_label(body, "app").unwrap();
    assert_eq!(split.keys().collect::<Vec<_>>(), ["blog", "shop"]);
    let shop = placer_prom::parse_response(&split["shop"], "region").unwrap();
    assert_eq!(shop.snapshots[0].requests(&"fra".parse().unwrap()), 90.0);
    assert_eq!(shop.snapshots[0].requests(&"iad".parse().unwrap()), 10.0);
    assert!(placer_prom::parse_response(&split["blog"], "region").is_err());
    let error = br#"{"status":"error","errorType":"bad_data","error":"parse error"}"#;
    assert!(placer_prom::split_by_label(error, "app").is_err());
}

#[test]
fn the_multi_app_query_matches_exactly_the_apps() {
    let options = placer_prom::PrometheusOptions::default();
    assert_eq!(
        options.apps_query(["shop", "blog-2"]).unwrap(),
        "sum by (app, region) (increase(fly_edge_http_responses_count{app=~\"shop|blog-2\"}[5m]))"
    );
    let custom = placer_prom::PrometheusOptions {
        query_template: "sum by (region) (rate(x{app=\"{app}\"}[1m]))".into(),
        ..Default::default()
    };
    assert_eq!(custom.apps_query(["shop"]), None);
}

#[test]
fn a_split_answer_keeps_the_warnings_and_the_partial_flag() {
    let body = br#"{"status":"success","isPartial":true,"warnings":["slow storage"],
        "data":{"resultType":"vector","result":[
        {"metric":{"app":"shop","region":"fra"},"value":[1800000000,"90"]},
        {"metric":{"app":7,"region":"iad"},"value":[1800000000,"10"]},
        {"metric":{"app":"bl\u006fg","region":"syd"},"value":[1800000000,"4"]}]}}"#;
    let split = placer_prom::split_by_label(body, "app").unwrap();
    // The series whose app is not a string is left out; escapes are read.
    assert_eq!(split.keys().collect::<Vec<_>>(), ["blog", "shop"]);
    let shop = placer_prom::parse_response(&split["shop"], "region").unwrap();
    assert!(shop.partial);
    assert_eq!(shop.warnings, ["slow storage"]);
    assert_eq!(shop.snapshots[0].requests(&"fra".parse().unwrap()), 90.0);
    let no_result = br#"{"status":"success","data":{"resultType":"vector","result":{}}}"#;
    let err = placer_prom::split_by_label(no_result, "app").unwrap_err();
    assert!(err.to_string().contains("data.result"), "{err}");
}
