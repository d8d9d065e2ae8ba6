//! `recommend`: the best N regions for observed traffic, beside the current
//! set.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use placer_core::Region;
use placer_lab::recommend::{self, Placement, Recommendation};
use placer_lab::window::TimeWindow;

use super::{
    counted, load_config, load_model, map, model_description, print_out, traffic, write,
    OfflineError,
};
use crate::cli::{GlobalArgs, RecommendArgs};
use crate::config::environment::Environment;

/// Edge regions listed per serving region in the table; the JSON has all.
const EDGES_SHOWN: usize = 6;

/// Runs `recommend` and prints the result on stdout.
pub(crate) async fn recommend(
    global: &GlobalArgs,
    env: &Environment,
    args: &RecommendArgs,
) -> Result<(), OfflineError> {
    let (config, config_origin) = load_config(global)?;
    let model = load_model(args.latency_matrix.as_deref())?;
    let traffic = traffic::load(args.from_trace.as_deref(), &args.history, &config, env).await?;
    let current: BTreeSet<Region> = args.current.iter().copied().collect();
    let window = TimeWindow::parse(
        args.days.as_deref().unwrap_or(""),
        args.between.as_deref().unwrap_or(""),
    )
    .map_err(|err| OfflineError::Setup(err.to_string()))?;
    let (totals, ticks_within) = traffic.trace.totals_within(&window);
    if ticks_within == 0 {
        return Err(OfflineError::Setup(format!(
            "no tick of {} falls within {window} (--days, --between)",
            traffic.origin
        )));
    }
    let pick = recommend::recommend(&totals, args.k, &current, &config.engine, &model)?;
    if let Some(path) = &args.html {
        let trace = &traffic.trace;
        let length = trace
            .tick_interval()
            .saturating_mul(u32::try_from(trace.len()).unwrap_or(u32::MAX));
        let title = format!(
            "{:.0} requests over {} ({}) of {}; mean RTT on {}.",
            pick.requests,
            counted(trace.len(), "tick"),
            humantime::format_duration(length),
            traffic.origin,
            model_description(args.latency_matrix.as_deref())
        );
        write(path, &map::render(&pick, &totals, &title))?;
        eprintln!("wrote the HTML page to {}", path.display());
    }
    if args.json {
        return print_out(
            &(serde_json::to_string_pretty(&pick).expect("recommendations always encode") + "\n"),
        );
    }
    let trace = &traffic.trace;
    let length = trace
        .tick_interval()
        .saturating_mul(u32::try_from(trace.len()).unwrap_or(u32::MAX));
    let mut output = if window.is_always() {
        format!(
            "{} for {:.0} requests over {} ({}) of {}\n",
            best(args.k, pick.recommended.regions.len()),
            pick.requests,
            counted(trace.len(), "tick"),
            humantime::format_duration(length),
            traffic.origin
        )
    } else {
        format!(
            "{} for {:.0} requests over the {ticks_within} of {} ({}) of {} within {window}\n",
            best(args.k, pick.recommended.regions.len()),
            pick.requests,
            counted(trace.len(), "tick"),
            humantime::format_duration(length),
            traffic.origin
        )
    };
    output.push_str(&render(&pick));
    let _ = write!(
        output,
        "\nmean RTT: traffic-weighted round trip from each request's edge region to the nearest region of the set, on {}.\n\
         Candidates: the regions Fly places machines in (an edge region's traffic is served from them), within allowed_regions, outside excluded_regions, always with always_running_regions (settings: {config_origin}).\n",
        model_description(args.latency_matrix.as_deref()),
    );
    if !pick.ignored_regions.is_empty() {
        let ignored: Vec<&str> = pick.ignored_regions.iter().map(Region::as_str).collect();
        let _ = writeln!(
            output,
            "Ignored: {} (no coordinates: not a Fly region), whose requests are left out.",
            ignored.join(", ")
        );
    }
    if pick.recommended.regions.len() != args.k {
        let _ = writeln!(
            output,
            "Note: {} regions instead of {}: the config's always-running regions, or the regions it allows, set the number.",
            pick.recommended.regions.len(),
            args.k
        );
    }
    print_out(&output)?;
    Ok(())
}

/// The two sets side by side, then what each recommended region serves.
fn render(pick: &Recommendation) -> String {
    let mut out = String::new();
    let sets = [
        ("recommended", &pick.recommended),
        ("current", &pick.current),
    ];
    let width = sets
        .iter()
        .map(|(_, placement)| regions(placement).len())
        .max()
        .unwrap_or(0)
        .max("regions".len());
    let _ = writeln!(out, "\nset          {:<width$}  mean RTT", "regions");
    for (name, placement) in sets {
        let _ = writeln!(
            out,
            "{name:<11}  {:<width$}  {:>8}",
            regions(placement),
            format!("{:.1} ms", placement.mean_rtt_ms)
        );
    }
    if pick.current.mean_rtt_ms > 0.0 {
        let saving = pick.current.mean_rtt_ms - pick.recommended.mean_rtt_ms;
        let _ = writeln!(
            out,
            "\nThe recommended set is {:.1} ms ({:.0} %) {} per request than the current one.",
            saving.abs(),
            100.0 * saving.abs() / pick.current.mean_rtt_ms,
            if saving >= 0.0 { "faster" } else { "slower" }
        );
    }
    let _ = writeln!(out, "\nregion    share  mean RTT  serves (busiest first)");
    for served in &pick.recommended.serving {
        let mut edges: Vec<&str> = served
            .edges
            .iter()
            .take(EDGES_SHOWN)
            .map(Region::as_str)
            .collect();
        let more = served.edges.len().saturating_sub(EDGES_SHOWN);
        let more = if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        };
        if edges.is_empty() {
            edges.push("-");
        }
        let _ = writeln!(
            out,
            "{:<6} {:>6.1} %  {:>8}  {}{more}",
            served.region.as_str(),
            100.0 * served.share,
            served
                .mean_rtt_ms
                .map_or("-".to_owned(), |ms| format!("{ms:.1} ms")),
            edges.join(", ")
        );
    }
    out
}

fn regions(placement: &Placement) -> String {
    crate::cli::log_lines::region_list(&placement.regions, "(none)")
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use placer_core::{network::LatencyModel, PlacerConfig};

    use super::*;

    #[test]
    fn the_table_shows_both_sets_and_who_serves_whom() {
        let region = |code: &str| -> Region { code.parse().unwrap() };
        let traffic = BTreeMap::from([
            (region("ams"), 300.0),
            (region("fra"), 200.0),
            (region("syd"), 100.0),
        ]);
        let pick = recommend::recommend(
            &traffic,
            2,
            &BTreeSet::from([region("iad")]),
            &PlacerConfig::default(),
            &LatencyModel::distance(),
        )
        .unwrap();
        let table = render(&pick);
        assert!(table.contains("recommended  ams, syd"), "{table}");
        assert!(table.contains("current      iad"), "{table}");
        assert!(table.contains("faster per request"), "{table}");
        assert!(table.contains("ams      83.3 %"), "{table}");
        assert!(table.contains("ams, fra"), "{table}");
        assert!(!table.lines().any(|line| line.ends_with(' ')), "{table}");
    }
}

/// The heading's count: the regions chosen, and the `--k` asked for when
/// fewer could be chosen (only so many regions may be deployed).
fn best(asked: usize, chosen: usize) -> String {
    let regions = if chosen == 1 {
        "Best region".to_owned()
    } else {
        format!("Best {chosen} regions")
    };
    if chosen < asked {
        format!("{regions} (--k {asked}: only {chosen} may be deployed)")
    } else {
        regions
    }
}

#[cfg(test)]
mod best_tests {
    #[test]
    fn the_heading_counts_the_regions_chosen() {
        assert_eq!(super::best(3, 3), "Best 3 regions");
        assert_eq!(super::best(1, 1), "Best region");
        assert_eq!(
            super::best(50, 18),
            "Best 18 regions (--k 50: only 18 may be deployed)"
        );
    }
}
