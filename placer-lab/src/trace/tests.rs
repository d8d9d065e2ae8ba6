use proptest::prelude::*;

use super::*;

fn region(code: &str) -> Region {
    code.parse().unwrap()
}

fn parse(text: &str) -> Result<Trace, TraceError> {
    text.parse()
}

#[test]
fn reads_rows_into_one_snapshot_per_tick() {
    let trace = parse(
        "timestamp,region,requests\n\
         2026-01-05T00:00:00Z,iad,120\n\
         2026-01-05T00:00:00Z,fra,35.5\n\
         \n\
         2026-01-05T00:01:00Z,fra,0\r\n\
         2026-01-05T00:01:00Z, iad , 1e2\n",
    )
    .unwrap();
    assert_eq!(trace.len(), 2);
    let first = &trace.ticks()[0];
    assert_eq!(first.at().to_string(), "2026-01-05T00:00:00Z");
    assert_eq!(first.requests(&region("fra")), 35.5);
    assert_eq!(trace.ticks()[1].requests(&region("iad")), 100.0);
    assert_eq!(trace.tick_interval(), Duration::from_secs(60));
    assert_eq!(trace.regions().len(), 2);
    assert_eq!(trace.totals()[&region("iad")], 220.0);
}

#[test]
fn the_header_is_required() {
    let err = parse("2026-01-05T00:00:00Z,iad,1\n").unwrap_err();
    assert!(
        matches!(err, TraceError::MissingHeader { line: 1, .. }),
        "{err}"
    );
    assert!(
        err.to_string().contains("timestamp,region,requests"),
        "{err}"
    );
    assert_eq!(parse("").unwrap_err(), TraceError::Empty);
    assert_eq!(
        parse("timestamp,region,requests\n").unwrap_err(),
        TraceError::Empty
    );
    // A byte-order mark before the header is tolerated.
    assert!(parse("\u{feff}timestamp,region,requests\n2026-01-05T00:00:00Z,iad,1\n").is_ok());
}

#[test]
fn bad_rows_are_reported_with_their_line() {
    let header = "timestamp,region,requests\n";
    let ok_row = "2026-01-05T00:00:00Z,iad,1\n";
    let cases: [(&str, usize, &str); 9] = [
        ("2026-01-05T00:00:00Z,iad\n", 3, "3 comma-separated fields"),
        ("2026-01-05T00:00:00Z,iad,1,2\n", 3, "found 4"),
        ("yesterday,iad,1\n", 3, "RFC 3339"),
        ("2026-01-05T00:00:00+02:00,iad,1\n", 3, "RFC 3339 UTC"),
        ("2026-01-05T00:00:00Z,IAD,1\n", 3, "lowercase"),
        (
            "2026-01-05T00:00:00Z,fra,many\n",
            3,
            "\"many\" for region fra is not a number",
        ),
        ("2026-01-05T00:00:00Z,fra,-4\n", 3, "is negative"),
        ("2026-01-05T00:00:00Z,fra,NaN\n", 3, "not a finite number"),
        ("2026-01-05T00:00:00Z,fra,inf\n", 3, "not a finite number"),
    ];
    for (row, line, needle) in cases {
        let err = parse(&format!("{header}{ok_row}{row}")).unwrap_err();
        let text = err.to_string();
        assert!(
            text.starts_with(&format!("line {line}:")),
            "{row:?}: {text}"
        );
        assert!(text.contains(needle), "{row:?}: {text}");
        assert_eq!(err.line(), Some(line), "{row:?}");
    }
    assert_eq!(parse(header).unwrap_err().line(), None);
}

#[test]
fn time_must_not_go_backwards() {
    let err = parse(
        "timestamp,region,requests\n\
         2026-01-05T00:01:00Z,iad,1\n\
         2026-01-05T00:01:00Z,fra,1\n\
         2026-01-05T00:00:00Z,iad,1\n",
    )
    .unwrap_err();
    assert_eq!(
        err,
        TraceError::Unsorted {
            line: 4,
            at: "2026-01-05T00:00:00Z".parse().unwrap(),
            previous: "2026-01-05T00:01:00Z".parse().unwrap(),
            previous_line: 3,
        }
    );
    assert!(err.to_string().contains("sorted by time"), "{err}");
}

#[test]
fn a_region_may_appear_once_per_tick() {
    let err = parse(
        "timestamp,region,requests\n\
         2026-01-05T00:00:00Z,iad,1\n\
         2026-01-05T00:00:00Z,fra,1\n\
         2026-01-05T00:00:00Z,iad,2\n",
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            TraceError::Duplicate {
                line: 4,
                first_line: 2,
                ..
            }
        ),
        "{err}"
    );
    // The same region at the next tick is fine.
    assert!(parse(
        "timestamp,region,requests\n\
         2026-01-05T00:00:00Z,iad,1\n\
         2026-01-05T00:01:00Z,iad,2\n"
    )
    .is_ok());
}

#[test]
fn tick_interval_is_the_median_gap() {
    let rows: String = [0, 60, 120, 300, 360, 420]
        .iter()
        .map(|s| {
            format!(
                "{},iad,1\n",
                Timestamp::from_unix_seconds(1_800_000_000 + s)
            )
        })
        .collect();
    let trace = parse(&format!("timestamp,region,requests\n{rows}")).unwrap();
    assert_eq!(trace.tick_interval(), Duration::from_secs(60));
    let single = parse("timestamp,region,requests\n2026-01-05T00:00:00Z,iad,1\n").unwrap();
    assert_eq!(single.tick_interval(), DEFAULT_TICK_INTERVAL);
    let custom = single.with_tick_interval(Duration::from_secs(15)).unwrap();
    assert_eq!(custom.tick_interval(), Duration::from_secs(15));
    assert_eq!(
        custom.with_tick_interval(Duration::ZERO).unwrap_err(),
        TraceError::ZeroTickInterval
    );
}

#[test]
fn new_rejects_empty_and_unordered_snapshots() {
    let at = Timestamp::from_unix_seconds(100);
    assert_eq!(Trace::new(vec![]).unwrap_err(), TraceError::Empty);
    let err = Trace::new(vec![TrafficSnapshot::empty(at), TrafficSnapshot::empty(at)]).unwrap_err();
    assert!(
        matches!(err, TraceError::TicksOutOfOrder { index: 1, .. }),
        "{err}"
    );
}

#[test]
fn writes_the_documented_format() {
    let at = Timestamp::from_unix_seconds(1_767_571_200);
    let trace = Trace::new(vec![
        TrafficSnapshot::new(at, [("iad", 120.0), ("fra", 35.5)]).unwrap(),
        TrafficSnapshot::new(at + Duration::from_secs(60), [("fra", 0.0)]).unwrap(),
    ])
    .unwrap();
    assert_eq!(
        trace.to_csv(),
        "timestamp,region,requests\n\
         2026-01-05T00:00:00Z,fra,35.5\n\
         2026-01-05T00:00:00Z,iad,120\n\
         2026-01-05T00:01:00Z,fra,0\n"
    );
}

fn arbitrary_trace() -> impl Strategy<Value = Trace> {
    let codes = prop::sample::subsequence(vec!["ams", "fra", "iad", "nrt", "syd", "zzz"], 1..=6);
    let tick = (codes, prop::collection::vec(0.0..1e9f64, 6), any::<bool>());
    (
        0i64..4_000_000_000_000,
        prop::collection::vec((1i64..100_000_000, tick), 1..20),
    )
        .prop_map(|(start, steps)| {
            let mut at = start;
            let ticks = steps
                .into_iter()
                .map(|(gap, (codes, values, whole))| {
                    at += gap;
                    let counts = codes
                        .into_iter()
                        .zip(values)
                        .map(|(code, value)| (code, if whole { value.floor() } else { value }));
                    TrafficSnapshot::new(Timestamp::from_unix_millis(at), counts).unwrap()
                })
                .collect();
            Trace::new(ticks).unwrap()
        })
}

proptest! {
    #[test]
    fn csv_round_trips(trace in arbitrary_trace()) {
        let text = trace.to_csv();
        let back: Trace = text.parse().unwrap();
        prop_assert_eq!(&back, &trace);
        prop_assert_eq!(back.to_csv(), text);
    }

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
        let _ = Trace::from_csv(&text);
    }
}
