//! An app's engine state, read back from the state store
//! ([`crate::store`]) when the app starts or its store changes.

use placer_core::EngineState;

use crate::store::{load_json, Restored, StateKey, StateStore, StoreError};

/// Reads the engine state at `key` of `store`: nothing there is a fresh
/// start; an unusable value is moved aside (logged as an error) and is a
/// fresh start.
///
/// # Errors
/// [`StoreError`] when the store cannot be reached or an unusable value
/// cannot be moved.
pub async fn restore_engine_state(
    store: &dyn StateStore,
    key: &StateKey,
) -> Result<EngineState, StoreError> {
    let at = store.location(key);
    Ok(match load_json(store, key).await? {
        Restored::Missing => {
            tracing::info!("no engine state at {at} yet: starting with no history");
            EngineState::default()
        }
        Restored::Loaded(state) => {
            let state: EngineState = state;
            let regions = state.regions().count();
            let last = state
                .last_observation()
                .map_or_else(|| "never".to_owned(), |at| at.to_string());
            tracing::info!(
                "engine state restored from {at} ({regions} regions, last observation {last})"
            );
            state
        }
        Restored::MovedAside { problem, moved_to } => {
            tracing::error!(
                "engine state {at} {problem}; it was moved to {moved_to} and the engine starts with no history"
            );
            EngineState::default()
        }
    })
}
