//! One webhook: its queue and the task that delivers it, one document at
//! a time, with retries.

use std::collections::VecDeque;
use std::error::Error as _;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::task::JoinHandle;

use super::{NotifyCounters, Shared};
use crate::config::sections::notify::{WebhookUrl, MAX_BACKOFF};

/// A webhook, its queue and its delivery task.
#[derive(Debug)]
pub(super) struct Hook {
    url: WebhookUrl,
    /// `webhook N (scheme://host)`: how logs name it.
    name: String,
    queue: Mutex<VecDeque<Arc<[u8]>>>,
    /// Whether the task holds a document it took from the queue.
    in_flight: AtomicBool,
    /// Whether the queue has been full since it last had room: said once
    /// in the log, not at every document dropped.
    overflowing: AtomicBool,
    /// Told when a document is queued.
    queued: Notify,
    task: Mutex<Option<JoinHandle<()>>>,
}

/// What came of one document.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Delivery {
    /// A 2xx answer.
    Sent,
    /// Given up, with the last failure and the attempts made.
    Failed { last: String, attempts: u32 },
}

impl Hook {
    /// A webhook with an empty queue and its task started.
    pub(super) fn start(url: WebhookUrl, name: String, shared: Arc<Shared>) -> Arc<Hook> {
        let hook = Arc::new(Hook {
            url,
            name,
            queue: Mutex::default(),
            in_flight: AtomicBool::new(false),
            overflowing: AtomicBool::new(false),
            queued: Notify::new(),
            task: Mutex::default(),
        });
        let task = tokio::spawn(Arc::clone(&hook).deliver_queued(shared));
        *hook.task() = Some(task);
        hook
    }

    pub(super) fn url(&self) -> &WebhookUrl {
        &self.url
    }

    /// Queues `body`; when `capacity` documents wait already, the oldest
    /// is dropped.
    pub(super) fn push(&self, body: Arc<[u8]>, capacity: usize, counters: &NotifyCounters) {
        let mut queue = self.queue();
        let mut dropped = 0u64;
        while queue.len() >= capacity.max(1) {
            queue.pop_front();
            dropped += 1;
        }
        queue.push_back(body);
        drop(queue);
        if dropped > 0 {
            counters.dropped.inc_by(dropped);
            if !self.overflowing.swap(true, Ordering::SeqCst) {
                tracing::warn!(
                    "{}: notification queue full (notify.queue: {capacity}): the oldest documents are dropped until it has room, counted in fly_placer_notifications_dropped_total",
                    self.name
                );
            }
        }
        self.queued.notify_one();
    }

    /// Documents queued or being delivered.
    pub(super) fn pending(&self) -> usize {
        let queue = self.queue();
        queue.len() + usize::from(self.in_flight.load(Ordering::SeqCst))
    }

    /// Returns when nothing is pending, or at `deadline`.
    pub(super) async fn drained_by(&self, deadline: tokio::time::Instant) {
        while self.pending() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Stops the task; what it had not delivered is counted as dropped.
    pub(super) async fn stop(&self, counters: &NotifyCounters) {
        let task = self.task().take();
        if let Some(task) = task {
            task.abort();
            // The task may be running on another thread until its next
            // await: only then is what it holds settled.
            let _ = task.await;
        }
        let left = self.pending();
        self.queue().clear();
        self.in_flight.store(false, Ordering::SeqCst);
        if left > 0 {
            counters.dropped.inc_by(left as u64);
            tracing::warn!("{}: {left} notifications dropped unsent", self.name);
        }
    }

    /// The task: each document in turn, until stopped.
    async fn deliver_queued(self: Arc<Self>, shared: Arc<Shared>) {
        loop {
            let next = {
                let mut queue = self.queue();
                let next = queue.pop_front();
                self.in_flight.store(next.is_some(), Ordering::SeqCst);
                if next.is_some() {
                    self.overflowing.store(false, Ordering::SeqCst);
                }
                next
            };
            let Some(body) = next else {
                // A document queued since the check left a permit: this
                // returns at once then.
                self.queued.notified().await;
                continue;
            };
            let delivery = self.deliver(&shared, &body).await;
            // No await from here to the next document: a stop sees the
            // document either still in flight (dropped) or counted here.
            self.in_flight.store(false, Ordering::SeqCst);
            match delivery {
                Delivery::Sent => {
                    shared.counters.sent.inc();
                }
                Delivery::Failed { last, attempts } => {
                    shared.counters.failed.inc();
                    tracing::warn!(
                        "{}: notification given up after {attempts} attempt(s): {last}",
                        self.name
                    );
                }
            }
        }
    }

    /// Posts `body` until it is accepted, an answer is not worth retrying,
    /// or `notify.max_attempts` attempts failed.
    pub(super) async fn deliver(&self, shared: &Shared, body: &[u8]) -> Delivery {
        let settings = shared.settings();
        let Some(url) = self.url.expose() else {
            return Delivery::Failed {
                last: "not a webhook URL".to_owned(),
                attempts: 0,
            };
        };
        let attempts = settings.max_attempts.max(1);
        let mut wait = settings.backoff;
        let mut last = String::new();
        for attempt in 1..=attempts {
            let sent = shared
                .client
                .post(url.clone())
                .timeout(settings.timeout)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.to_vec())
                .send()
                .await;
            match sent {
                Ok(answer) if answer.status().is_success() => return Delivery::Sent,
                Ok(answer) => {
                    let status = answer.status();
                    last = format!("answered {status}");
                    if !worth_retrying(status) {
                        return Delivery::Failed {
                            last,
                            attempts: attempt,
                        };
                    }
                }
                Err(err) => last = self.describe(err),
            }
            if attempt < attempts {
                tracing::debug!(
                    "{}: notification attempt {attempt} failed ({last}); again in {}",
                    self.name,
                    humantime::format_duration(wait)
                );
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(MAX_BACKOFF);
            }
        }
        Delivery::Failed { last, attempts }
    }

    /// A request's error with its causes, without the URL (which may hold
    /// a credential).
    fn describe(&self, err: reqwest::Error) -> String {
        let err = err.without_url();
        let mut text = err.to_string();
        let mut source = err.source();
        while let Some(cause) = source {
            text.push_str(": ");
            text.push_str(&cause.to_string());
            source = cause.source();
        }
        // The causes come from the connection, not the request; should one
        // ever quote the URL, it is replaced all the same.
        match self.url.expose() {
            Some(url) => text.replace(url.as_str(), &self.url.shown()),
            None => text,
        }
    }

    fn queue(&self) -> MutexGuard<'_, VecDeque<Arc<[u8]>>> {
        self.queue
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn task(&self) -> MutexGuard<'_, Option<JoinHandle<()>>> {
        self.task
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Answers that may go better later: a timeout, too many requests, the
/// receiver's own trouble. Any other (a 4xx: the document or the URL is
/// wrong; a redirect, not followed) would fail the same way again.
fn worth_retrying(status: reqwest::StatusCode) -> bool {
    status == reqwest::StatusCode::REQUEST_TIMEOUT
        || status == reqwest::StatusCode::TOO_MANY_REQUESTS
        || status.is_server_error()
}
