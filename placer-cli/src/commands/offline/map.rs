//! `recommend --html`: the recommendation on a world map — one
//! self-contained HTML page, the map inline SVG, no scripts.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use placer_core::{network::geo, Region};
use placer_lab::recommend::{Placement, Recommendation};

use super::html::{escape, STYLE};

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
         <title>fly-placer: best {k} regions</title>\n<style>{STYLE}{MAP_STYLE}</style>\n</head>\n<body>\n\
         <h1>Best {k} regions</h1>\n<p>{title}</p>\n",
        k = pick.k,
        title = escape(title),
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

/// Equirectangular: one unit a degree.
fn point(region: &Region) -> Option<(f64, f64)> {
    geo::region_info(region).map(|info| (info.longitude + 180.0, 90.0 - info.latitude))
}

fn map(pick: &Recommendation, totals: &BTreeMap<Region, f64>) -> String {
    let mut out = format!(
        "<figure><svg class=\"map\" viewBox=\"0 14 360 138\" xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" \
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
        if let (Some((x1, y1)), Some((x2, y2))) = (point(edge), point(server)) {
            let _ = write!(
                out,
                "<line class=\"link\" x1=\"{x1:.1}\" y1=\"{y1:.1}\" x2=\"{x2:.1}\" y2=\"{y2:.1}\"><title>{edge} served from {server}</title></line>"
            );
        }
    }
    out.push_str("</g><g class=\"edges\">");
    let max = totals.values().copied().fold(1.0_f64, f64::max);
    for (region, requests) in totals {
        if let Some((x, y)) = point(region) {
            let r = 1.0 + 4.0 * (requests / max).sqrt();
            let _ = write!(
                out,
                "<circle class=\"edge\" data-region=\"{region}\" cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"{r:.2}\"><title>{region}: {requests:.0} requests</title></circle>"
            );
        }
    }
    out.push_str("</g><g class=\"sets\">");
    for region in pick.current.regions.iter() {
        if let Some((x, y)) = point(region) {
            let _ = write!(
                out,
                "<circle class=\"current\" data-region=\"{region}\" cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"2.6\"><title>{region}: deployed now</title></circle>"
            );
        }
    }
    for region in pick.recommended.regions.iter() {
        if let Some((x, y)) = point(region) {
            let _ = write!(
                out,
                "<circle class=\"recommended\" data-region=\"{region}\" cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"1.6\"><title>{region}: recommended</title></circle>\
                 <text class=\"label\" x=\"{:.1}\" y=\"{:.1}\">{region}</text>",
                x + 2.4,
                y + 1.0
            );
        }
    }
    out.push_str("</g></svg></figure>\n");
    out
}

const MAP_STYLE: &str = ".map{width:100%;height:auto;display:block;background:#f8fafc}.sea{fill:#f8fafc}\
.land{fill:#e3e7ee}.edge{fill:#98a2b3;fill-opacity:.45;stroke:#667085;stroke-width:.2}\
.current{fill:none;stroke:#d97706;stroke-width:.7}.recommended{fill:#6d28d9;stroke:#fff;stroke-width:.3}\
.link{stroke:#6d28d9;stroke-width:.3;stroke-dasharray:1 .7;opacity:.7}\
.label{font:3px sans-serif;fill:#1d2430;paint-order:stroke;stroke:#fff;stroke-width:.5}\
.legend{color:#667085;font-size:13px}.key{display:inline-block;width:10px;height:10px;border-radius:50%;margin:0 4px 0 12px;vertical-align:-1px}\
.key.rec{background:#6d28d9}.key.cur{border:2px solid #d97706;box-sizing:border-box}.key.edge{background:#98a2b3}\
.key.line{border-radius:0;height:0;border-top:2px dashed #6d28d9}td.wrap{white-space:normal;text-align:left}";
