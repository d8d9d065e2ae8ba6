//! One app at work: its engine, backends and stored state.

mod app;
mod apply;
pub mod store;

pub(crate) use app::restore_engine_state;
pub use app::StartError;
pub(crate) use apply::switch_config;
