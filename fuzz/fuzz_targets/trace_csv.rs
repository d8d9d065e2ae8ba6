//! Fuzzes the trace CSV reader: any text must give a trace or an error,
//! never a panic, and a trace that is accepted must read back equal from
//! its own `to_csv`.
#![no_main]

#[path = "../checks/trace.rs"]
mod trace;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = trace::check_trace(text);
    }
});
