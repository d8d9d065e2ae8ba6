//! Webhook notifications (the `notify:` section): a JSON document
//! ([`Event`]) for each action a tick carried out and each tick that
//! failed, posted to every webhook in the background.
//!
//! A tick only puts its documents in each webhook's queue and goes on: the
//! deliveries run in one task per webhook, one document at a time in the
//! order they came, each request limited to `notify.timeout` and retried
//! with a doubling wait up to `notify.max_attempts` attempts (a connection
//! refused, closed or timed out, a 408, 429 or 5xx answer; any other
//! answer but 2xx is given up at once). A webhook that hangs or fails
//! holds back only its own queue; when that is full the oldest document
//! is dropped. What came of each document is counted in
//! `fly_placer_notifications_{sent,failed,dropped}_total`.
//!
//! A webhook's URL may hold a credential: it is shown (logs, errors) only
//! as `webhook N (scheme://host)`.

mod delivery;
mod event;
#[cfg(test)]
mod tests;

use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use std::time::Duration;

use placer_core::TickReport;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::registry::Registry;

use crate::config::sections::NotifySection;
use crate::runtime::TickError;
use delivery::Hook;
pub use event::Event;

/// The longest a stop waits for the queued documents to go out.
pub const CLOSING_TIME: Duration = Duration::from_secs(5);

/// What came of the documents: counted across every webhook (a document
/// sent to two webhooks counts twice).
#[derive(Debug, Clone, Default)]
pub struct NotifyCounters {
    /// Documents a webhook answered with 2xx.
    pub sent: Counter,
    /// Documents given up: every attempt failed, or an answer that is not
    /// worth retrying.
    pub failed: Counter,
    /// Documents that left a full queue to make room, or were still waiting
    /// at shutdown (or when their webhook left the config).
    pub dropped: Counter,
}

impl NotifyCounters {
    /// Registers the counters as `notifications_{sent,failed,dropped}`
    /// (`_total` is added by the exposition).
    pub fn register(&self, registry: &mut Registry) {
        registry.register(
            "notifications_sent",
            "Notification documents a webhook accepted (2xx)",
            self.sent.clone(),
        );
        registry.register(
            "notifications_failed",
            "Notification documents given up after their attempts (notify.max_attempts) or an answer not worth retrying",
            self.failed.clone(),
        );
        registry.register(
            "notifications_dropped",
            "Notification documents dropped unsent: the oldest of a full queue (notify.queue), or still queued at shutdown",
            self.dropped.clone(),
        );
    }
}

/// The settings the deliveries read at each document, and the counters.
#[derive(Debug)]
struct Shared {
    settings: RwLock<NotifySection>,
    counters: NotifyCounters,
    client: reqwest::Client,
}

impl Shared {
    fn settings(&self) -> NotifySection {
        self.settings
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

/// Sends events to the webhooks of the `notify:` section. Create it inside
/// the tokio runtime: each webhook gets a task.
#[derive(Debug)]
pub struct Notifier {
    shared: Arc<Shared>,
    hooks: Mutex<Vec<Arc<Hook>>>,
}

impl Notifier {
    /// A notifier for `section`'s webhooks, counting into `counters`.
    pub fn new(section: &NotifySection, counters: NotifyCounters) -> Notifier {
        let client = reqwest::Client::builder()
            // A redirect would send the document somewhere the config does
            // not name.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("fly-placer/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_else(|err| {
                tracing::error!("the webhook client could not be set up as asked ({err}); using the default client");
                reqwest::Client::new()
            });
        let notifier = Notifier {
            shared: Arc::new(Shared {
                settings: RwLock::new(section.clone()),
                counters,
                client,
            }),
            hooks: Mutex::default(),
        };
        notifier.apply(section);
        notifier
    }

    /// Puts `section` in force: its settings for the next documents, a
    /// queue for each webhook new to it; a webhook no longer listed is
    /// stopped (what it had queued counted as dropped). A webhook still
    /// listed keeps its queue.
    pub fn apply(&self, section: &NotifySection) {
        *self
            .shared
            .settings
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = section.clone();
        let mut hooks = self.hooks();
        let mut kept = Vec::new();
        for (index, url) in section.webhooks.iter().enumerate() {
            if url.expose().is_none() {
                continue;
            }
            match hooks.iter().position(|hook| hook.url() == url) {
                Some(at) => kept.push(hooks.remove(at)),
                None => kept.push(Hook::start(
                    url.clone(),
                    format!("webhook {} ({url})", index + 1),
                    Arc::clone(&self.shared),
                )),
            }
        }
        let gone = std::mem::replace(&mut *hooks, kept);
        drop(hooks);
        for hook in gone {
            let counters = self.shared.counters.clone();
            tokio::spawn(async move { hook.stop(&counters).await });
        }
    }

    /// Queues the events of a finished tick of `app`.
    pub fn tick_finished(&self, app: &str, report: &TickReport) {
        if self.is_idle() {
            return;
        }
        self.send(&Event::of_report(app, report));
    }

    /// Queues the event of a tick of `app` that did not run, when that is
    /// a failure (see [`Event::of_tick_not_run`]).
    pub fn tick_not_run(&self, app: &str, error: &TickError, dry_run: bool) {
        if self.is_idle() {
            return;
        }
        if let Some(event) = Event::of_tick_not_run(app, error, dry_run, crate::runtime::now()) {
            self.send(&[event]);
        }
    }

    /// Queues `events` for every webhook, without waiting for anything;
    /// a dry run's are left out with `notify.dry_run: false`.
    pub fn send(&self, events: &[Event]) {
        let settings = self.shared.settings();
        let hooks = self.hooks().clone();
        for event in events {
            if event.dry_run && !settings.dry_run {
                continue;
            }
            let body: Arc<[u8]> = match serde_json::to_vec(event) {
                Ok(body) => body.into(),
                Err(err) => {
                    tracing::error!("a notification could not be written: {err}");
                    continue;
                }
            };
            for hook in &hooks {
                hook.push(Arc::clone(&body), settings.queue, &self.shared.counters);
            }
        }
    }

    /// Waits up to `within` for the queued documents to go out, then stops
    /// every webhook's task; what is left is counted as dropped.
    pub async fn close(&self, within: Duration) {
        let hooks = std::mem::take(&mut *self.hooks());
        let deadline = tokio::time::Instant::now() + within;
        for hook in &hooks {
            hook.drained_by(deadline).await;
        }
        for hook in hooks {
            hook.stop(&self.shared.counters).await;
        }
    }

    /// How long [`close`](Self::close) gives the queues at shutdown: one
    /// request's time, at most [`CLOSING_TIME`] (a stop is not held up
    /// for long by a webhook that hangs).
    pub fn closing_time(&self) -> Duration {
        self.shared.settings().timeout.min(CLOSING_TIME)
    }

    /// True without webhooks: no document is even written.
    fn is_idle(&self) -> bool {
        self.hooks().is_empty()
    }

    fn hooks(&self) -> MutexGuard<'_, Vec<Arc<Hook>>> {
        self.hooks
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
