//! [`RequestCounter`]: how an actuator's Machines API requests were
//! answered, counted as the answers come, so that a program can export the
//! counts as metrics (this crate depends on no metrics library).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// How one request was answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reply {
    /// A 2xx status.
    Ok,
    /// 429: Fly's rate limit.
    RateLimited,
    /// Any other 4xx, expected ones included (a 404 for a machine already
    /// gone, a 408 for a wait that ran out).
    ClientError,
    /// A 5xx status.
    ServerError,
    /// No answer: the connection failed or timed out, or the body could not
    /// be read.
    NoAnswer,
}

impl Reply {
    /// The answer a status code stands for.
    pub(crate) fn of_status(status: u16) -> Self {
        match status {
            200..=299 => Reply::Ok,
            429 => Reply::RateLimited,
            500..=599 => Reply::ServerError,
            _ => Reply::ClientError,
        }
    }

    fn index(self) -> usize {
        match self {
            Reply::Ok => 0,
            Reply::RateLimited => 1,
            Reply::ClientError => 2,
            Reply::ServerError => 3,
            Reply::NoAnswer => 4,
        }
    }
}

/// Counts of an actuator's Machines API requests by how they were answered,
/// kept as they are answered (every send counts: a request sent again after
/// a 429 counts twice). Cloning shares the counts; read them with
/// [`snapshot`](Self::snapshot).
///
/// ```
/// use placer_fly::RequestCounter;
///
/// let counter = RequestCounter::default();
/// assert_eq!(counter.snapshot().total(), 0);
/// ```
#[derive(Debug, Clone, Default)]
pub struct RequestCounter {
    counts: Arc<[AtomicU64; 5]>,
}

impl RequestCounter {
    pub(crate) fn record(&self, answer: Reply) {
        self.counts[answer.index()].fetch_add(1, Ordering::Relaxed);
    }

    /// The counts now.
    pub fn snapshot(&self) -> RequestCounts {
        let read = |answer: Reply| self.counts[answer.index()].load(Ordering::Relaxed);
        RequestCounts {
            ok: read(Reply::Ok),
            rate_limited: read(Reply::RateLimited),
            client_error: read(Reply::ClientError),
            server_error: read(Reply::ServerError),
            no_answer: read(Reply::NoAnswer),
        }
    }
}

/// Machines API requests by how they were answered, as counted by a
/// [`RequestCounter`] since it was made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct RequestCounts {
    /// Answered with a 2xx status.
    pub ok: u64,
    /// Answered 429: over Fly's rate limit.
    pub rate_limited: u64,
    /// Answered with another 4xx status, expected ones included (a 404 for
    /// a machine already gone, a 408 for a wait that ran out).
    pub client_error: u64,
    /// Answered with a 5xx status.
    pub server_error: u64,
    /// Not answered: the connection failed or timed out.
    pub no_answer: u64,
}

impl RequestCounts {
    /// The names of the outcomes [`by_outcome`](Self::by_outcome) pairs with
    /// counts, in its order.
    pub const OUTCOMES: [&'static str; 5] = [
        "ok",
        "rate_limited",
        "client_error",
        "server_error",
        "no_answer",
    ];

    /// Each count beside its outcome's name (see [`OUTCOMES`](Self::OUTCOMES)).
    pub fn by_outcome(&self) -> [(&'static str, u64); 5] {
        let [ok, rate_limited, client_error, server_error, no_answer] = Self::OUTCOMES;
        [
            (ok, self.ok),
            (rate_limited, self.rate_limited),
            (client_error, self.client_error),
            (server_error, self.server_error),
            (no_answer, self.no_answer),
        ]
    }

    /// Every request counted.
    pub fn total(&self) -> u64 {
        self.by_outcome().iter().map(|(_, count)| count).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_fall_into_their_outcome() {
        let counter = RequestCounter::default();
        let shared = counter.clone();
        for status in [200, 201, 429, 429, 404, 408, 500, 503] {
            shared.record(Reply::of_status(status));
        }
        shared.record(Reply::NoAnswer);
        let counts = counter.snapshot();
        assert_eq!(
            counts.by_outcome(),
            [
                ("ok", 2),
                ("rate_limited", 2),
                ("client_error", 2),
                ("server_error", 2),
                ("no_answer", 1)
            ]
        );
        assert_eq!(counts.total(), 9);
    }
}
