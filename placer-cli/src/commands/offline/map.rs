//! `recommend --html`: the recommendation on a world map — one
//! self-contained HTML page, the map inline SVG, no scripts.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use placer_core::{network::geo, Region};
use placer_lab::recommend::{Placement, Recommendation};

use super::html::{escape, STYLE};
use crate::service::worldmap::{self, Mark};

/// Natural Earth's 1:110m land (see `placer-cli/assets/README.md`).
const LAND: &str = include_str!("../../../assets/land.path");

/// The page: the map, the two sets and what each recommended region
/// serves. `totals` are the requests per edge region, `title` says over
/// what.
pub(crate) fn render(pick: &Recommendation, totals: &BTreeMap<Region, f64>, title: &str) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>fly-placer: best {k} regions</title>\n<style>{STYLE}{MAP_STYLE}{TIERS}</style>\n</head>\n<body>\n\
         <h1>Best {k} regions</h1>\n<p>{title}</p>\n",
        k = pick.k,
        title = escape(title),
        TIERS = worldmap::TIER_CSS,
    );
    out.push_str(&map(pick, totals));
    out.push_str(
        "<p class=\"legend\"><span class=\"key rec\"></span> recommended \
         <span class=\"key cur\"></span> deployed now \
         <span class=\"key edge\"></span> traffic (area: requests) \
         <span class=\"key line\"></span> served from</p>\n",
    );
    out.push_str("<h2>The sets</h2>\n<table>\n<thead><tr><th>set</th><th>regions</th><th>mean RTT</th></tr></thead>\n<tbody>\n");
    for (name, placement) in [
        ("recommended", &pick.recommended),
        ("current", &pick.current),
    ] {
        let _ = writeln!(
            out,
            "<tr><td>{name}</td><td>{}</td><td>{:.1} ms</td></tr>",
            list(placement),
            placement.mean_rtt_ms
        );
    }
    out.push_str("</tbody>\n</table>\n");
    out.push_str("<h2>What each recommended region serves</h2>\n<table>\n<thead><tr><th>region</th><th>share</th><th>mean RTT</th><th>serves (busiest first)</th></tr></thead>\n<tbody>\n");
    for served in &pick.recommended.serving {
        let edges: Vec<&str> = served.edges.iter().map(Region::as_str).collect();
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{:.1} %</td><td>{}</td><td class=\"wrap\">{}</td></tr>",
            served.region,
            100.0 * served.share,
            served
                .mean_rtt_ms
                .map_or("–".to_owned(), |ms| format!("{ms:.1} ms")),
            if edges.is_empty() {
                "–".to_owned()
            } else {
                edges.join(", ")
            }
        );
    }
    out.push_str("</tbody>\n</table>\n</body>\n</html>\n");
    out
}

fn list(placement: &Placement) -> String {
    let codes: Vec<&str> = placement.regions.iter().map(Region::as_str).collect();
    if codes.is_empty() {
        "(none)".to_owned()
    } else {
        codes.join(", ")
    }
}

/// The region's place on the map and its `(latitude, longitude)`.
fn point(region: &Region) -> Option<((f64, f64), (f64, f64))> {
    geo::region_info(region).map(|info| {
        (
            worldmap::project(info.latitude, info.longitude),
            (info.latitude, info.longitude),
        )
    })
}

fn map(pick: &Recommendation, totals: &BTreeMap<Region, f64>) -> String {
    let [left, top, width, height] = worldmap::VIEW_BOX;
    let mut out = format!(
        "<figure class=\"worldmap\"><svg class=\"map\" viewBox=\"{left} {top} {width} {height}\" xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" \
         aria-label=\"the recommended regions on a world map\">\
         <rect x=\"0\" y=\"0\" width=\"360\" height=\"180\" class=\"sea\"/><path class=\"land\" d=\"{}\"/>",
        LAND.trim()
    );
    let serving: BTreeMap<Region, Region> = pick
        .recommended
        .serving
        .iter()
        .flat_map(|served| served.edges.iter().map(move |edge| (*edge, served.region)))
        .collect();
    out.push_str("<g class=\"links\">");
    for (edge, server) in &serving {
        if edge == server {
            continue;
        }
        if let (Some((_, from)), Some((_, to))) = (point(edge), point(server)) {
            let _ = write!(
                out,
                "<path class=\"link\" data-from=\"{edge}\" data-to=\"{server}\" d=\"{}\"><title>{edge} served from {server}</title></path>",
                worldmap::serving_path(from, to)
            );
        }
    }
    out.push_str("</g><g class=\"edges\">");
    // Every dot, by region, with its largest radius: what labels keep off.
    let mut radii: BTreeMap<Region, f64> = BTreeMap::new();
    let max = totals.values().copied().fold(1.0_f64, f64::max);
    for (region, requests) in totals {
        if let Some(((x, y), _)) = point(region) {
            let r = 1.0 + 4.0 * (requests / max).sqrt();
            radii.insert(*region, r);
            let _ = write!(
                out,
                "<circle class=\"edge\" data-region=\"{region}\" cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"{r:.2}\"><title>{region}: {requests:.0} requests</title></circle>"
            );
        }
    }
    out.push_str("</g><g class=\"sets\">");
    for (regions, class, r, words) in [
        (&pick.current.regions, "current", 2.6, "deployed now"),
        (&pick.recommended.regions, "recommended", 1.6, "recommended"),
    ] {
        for region in regions.iter() {
            if let Some(((x, y), _)) = point(region) {
                let radius = radii.entry(*region).or_insert(r);
                *radius = radius.max(r);
                let _ = write!(
                    out,
                    "<circle class=\"{class}\" data-region=\"{region}\" cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"{r}\"><title>{region}: {words}</title></circle>"
                );
            }
        }
    }
    out.push_str("</g><g class=\"labels\">");
    // Labels: the recommended regions first, then the current set; every
    // other dot is kept clear of.
    let labelled: Vec<Region> = pick
        .recommended
        .regions
        .iter()
        .chain(pick.current.regions.iter())
        .copied()
        .fold(Vec::new(), |mut list, region| {
            if !list.contains(&region) {
                list.push(region);
            }
            list
        });
    let marks: Vec<Mark> = labelled
        .iter()
        .map(|region| (region, true))
        .chain(
            radii
                .keys()
                .filter(|region| !labelled.contains(region))
                .map(|region| (region, false)),
        )
        .filter_map(|(region, labelled)| {
            let ((x, y), _) = point(region)?;
            Some(Mark {
                text: region.to_string(),
                x,
                y,
                r: radii.get(region).copied().unwrap_or(1.6),
                labelled,
            })
        })
        .collect();
    out.push_str(&worldmap::labels_svg(&marks));
    out.push_str("</g></svg></figure>\n");
    out
}

const MAP_STYLE: &str = ".map{width:100%;height:auto;display:block;background:#f8fafc}.sea{fill:#f8fafc}\
.land{fill:#e3e7ee}.edge{fill:#98a2b3;fill-opacity:.45;stroke:#667085;stroke-width:.2}\
.current{fill:none;stroke:#d97706;stroke-width:.7}.recommended{fill:#6d28d9;stroke:#fff;stroke-width:.3}\
.link{fill:none;stroke:#6d28d9;stroke-width:.3;stroke-dasharray:1 .7;opacity:.7}\
.region-label{font-family:system-ui,sans-serif;font-weight:600;fill:#1d2430;paint-order:stroke;stroke:#fff;stroke-width:.18em;stroke-linejoin:round}\
.leader{stroke:#1d2430;stroke-width:.3;opacity:.55}figure.worldmap{container-type:inline-size}\
.legend{color:#667085;font-size:13px}.key{display:inline-block;width:10px;height:10px;border-radius:50%;margin:0 4px 0 12px;vertical-align:-1px}\
.key.rec{background:#6d28d9}.key.cur{border:2px solid #d97706;box-sizing:border-box}.key.edge{background:#98a2b3}\
.key.line{border-radius:0;height:0;border-top:2px dashed #6d28d9}td.wrap{white-space:normal;text-align:left}";
