//! Decoding the JSON answers of the Prometheus HTTP API into snapshots.
//!
//! Shared by instant and range queries, and public so that the fuzz target
//! and embedders holding a stored answer can reach it without a server.

use std::collections::BTreeMap;
use std::fmt;

use placer_core::{snapshot::SnapshotError, Region, Timestamp, TrafficSnapshot};
use serde::{Deserialize, Serialize};

use crate::PromError;

/// The `resultType` of a Prometheus answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ResultType {
    /// One sample per series (instant queries).
    Vector,
    /// Several samples per series (range queries).
    Matrix,
    /// A single unlabelled number.
    Scalar,
    /// A single string (never traffic).
    String,
}

impl fmt::Display for ResultType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ResultType::Vector => "vector",
            ResultType::Matrix => "matrix",
            ResultType::Scalar => "scalar",
            ResultType::String => "string",
        })
    }
}

/// A series in an answer that carries no region label, so its value could
/// not be attributed to a region. Reported so it is never dropped silently:
/// usually it means the query groups by a different label.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UnlabelledSeries {
    /// All labels of the series (empty for a scalar result).
    pub labels: BTreeMap<String, String>,
    /// Its most recent value, as the server sent it.
    pub latest_value: String,
}

impl fmt::Display for UnlabelledSeries {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} = {}", format_labels(&self.labels), self.latest_value)
    }
}

/// A successful answer, decoded and checked.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ParsedResponse {
    /// The kind of result the server returned.
    pub result_type: ResultType,
    /// One snapshot per distinct sample time, in time order. Each holds the
    /// region-labelled series sampled at that time.
    pub snapshots: Vec<TrafficSnapshot>,
    /// Series without the region label (not part of any snapshot).
    pub unlabelled: Vec<UnlabelledSeries>,
    /// Warnings the server attached to the answer.
    pub warnings: Vec<String>,
    /// True when the server flagged the answer as partial (VictoriaMetrics'
    /// `isPartial`): some data may be missing.
    pub partial: bool,
}

/// Splits a successful answer into one answer per value of `label` (the
/// app's name in a multi-app query), each holding that value's series, so
/// each can be read with [`parse_response`] on its own. Series without the
/// label are left out. An answer that is not a success is an error.
///
/// # Errors
/// [`PromError::Api`] or [`PromError::Decode`] as [`parse_response`].
pub fn split_by_label(body: &[u8], label: &str) -> Result<BTreeMap<String, Vec<u8>>, PromError> {
    // Read without building a JSON tree of the whole answer: with many apps
    // it holds tens of thousands of series, and the tree would take many
    // times the answer's size. Each series is kept as its text.
    let envelope: SplitEnvelope<'_> =
        serde_json::from_slice(body).map_err(|e| PromError::decode(e.to_string()))?;
    match envelope.status.as_ref().and_then(|status| status.as_str()) {
        Some("success") => {}
        Some("error") => {
            let text = |value: Option<serde_json::Value>| {
                value.and_then(|value| value.as_str().map(str::to_owned))
            };
            return Err(PromError::Api {
                error_type: text(envelope.error_type).unwrap_or_else(|| "unknown".to_owned()),
                message: text(envelope.error).unwrap_or_default(),
                http_status: None,
            });
        }
        _ => return Err(PromError::decode("not a Prometheus answer")),
    }
    let no_result = || PromError::decode("a successful answer has no `data.result` list");
    let data: SplitData<'_> = envelope
        .data
        .and_then(|data| serde_json::from_str(data.get()).ok())
        .ok_or_else(no_result)?;
    let series = data.result.ok_or_else(no_result)?;
    let mut groups: BTreeMap<String, Vec<&serde_json::value::RawValue>> = BTreeMap::new();
    for one in series {
        let Ok(labels) = serde_json::from_str::<SplitSeries<'_>>(one.get()) else {
            continue;
        };
        let value = labels
            .metric
            .and_then(|metric| metric.get(label).copied())
            .and_then(|value| serde_json::from_str::<std::borrow::Cow<'_, str>>(value.get()).ok());
        if let Some(value) = value {
            groups.entry(value.into_owned()).or_default().push(one);
        }
    }
    let result_type = data.result_type.map_or("null", |value| value.get());
    let warnings = not_null(envelope.warnings);
    let partial = not_null(envelope.is_partial);
    Ok(groups
        .into_iter()
        .map(|(value, result)| {
            let mut answer = String::from(r#"{"status":"success","data":{"resultType":"#);
            answer.push_str(result_type);
            answer.push_str(r#","result":["#);
            for (i, one) in result.iter().enumerate() {
                if i > 0 {
                    answer.push(',');
                }
                answer.push_str(one.get());
            }
            answer.push_str("]}");
            if let Some(warnings) = warnings {
                answer.push_str(r#","warnings":"#);
                answer.push_str(warnings.get());
            }
            if let Some(partial) = partial {
                answer.push_str(r#","isPartial":"#);
                answer.push_str(partial.get());
            }
            answer.push('}');
            (value, answer.into_bytes())
        })
        .collect())
}

/// `value` unless it is JSON `null`.
fn not_null(value: Option<&serde_json::value::RawValue>) -> Option<&serde_json::value::RawValue> {
    value.filter(|value| value.get().trim() != "null")
}

/// The parts of an answer [`split_by_label`] reads, the rest as text.
#[derive(Deserialize)]
struct SplitEnvelope<'a> {
    status: Option<serde_json::Value>,
    #[serde(rename = "errorType")]
    error_type: Option<serde_json::Value>,
    error: Option<serde_json::Value>,
    #[serde(borrow)]
    data: Option<&'a serde_json::value::RawValue>,
    #[serde(borrow)]
    warnings: Option<&'a serde_json::value::RawValue>,
    #[serde(borrow, rename = "isPartial")]
    is_partial: Option<&'a serde_json::value::RawValue>,
}

#[derive(Deserialize)]
struct SplitData<'a> {
    #[serde(borrow, rename = "resultType")]
    result_type: Option<&'a serde_json::value::RawValue>,
    #[serde(borrow)]
    result: Option<Vec<&'a serde_json::value::RawValue>>,
}

#[derive(Deserialize)]
struct SplitSeries<'a> {
    #[serde(borrow)]
    metric: Option<BTreeMap<std::borrow::Cow<'a, str>, &'a serde_json::value::RawValue>>,
}

/// Decodes the body of a `/api/v1/query` or `/api/v1/query_range` answer.
///
/// The series' `region_label` values become the snapshots' regions. Values
/// `"NaN"`, `"+Inf"`, `"-Inf"`, negative or non-numeric values in a
/// region-labelled series are rejected rather than passed on as traffic;
/// series without the label are collected in
/// [`unlabelled`](ParsedResponse::unlabelled). This function never panics,
/// whatever the input.
///
/// ```
/// use placer_prom::{parse_response, ResultType};
///
/// let body = br#"{"status":"success","data":{"resultType":"vector","result":[
///     {"metric":{"region":"iad"},"value":[1800000000,"120"]},
///     {"metric":{"region":"fra"},"value":[1800000000,"40.5"]}]}}"#;
/// let parsed = parse_response(body, "region").unwrap();
/// assert_eq!(parsed.result_type, ResultType::Vector);
/// assert_eq!(parsed.snapshots[0].requests(&"fra".parse().unwrap()), 40.5);
///
/// let nan = br#"{"status":"success","data":{"resultType":"vector","result":[
///     {"metric":{"region":"iad"},"value":[1800000000,"NaN"]}]}}"#;
/// assert!(parse_response(nan, "region").is_err());
/// ```
///
/// # Errors
/// - [`PromError::Api`] for a `"status":"error"` answer, with its type and message;
/// - [`PromError::Decode`] when the body is not a Prometheus answer;
/// - [`PromError::InvalidValue`], [`PromError::InvalidRegion`] or
///   [`PromError::DuplicateRegion`] for a series that cannot be traffic.
pub fn parse_response(body: &[u8], region_label: &str) -> Result<ParsedResponse, PromError> {
    let envelope: Envelope =
        serde_json::from_slice(body).map_err(|e| PromError::decode(e.to_string()))?;
    match envelope.status.as_str() {
        "success" => {}
        "error" => {
            return Err(PromError::Api {
                error_type: envelope.error_type.unwrap_or_else(|| "unknown".to_owned()),
                message: envelope.error.unwrap_or_default(),
                http_status: None,
            })
        }
        other => return Err(PromError::decode(format!("unknown status {other:?}"))),
    }
    let data = envelope
        .data
        .ok_or_else(|| PromError::decode("a successful answer has no `data`"))?;
    let data = Data::deserialize(data).map_err(|e| PromError::decode(format!("in `data`: {e}")))?;

    let mut collector = Collector::new(region_label);
    let result_type = match data {
        Data::Vector(samples) => {
            for sample in samples {
                let point = sample.value.ok_or_else(|| {
                    PromError::decode(format!(
                        "series {} has no float `value` (native histograms are not request counts)",
                        format_labels(&sample.metric)
                    ))
                })?;
                collector.add_series(sample.metric, std::slice::from_ref(&point))?;
            }
            ResultType::Vector
        }
        Data::Matrix(series) => {
            for one in series {
                collector.add_series(one.metric, &one.values)?;
            }
            ResultType::Matrix
        }
        Data::Scalar(point) => {
            collector.add_series(BTreeMap::new(), std::slice::from_ref(&point))?;
            ResultType::Scalar
        }
        Data::String(_) => ResultType::String,
    };
    Ok(ParsedResponse {
        result_type,
        snapshots: collector.snapshots()?,
        unlabelled: collector.unlabelled,
        warnings: envelope.warnings.unwrap_or_default(),
        partial: envelope.is_partial.unwrap_or(false),
    })
}

/// Reads the error object out of a body, if it is one. Used for HTTP error
/// statuses, where Prometheus still explains itself in JSON.
pub(crate) fn api_error(body: &[u8]) -> Option<(String, String)> {
    let envelope: Envelope = serde_json::from_slice(body).ok()?;
    (envelope.status == "error").then(|| {
        (
            envelope.error_type.unwrap_or_else(|| "unknown".to_owned()),
            envelope.error.unwrap_or_default(),
        )
    })
}

/// Formats labels the way PromQL writes them: `{app="shop",region="iad"}`.
pub(crate) fn format_labels(labels: &BTreeMap<String, String>) -> String {
    let inner: Vec<String> = labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
    format!("{{{}}}", inner.join(","))
}

/// Groups region-labelled samples by time while checking every value.
struct Collector<'a> {
    region_label: &'a str,
    by_time: BTreeMap<Timestamp, Vec<(Region, f64)>>,
    unlabelled: Vec<UnlabelledSeries>,
}

impl<'a> Collector<'a> {
    fn new(region_label: &'a str) -> Self {
        Collector {
            region_label,
            by_time: BTreeMap::new(),
            unlabelled: Vec::new(),
        }
    }

    fn add_series(
        &mut self,
        labels: BTreeMap<String, String>,
        points: &[RawPoint],
    ) -> Result<(), PromError> {
        // Prometheus treats an empty label value as an absent label.
        let region_code = labels.get(self.region_label).filter(|v| !v.is_empty());
        let Some(code) = region_code else {
            if let Some(last) = points.last() {
                self.unlabelled.push(UnlabelledSeries {
                    labels,
                    latest_value: last.1.clone(),
                });
            }
            return Ok(());
        };
        let region = Region::new(code).map_err(|source| PromError::InvalidRegion {
            series: format_labels(&labels),
            label: self.region_label.to_owned(),
            source,
        })?;
        for RawPoint(seconds, raw) in points {
            let at = timestamp_from_seconds(*seconds)?;
            let value = request_count(raw).ok_or_else(|| PromError::InvalidValue {
                series: format_labels(&labels),
                at,
                value: raw.clone(),
            })?;
            self.by_time.entry(at).or_default().push((region, value));
        }
        Ok(())
    }

    fn snapshots(&mut self) -> Result<Vec<TrafficSnapshot>, PromError> {
        std::mem::take(&mut self.by_time)
            .into_iter()
            .map(|(at, counts)| {
                TrafficSnapshot::new(at, counts).map_err(|err| match err {
                    SnapshotError::Duplicate { region } => match Region::new(&region) {
                        Ok(region) => PromError::DuplicateRegion { region, at },
                        Err(_) => PromError::decode(format!("duplicate region {region:?}")),
                    },
                    // Regions and values were checked above; keep any other
                    // refusal an error all the same.
                    other => PromError::decode(other.to_string()),
                })
            })
            .collect()
    }
}

/// A request count from a sample value: finite, non-negative numbers only.
fn request_count(raw: &str) -> Option<f64> {
    let value: f64 = raw.trim().parse().ok()?;
    (value.is_finite() && value >= 0.0).then_some(value)
}

/// Prometheus sends sample times as (fractional) Unix seconds. Only times
/// from 1970 to the end of the year 9999 are taken: no real sample lies
/// outside, and a garbled one must not travel on into reports and logs.
fn timestamp_from_seconds(seconds: f64) -> Result<Timestamp, PromError> {
    /// 9999-12-31T23:59:59Z.
    const LAST_SECONDS: f64 = 253_402_300_799.0;
    if !seconds.is_finite() || !(0.0..=LAST_SECONDS).contains(&seconds) {
        return Err(PromError::decode(format!(
            "sample time {seconds} is not a Unix time in seconds between 1970 and 9999"
        )));
    }
    Ok(Timestamp::from_unix_millis(
        (seconds * 1000.0).round() as i64
    ))
}

/// The outer object of every answer, successful or not.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Envelope {
    status: String,
    #[serde(default)]
    data: Option<serde_json::Value>,
    #[serde(default)]
    error_type: Option<String>,
    #[serde(default)]
    error: Option<String>,
    #[serde(default)]
    warnings: Option<Vec<String>>,
    #[serde(default)]
    is_partial: Option<bool>,
}

#[derive(Deserialize)]
#[serde(tag = "resultType", content = "result", rename_all = "lowercase")]
enum Data {
    Vector(Vec<VectorSample>),
    Matrix(Vec<MatrixSeries>),
    Scalar(RawPoint),
    /// Never traffic; only its presence matters.
    String(serde::de::IgnoredAny),
}

#[derive(Deserialize)]
struct VectorSample {
    #[serde(default)]
    metric: BTreeMap<String, String>,
    #[serde(default)]
    value: Option<RawPoint>,
}

#[derive(Deserialize)]
struct MatrixSeries {
    #[serde(default)]
    metric: BTreeMap<String, String>,
    #[serde(default)]
    values: Vec<RawPoint>,
}

/// `[<unix seconds>, "<value>"]`
#[derive(Deserialize)]
struct RawPoint(f64, String);
