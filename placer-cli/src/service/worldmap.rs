//! The world map's geometry, shared by the status page and
//! `recommend --html`: where a region sits on the map, the serving lines
//! (great circles, split where they cross the antimeridian so that a line
//! from `sjc` to `nrt` crosses the Pacific), and where each region's label
//! goes so that no two labels overlap.
//!
//! The map is equirectangular, one unit a degree (`x = longitude + 180`,
//! `y = 90 − latitude`), shown through [`VIEW_BOX`] and scaled to the
//! width of its container. A label drawn at a fixed size in map units
//! would be 6 px on a phone or 30 px on a desktop, so labels are laid out
//! once per [`TIERS`] entry, each for a band of rendered map widths, and
//! the page's style sheet ([`TIER_CSS`], a container query) shows the
//! layout of the band the map is in. Every tier keeps its text at 11 px or
//! more on screen. Labels that do not fit next to their dot move away from
//! it, joined by a leader line; a label with no free place in a tier is
//! left out of that tier (the dot keeps its tooltip).

use std::fmt::Write as _;

use serde::Serialize;

/// The part of the map shown: `x y width height` (latitudes 76° N to
/// 62° S).
pub const VIEW_BOX: [f64; 4] = [0.0, 14.0, 360.0, 138.0];

/// A label layout for the maps rendered in one band of widths.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tier {
    /// The class of the layout's group (`labels-s`, …).
    pub class: &'static str,
    /// The labels' font size in map units.
    pub font: f64,
}

/// The layouts, narrowest map first. A map rendered `w` px wide shows
/// `w / 360` px a unit; each tier's font is at least 11 px at the
/// narrowest width of its band (see [`TIER_CSS`]): 12 units at 330 px (a
/// phone), 7.2 at 560 px, 4.8 at 860 px.
pub const TIERS: [Tier; 3] = [
    Tier {
        class: "labels-s",
        font: 12.0,
    },
    Tier {
        class: "labels-m",
        font: 7.2,
    },
    Tier {
        class: "labels-l",
        font: 4.8,
    },
];

/// The style that shows one tier's labels by the width of the map's
/// container (which must be the map's parent, its width the map's).
pub const TIER_CSS: &str = ".labels-s,.labels-m,.labels-l{display:none}\
@container (max-width:559.9px){.labels-s{display:inline}}\
@container (min-width:560px) and (max-width:859.9px){.labels-m{display:inline}}\
@container (min-width:860px){.labels-l{display:inline}}";

/// Where a place is on the map: `(x, y)` in map units.
pub fn project(latitude: f64, longitude: f64) -> (f64, f64) {
    (longitude + 180.0, 90.0 - latitude)
}

/// The great circle from one `(latitude, longitude)` to another, as map
/// points: one run of points, or two when it crosses the antimeridian (the
/// first ending on one edge of the map, the second starting on the other).
pub fn great_circle(from: (f64, f64), to: (f64, f64)) -> Vec<Vec<(f64, f64)>> {
    let (a, b) = (unit(from), unit(to));
    let cos = (a[0] * b[0] + a[1] * b[1] + a[2] * b[2]).clamp(-1.0, 1.0);
    let angle = cos.acos();
    let sin = angle.sin();
    // The same place, or antipodes (no one great circle): a straight line.
    let geographic: Vec<(f64, f64)> = if angle < 1e-9 || sin < 1e-9 {
        vec![from, to]
    } else {
        let steps = (angle.to_degrees() / 2.0).ceil().max(8.0) as usize;
        (0..=steps)
            .map(|step| {
                let t = step as f64 / steps as f64;
                let (wa, wb) = (((1.0 - t) * angle).sin() / sin, (t * angle).sin() / sin);
                let v = [0, 1, 2].map(|i| wa * a[i] + wb * b[i]);
                (
                    v[2].clamp(-1.0, 1.0).asin().to_degrees(),
                    v[1].atan2(v[0]).to_degrees(),
                )
            })
            .collect()
    };
    let mut runs = vec![vec![project(geographic[0].0, geographic[0].1)]];
    for pair in geographic.windows(2) {
        let ((lat0, lon0), (lat1, lon1)) = (pair[0], pair[1]);
        if (lon1 - lon0).abs() > 180.0 {
            // Crossing the antimeridian: end at the edge the line leaves
            // by, carry on from the other.
            let edge = if lon0 > 0.0 { 180.0 } else { -180.0 };
            let unwrapped = if lon0 > 0.0 {
                lon1 + 360.0
            } else {
                lon1 - 360.0
            };
            let t = (edge - lon0) / (unwrapped - lon0);
            let lat = lat0 + t * (lat1 - lat0);
            runs.last_mut().unwrap().push(project(lat, edge));
            runs.push(vec![project(lat, -edge)]);
        }
        runs.last_mut().unwrap().push(project(lat1, lon1));
    }
    runs
}

/// [`great_circle`] as an SVG path's `d`.
pub fn serving_path(from: (f64, f64), to: (f64, f64)) -> String {
    let mut d = String::new();
    for run in great_circle(from, to) {
        for (index, (x, y)) in run.iter().enumerate() {
            let command = if index == 0 { 'M' } else { 'L' };
            let _ = write!(d, "{command}{x:.2} {y:.2}");
        }
    }
    d
}

fn unit((latitude, longitude): (f64, f64)) -> [f64; 3] {
    let (lat, lon) = (latitude.to_radians(), longitude.to_radians());
    [lat.cos() * lon.cos(), lat.cos() * lon.sin(), lat.sin()]
}

/// A dot on the map, and its label if it has one.
#[derive(Debug, Clone, PartialEq)]
pub struct Mark {
    /// The label's text (the region's code).
    pub text: String,
    /// The dot's centre, in map units.
    pub x: f64,
    /// The dot's centre, in map units.
    pub y: f64,
    /// The dot's radius, in map units.
    pub r: f64,
    /// Whether the dot gets a label (others are only kept clear of).
    pub labelled: bool,
}

/// Where a label goes in one tier: its centre (the text is drawn centred
/// there, `text-anchor: middle; dominant-baseline: central`) and, when it
/// sits away from its dot, the leader line from the dot to it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlacedLabel {
    /// The tier's class.
    pub tier: &'static str,
    /// The tier's font size in map units.
    pub font: f64,
    /// The label's text.
    pub text: String,
    /// The label's centre.
    pub x: f64,
    /// The label's centre.
    pub y: f64,
    /// The leader line, `[x1, y1, x2, y2]` from the dot's edge to the
    /// label's box.
    pub leader: Option<[f64; 4]>,
}

/// An axis-aligned box: centre and half sizes.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Area {
    x: f64,
    y: f64,
    half_width: f64,
    half_height: f64,
}

impl Area {
    fn overlaps(&self, other: &Area) -> bool {
        (self.x - other.x).abs() < self.half_width + other.half_width
            && (self.y - other.y).abs() < self.half_height + other.half_height
    }

    fn inside(&self, [left, top, width, height]: [f64; 4]) -> bool {
        self.x - self.half_width >= left
            && self.x + self.half_width <= left + width
            && self.y - self.half_height >= top
            && self.y + self.half_height <= top + height
    }
}

/// The box a label's text takes at `font` units, with a margin: an
/// estimate from its letters' widths in common sans-serif faces, on the
/// large side, so that boxes apart on paper are apart on screen.
fn label_size(text: &str, font: f64) -> (f64, f64) {
    let ems: f64 = text
        .chars()
        .map(|c| match c {
            'm' | 'w' | 'M' | 'W' => 1.0,
            'i' | 'j' | 'l' | 't' | 'f' | 'r' | 'I' => 0.45,
            _ => 0.7,
        })
        .sum();
    ((ems + 0.3) * font / 2.0, 0.7 * font)
}

/// The labels of `marks` (in their order: earlier marks get the better
/// places) laid out for `tier`, inside [`VIEW_BOX`]. Each label takes the
/// first free place of: beside its dot (right, left, above, below, the
/// corners), then rings further out with a leader line. A place is free
/// when it overlaps no label placed before and no dot; failing that, one
/// that overlaps only dots; failing that, the label is left out.
pub fn place_labels(marks: &[Mark], tier: Tier) -> Vec<PlacedLabel> {
    let gap = 0.15 * tier.font;
    let dots: Vec<Area> = marks
        .iter()
        .map(|m| Area {
            x: m.x,
            y: m.y,
            half_width: m.r,
            half_height: m.r,
        })
        .collect();
    let mut placed: Vec<Area> = Vec::new();
    let mut out = Vec::new();
    for mark in marks.iter().filter(|m| m.labelled) {
        let (half_width, half_height) = label_size(&mark.text, tier.font);
        let candidates = candidates(mark, half_width, half_height, gap);
        let free = |area: &Area, dots_too: bool| {
            area.inside(VIEW_BOX)
                && placed.iter().all(|other| !area.overlaps(other))
                && (!dots_too || dots.iter().all(|dot| !area.overlaps(dot)))
        };
        let chosen = candidates
            .iter()
            .find(|(area, _)| free(area, true))
            .or_else(|| candidates.iter().find(|(area, _)| free(area, false)));
        let Some(&(area, away)) = chosen else {
            continue;
        };
        placed.push(Area {
            half_width: area.half_width + gap / 2.0,
            half_height: area.half_height + gap / 2.0,
            ..area
        });
        out.push(PlacedLabel {
            tier: tier.class,
            font: tier.font,
            text: mark.text.clone(),
            x: area.x,
            y: area.y,
            leader: away.then(|| leader(mark, &area)),
        });
    }
    out
}

/// The places a label may take, best first, each with whether it is away
/// from its dot (needs a leader line).
fn candidates(mark: &Mark, half_width: f64, half_height: f64, gap: f64) -> Vec<(Area, bool)> {
    let at = |x: f64, y: f64| Area {
        x,
        y,
        half_width,
        half_height,
    };
    let (x, y, r) = (mark.x, mark.y, mark.r);
    let side = r + gap + half_width;
    let upright = r + gap + half_height;
    let corner = (0.7 * r + gap + half_width, 0.7 * r + gap + half_height);
    let mut out = vec![
        (at(x + side, y), false),
        (at(x - side, y), false),
        (at(x, y - upright), false),
        (at(x, y + upright), false),
        (at(x + corner.0, y - corner.1), false),
        (at(x - corner.0, y - corner.1), false),
        (at(x + corner.0, y + corner.1), false),
        (at(x - corner.0, y + corner.1), false),
    ];
    let step = 1.2 * half_height;
    for ring in 1..=14 {
        let reach = ring as f64 * step;
        for direction in 0..24 {
            let angle = (direction as f64 * 15.0).to_radians();
            let (cos, sin) = (angle.cos(), angle.sin());
            out.push((
                at(
                    x + cos * (r + gap + half_width + reach),
                    y + sin * (r + gap + half_height + reach),
                ),
                true,
            ));
        }
    }
    out
}

/// The line from the dot's edge toward the label's centre, ending at the
/// label's box.
fn leader(mark: &Mark, area: &Area) -> [f64; 4] {
    let (dx, dy) = (area.x - mark.x, area.y - mark.y);
    let length = dx.hypot(dy).max(1e-9);
    let start = (mark.x + dx / length * mark.r, mark.y + dy / length * mark.r);
    // From the centre back toward the dot, to where the line leaves the box.
    let scale = (area.half_width / dx.abs().max(1e-9)).min(area.half_height / dy.abs().max(1e-9));
    let end = (area.x - dx * scale.min(1.0), area.y - dy * scale.min(1.0));
    [start.0, start.1, end.0, end.1].map(|v| (v * 100.0).round() / 100.0)
}

/// The labels of `marks` in every tier, as SVG: a group per tier (shown by
/// [`TIER_CSS`]), each label a `<text class="region-label">` and its leader
/// a `<line class="leader">`.
pub fn labels_svg(marks: &[Mark]) -> String {
    let mut out = String::new();
    for tier in TIERS {
        let labels = place_labels(marks, tier);
        let _ = write!(
            out,
            "<g class=\"{}\" font-size=\"{}\">",
            tier.class, tier.font
        );
        // Leader lines first, under every label.
        for [x1, y1, x2, y2] in labels.iter().filter_map(|label| label.leader) {
            let _ = write!(
                out,
                "<line class=\"leader\" x1=\"{x1}\" y1=\"{y1}\" x2=\"{x2}\" y2=\"{y2}\"/>"
            );
        }
        for label in &labels {
            let _ = write!(
                out,
                "<text class=\"region-label\" data-region=\"{text}\" x=\"{:.2}\" y=\"{:.2}\" \
                 text-anchor=\"middle\" dominant-baseline=\"central\">{text}</text>",
                label.x,
                label.y,
                text = label.text
            );
        }
        out.push_str("</g>");
    }
    out
}

#[cfg(test)]
#[path = "worldmap_tests.rs"]
mod tests;
