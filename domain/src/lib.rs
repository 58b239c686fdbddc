//! The domain of Ambisonia: every table, every rule and every write.
//!
//! Without features it is only the site's vocabulary — parsed values (`Username`, `Slug`,
//! `Licence`, `UploadMeta` …), states as enums (`Role`, `Status`, `Processing`,
//! `JobState`), the view models pages render and the catalog query — so that a hydrated
//! (WebAssembly) build of the app can share them. The `server` feature adds what runs on a
//! replica: the database (sea-orm entities, one module owning each table), accounts and
//! sessions, the catalog queries, moderation, uploads (one `uploads::accept` for every way
//! a file arrives), the processing jobs, the media store (folder or S3) and demo data.
//!
//! **Every write goes through a function of this crate**, in a [`write::Write`] whose only
//! way out is a commit that names what it changed (the invalidation bus builds on this);
//! each table is written by one module only, listed in `entities`.

pub mod billing;
pub mod catalog_query;
pub mod error;
pub mod model;
pub mod secret;
mod values;

pub use error::{ServiceError, ServiceResult};
pub use media::rendition::Rendition;
pub use secret::Secret;
pub use values::*;

#[cfg(feature = "server")]
pub mod accounts;
#[cfg(feature = "server")]
pub mod bulk;
#[cfg(feature = "server")]
pub mod bus;
#[cfg(feature = "server")]
mod cards;
#[cfg(feature = "server")]
pub mod catalog;
#[cfg(feature = "server")]
pub mod collections;
#[cfg(feature = "server")]
pub mod collector;
#[cfg(feature = "server")]
pub mod db;
#[cfg(feature = "server")]
pub mod demo;
#[cfg(feature = "server")]
pub mod direct_uploads;
#[cfg(feature = "server")]
pub mod distribution;
#[cfg(feature = "server")]
pub mod downloads;
#[cfg(feature = "server")]
pub mod entities;
#[cfg(feature = "server")]
pub mod excerpts;
#[cfg(feature = "server")]
pub mod facets;
#[cfg(feature = "server")]
pub mod feeds;
#[cfg(feature = "server")]
pub mod follows;
#[cfg(feature = "server")]
pub mod interactions;
#[cfg(feature = "server")]
pub mod jobs;
#[cfg(feature = "server")]
pub mod limits;
#[cfg(feature = "server")]
pub mod moderation;
#[cfg(feature = "server")]
pub mod passwords;
#[cfg(feature = "server")]
pub mod payments;
#[cfg(feature = "server")]
pub mod processing;
#[cfg(feature = "server")]
pub mod quota;
#[cfg(feature = "server")]
pub mod recordings;
#[cfg(feature = "server")]
pub mod renditions;
#[cfg(feature = "server")]
pub mod replica;
#[cfg(feature = "server")]
mod search;
#[cfg(feature = "server")]
pub mod sessions;
#[cfg(feature = "server")]
pub mod signing;
#[cfg(feature = "server")]
pub mod store;
#[cfg(feature = "server")]
pub mod tokens;
#[cfg(feature = "server")]
pub mod uploads;
#[cfg(feature = "server")]
pub mod write;

/// How surrogate keys are spelled (the cache contract's, shared with the balancer).
pub use contract::key;
