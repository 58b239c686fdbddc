use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, DeriveEntityModel)]
#[sea_orm(table_name = "recordings")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    #[sea_orm(unique)]
    pub slug: String,
    pub title: String,
    pub artist: String,
    pub composer: String,
    pub description: String,
    pub location: String,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub recorded_on: Option<Date>,
    pub microphone: String,
    pub recorder: String,
    pub processing_notes: String,
    pub licence: String,
    pub uploader_id: i32,
    pub status: crate::Status,
    pub convention: Option<String>,
    pub ambi_order: Option<i32>,
    pub layout: Option<String>,
    pub channels: Option<i32>,
    pub sample_rate: Option<i32>,
    pub bit_depth: Option<i32>,
    pub is_float: bool,
    pub duration_ms: Option<i64>,
    pub size_bytes: Option<i64>,
    pub sha256: Option<String>,
    pub media_key: Option<String>,
    pub is_premium: bool,
    pub download_count: i64,
    pub play_count: i64,
    pub comment_count: i32,
    pub rating_count: i32,
    pub rating_avg: f64,
    /// Title, artist, composer, description, location and tag names in one string: what
    /// the full-text index (FTS5 or a PostgreSQL GIN index) is built over.
    pub search_text: String,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
    /// An editor's reason for a rejection, for the uploader.
    pub moderation_note: String,
    pub preview_key: Option<String>,
    pub waveform_key: Option<String>,
    pub doa_key: Option<String>,
    /// First-order AmbiX in Ogg Vorbis, for the binaural player (sound fields only).
    pub spatial_key: Option<String>,
    /// The stereo preview's size, for feeds' enclosures.
    pub preview_bytes: Option<i64>,
    pub processing: crate::Processing,
    pub processing_error: String,
    pub published_at: Option<DateTimeUtc>,
    /// When it was deleted (its status is `deleted`); it may be restored for
    /// `Status::RESTORE_DAYS` after.
    pub deleted_at: Option<DateTimeUtc>,
    /// The status a restore brings back.
    pub restore_to: Option<String>,
    /// The podcast enclosure: headphone (binaural) stereo in MP3, and its size for feeds.
    pub podcast_key: Option<String>,
    pub podcast_bytes: Option<i64>,
    /// The original's torrent: its bencoded info dictionary (the `.torrent` is made around
    /// it with this site's address as web seed) and its info hash, hex, for magnet links.
    /// Free recordings only.
    pub torrent_key: Option<String>,
    pub torrent_info_hash: Option<String>,
    /// The higher-order spatial preview (orders 2–3): `{hoa_key}-1.ogg` holds ACN channels
    /// 0–7, `{hoa_key}-2.ogg` the rest.
    pub hoa_key: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}

impl Model {
    /// The stored convention word, read once into its type.
    pub fn convention(&self) -> Option<crate::Convention> {
        self.convention
            .as_deref()
            .and_then(crate::Convention::parse)
    }
}
