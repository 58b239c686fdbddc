//! Database schema for Ambisonia, applied at start-up on SQLite and PostgreSQL alike.
//!
//! Each migration is one file; the schema builder writes portable DDL, and the few things
//! that differ per backend (the full-text index) branch on the connection's backend.

pub use sea_orm_migration::prelude::*;

mod m20261126_000001_foundation;
mod m20261126_000002_moderation;
mod m20261126_000003_processing;
mod m20261126_000004_api_tokens;
mod m20261126_000005_direct_uploads;
mod m20261202_000006_catalog_scale;
mod m20261202_000007_search_published;
mod m20261203_000008_spatial_preview;
mod m20261203_000009_site_keys;
mod m20261203_000010_facet_pairs;
mod m20261203_000011_premium;
mod m20261203_000012_invalidation_log;
mod m20261206_000013_nothing_lost;
mod m20261206_000014_disputes;
mod m20261206_000015_search_tiers;
mod m20261206_000016_tags_in_date_order;
mod m20261206_000017_podcast_and_torrent;
mod m20261206_000018_higher_order_preview;
mod m20261206_000019_token_scopes;
mod m20261206_000020_collections;
mod m20261206_000021_following;
mod m20261206_000022_direct_upload_place;

pub use m20261203_000010_facet_pairs::pair_count_statements;

pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261126_000001_foundation::Migration),
            Box::new(m20261126_000002_moderation::Migration),
            Box::new(m20261126_000003_processing::Migration),
            Box::new(m20261126_000004_api_tokens::Migration),
            Box::new(m20261126_000005_direct_uploads::Migration),
            Box::new(m20261202_000006_catalog_scale::Migration),
            Box::new(m20261202_000007_search_published::Migration),
            Box::new(m20261203_000008_spatial_preview::Migration),
            Box::new(m20261203_000009_site_keys::Migration),
            Box::new(m20261203_000010_facet_pairs::Migration),
            Box::new(m20261203_000011_premium::Migration),
            Box::new(m20261203_000012_invalidation_log::Migration),
            Box::new(m20261206_000013_nothing_lost::Migration),
            Box::new(m20261206_000014_disputes::Migration),
            Box::new(m20261206_000015_search_tiers::Migration),
            Box::new(m20261206_000016_tags_in_date_order::Migration),
            Box::new(m20261206_000017_podcast_and_torrent::Migration),
            Box::new(m20261206_000018_higher_order_preview::Migration),
            Box::new(m20261206_000019_token_scopes::Migration),
            Box::new(m20261206_000020_collections::Migration),
            Box::new(m20261206_000021_following::Migration),
            Box::new(m20261206_000022_direct_upload_place::Migration),
        ]
    }
}
