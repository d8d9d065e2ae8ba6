use std::collections::BTreeMap;

use super::*;
use placer_core::network::geo;

const HOUR: Duration = Duration::from_secs(3600);

fn trace(scenario: Scenario, hours: u64, seed: u64) -> Trace {
    generate(scenario, HOUR * hours as u32, seed, DEFAULT_STEP).unwrap()
}

/// Every region's counts over the trace, in tick order.
fn series(trace: &Trace) -> BTreeMap<Region, Vec<f64>> {
    let mut series: BTreeMap<Region, Vec<f64>> = BTreeMap::new();
    for snapshot in trace.ticks() {
        for (region, requests) in snapshot.iter() {
            series.entry(*region).or_default().push(requests);
        }
    }
    series
}

fn mean(values: &[f64]) -> f64 {
    values.iter().sum::<f64>() / values.len() as f64
}

/// Coefficient of variation: standard deviation over mean.
fn variation(values: &[f64]) -> f64 {
    let m = mean(values);
    let var = values.iter().map(|v| (v - m).powi(2)).sum::<f64>() / values.len() as f64;
    var.sqrt() / m
}

#[test]
fn names_parse_back_and_unknown_names_list_the_valid_ones() {
    for scenario in Scenario::ALL {
        assert_eq!(scenario.to_string().parse::<Scenario>().unwrap(), scenario);
    }
    let err = "sunny".parse::<Scenario>().unwrap_err();
    let text = err.to_string();
    assert!(text.contains("\"sunny\""), "{text}");
    for scenario in Scenario::ALL {
        assert!(text.contains(scenario.name()), "{text}");
    }
}

#[test]
fn the_seed_alone_decides_the_trace() {
    for scenario in Scenario::ALL {
        let a = trace(scenario, 6, 11);
        assert_eq!(a, trace(scenario, 6, 11), "{scenario}");
        assert_ne!(a, trace(scenario, 6, 12), "{scenario}");
    }
}

#[test]
fn every_region_has_a_whole_count_at_every_tick() {
    for scenario in Scenario::ALL {
        let trace = trace(scenario, 3, 5);
        let regions = trace.regions();
        assert!(regions.len() >= 5, "{scenario}");
        for snapshot in trace.ticks() {
            assert_eq!(snapshot.len(), regions.len(), "{scenario}");
            for (_, requests) in snapshot.iter() {
                assert!(requests >= 0.0 && requests.fract() == 0.0, "{scenario}");
            }
        }
    }
}

#[test]
fn length_and_step_set_the_ticks() {
    let day = trace(Scenario::LongTail, 24, 1);
    assert_eq!(day.len(), 1440);
    assert_eq!(day.ticks()[0].at(), SCENARIO_START);
    assert_eq!(day.tick_interval(), DEFAULT_STEP);
    let five = Duration::from_secs(300);
    let coarse = generate(Scenario::LongTail, HOUR * 24, 1, five).unwrap();
    assert_eq!(coarse.len(), 288);
    assert_eq!(coarse.tick_interval(), five);
    // A single tick still knows its step.
    let one = generate(Scenario::LongTail, five, 1, five).unwrap();
    assert_eq!((one.len(), one.tick_interval()), (1, five));
}

#[test]
fn impossible_lengths_are_rejected() {
    let gen = |length, step| generate(Scenario::LongTail, length, 1, step);
    for step in [Duration::ZERO, Duration::from_micros(999)] {
        assert_eq!(
            gen(HOUR, step).unwrap_err(),
            GenerateError::StepTooShort { step }
        );
    }
    // The finest step still gives strictly increasing ticks.
    let fine = gen(Duration::from_millis(5), Duration::from_millis(1)).unwrap();
    assert_eq!(fine.len(), 5);
    assert!(matches!(
        gen(Duration::from_secs(59), DEFAULT_STEP).unwrap_err(),
        GenerateError::TooShort { .. }
    ));
    let err = gen(HOUR * 24 * 365 * 3, DEFAULT_STEP).unwrap_err();
    assert!(err.to_string().contains("1000000 ticks"), "{err}");
}

#[test]
fn follow_the_sun_peaks_in_each_regions_afternoon() {
    let trace = trace(Scenario::FollowTheSun, 72, 3);
    assert_eq!(trace.regions().len(), geo::catalog().len());
    for (region, values) in series(&trace) {
        // Average each UTC hour over the three days, then find the busiest.
        let mut by_hour = [0.0; 24];
        for (tick, value) in values.iter().enumerate() {
            by_hour[(tick / 60) % 24] += value;
        }
        let busiest = (0..24)
            .max_by(|&a, &b| by_hour[a].total_cmp(&by_hour[b]))
            .unwrap();
        let longitude = geo::region_info(&region).unwrap().longitude;
        let local = (busiest as f64 + 0.5 + longitude / 15.0).rem_euclid(24.0);
        assert!(
            (13.0..=17.0).contains(&local),
            "{region}: busiest at {local} local"
        );
        let night = by_hour.iter().cloned().fold(f64::INFINITY, f64::min);
        assert!(night * 5.0 < by_hour[busiest], "{region}: no quiet night");
    }
}

#[test]
fn flash_crowds_rise_within_minutes_where_traffic_was_tiny() {
    let trace = trace(Scenario::FlashCrowd, 24, 9);
    let series = series(&trace);
    let crowded: Vec<(&Region, &Vec<f64>)> = series
        .iter()
        .filter(|(_, values)| values.iter().cloned().fold(0.0, f64::max) >= 200.0)
        .collect();
    assert!(!crowded.is_empty());
    for (region, values) in crowded {
        assert!(!["iad", "fra"].contains(&region.as_str()), "{region}");
        let mut sorted = values.clone();
        sorted.sort_by(f64::total_cmp);
        assert!(
            sorted[sorted.len() / 2] <= 10.0,
            "{region} is not usually quiet"
        );
        let jump = values.windows(6).any(|w| w[0] < 20.0 && w[5] > 200.0);
        assert!(jump, "{region} never jumps within five minutes");
    }
    assert!((70.0..90.0).contains(&mean(&series[&"iad".parse::<Region>().unwrap()])));
}

#[test]
fn noisy_steady_hovers_near_both_thresholds() {
    let series = series(&trace(Scenario::NoisySteady, 24, 4));
    assert_eq!(series.len(), 8);
    assert!(series.contains_key(&"iad".parse::<Region>().unwrap()));
    let near_50 = series
        .values()
        .filter(|v| (40.0..=60.0).contains(&mean(v)))
        .count();
    let near_10 = series
        .values()
        .filter(|v| (6.0..=14.0).contains(&mean(v)))
        .count();
    assert_eq!((near_50, near_10), (4, 4));
    for (region, values) in &series {
        assert!(variation(values) > 0.3, "{region} is too calm");
    }
}

#[test]
fn region_shift_moves_the_bulk_of_demand_across_continents() {
    let trace = trace(Scenario::RegionShift, 24, 8);
    let band_of = |region: &Region| match geo::region_info(region).unwrap().longitude {
        lon if lon < -30.0 => 0,
        lon if lon < 60.0 => 1,
        _ => 2,
    };
    let dominant = |from: usize, to: usize| {
        let mut per_band = [0.0; 3];
        for snapshot in &trace.ticks()[from..to] {
            for (region, requests) in snapshot.iter() {
                per_band[band_of(region)] += requests;
            }
        }
        (0..3)
            .max_by(|&a, &b| per_band[a].total_cmp(&per_band[b]))
            .unwrap()
    };
    let n = trace.len();
    let (first, middle, last) = (
        dominant(0, n / 10),
        dominant(n * 45 / 100, n * 55 / 100),
        dominant(n * 9 / 10, n),
    );
    assert!(
        first != middle && middle != last && first != last,
        "{first} {middle} {last}"
    );
    for snapshot in trace.ticks() {
        assert!(
            (300.0..500.0).contains(&snapshot.total()),
            "{}",
            snapshot.total()
        );
    }
}

#[test]
fn steady_high_undeployed_is_flat_high_and_far_from_iad() {
    let series = series(&trace(Scenario::SteadyHighUndeployed, 12, 6));
    let iad: Region = "iad".parse().unwrap();
    assert_eq!(series.len(), 5);
    assert!((15.0..25.0).contains(&mean(&series[&iad])));
    for (region, values) in series.iter().filter(|(r, _)| **r != iad) {
        let km = geo::distance_km(&iad, region).unwrap();
        assert!(km >= 3_000.0, "{region} is {km} km from iad");
        assert!((110.0..260.0).contains(&mean(values)), "{region}");
        assert!(variation(values) < 0.06, "{region} is not flat");
    }
}

#[test]
fn long_tail_is_many_small_regions_that_add_up() {
    let trace = trace(Scenario::LongTail, 12, 2);
    let series = series(&trace);
    let means: Vec<f64> = series.values().map(|v| mean(v)).collect();
    assert!(means.iter().filter(|&&m| m < 10.0).count() >= 25);
    assert!(means.iter().filter(|&&m| m >= 50.0).count() <= 2);
    assert!(means.iter().sum::<f64>() >= 300.0);
}

#[test]
fn generated_values_stay_the_same_across_versions() {
    // Two ticks of every scenario with seed 1: a change here changes every
    // recorded backtest, so it must be deliberate.
    let mut text = String::new();
    for scenario in Scenario::ALL {
        let trace = generate(scenario, Duration::from_secs(120), 1, DEFAULT_STEP).unwrap();
        text.push_str(&format!("# {scenario}\n{}", trace.to_csv()));
    }
    insta::assert_snapshot!(text);
}

/// Mean requests per tick over all regions, per (weekday from Monday, UTC
/// hour), of a trace that starts on a Monday at 00:00 UTC with one-minute
/// ticks.
fn week_profile(trace: &Trace) -> BTreeMap<(usize, usize), f64> {
    let mut sums: BTreeMap<(usize, usize), (f64, usize)> = BTreeMap::new();
    for (tick, snapshot) in trace.ticks().iter().enumerate() {
        let total: f64 = snapshot.iter().map(|(_, requests)| requests).sum();
        let entry = sums
            .entry(((tick / 1440) % 7, (tick / 60) % 24))
            .or_default();
        entry.0 += total;
        entry.1 += 1;
    }
    sums.into_iter()
        .map(|(key, (sum, count))| (key, sum / count as f64))
        .collect()
}

#[test]
fn business_hours_ramps_in_each_metros_morning_and_rests_on_weekends() {
    let trace = trace(Scenario::BusinessHours, 24 * 7, 5);
    let series = series(&trace);
    assert_eq!(series.len(), 8);
    // London (UTC+0): quiet at 06:00, busy at 10:00 and 15:00, quiet again
    // at 20:00 on a Tuesday; flat and low on Saturday.
    let lhr = &series[&"lhr".parse::<Region>().unwrap()];
    let at =
        |day: usize, hour: usize| mean(&lhr[day * 1440 + hour * 60..day * 1440 + hour * 60 + 60]);
    assert!(
        at(1, 10) > 10.0 * at(1, 6),
        "{} against {}",
        at(1, 10),
        at(1, 6)
    );
    assert!(at(1, 15) > 10.0 * at(1, 20));
    // Tokyo (UTC+9) opens at 09:00 local, 00:00 UTC.
    let nrt = &series[&"nrt".parse::<Region>().unwrap()];
    let tokyo = |hour: usize| mean(&nrt[1440 + hour * 60..1440 + hour * 60 + 60]);
    assert!(tokyo(2) > 10.0 * tokyo(21));
    let weekday: f64 = series.values().map(|v| mean(&v[..5 * 1440])).sum();
    let weekend: f64 = series.values().map(|v| mean(&v[5 * 1440 + 600..])).sum();
    let share = weekend / weekday;
    assert!((0.02..0.07).contains(&share), "weekend share {share}");
    // Spread evenly: a weekend's busiest hour is not a peak.
    let profile = week_profile(&trace);
    let saturday: Vec<f64> = (12..24).map(|hour| profile[&(5, hour)]).collect();
    let (low, high) = saturday
        .iter()
        .fold((f64::INFINITY, 0.0f64), |(lo, hi), v| {
            (lo.min(*v), hi.max(*v))
        });
    assert!(high < 1.5 * low, "{saturday:?}");
}

#[test]
fn weekly_growth_repeats_the_week_a_tenth_larger() {
    let trace = trace(Scenario::WeeklyGrowth, 24 * 14, 5);
    let totals: Vec<f64> = trace
        .ticks()
        .iter()
        .map(|snapshot| snapshot.iter().map(|(_, requests)| requests).sum())
        .collect();
    let week = 7 * 1440;
    let ratio = mean(&totals[week..]) / mean(&totals[..week]);
    assert!((1.07..1.13).contains(&ratio), "growth {ratio}");
}

#[test]
fn pattern_stops_is_business_hours_then_flat() {
    let stops = trace(Scenario::PatternStops, 24 * 14, 5);
    let regular = trace(Scenario::BusinessHours, 24 * 14, 5);
    let half = stops.len() / 2;
    assert_eq!(stops.ticks()[..half - 1], regular.ticks()[..half - 1]);
    for values in series(&stops).values() {
        let after = &values[half..];
        // Nights and weekends as busy as office hours: within the noise.
        assert!(variation(after) < 0.2, "{}", variation(after));
    }
}
