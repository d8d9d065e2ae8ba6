//! `fly-placer serve`: the HTTP API, the periodic loop and the config
//! watch, until a signal stops them.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::service::http::router;
use crate::service::Service;

/// How often the config file is read for changes.
pub const CONFIG_POLL_INTERVAL: Duration = Duration::from_secs(1);

/// Serves the API on `listener` with a tick every `interval`, until
/// `shutdown` resolves; then finishes the ticks in flight (of a tick of
/// every app, the apps ticking at that moment; the others skip it) and
/// saves the engine state.
///
/// # Errors
/// The I/O error that stopped the server.
pub async fn serve(
    service: Arc<Service>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (stop, stopped) = watch::channel(false);
    let ticking = tokio::spawn(periodic_ticks(Arc::clone(&service), stopped.clone()));
    let refreshing = tokio::spawn(refresh_apps(Arc::clone(&service), stopped.clone()));
    let watching = tokio::spawn(watch_config(Arc::clone(&service), stopped));
    let result = axum::serve(listener, router(Arc::clone(&service)))
        .with_graceful_shutdown({
            let service = Arc::clone(&service);
            async move {
                shutdown.await;
                // Before the server waits for the requests in flight: a
                // `POST /trigger` of every app ends with the apps ticking now.
                service.stop_ticking();
                let _ = stop.send(true);
            }
        })
        .await;
    // When the server failed on its own, the dropped sender stops the loops.
    let _ = ticking.await;
    let _ = watching.await;
    let _ = refreshing.await;
    service.close().await;
    result
}

async fn periodic_ticks(service: Arc<Service>, mut stopped: watch::Receiver<bool>) {
    loop {
        let interval = service.interval();
        let interval_changed = service.interval_changed();
        service.set_next_tick_at((!interval.is_zero()).then(|| crate::runtime::now() + interval));
        let wait = async {
            if interval.is_zero() {
                std::future::pending::<()>().await;
            } else {
                tokio::time::sleep(interval).await;
            }
        };
        tokio::select! {
            () = wait => {
                for (app, result) in service.tick_all().await {
                    if let Err(err) = result {
                        tracing::debug!(app = %app, "periodic tick not run: {err}");
                    }
                }
            }
            () = interval_changed => {}
            _ = stopped.changed() => break,
        }
    }
    service.set_next_tick_at(None);
}

/// Lists the organization's apps every `service.apps_refresh`, when app
/// name patterns need it.
async fn refresh_apps(service: Arc<Service>, mut stopped: watch::Receiver<bool>) {
    let Some(every) = service.apps_refresh() else {
        return;
    };
    let mut every = tokio::time::interval(every);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // The first refresh ran at start.
    every.tick().await;
    loop {
        tokio::select! {
            _ = every.tick() => {
                if let Err(err) = service.refresh_apps().await {
                    tracing::error!("{err}");
                }
            }
            _ = stopped.changed() => break,
        }
    }
}

async fn watch_config(service: Arc<Service>, mut stopped: watch::Receiver<bool>) {
    let mut every = tokio::time::interval(CONFIG_POLL_INTERVAL);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = every.tick() => service.poll_config(),
            _ = stopped.changed() => break,
        }
    }
}
