use super::*;

use placer_core::{network::geo, Region};

fn place(code: &str) -> (f64, f64) {
    let info = geo::region_info(&code.parse::<Region>().unwrap()).unwrap();
    (info.latitude, info.longitude)
}

/// Degrees of longitude the drawn runs cover, added up.
fn longitude_spanned(runs: &[Vec<(f64, f64)>]) -> f64 {
    runs.iter()
        .map(|run| {
            let xs = run.iter().map(|p| p.0);
            xs.clone().fold(f64::MIN, f64::max) - xs.fold(f64::MAX, f64::min)
        })
        .sum()
}

#[test]
fn sjc_to_nrt_crosses_the_pacific_in_two_runs_that_meet_at_the_antimeridian() {
    let runs = great_circle(place("sjc"), place("nrt"));
    assert_eq!(runs.len(), 2, "{runs:?}");
    let (first, second) = (&runs[0], &runs[1]);
    // sjc is at x ≈ 58; its run goes west to the left edge, nrt's comes in
    // from the right edge.
    assert_eq!(first.last().unwrap().0, 0.0);
    assert_eq!(second.first().unwrap().0, 360.0);
    assert!((first.last().unwrap().1 - second.first().unwrap().1).abs() < 1e-9);
    assert!(longitude_spanned(&runs) < 110.0, "{runs:?}");
    // Up toward the Aleutians: north of both ends.
    let northmost = runs.iter().flatten().map(|p| p.1).fold(f64::MAX, f64::min);
    assert!(northmost < first[0].1 - 5.0, "a great circle bows poleward");
}

#[test]
fn syd_to_sjc_and_back_take_the_same_short_way() {
    for (from, to) in [("syd", "sjc"), ("sjc", "syd"), ("nrt", "sea")] {
        let runs = great_circle(place(from), place(to));
        assert_eq!(runs.len(), 2, "{from}→{to}");
        assert!(longitude_spanned(&runs) <= 180.0, "{from}→{to}: {runs:?}");
    }
}

#[test]
fn a_line_that_does_not_cross_the_antimeridian_is_one_run() {
    for (from, to) in [("ams", "iad"), ("fra", "sin"), ("gru", "mad")] {
        let runs = great_circle(place(from), place(to));
        assert_eq!(runs.len(), 1, "{from}→{to}");
        let run = &runs[0];
        let (a, b) = (place(from), place(to));
        assert_eq!(run[0], project(a.0, a.1));
        let end = run.last().unwrap();
        let expected = project(b.0, b.1);
        assert!((end.0 - expected.0).abs() < 1e-9 && (end.1 - expected.1).abs() < 1e-9);
    }
}

#[test]
fn the_same_place_is_a_point_and_the_path_has_one_move_per_run() {
    assert_eq!(great_circle((10.0, 20.0), (10.0, 20.0)).len(), 1);
    let d = serving_path(place("sjc"), place("nrt"));
    assert_eq!(d.matches('M').count(), 2, "{d}");
    assert!(d.starts_with("M"));
}

fn mark(text: &str, (x, y): (f64, f64)) -> Mark {
    Mark {
        text: text.to_owned(),
        x,
        y,
        r: 2.0,
        labelled: true,
    }
}

fn boxes(labels: &[PlacedLabel], font: f64) -> Vec<Area> {
    labels
        .iter()
        .map(|label| {
            let (half_width, half_height) = label_size(&label.text, font);
            Area {
                x: label.x,
                y: label.y,
                half_width,
                half_height,
            }
        })
        .collect()
}

#[test]
fn a_lone_label_sits_right_of_its_dot_without_a_leader() {
    let labels = place_labels(&[mark("fra", (190.0, 40.0))], TIERS[2]);
    assert_eq!(labels.len(), 1);
    assert!(labels[0].x > 190.0 && (labels[0].y - 40.0).abs() < 1e-9);
    assert_eq!(labels[0].leader, None);
}

#[test]
fn crowded_european_labels_do_not_overlap_in_any_tier() {
    let codes = [
        "fra", "ams", "lhr", "cdg", "waw", "arn", "mad", "otp", "iad", "ewr", "yyz", "ord", "sjc",
        "lax", "sea", "nrt", "sin", "syd", "hkg", "bom",
    ];
    let marks: Vec<Mark> = codes
        .iter()
        .map(|code| {
            let (lat, lon) = place(code);
            mark(code, project(lat, lon))
        })
        .collect();
    for tier in TIERS {
        let labels = place_labels(&marks, tier);
        let areas = boxes(&labels, tier.font);
        for (i, a) in areas.iter().enumerate() {
            assert!(
                a.inside(VIEW_BOX),
                "{}: {} outside",
                tier.class,
                labels[i].text
            );
            for (j, b) in areas.iter().enumerate().skip(i + 1) {
                assert!(
                    !a.overlaps(b),
                    "{}: {} overlaps {}",
                    tier.class,
                    labels[i].text,
                    labels[j].text
                );
            }
        }
        // The desktop tier has room for every label.
        if tier.class != "labels-s" {
            assert_eq!(labels.len(), codes.len(), "{}", tier.class);
        }
        // Labels away from their dot have a leader line starting on the dot.
        for label in labels.iter().filter(|l| l.leader.is_some()) {
            let m = marks.iter().find(|m| m.text == label.text).unwrap();
            let [x1, y1, ..] = label.leader.unwrap();
            assert!(((x1 - m.x).hypot(y1 - m.y) - m.r).abs() < 0.05);
        }
    }
}

#[test]
fn labels_keep_off_other_dots_when_there_is_room() {
    // A dot right of `fra` takes the place its label would have.
    let mut other = mark("xxx", (196.0, 40.0));
    other.labelled = false;
    let labels = place_labels(&[mark("fra", (190.0, 40.0)), other], TIERS[2]);
    let area = boxes(&labels, TIERS[2].font)[0];
    let dot = Area {
        x: 196.0,
        y: 40.0,
        half_width: 2.0,
        half_height: 2.0,
    };
    assert!(!area.overlaps(&dot));
    assert!(labels[0].x < 190.0, "moved to the left: {labels:?}");
}

#[test]
fn a_label_with_no_room_is_left_out_rather_than_overlapping() {
    // Far more labels than a phone-sized map can hold around one point.
    let marks: Vec<Mark> = (0..200)
        .map(|i| mark(&format!("r{i:02}"), (180.0, 80.0)))
        .collect();
    let labels = place_labels(&marks, TIERS[0]);
    assert!(labels.len() < 200);
    let areas = boxes(&labels, TIERS[0].font);
    for (i, a) in areas.iter().enumerate() {
        for b in &areas[i + 1..] {
            assert!(!a.overlaps(b));
        }
    }
}

#[test]
fn every_tier_is_at_least_eleven_pixels_at_the_narrowest_width_of_its_band() {
    // The bands of TIER_CSS: below 560 px (a 390 px phone shows the map
    // about 330 px wide), 560 to 860 px, and from 860 px.
    for (tier, narrowest) in TIERS.iter().zip([330.0, 560.0, 860.0]) {
        let pixels = tier.font * narrowest / VIEW_BOX[2];
        assert!(pixels >= 11.0, "{}: {pixels:.1} px", tier.class);
    }
    assert!(TIER_CSS.contains("max-width:559.9px") && TIER_CSS.contains("min-width:860px"));
}
