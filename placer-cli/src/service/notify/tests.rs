//! Deliveries against a receiver on 127.0.0.1 that answers as each test
//! scripts it: accepts, fails, answers late, closes the connection, or
//! holds the request until told.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

use super::*;
use crate::config::sections::notify::WebhookUrl;

/// How the receiver treats one request.
#[derive(Clone)]
enum Answer {
    Status(u16),
    /// Answers 200 after this long.
    Late(Duration),
    /// Closes the connection without answering.
    Close,
    /// Answers 200 once the gate is opened.
    Gated(Arc<Notify>),
}

/// A webhook receiver: each request gets the next scripted answer, then
/// `otherwise`. Bodies of the requests it read are kept in order.
struct Receiver {
    url: String,
    bodies: Arc<Mutex<Vec<serde_json::Value>>>,
    /// Told at each request read.
    arrived: Arc<Notify>,
}

impl Receiver {
    async fn start(script: Vec<Answer>, otherwise: Answer) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!(
            "http://{}/hooks/T000/B000/s3cr3t-path?token=s3cr3t-query",
            listener.local_addr().unwrap()
        );
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let arrived = Arc::new(Notify::new());
        let script = Arc::new(Mutex::new(VecDeque::from(script)));
        let (kept, told) = (Arc::clone(&bodies), Arc::clone(&arrived));
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let answer = script
                    .lock()
                    .unwrap()
                    .pop_front()
                    .unwrap_or_else(|| otherwise.clone());
                let (kept, told) = (Arc::clone(&kept), Arc::clone(&told));
                tokio::spawn(serve_one(stream, answer, kept, told));
            }
        });
        Receiver {
            url,
            bodies,
            arrived,
        }
    }

    fn bodies(&self) -> Vec<serde_json::Value> {
        self.bodies.lock().unwrap().clone()
    }

    async fn wait_for_requests(&self, count: usize) {
        tokio::time::timeout(Duration::from_secs(30), async {
            loop {
                let told = self.arrived.notified();
                if self.bodies.lock().unwrap().len() >= count {
                    return;
                }
                told.await;
            }
        })
        .await
        .expect("the requests arrived");
    }
}

async fn serve_one(
    mut stream: TcpStream,
    answer: Answer,
    bodies: Arc<Mutex<Vec<serde_json::Value>>>,
    arrived: Arc<Notify>,
) {
    let mut read = Vec::new();
    let mut buffer = [0u8; 4096];
    let body = loop {
        let Ok(count) = stream.read(&mut buffer).await else {
            return;
        };
        if count == 0 {
            return;
        }
        read.extend_from_slice(&buffer[..count]);
        let Some(end) = read.windows(4).position(|w| w == b"\r\n\r\n") else {
            continue;
        };
        let head = String::from_utf8_lossy(&read[..end]).to_ascii_lowercase();
        let length: usize = head
            .lines()
            .find_map(|line| line.strip_prefix("content-length:"))
            .and_then(|value| value.trim().parse().ok())
            .unwrap_or(0);
        if read.len() >= end + 4 + length {
            break read[end + 4..end + 4 + length].to_vec();
        }
    };
    bodies
        .lock()
        .unwrap()
        .push(serde_json::from_slice(&body).unwrap());
    arrived.notify_waiters();
    let status = match answer {
        Answer::Status(status) => status,
        Answer::Late(after) => {
            tokio::time::sleep(after).await;
            200
        }
        Answer::Close => return,
        Answer::Gated(gate) => {
            gate.notified().await;
            200
        }
    };
    let reply = format!("HTTP/1.1 {status} X\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
    let _ = stream.write_all(reply.as_bytes()).await;
    let _ = stream.shutdown().await;
}

fn section(url: &str) -> NotifySection {
    NotifySection {
        webhooks: vec![url.parse::<WebhookUrl>().unwrap()],
        timeout: Duration::from_secs(30),
        max_attempts: 4,
        backoff: Duration::from_millis(5),
        ..NotifySection::default()
    }
}

fn event(app: &str, dry_run: bool) -> Event {
    Event::of_tick_not_run(
        app,
        &TickError::Crashed("boom".into()),
        dry_run,
        placer_core::Timestamp::from_unix_seconds(1_800_000_000),
    )
    .unwrap()
}

fn counts(counters: &NotifyCounters) -> [u64; 3] {
    let get = |counter: &Counter| counter.get();
    [
        get(&counters.sent),
        get(&counters.failed),
        get(&counters.dropped),
    ]
}

fn apps(bodies: &[serde_json::Value]) -> Vec<&str> {
    bodies
        .iter()
        .map(|body| body["app"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn a_receiver_that_accepts_gets_each_document_once_in_order() {
    let receiver = Receiver::start(Vec::new(), Answer::Status(200)).await;
    let counters = NotifyCounters::default();
    let notifier = Notifier::new(&section(&receiver.url), counters.clone());
    notifier.send(&[event("a", false), event("b", true), event("c", false)]);
    notifier.close(Duration::from_secs(30)).await;
    assert_eq!(apps(&receiver.bodies()), ["a", "b", "c"]);
    assert_eq!(receiver.bodies()[1]["dry_run"], true);
    assert_eq!(counts(&counters), [3, 0, 0]);
}

#[tokio::test]
async fn failures_and_closed_connections_are_retried_and_a_success_is_not_repeated() {
    let script = vec![Answer::Status(500), Answer::Close, Answer::Status(429)];
    let receiver = Receiver::start(script, Answer::Status(204)).await;
    let counters = NotifyCounters::default();
    let notifier = Notifier::new(&section(&receiver.url), counters.clone());
    notifier.send(&[event("a", false)]);
    notifier.close(Duration::from_secs(30)).await;
    // Three failures, then the accepted attempt, and nothing after it.
    assert_eq!(apps(&receiver.bodies()), ["a"; 4]);
    assert_eq!(counts(&counters), [1, 0, 0]);
}

#[tokio::test]
async fn a_receiver_that_keeps_failing_is_given_up_after_the_attempts() {
    let receiver = Receiver::start(Vec::new(), Answer::Status(503)).await;
    let counters = NotifyCounters::default();
    let notifier = Notifier::new(&section(&receiver.url), counters.clone());
    notifier.send(&[event("a", false), event("b", false)]);
    notifier.close(Duration::from_secs(30)).await;
    // max_attempts: 4 each, one document after the other.
    assert_eq!(
        apps(&receiver.bodies()),
        ["a", "a", "a", "a", "b", "b", "b", "b"]
    );
    assert_eq!(counts(&counters), [0, 2, 0]);
}

#[tokio::test]
async fn an_answer_not_worth_retrying_is_given_up_at_once() {
    let receiver = Receiver::start(vec![Answer::Status(404)], Answer::Status(200)).await;
    let counters = NotifyCounters::default();
    let notifier = Notifier::new(&section(&receiver.url), counters.clone());
    notifier.send(&[event("a", false)]);
    notifier.close(Duration::from_secs(30)).await;
    assert_eq!(apps(&receiver.bodies()), ["a"]);
    assert_eq!(counts(&counters), [0, 1, 0]);
}

#[tokio::test]
async fn an_answer_later_than_the_timeout_is_tried_again() {
    let script = vec![Answer::Late(Duration::from_secs(600))];
    let receiver = Receiver::start(script, Answer::Status(200)).await;
    let counters = NotifyCounters::default();
    let notifier = Notifier::new(
        &NotifySection {
            timeout: Duration::from_millis(200),
            ..section(&receiver.url)
        },
        counters.clone(),
    );
    notifier.send(&[event("a", false)]);
    notifier.close(Duration::from_secs(30)).await;
    assert_eq!(apps(&receiver.bodies()), ["a", "a"]);
    assert_eq!(counts(&counters), [1, 0, 0]);
}

#[tokio::test]
async fn a_full_queue_drops_its_oldest_and_sending_never_waits_for_the_receiver() {
    let gate = Arc::new(Notify::new());
    let receiver =
        Receiver::start(vec![Answer::Gated(Arc::clone(&gate))], Answer::Status(200)).await;
    let counters = NotifyCounters::default();
    let notifier = Notifier::new(
        &NotifySection {
            queue: 2,
            ..section(&receiver.url)
        },
        counters.clone(),
    );
    notifier.send(&[event("first", false)]);
    // The receiver holds the first document: every send below returns
    // while it does.
    receiver.wait_for_requests(1).await;
    for app in ["second", "third", "fourth", "fifth"] {
        notifier.send(&[event(app, false)]);
    }
    assert_eq!(counts(&counters), [0, 0, 2]);
    gate.notify_one();
    notifier.close(Duration::from_secs(30)).await;
    assert_eq!(apps(&receiver.bodies()), ["first", "fourth", "fifth"]);
    assert_eq!(counts(&counters), [3, 0, 2]);
}

#[tokio::test]
async fn what_is_still_queued_at_close_is_counted_as_dropped() {
    // A receiver that never answers, and a timeout longer than any test.
    let receiver = Receiver::start(Vec::new(), Answer::Gated(Arc::new(Notify::new()))).await;
    let counters = NotifyCounters::default();
    let notifier = Notifier::new(
        &NotifySection {
            timeout: Duration::from_secs(3600),
            ..section(&receiver.url)
        },
        counters.clone(),
    );
    notifier.send(&[event("a", false), event("b", false)]);
    receiver.wait_for_requests(1).await;
    notifier.close(Duration::ZERO).await;
    // The one in flight and the one waiting.
    assert_eq!(counts(&counters), [0, 0, 2]);
}

#[tokio::test]
async fn dry_run_documents_are_left_out_when_asked() {
    let receiver = Receiver::start(Vec::new(), Answer::Status(200)).await;
    let notifier = Notifier::new(
        &NotifySection {
            dry_run: false,
            ..section(&receiver.url)
        },
        NotifyCounters::default(),
    );
    notifier.send(&[event("dry", true), event("live", false)]);
    notifier.close(Duration::from_secs(30)).await;
    assert_eq!(apps(&receiver.bodies()), ["live"]);
}

#[tokio::test]
async fn a_reload_keeps_a_listed_webhooks_queue_and_adds_a_new_one() {
    let (first, second) = (
        Receiver::start(Vec::new(), Answer::Status(200)).await,
        Receiver::start(Vec::new(), Answer::Status(200)).await,
    );
    let notifier = Notifier::new(&section(&first.url), NotifyCounters::default());
    notifier.send(&[event("a", false)]);
    first.wait_for_requests(1).await;
    let mut both = section(&first.url);
    both.webhooks.push(second.url.parse().unwrap());
    notifier.apply(&both);
    notifier.send(&[event("b", false)]);
    notifier.apply(&section(&second.url));
    notifier.send(&[event("c", false)]);
    notifier.close(Duration::from_secs(30)).await;
    let first_apps = apps(&first.bodies()).join(",");
    assert!(first_apps == "a,b" || first_apps == "a", "{first_apps}");
    assert_eq!(apps(&second.bodies()), ["b", "c"]);
}

/// A writer for a test's log lines.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn a_webhooks_credentials_are_never_logged() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    // tracing caches whether a log line is wanted once, process-wide; with
    // a single dispatcher registered it asks the thread that gets there
    // first, and a sibling test's thread without a subscriber says never.
    // A second dispatcher, alive for the whole test, makes it ask them all.
    let _anchor = tracing::Dispatch::new(tracing_subscriber::registry());
    let _logging = tracing::subscriber::set_default(subscriber);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let port = runtime.block_on(async {
        // A port nobody listens on: every attempt's connection is refused.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        listener.local_addr().unwrap().port()
    });
    let counters = NotifyCounters::default();
    runtime.block_on(async {
        let notifier = Notifier::new(
            &NotifySection {
                max_attempts: 2,
                ..section(&format!(
                    "http://user:s3cr3t-pass@127.0.0.1:{port}/hooks/s3cr3t-path?token=s3cr3t-query"
                ))
            },
            counters.clone(),
        );
        notifier.send(&[event("a", false)]);
        notifier.close(Duration::from_secs(30)).await;
    });
    assert_eq!(counts(&counters), [0, 1, 0]);
    let log = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        log.contains(&format!("webhook 1 (http://127.0.0.1:{port})")),
        "{log}"
    );
    assert!(log.contains("given up after 2 attempt(s)"), "{log}");
    assert!(!log.contains("s3cr3t"), "{log}");
    assert!(!format!("{:?}", section("http://u:s3cr3t@h.example/s3cr3t")).contains("s3cr3t"));
}
