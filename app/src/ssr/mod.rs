//! Everything that runs only on the server: database access, accounts and sessions, the
//! catalog queries, and the request facts the `server` crate's middleware resolves.
//! Components never reach in here directly; they go through `crate::api`.

pub mod accounts;
pub mod cache;
pub mod catalog;
pub mod db;
pub mod demo;
pub mod entities;
pub mod error;
pub mod interactions;
pub mod jobs;
pub mod moderation;
pub mod recordings;
pub mod request;
pub mod search;
pub mod sessions;
pub mod state;
pub mod tokens;
