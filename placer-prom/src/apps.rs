//! Many apps' traffic in as few queries as fit the server's limit on a
//! query's length: [`PrometheusOptions::apps_queries`] packs the apps'
//! names into batches, and [`PrometheusSource::query_apps`] runs them.
//!
//! Servers refuse long queries whatever the method: VictoriaMetrics'
//! `-search.maxQueryLen` (16,384 bytes by default) counts the PromQL itself,
//! sent in a URL or in a `POST` form alike, and answers 422 beyond it. One
//! query naming every app of a large fleet is past that from about 1,800
//! apps named `app-0000`, or about 780 with 20-character names.

use std::collections::BTreeMap;
use std::ops::Range;

use futures::stream::{self, StreamExt};
use placer_core::Timestamp;

use crate::options::escaped_app;
use crate::source::unix_seconds;
use crate::{parse_response, PromError, PrometheusOptions, PrometheusSource, QueryOutcome};

/// The longest multi-app query sent unless configured otherwise, in bytes
/// of PromQL: half of VictoriaMetrics' default `-search.maxQueryLen`
/// (16,384), which leaves room for a proxy's own limit and for a template
/// longer than the default one.
pub const DEFAULT_MAX_QUERY_BYTES: usize = 8192;

/// How many batches of one [`PrometheusSource::query_apps`] are in flight
/// at once: enough to hide each one's round trip, few enough not to load
/// the server with a fleet's worth of queries at the same moment.
pub const BATCHES_AT_ONCE: usize = 4;

/// One query of [`PrometheusOptions::apps_queries`]: the PromQL and the
/// apps it asks for, as positions in the list it was given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppsQuery {
    /// The multi-app template with `{apps}` filled in.
    pub query: String,
    /// The apps it asks for: `apps[range]` of the list given.
    pub apps: Range<usize>,
}

impl PrometheusOptions {
    /// The multi-app queries for `apps`, in order, each at most
    /// [`max_query_bytes`](Self::max_query_bytes) long: consecutive apps
    /// are packed into one query until the next would make it longer. An
    /// app whose name alone makes the query longer than that is asked for
    /// in a query of its own (the server may still take it). `None` when
    /// there is no multi-app template; no query for no apps.
    ///
    /// ```
    /// use placer_prom::PrometheusOptions;
    ///
    /// let mut options = PrometheusOptions::default();
    /// options.max_query_bytes = 100;
    /// let apps: Vec<String> = (0..10).map(|i| format!("app-{i:04}")).collect();
    /// let queries = options.apps_queries(&apps).unwrap();
    /// assert!(queries.len() > 1);
    /// assert!(queries.iter().all(|q| q.query.len() <= 100));
    /// assert_eq!(queries[0].apps.start, 0);
    /// assert_eq!(queries.last().unwrap().apps.end, 10);
    /// ```
    pub fn apps_queries(&self, apps: &[String]) -> Option<Vec<AppsQuery>> {
        let template = self.apps_template()?;
        let placeholders = template.matches(crate::APPS_PLACEHOLDER).count();
        // The template's own bytes, and what each byte of the regex adds.
        let fixed = template.len() - placeholders * crate::APPS_PLACEHOLDER.len();
        let mut queries = Vec::new();
        let mut start = 0;
        let mut regex = String::new();
        for (index, app) in apps.iter().enumerate() {
            let escaped = escaped_app(app);
            let separator = usize::from(!regex.is_empty());
            let longer = fixed + placeholders * (regex.len() + separator + escaped.len());
            if !regex.is_empty() && longer > self.max_query_bytes {
                queries.push(AppsQuery {
                    query: template.replace(crate::APPS_PLACEHOLDER, &regex),
                    apps: start..index,
                });
                regex.clear();
                start = index;
            }
            if !regex.is_empty() {
                regex.push('|');
            }
            regex.push_str(&escaped);
        }
        if start < apps.len() {
            queries.push(AppsQuery {
                query: template.replace(crate::APPS_PLACEHOLDER, &regex),
                apps: start..apps.len(),
            });
        }
        Some(queries)
    }
}

/// Each app's traffic, or why it has none.
pub type AppsAnswer = BTreeMap<String, Result<placer_core::TrafficSnapshot, PromError>>;

impl PrometheusSource {
    /// Every app's traffic at `at` from the multi-app template
    /// ([`PrometheusOptions::apps_query`]), in as few queries as
    /// [`PrometheusOptions::apps_queries`] packs them into (one for a
    /// short list), at most [`BATCHES_AT_ONCE`] at a time. Each answer's
    /// series are split by their app label, and each app's are read as one
    /// app's answer. An app whose series are missing or unusable, or whose
    /// batch failed, gets its own error; the others are not affected.
    ///
    /// # Errors
    /// [`PromError::InvalidSettings`] when there is no multi-app template.
    pub async fn query_apps(
        &self,
        apps: &[String],
        at: Timestamp,
    ) -> Result<AppsAnswer, PromError> {
        let queries = self.settings().apps_queries(apps).ok_or_else(|| {
            PromError::invalid_settings("apps_query_template", "no multi-app query template is set")
        })?;
        let answers: Vec<AppsAnswer> = stream::iter(queries)
            .map(|query| self.query_batch(apps, query, at))
            .buffer_unordered(BATCHES_AT_ONCE)
            .collect()
            .await;
        Ok(answers.into_iter().flatten().collect())
    }

    /// One batch's query, its answer split among its apps.
    async fn query_batch(&self, apps: &[String], batch: AppsQuery, at: Timestamp) -> AppsAnswer {
        let batch_apps = &apps[batch.apps.clone()];
        let form = [("query", batch.query.clone()), ("time", unix_seconds(at))];
        let split = match self
            .post_raw(&self.instant_url, &form)
            .await
            .and_then(|body| crate::response::split_by_label(&body, &self.settings().app_label))
        {
            Ok(split) => split,
            Err(err) => {
                let message = err.to_string();
                return batch_apps
                    .iter()
                    .map(|app| {
                        let failed = PromError::AppsQueryFailed {
                            apps: batch_apps.len(),
                            message: message.clone(),
                        };
                        (app.clone(), Err(failed))
                    })
                    .collect();
            }
        };
        let region_label = &self.settings().region_label;
        let mut out = BTreeMap::new();
        for app in batch_apps {
            // Errors name the app's own query, not the batch's long one.
            let own_query = || self.settings().query_for(app);
            let result = match split.get(app.as_str()) {
                None => Err(PromError::NoRegionSeries {
                    query: own_query(),
                    region_label: region_label.clone(),
                    unlabelled: 0,
                }),
                Some(body) => parse_response(body, region_label)
                    .and_then(|parsed| QueryOutcome::from_instant(parsed, at))
                    .and_then(|outcome| {
                        if outcome.partial {
                            return Err(PromError::PartialResponse { query: own_query() });
                        }
                        if outcome.snapshot.is_empty() {
                            return Err(PromError::NoRegionSeries {
                                query: own_query(),
                                region_label: region_label.clone(),
                                unlabelled: outcome.unlabelled.len(),
                            });
                        }
                        crate::source::report(&own_query(), &outcome.warnings, &outcome.unlabelled);
                        Ok(outcome.snapshot)
                    }),
            };
            out.insert(app.clone(), result);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn names(count: usize, length: usize) -> Vec<String> {
        (0..count)
            .map(|i| {
                format!("{i:0>length$}")
                    .chars()
                    .take(length.max(1))
                    .collect()
            })
            .collect()
    }

    #[test]
    fn a_short_list_is_one_query_as_before() {
        let options = PrometheusOptions::default();
        let apps = names(3, 4);
        let queries = options.apps_queries(&apps).unwrap();
        assert_eq!(
            queries,
            [AppsQuery {
                query: options.apps_query(apps.iter().map(String::as_str)).unwrap(),
                apps: 0..3,
            }]
        );
        assert!(options.apps_queries(&[]).unwrap().is_empty());
    }

    #[test]
    fn two_thousand_long_names_fit_the_default_budget() {
        let options = PrometheusOptions::default();
        let apps: Vec<String> = (0..2000)
            .map(|i| format!("customer-app-{i:06}-production"))
            .collect();
        assert_eq!(apps[0].len(), 30);
        let queries = options.apps_queries(&apps).unwrap();
        assert!(queries.len() >= 2000 * 31 / DEFAULT_MAX_QUERY_BYTES);
        assert!(queries
            .iter()
            .all(|q| q.query.len() <= DEFAULT_MAX_QUERY_BYTES));
    }

    #[test]
    fn a_name_longer_than_the_budget_goes_alone() {
        let options = PrometheusOptions {
            max_query_bytes: 120,
            ..PrometheusOptions::default()
        };
        let apps = vec!["a".to_owned(), "b".repeat(100), "c".to_owned()];
        let queries = options.apps_queries(&apps).unwrap();
        let ranges: Vec<_> = queries.iter().map(|q| q.apps.clone()).collect();
        assert_eq!(ranges, [0..1, 1..2, 2..3]);
    }

    #[test]
    fn every_placeholder_counts() {
        let options = PrometheusOptions {
            apps_query_template: Some("a{app=~\"{apps}\"} / b{app=~\"{apps}\"}".into()),
            max_query_bytes: 60,
            ..PrometheusOptions::default()
        };
        let apps = names(10, 4);
        for query in options.apps_queries(&apps).unwrap() {
            assert!(query.query.len() <= 60, "{}", query.query);
            assert_eq!(query.query.matches("|").count() % 2, 0);
        }
    }

    proptest! {
        #[test]
        fn batches_cover_the_apps_in_order_within_the_budget(
            count in 0usize..200,
            length in 1usize..40,
            budget in 60usize..2000,
        ) {
            let options = PrometheusOptions {
                max_query_bytes: budget,
                ..PrometheusOptions::default()
            };
            let apps = names(count, length);
            let queries = options.apps_queries(&apps).unwrap();
            let mut next = 0;
            for query in &queries {
                prop_assert_eq!(query.apps.start, next);
                prop_assert!(query.apps.end > query.apps.start);
                next = query.apps.end;
                let expected = options
                    .apps_query(apps[query.apps.clone()].iter().map(String::as_str))
                    .unwrap();
                prop_assert_eq!(&query.query, &expected);
                prop_assert!(query.query.len() <= budget || query.apps.len() == 1);
            }
            prop_assert_eq!(next, apps.len());
            // Packed: no two neighbours would have fitted together.
            for pair in queries.windows(2) {
                let joined = options
                    .apps_query(apps[pair[0].apps.start..pair[1].apps.start + 1].iter().map(String::as_str))
                    .unwrap();
                prop_assert!(joined.len() > budget);
            }
        }
    }
}
