//! Fuzzes restoring persisted engine state (JSON).
//!
//! Any bytes must give a state or an error, never a panic. A state that is
//! accepted must write out and read back equal, and an engine resumed from
//! it must plan without panicking and within the planner's rules, under each
//! policy and threshold mode.
#![no_main]

#[path = "../checks/state.rs"]
mod state;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = state::check_state(data);
});
