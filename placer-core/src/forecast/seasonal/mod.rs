//! The built-in `seasonal` forecaster (see [`SeasonalForecaster`]).

mod base64;
mod profile;

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::{Forecast, ForecastBasis, ForecastSettings, Forecaster, ForecasterEntry};
use crate::{Region, Timestamp, TrafficSnapshot};
use profile::Profile;

/// The seasonal method's line in the [registry](super::FORECASTERS).
pub(super) const ENTRY: ForecasterEntry = ForecasterEntry::new("seasonal", 1, build, restore);

fn build(settings: &ForecastSettings) -> Box<dyn Forecaster> {
    Box::new(SeasonalForecaster::new(settings.bucket))
}

fn restore(settings: &ForecastSettings, saved: &serde_json::Value) -> Option<Box<dyn Forecaster>> {
    let saved = SavedForecaster::deserialize(saved).ok()?;
    let forecaster = SeasonalForecaster::from_saved(saved, settings.bucket)?;
    Some(Box::new(forecaster))
}

const DAY_SECS: i64 = 24 * 3600;
const WEEK_SECS: i64 = 7 * DAY_SECS;
/// Unix time 0 was a Thursday: shifting by three days puts each week's
/// first bucket on Monday 00:00 UTC.
const MONDAY_SHIFT_SECS: i64 = 3 * DAY_SECS;
const LEVEL_HALF_LIFE_SECS: f64 = 24.0 * 3600.0;
const ERROR_HALF_LIFE_SECS: f64 = 3.0 * 3600.0;
/// The error is measured against the traffic's usual size over a day, so
/// a miss in a quiet hour counts for as little as it matters.
const SIZE_HALF_LIFE_SECS: f64 = 24.0 * 3600.0;
const LEVEL_RANGE: (f64, f64) = (0.5, 2.0);
/// Error (mean absolute difference over the mean of forecast and
/// observation) at or below which a forecast is fully trusted.
const TRUSTED_ERROR: f64 = 0.2;
/// Error at or above which it is not trusted at all.
const DISTRUSTED_ERROR: f64 = 0.6;
/// The spread of a bucket times this is half an 80 % interval.
const INTERVAL_Z: f64 = 1.28;
/// The tick assumed before two observations have been seen.
const DEFAULT_TICK_SECS: u64 = 60;

/// Forecasts each region from its traffic at the same hour on earlier
/// weeks (or, in the first week, days), scaled by the recent level.
///
/// a time-of-day profile until a week has been seen, both scaled by the
/// recent level, with a prediction interval from each bucket's spread and
/// a trust from the recent error.
///
/// Each region keeps, per bucket (`forecast.bucket`, one hour by default):
///
/// - the **weekly profile**: 168 buckets (Monday 00:00 UTC first). Each
///   visit of a bucket (the hour it covers, once a week) moves its mean
///   halfway to the visit's mean, so the profile follows a changed week in
///   two or three weeks and is not thrown by one odd day;
/// - the **daily profile**: 24 buckets, updated the same way every day,
///   which answers for a bucket of the week not seen yet (the first week,
///   or after a gap). It mixes weekdays and weekends, so its forecasts
///   come with trust 0: shown, never planned with;
/// - the **level**: observed traffic over the weekly profile's forecast of
///   it, averaged with a one-day half-life and kept within ½ and 2: slow
///   growth or decline between visits of a bucket;
/// - the **error**: the mean absolute difference between each observation
///   and the forecast made for it (a three-hour half-life), over the usual
///   size of both (a one-day half-life), so a miss in a quiet hour counts
///   for little. Trust is 1 up to 20 % error and falls to 0 at 60 %.
///
/// Between bucket centres the forecast is interpolated linearly, so a
/// morning ramp shows in the forecast before the hour it fills.
///
/// Why this method rather than Holt-Winters: see BENCHMARKS.md ("Choosing
/// the method"). In short, with two seasons a Holt-Winters model
/// multiplies a daily index by a weekly one and cannot represent a weekend
/// whose shape differs from the weekday's (flat, not an office curve);
/// a full time-of-week profile can, and is as small.
///
/// ```
/// use std::time::Duration;
/// use placer_core::forecast::{Forecaster, ForecastBasis, SeasonalForecaster};
/// use placer_core::{Timestamp, TrafficSnapshot};
///
/// let hour = Duration::from_secs(3600);
/// let mut forecaster = SeasonalForecaster::new(hour);
/// // Two days of fra traffic that is busy from 09:00 to 17:00 UTC.
/// let start = Timestamp::from_unix_seconds(1_799_020_800); // Monday 00:00 UTC
/// for minute in 0..2 * 24 * 60 {
///     let at = start + Duration::from_secs(60 * minute);
///     let hour_of_day = (minute / 60) % 24;
///     let requests = if (9..17).contains(&hour_of_day) { 300.0 } else { 10.0 };
///     forecaster.learn(&TrafficSnapshot::new(at, [("fra", requests)]).unwrap());
/// }
/// // Wednesday, 08:00 to 10:00: the busy hours are expected.
/// let wednesday = start + 2 * 24 * hour;
/// let forecast = forecaster
///     .peak(&"fra".parse().unwrap(), wednesday + 8 * hour, wednesday + 10 * hour)
///     .unwrap();
/// assert!((forecast.expected - 300.0).abs() < 5.0);
/// assert_eq!(forecast.basis, ForecastBasis::SameHourOfDay { days: 2 });
/// // A weekday's profile may not fit a weekend: not trusted before the same
/// // hour of the week has been seen.
/// assert_eq!(forecast.trust, 0.0);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct SeasonalForecaster {
    bucket_secs: i64,
    regions: BTreeMap<Region, RegionModel>,
    learned_secs: u64,
    last_at: Option<Timestamp>,
    tick_secs: Option<u64>,
}

#[derive(Debug, Clone, PartialEq)]
struct RegionModel {
    week: Profile,
    day: Profile,
    open: Option<OpenVisit>,
    /// Averages of observed traffic and of its forecast, for the level.
    level: (f32, f32),
    /// Averages of the absolute error and of the traffic's size, once a
    /// forecast has been checked.
    error: Option<(f32, f32)>,
}

/// The bucket being visited: its slot (buckets since the shifted epoch)
/// and the sums of the observations in it so far.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
struct OpenVisit {
    slot: i64,
    sum: f32,
    sum_sq: f32,
    count: u32,
}

/// One evaluated point of a profile.
struct Point {
    expected: f64,
    spread: f64,
    basis: ForecastBasis,
}

impl SeasonalForecaster {
    /// A forecaster that has learnt nothing, with buckets `bucket` wide
    /// (a whole number of hours dividing a day; see
    /// [`ForecastSettings::bucket`]).
    pub fn new(bucket: Duration) -> Self {
        SeasonalForecaster {
            bucket_secs: i64::try_from(bucket.as_secs().max(1)).unwrap_or(DAY_SECS),
            regions: BTreeMap::new(),
            learned_secs: 0,
            last_at: None,
            tick_secs: None,
        }
    }

    fn week_buckets(&self) -> usize {
        (WEEK_SECS / self.bucket_secs) as usize
    }

    fn day_buckets(&self) -> usize {
        (DAY_SECS / self.bucket_secs).max(1) as usize
    }

    /// Seconds since the Monday-shifted epoch.
    fn offset(at: Timestamp) -> i64 {
        at.unix_seconds() + MONDAY_SHIFT_SECS
    }

    fn slot(&self, at: Timestamp) -> i64 {
        Self::offset(at).div_euclid(self.bucket_secs)
    }

    fn week_index(&self, slot: i64) -> usize {
        slot.rem_euclid(self.week_buckets() as i64) as usize
    }

    /// The profile's value at a slot: the weekly bucket when visited, the
    /// daily one otherwise.
    fn base(&self, model: &RegionModel, slot: i64) -> Option<Point> {
        let week = self.week_index(slot);
        if let Some(bucket) = model.week.get(week) {
            return Some(Point {
                expected: bucket.mean,
                spread: bucket.spread,
                basis: ForecastBasis::SameHourOfWeek {
                    weeks: bucket.visits,
                },
            });
        }
        model
            .day
            .get(week % self.day_buckets())
            .map(|bucket| Point {
                expected: bucket.mean,
                spread: bucket.spread,
                basis: ForecastBasis::SameHourOfDay {
                    days: bucket.visits,
                },
            })
    }

    /// The profile at `at`, interpolated between bucket centres, before
    /// the level is applied.
    fn profile_at(&self, model: &RegionModel, at: Timestamp) -> Option<Point> {
        let position = Self::offset(at) as f64 / self.bucket_secs as f64;
        let slot = position.floor() as i64;
        let within = position - slot as f64;
        let here = self.base(model, slot)?;
        let (neighbour, weight) = if within < 0.5 {
            (slot - 1, 0.5 - within)
        } else {
            (slot + 1, within - 0.5)
        };
        Some(match self.base(model, neighbour) {
            Some(next) => Point {
                expected: (1.0 - weight) * here.expected + weight * next.expected,
                spread: (1.0 - weight) * here.spread + weight * next.spread,
                basis: here.basis,
            },
            None => here,
        })
    }

    fn level(model: &RegionModel) -> f64 {
        let (observed, forecast) = model.level;
        if forecast > 0.0 {
            (f64::from(observed) / f64::from(forecast)).clamp(LEVEL_RANGE.0, LEVEL_RANGE.1)
        } else {
            1.0
        }
    }

    fn trust(model: &RegionModel) -> f64 {
        let Some((error, size)) = model.error else {
            return 0.0;
        };
        let relative = if size > 0.0 {
            f64::from(error) / f64::from(size)
        } else {
            0.0
        };
        ((DISTRUSTED_ERROR - relative) / (DISTRUSTED_ERROR - TRUSTED_ERROR)).clamp(0.0, 1.0)
    }

    fn close(&self, model: &mut RegionModel, visit: OpenVisit) {
        if visit.count == 0 {
            return;
        }
        let count = f64::from(visit.count);
        let mean = f64::from(visit.sum) / count;
        let variance = f64::from(visit.sum_sq) / count - mean * mean;
        let week = self.week_index(visit.slot);
        model.week.fold(week, mean, variance);
        model.day.fold(week % self.day_buckets(), mean, variance);
    }

    fn learn_region(&self, model: &mut RegionModel, requests: f64, at: Timestamp, gap_secs: f64) {
        let slot = self.slot(at);
        if let Some(visit) = model.open.filter(|visit| visit.slot != slot) {
            self.close(model, visit);
            model.open = None;
        }
        if let Some(point) = self.profile_at(model, at) {
            let forecast = Self::level(model) * point.expected;
            let miss = (requests - forecast).abs();
            let size = 0.5 * (requests + forecast);
            let error_weight = 1.0 - 0.5f64.powf(gap_secs / ERROR_HALF_LIFE_SECS);
            let size_weight = 1.0 - 0.5f64.powf(gap_secs / SIZE_HALF_LIFE_SECS);
            model.error = Some(match model.error {
                None => (miss as f32, size as f32),
                Some((error, mean_size)) => (
                    ewma(error, miss, error_weight),
                    ewma(mean_size, size, size_weight),
                ),
            });
            // The level scales the weekly profile: a daily bucket standing
            // in for an unseen one (a weekday's shape on a first weekend)
            // says nothing about growth.
            if matches!(point.basis, ForecastBasis::SameHourOfWeek { .. }) {
                let weight = 1.0 - 0.5f64.powf(gap_secs / LEVEL_HALF_LIFE_SECS);
                let (observed, expected) = model.level;
                model.level = (
                    ewma(observed, requests, weight),
                    ewma(expected, point.expected, weight),
                );
            }
        }
        let visit = model.open.get_or_insert(OpenVisit {
            slot,
            sum: 0.0,
            sum_sq: 0.0,
            count: 0,
        });
        visit.sum += requests as f32;
        visit.sum_sq += (requests * requests) as f32;
        visit.count = visit.count.saturating_add(1);
    }

    fn empty_model(&self) -> RegionModel {
        RegionModel {
            week: Profile::new(self.week_buckets()),
            day: Profile::new(self.day_buckets()),
            open: None,
            level: (0.0, 0.0),
            error: None,
        }
    }
}

fn ewma(average: f32, value: f64, weight: f64) -> f32 {
    (f64::from(average) + weight * (value - f64::from(average))) as f32
}

impl Forecaster for SeasonalForecaster {
    fn method(&self) -> &'static str {
        ENTRY.name()
    }

    fn learn(&mut self, snapshot: &TrafficSnapshot) -> bool {
        let at = snapshot.at();
        if self.last_at.is_some_and(|last| last >= at) {
            return false;
        }
        let gap = self.last_at.map(|last| at.duration_since(last).as_secs());
        if let Some(gap) = gap {
            let bucket = self.bucket_secs as u64;
            self.learned_secs = self.learned_secs.saturating_add(gap.min(bucket));
            if gap <= bucket {
                self.tick_secs = Some(gap.max(1));
            }
        }
        let gap_secs = gap.unwrap_or(DEFAULT_TICK_SECS).max(1) as f64;
        for (region, requests) in snapshot.iter() {
            if requests > 0.0 && !self.regions.contains_key(region) {
                let model = self.empty_model();
                self.regions.insert(*region, model);
            }
        }
        let mut regions = std::mem::take(&mut self.regions);
        for (region, model) in &mut regions {
            self.learn_region(model, snapshot.requests(region), at, gap_secs);
        }
        // A region whose whole profile and open visit are zero forecasts
        // nothing: forget it, to keep the state small.
        regions.retain(|_, model| {
            !(model.week.is_all_zero()
                && model.day.is_all_zero()
                && model.open.is_none_or(|visit| visit.sum == 0.0))
        });
        self.regions = regions;
        self.last_at = Some(at);
        true
    }

    fn peak(&self, region: &Region, from: Timestamp, until: Timestamp) -> Option<Forecast> {
        let model = self.regions.get(region)?;
        let mut points = vec![from];
        let bucket = self.bucket_secs;
        let start = Self::offset(from);
        let end = Self::offset(until);
        // Bucket centres inside the window: where the interpolated profile
        // can peak.
        let mut centre = (start - bucket / 2).div_euclid(bucket) * bucket + bucket / 2;
        if centre <= start {
            centre += bucket;
        }
        while centre < end && points.len() <= self.week_buckets() + 1 {
            points.push(from + Duration::from_secs((centre - start) as u64));
            centre += bucket;
        }
        if until > from {
            points.push(until);
        }
        let level = Self::level(model);
        let trust = Self::trust(model);
        points
            .into_iter()
            .filter_map(|at| self.profile_at(model, at).map(|point| (at, point)))
            .max_by(|(_, a), (_, b)| a.expected.total_cmp(&b.expected))
            .map(|(at, point)| {
                let expected = level * point.expected;
                let half = INTERVAL_Z * level * point.spread;
                // A day's profile mixes weekdays and weekends: on business
                // hours, planning with it in the first week cost more on
                // the first weekend than it gained on the weekdays
                // (BENCHMARKS.md), so it is shown but not trusted.
                let trust = match point.basis {
                    ForecastBasis::SameHourOfWeek { .. } => trust,
                    ForecastBasis::SameHourOfDay { .. } => 0.0,
                };
                Forecast {
                    at,
                    expected,
                    low: (expected - half).max(0.0),
                    high: expected + half,
                    basis: point.basis,
                    trust,
                }
            })
    }

    fn learned(&self) -> Duration {
        Duration::from_secs(self.learned_secs)
    }

    fn last_learned(&self) -> Option<Timestamp> {
        self.last_at
    }

    fn tick(&self) -> Option<Duration> {
        self.tick_secs.map(Duration::from_secs)
    }

    fn save(&self) -> serde_json::Value {
        let saved = SavedForecaster {
            bucket_secs: self.bucket_secs,
            learned_secs: self.learned_secs,
            last_at: self.last_at,
            tick_secs: self.tick_secs,
            regions: self
                .regions
                .iter()
                .map(|(region, model)| {
                    let saved = SavedRegion {
                        week: model.week.encode(),
                        day: model.day.encode(),
                        open: model.open,
                        level: model.level,
                        error: model.error,
                    };
                    (*region, saved)
                })
                .collect(),
        };
        serde_json::to_value(saved).expect("a seasonal forecaster always serializes")
    }

    fn clone_box(&self) -> Box<dyn Forecaster> {
        Box::new(self.clone())
    }
}

#[derive(Serialize, Deserialize)]
struct SavedForecaster {
    bucket_secs: i64,
    learned_secs: u64,
    last_at: Option<Timestamp>,
    tick_secs: Option<u64>,
    regions: BTreeMap<Region, SavedRegion>,
}

#[derive(Serialize, Deserialize)]
struct SavedRegion {
    week: String,
    day: String,
    open: Option<OpenVisit>,
    level: (f32, f32),
    error: Option<(f32, f32)>,
}

impl SeasonalForecaster {
    /// The forecaster saved as `saved`, when its buckets are `bucket` wide
    /// and every value is sound.
    fn from_saved(saved: SavedForecaster, bucket: Duration) -> Option<Self> {
        let mut forecaster = SeasonalForecaster::new(bucket);
        if saved.bucket_secs != forecaster.bucket_secs {
            return None;
        }
        let sound = |x: f32| x.is_finite() && x >= 0.0;
        for (region, model) in saved.regions {
            let open_sound = model
                .open
                .is_none_or(|visit| sound(visit.sum) && sound(visit.sum_sq));
            let error_sound = model.error.is_none_or(|(e, s)| sound(e) && sound(s));
            if !(open_sound && error_sound && sound(model.level.0) && sound(model.level.1)) {
                return None;
            }
            let restored = RegionModel {
                week: Profile::decode(&model.week, forecaster.week_buckets())?,
                day: Profile::decode(&model.day, forecaster.day_buckets())?,
                open: model.open,
                level: model.level,
                error: model.error,
            };
            forecaster.regions.insert(region, restored);
        }
        forecaster.learned_secs = saved.learned_secs;
        forecaster.last_at = saved.last_at;
        forecaster.tick_secs = saved.tick_secs;
        Some(forecaster)
    }
}
