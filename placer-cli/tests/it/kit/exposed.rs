//! What a `fly-placer`'s `/metrics` exposes, and the `fly_placer_*` names a
//! PromQL expression uses: the dashboard's queries and the alerting rules
//! are checked against a real scrape with these, so neither can name a
//! metric the service does not have.
#![allow(dead_code)] // each test module uses a different part

use std::collections::{BTreeMap, BTreeSet};

use super::{client, Server};

/// Every `fly_placer_*` name in a PromQL expression.
pub fn metric_names(expr: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut rest = expr;
    while let Some(at) = rest.find("fly_placer_") {
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        names.insert(tail[..end].to_owned());
        rest = &tail[end..];
    }
    names
}

/// The metric families of one or more `/metrics` texts, and every name a
/// query may use for each: the family's samples (`_total` of a counter,
/// `_bucket`, `_sum` and `_count` of a histogram). A family is there once
/// declared (`# TYPE`), with or without a series.
#[derive(Debug, Default, Clone)]
pub struct Exposed {
    /// Each name a query may use, and its family.
    names: BTreeMap<String, String>,
}

impl Exposed {
    /// What `text`, in the Prometheus or OpenMetrics text format, exposes.
    pub fn parse(text: &str) -> Exposed {
        let mut exposed = Exposed::default();
        for line in text.lines() {
            let Some(declared) = line.strip_prefix("# TYPE ") else {
                continue;
            };
            let mut words = declared.split_whitespace();
            let (Some(family), Some(kind)) = (words.next(), words.next()) else {
                continue;
            };
            exposed.declare(family, kind);
        }
        exposed
    }

    /// What `server`'s `/metrics` exposes now.
    pub fn scrape(server: &Server) -> Exposed {
        let text = client()
            .get(server.url("/metrics"))
            .send()
            .unwrap()
            .text()
            .unwrap();
        Exposed::parse(&text)
    }

    /// Adds a family of `kind` (`gauge`, `counter`, `histogram`).
    pub fn declare(&mut self, family: &str, kind: &str) {
        let suffixes: &[&str] = match kind {
            "counter" => &["_total"],
            "histogram" => &["_bucket", "_sum", "_count"],
            _ => &[""],
        };
        for suffix in suffixes {
            self.names
                .insert(format!("{family}{suffix}"), family.to_owned());
        }
    }

    /// Adds what `other` exposes.
    pub fn extend(&mut self, other: Exposed) {
        self.names.extend(other.names);
    }

    /// The families.
    pub fn families(&self) -> BTreeSet<String> {
        self.names.values().cloned().collect()
    }

    /// The family a query's `name` belongs to, if exposed.
    pub fn family_of(&self, name: &str) -> Option<&str> {
        self.names.get(name).map(String::as_str)
    }

    /// The names `expr` uses that are not exposed.
    pub fn unknown(&self, expr: &str) -> Vec<String> {
        metric_names(expr)
            .into_iter()
            .filter(|name| !self.names.contains_key(name))
            .collect()
    }
}

#[test]
fn a_counter_is_queried_by_its_total_and_a_histogram_by_its_parts() {
    let exposed = Exposed::parse(
        "# HELP fly_placer_ticks Ticks run.\n# TYPE fly_placer_ticks counter\n\
         fly_placer_ticks_total{app=\"a\"} 1\n\
         # TYPE fly_placer_tick_duration_seconds histogram\n\
         # TYPE fly_placer_leader gauge\n# EOF\n",
    );
    assert!(exposed
        .unknown(
            "rate(fly_placer_ticks_total[5m]) + fly_placer_leader \
             + fly_placer_tick_duration_seconds_bucket + fly_placer_tick_duration_seconds_count"
        )
        .is_empty());
    assert_eq!(
        exposed.unknown("fly_placer_ticks + fly_placer_leader_total + fly_placer_tick_failures"),
        [
            "fly_placer_leader_total",
            "fly_placer_tick_failures",
            "fly_placer_ticks"
        ]
    );
    assert_eq!(
        exposed.family_of("fly_placer_tick_duration_seconds_sum"),
        Some("fly_placer_tick_duration_seconds")
    );
}
