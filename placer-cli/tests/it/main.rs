//! placer-cli's integration tests, in one test binary: each module was a
//! test file of its own, and `kit` is what they share (the `fly-placer`
//! binary in a scratch directory, free ports, the servers and fakes).
//!
//! Tests that need a server or a browser the machine may lack (etcd,
//! VictoriaMetrics, Prometheus, Chromium with chromedriver) are ignored by
//! default, each saying what it needs; `cargo test -- --include-ignored`
//! runs them too, and there a missing server is a failure.

mod kit;

mod alerts;
mod backends;
mod backtest_html;
mod backtest_prometheus;
mod check_config;
mod commands;
mod dashboard;
mod data_dir_lock;
mod docs_lint;
mod docs_run;
mod etcd_store;
mod failing_regions;
mod failover;
mod fleet_page;
mod forecast_warm_start;
mod fuzz_corpus;
mod many_apps;
mod many_apps_live;
mod map_legibility;
mod no_duplicates;
mod notify;
mod offline;
mod platform_regions;
mod recommend;
mod recommend_html;
mod reload_and_state;
mod serve;
mod sizing_live;
mod status_command;
mod status_page;
