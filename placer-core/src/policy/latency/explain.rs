//! Plain-words explanations of the latency policy's choices.

use std::collections::{BTreeMap, BTreeSet};

use super::LatencyReason;
use crate::{network::RttTable, network::UNSERVED_RTT_MS, Reason, Region};

/// Who serves each edge region before and after a change.
pub(super) struct Explainer<'a> {
    table: &'a RttTable,
    weights: &'a [(Region, f64)],
    total: f64,
    before: Vec<Option<(Region, f64)>>,
    after: Vec<Option<(Region, f64)>>,
}

impl<'a> Explainer<'a> {
    pub fn new(
        table: &'a RttTable,
        weights: &'a [(Region, f64)],
        total: f64,
        before: &BTreeSet<Region>,
        after: &BTreeSet<Region>,
    ) -> Self {
        let assign = |set: &BTreeSet<Region>| -> Vec<Option<(Region, f64)>> {
            let columns: Vec<usize> = set.iter().filter_map(|r| table.server_index(r)).collect();
            (0..weights.len())
                .map(|edge| {
                    table
                        .nearest(edge, &columns)
                        .map(|(column, ms)| (table.servers()[column], ms))
                })
                .collect()
        };
        Explainer {
            table,
            weights,
            total,
            before: assign(before),
            after: assign(after),
        }
    }

    fn share(&self, edges: &[usize]) -> f64 {
        100.0 * edges.iter().map(|e| self.weights[*e].1).sum::<f64>() / self.total
    }

    fn rtt(assignment: &Option<(Region, f64)>) -> f64 {
        assignment.map_or(UNSERVED_RTT_MS, |(_, ms)| ms)
    }

    /// Why deploying `region` helps: the requests it will serve and the
    /// round trip they save.
    pub fn deploy(&self, region: &Region) -> Reason {
        let mut served: Vec<usize> = (0..self.weights.len())
            .filter(|e| self.after[*e].is_some_and(|(r, _)| r == *region))
            .collect();
        let weight: f64 = served.iter().map(|e| self.weights[*e].1).sum();
        let saved: f64 = served
            .iter()
            .map(|e| {
                self.weights[*e].1 * (Self::rtt(&self.before[*e]) - Self::rtt(&self.after[*e]))
            })
            .sum();
        served.sort_by(|a, b| self.weights[*b].1.total_cmp(&self.weights[*a].1));
        Reason::policy(LatencyReason::Deploy {
            saves_ms: if weight > 0.0 { saved / weight } else { 0.0 },
            share_pct: self.share(&served),
            serves: served.iter().take(4).map(|e| self.weights[*e].0).collect(),
        })
    }

    /// Why removing `region` costs little: where its users go instead.
    pub fn remove(&self, region: &Region) -> Reason {
        let served: Vec<usize> = (0..self.weights.len())
            .filter(|e| self.before[*e].is_some_and(|(r, _)| r == *region))
            .collect();
        let mut destinations: BTreeMap<Region, (f64, f64)> = BTreeMap::new();
        for edge in &served {
            if let Some((to, ms)) = self.after[*edge] {
                let entry = destinations.entry(to).or_default();
                entry.0 += self.weights[*edge].1;
                entry.1 += self.weights[*edge].1 * ms;
            }
        }
        let main = destinations
            .into_iter()
            .max_by(|a, b| a.1 .0.total_cmp(&b.1 .0).then(b.0.cmp(&a.0)));
        match main {
            Some((to, (weight, weighted_ms))) if weight > 0.0 => {
                Reason::policy(LatencyReason::Remove {
                    users_go_to: Some(to),
                    rtt_ms: weighted_ms / weight,
                })
            }
            _ => Reason::policy(LatencyReason::Remove {
                users_go_to: None,
                rtt_ms: 0.0,
            }),
        }
    }

    /// Why a deployed region stays: the share of requests it serves.
    pub fn keep(&self, region: &Region) -> Reason {
        let served: Vec<usize> = (0..self.weights.len())
            .filter(|e| self.after[*e].is_some_and(|(r, _)| r == *region))
            .collect();
        Reason::policy(LatencyReason::Keep {
            share_pct: self.share(&served),
        })
    }

    /// Why an undeployed region gets no machine: who serves its users.
    pub fn served_from(&self, region: &Region) -> Reason {
        let assignment = self
            .table
            .edge_index(region)
            .and_then(|edge| self.after[edge]);
        Reason::policy(LatencyReason::ServedFrom {
            server: assignment.map(|(r, _)| r),
            rtt_ms: Self::rtt(&assignment),
        })
    }
}
