//! The `server` crate: the one Ambisonia binary's command line, the app role's HTTP wiring
//! and the subcommands, as a library so that integration tests start the real thing
//! in-process. The rules live in `domain`, the sound in `media`, the front door in
//! `balancer`.

pub mod app_role;
pub mod balancer_role;
pub mod cli;
pub mod config;
pub mod shutdown;
pub mod telemetry;
