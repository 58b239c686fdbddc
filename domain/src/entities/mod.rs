//! sea-orm entities, one per table; the schema itself lives in the `migrations` crate.

pub mod api_tokens;
pub mod comments;
pub mod direct_uploads;
pub mod entitlements;
pub mod facet_counts;
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
