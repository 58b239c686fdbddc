//! The `server` crate: the roles and commands of the one Ambisonia binary, as a library so
//! that integration tests start the real thing in-process.

pub mod app_role;
pub mod balancer;
pub mod commands;
pub mod config;
pub mod media;
pub mod telemetry;
