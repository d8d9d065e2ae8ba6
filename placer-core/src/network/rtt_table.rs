//! [`RttTable`]: round-trip times between fixed lists of edge and serving
//! regions, computed once and looked up by index.
//!
//! Solvers and reports ask for the same pairs millions of times; a dense
//! table turns each question into an array read instead of a map lookup and
//! a haversine.

use std::collections::BTreeSet;

use crate::{network::platform::PlatformRegions, network::LatencyModel, Region};

/// Round-trip times from every edge region (rows) to every serving region
/// (columns), both sorted by code and free of duplicates.
#[derive(Debug, Clone, PartialEq)]
pub struct RttTable {
    edges: Vec<Region>,
    servers: Vec<Region>,
    /// Row-major: `ms[edge * servers.len() + server]`.
    ms: Vec<f64>,
}

impl RttTable {
    /// Computes the table for `edges × servers` with `model`. Duplicates are
    /// dropped and both lists are sorted by code.
    pub fn new(
        edges: impl IntoIterator<Item = Region>,
        servers: impl IntoIterator<Item = Region>,
        model: &LatencyModel,
    ) -> Self {
        Self::build(edges, servers, |edge, server| model.rtt_ms(edge, server))
    }

    /// Like [`new`](Self::new), placing regions the catalog lacks at the
    /// coordinates `platform` knows (see [`LatencyModel::rtt_ms_in`]).
    pub fn over_platform(
        edges: impl IntoIterator<Item = Region>,
        servers: impl IntoIterator<Item = Region>,
        model: &LatencyModel,
        platform: &PlatformRegions,
    ) -> Self {
        Self::build(edges, servers, |edge, server| {
            model.rtt_ms_in(edge, server, platform)
        })
    }

    fn build(
        edges: impl IntoIterator<Item = Region>,
        servers: impl IntoIterator<Item = Region>,
        rtt_ms: impl Fn(&Region, &Region) -> f64,
    ) -> Self {
        let edges: Vec<Region> = edges
            .into_iter()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let servers: Vec<Region> = servers
            .into_iter()
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let mut ms = Vec::with_capacity(edges.len() * servers.len());
        for edge in &edges {
            ms.extend(servers.iter().map(|server| rtt_ms(edge, server)));
        }
        RttTable { edges, servers, ms }
    }

    /// The edge regions (rows), sorted.
    pub fn edges(&self) -> &[Region] {
        &self.edges
    }

    /// The serving regions (columns), sorted.
    pub fn servers(&self) -> &[Region] {
        &self.servers
    }

    /// Row index of `edge`, if it is in the table.
    pub fn edge_index(&self, edge: &Region) -> Option<usize> {
        self.edges.binary_search(edge).ok()
    }

    /// Column index of `server`, if it is in the table.
    pub fn server_index(&self, server: &Region) -> Option<usize> {
        self.servers.binary_search(server).ok()
    }

    /// Round-trip time from row `edge` to column `server`.
    ///
    /// # Panics
    /// When either index is out of range.
    pub fn rtt(&self, edge: usize, server: usize) -> f64 {
        assert!(server < self.servers.len(), "server index out of range");
        self.ms[edge * self.servers.len() + server]
    }

    /// All round-trip times from row `edge`, indexed by column.
    ///
    /// # Panics
    /// When `edge` is out of range.
    pub fn row(&self, edge: usize) -> &[f64] {
        let width = self.servers.len();
        &self.ms[edge * width..(edge + 1) * width]
    }

    /// The lowest round-trip time from row `edge` to any of the `servers`
    /// columns, with the column; ties go to the lowest column (the first
    /// code). `None` when `servers` is empty.
    pub fn nearest(&self, edge: usize, servers: &[usize]) -> Option<(usize, f64)> {
        let row = self.row(edge);
        let mut best: Option<(usize, f64)> = None;
        for &server in servers {
            let ms = row[server];
            match best {
                Some((col, best_ms)) if ms > best_ms || (ms == best_ms && server > col) => {}
                _ => best = Some((server, ms)),
            }
        }
        best
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn regions(codes: &[&str]) -> Vec<Region> {
        codes.iter().map(|code| code.parse().unwrap()).collect()
    }

    #[test]
    fn table_matches_the_model_for_every_pair() {
        let model = LatencyModel::distance();
        let table = RttTable::new(
            regions(&["syd", "ams", "ams"]),
            regions(&["fra", "iad"]),
            &model,
        );
        assert_eq!(table.edges(), regions(&["ams", "syd"]).as_slice());
        for (row, edge) in table.edges().iter().enumerate() {
            for (col, server) in table.servers().iter().enumerate() {
                assert_eq!(table.rtt(row, col), model.rtt_ms(edge, server));
            }
        }
    }

    #[test]
    fn nearest_prefers_lower_rtt_then_lower_column() {
        let json = r#"{"lhr": {"ams": 5, "cdg": 5, "fra": 3}}"#;
        let model = LatencyModel::from_measured_json(json).unwrap();
        let table = RttTable::new(regions(&["lhr"]), regions(&["ams", "cdg", "fra"]), &model);
        assert_eq!(table.nearest(0, &[1, 0]), Some((0, 5.0)));
        assert_eq!(table.nearest(0, &[1, 2, 0]), Some((2, 3.0)));
        assert_eq!(table.nearest(0, &[]), None);
    }
}
