//! sea-orm entities, one per table; the schema itself lives in the `migrations` crate.
//!
//! Each table is written by one module only, its owner; everyone else reads it or asks the
//! owner for a change. `scripts/write-owners` reads this table and fails the build checks
//! on a write anywhere else.
//!
//! | tables | owner |
//! |---|---|
//! | `recordings`, `recording_tags`, `tags` | `recordings/life.rs` |
//! | `facet_counts` | `facets.rs` |
//! | `users`, `login_failures` | `accounts.rs` |
//! | `sessions` | `sessions.rs` |
//! | `api_tokens` | `tokens.rs` |
//! | `comments`, `ratings` | `interactions.rs` |
//! | `collections`, `collection_items` | `collections.rs` |
//! | `follows`, `following_feeds` | `follows.rs` |
//! | `jobs` | `jobs.rs` |
//! | `direct_uploads` | `direct_uploads.rs` |
//! | `entitlements` | `payments/mod.rs` |
//! | `disputes` | `payments/disputes.rs` |
//! | `stripe_events` | `payments/webhook.rs` |
//! | `tip_ledger` | `payments/tips.rs` |
//! | `site_keys` | `signing.rs` |
//! | `invalidations`, `invalidation_seq` | `write/log.rs` |

pub mod api_tokens;
pub mod collection_items;
pub mod collections;
pub mod comments;
pub mod direct_uploads;
pub mod disputes;
pub mod entitlements;
pub mod facet_counts;
pub mod following_feeds;
pub mod follows;
pub mod jobs;
pub mod login_failures;
pub mod ratings;
pub mod recording_tags;
pub mod recordings;
pub mod sessions;
pub mod site_keys;
pub mod stripe_events;
pub mod tags;
pub mod tip_ledger;
pub mod users;
