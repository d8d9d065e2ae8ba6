//! The settings in force: the config file and its sections, the `apps:`
//! section, the environment variables read, and how flags, environment and
//! file resolve into the settings of one app ([`resolve`]), shown by
//! `check-config` ([`effective`]).

pub mod apps;
pub mod effective;
pub mod environment;
pub mod file;
pub mod resolve;
pub mod sections;
