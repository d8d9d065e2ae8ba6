//! Fuzzes the config file readers: the engine's `from_yaml` and the CLI's
//! whole-file `config_file::parse`.
//!
//! Any text must give a config or an error, never a panic. A config that is
//! accepted must pass `validate()`, and written back out with serde_yaml it
//! must read back equal. Text the engine accepts on its own (no CLI sections)
//! must be accepted by the CLI with the same engine settings.
#![no_main]

#[path = "../checks/config_cli.rs"]
mod config_cli;
#[path = "../checks/config_engine.rs"]
mod config_engine;
#[path = "../checks/config_error.rs"]
mod config_error;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = config_engine::check_engine_config(text);
    let _ = config_cli::check_cli_config(text);
});
