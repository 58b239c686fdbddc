//! What the API answers, field by field: stable snake_case names, times in ISO 8601 UTC,
//! links absolute. Made from the domain's view models (`domain::model`), never from rows;
//! the OpenAPI document's schemas are these types.

use chrono::{DateTime, NaiveDate, Utc};
use domain::{
    Convention, Rendition, licence_label, licence_url,
    model::{CommentView, Count, RecordingCard, RecordingDetail},
};
use serde::Serialize;
use utoipa::ToSchema;

/// A tag: its slug (what `tag=` takes) and its name.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Tag {
    #[schema(example = "birds")]
    pub slug: String,
    #[schema(example = "Birds")]
    pub name: String,
}

/// A recording's ratings.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Rating {
    /// The average of the stars given (1–5); 0 when nobody rated it.
    pub average: f64,
    pub count: i32,
}

/// Where to find a recording: its page, its API resource, its picture.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Links {
    /// The recording's page on the site.
    pub page: String,
    /// This recording in the API.
    pub api: String,
    /// A square PNG picture of it (1,400 px).
    pub picture: String,
    /// The embeddable player (`<iframe>`).
    pub embed: String,
}

/// A recording as lists show it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RecordingSummary {
    /// Its name in URLs.
    #[schema(example = "dawn-chorus-in-the-forest")]
    pub slug: String,
    pub title: String,
    pub artist: String,
    /// Where it was recorded, in words.
    pub place: String,
    /// The channel convention: `ambix`, `fuma`, `uhj`, `gformat`, `stereo` or `mono`.
    pub convention: Option<String>,
    /// The ambisonic order (1–3).
    pub order: Option<i32>,
    pub layout: Option<String>,
    pub channels: Option<i32>,
    pub duration_ms: Option<i64>,
    /// The uploader's user name.
    pub uploader: String,
    pub tags: Vec<Tag>,
    pub downloads: i64,
    pub rating: Rating,
    /// Its original and renditions are for premium members.
    pub premium: bool,
    pub recorded_on: Option<NaiveDate>,
    pub published_at: Option<DateTime<Utc>>,
    pub links: Links,
}

/// A licence: its key (what `licence=` takes), its name and where it is written.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Licence {
    #[schema(example = "cc-by-4.0")]
    pub key: String,
    pub name: String,
    pub url: Option<String>,
}

/// Where a recording was made.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Location {
    pub latitude: f64,
    pub longitude: f64,
}

/// A form the recording can be downloaded in.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Format {
    /// `original`, or what `format=` takes (`ambix`, `fuma`, `ambix-48k`, `binaural`, `uhj`,
    /// `5.1`).
    pub format: String,
    pub label: String,
    /// Through the API (honours premium; a token needs the `download` scope).
    pub url: String,
}

/// What can be listened to and looked at without downloading.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Previews {
    /// Stereo Ogg Vorbis.
    pub stereo: Option<String>,
    /// First-order AmbiX Ogg Vorbis (4 channels) for a binaural player.
    pub spatial: Option<String>,
    /// The order the site's binaural player plays it at (1–3).
    pub spatial_order: u8,
    /// For headphones: MP3 (the podcast enclosure).
    pub binaural_mp3: Option<String>,
    /// SVG pictures: the waveform, and where the sound comes from over time.
    pub waveform: Option<String>,
    pub direction: Option<String>,
}

/// A recording, whole.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Recording {
    #[serde(flatten)]
    pub summary: RecordingSummary,
    pub description: String,
    pub composer: String,
    pub microphone: String,
    pub recorder: String,
    pub processing_notes: String,
    pub licence: Licence,
    pub location: Option<Location>,
    pub sample_rate: Option<i32>,
    pub bit_depth: Option<i32>,
    /// The original's samples are floating point.
    pub is_float: bool,
    /// The original's size in bytes.
    pub size_bytes: Option<i64>,
    /// The original's SHA-256, in hex.
    pub sha256: Option<String>,
    /// `published`, or — for its uploader's own token — `draft`, `pending`, `rejected` …
    pub status: String,
    pub plays: i64,
    pub comment_count: usize,
    pub comments: String,
    pub formats: Vec<Format>,
    pub previews: Previews,
    /// The original as a torrent (free recordings).
    pub torrent: Option<String>,
}

/// How many recordings match: exactly, or at least `count` (searches are counted up to a
/// bound).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Total {
    pub count: u64,
    pub exact: bool,
}

/// One page of recordings and the cursor of the next.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RecordingList {
    pub items: Vec<RecordingSummary>,
    /// The next page's cursor; `null` on the last page.
    pub next_cursor: Option<String>,
    /// The next page, whole (also in the `Link` header).
    pub next: Option<String>,
    /// Only for searches over the whole catalog.
    pub total: Option<Total>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Comment {
    pub id: i32,
    pub author: String,
    pub title: String,
    pub body: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CommentList {
    pub items: Vec<Comment>,
}

/// A person's public profile.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct User {
    #[schema(example = "marta")]
    pub username: String,
    /// `listener`, `uploader`, `editor` or `admin`.
    pub role: String,
    pub bio: String,
    pub joined_at: DateTime<Utc>,
    /// How many follow them.
    pub followers: u64,
    pub page: String,
    /// Their published recordings, newest first (paged).
    pub recordings: String,
}

/// A collection: a person's ordered list of recordings (a pack when public and all theirs).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Collection {
    pub slug: String,
    pub title: String,
    pub note: String,
    /// Its owner's user name.
    pub owner: String,
    pub public: bool,
    /// Public, and every recording in it is its owner's.
    pub pack: bool,
    pub updated_at: DateTime<Utc>,
    pub page: String,
    /// All its originals in one ZIP (premium ones only for those who may download them).
    pub download: String,
    pub items: Vec<RecordingSummary>,
}

/// Builds absolute links on the site at `site` (its public URL).
pub struct Site<'a>(pub &'a str);

impl Site<'_> {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.0)
    }

    pub fn summary(&self, c: &RecordingCard) -> RecordingSummary {
        RecordingSummary {
            slug: c.slug.clone(),
            title: c.title.clone(),
            artist: c.artist.clone(),
            place: c.location.clone(),
            convention: c.convention.clone(),
            order: c.order,
            layout: c.layout.clone(),
            channels: c.channels,
            duration_ms: c.duration_ms,
            uploader: c.uploader.clone(),
            tags: c
                .tags
                .iter()
                .map(|t| Tag {
                    slug: t.slug.clone(),
                    name: t.name.clone(),
                })
                .collect(),
            downloads: c.downloads,
            rating: Rating {
                average: c.rating_avg,
                count: c.rating_count,
            },
            premium: c.is_premium,
            recorded_on: c.recorded_on,
            published_at: c.published_at,
            links: Links {
                page: self.url(&format!("/recordings/{}", c.slug)),
                api: self.url(&format!("/api/v1/recordings/{}", c.slug)),
                picture: self.url(&format!("/artwork/recordings/{}.png", c.slug)),
                embed: self.url(&format!("/embed/{}", c.slug)),
            },
        }
    }

    pub fn recording(&self, d: &RecordingDetail) -> Recording {
        let slug = &d.card.slug;
        let files = |file: &str| self.url(&format!("/recordings/{slug}/{file}"));
        let download = self.url(&format!("/api/v1/recordings/{slug}/download"));
        let convention = d.card.convention.as_deref().and_then(Convention::parse);
        let channels = d
            .card
            .channels
            .and_then(|c| u16::try_from(c).ok())
            .unwrap_or(0);
        let mut formats = Vec::new();
        if d.has_media {
            formats.push(Format {
                format: "original".into(),
                label: "The original".into(),
                url: download.clone(),
            });
            formats.extend(
                Rendition::offered(convention, channels)
                    .into_iter()
                    .map(|r| Format {
                        format: r.as_str().to_owned(),
                        label: r.label().to_owned(),
                        url: format!("{download}?format={}", r.as_str()),
                    }),
            );
        }
        Recording {
            summary: self.summary(&d.card),
            description: d.description.clone(),
            composer: d.composer.clone(),
            microphone: d.microphone.clone(),
            recorder: d.recorder.clone(),
            processing_notes: d.processing_notes.clone(),
            licence: Licence {
                key: d.licence.clone(),
                name: licence_label(&d.licence).to_owned(),
                url: licence_url(&d.licence).map(str::to_owned),
            },
            location: match (d.latitude, d.longitude) {
                (Some(latitude), Some(longitude)) => Some(Location {
                    latitude,
                    longitude,
                }),
                _ => None,
            },
            sample_rate: d.sample_rate,
            bit_depth: d.bit_depth,
            is_float: d.is_float,
            size_bytes: d.size_bytes,
            sha256: d.sha256.clone(),
            status: d.status.as_str().to_owned(),
            plays: d.plays,
            comment_count: d.comments.len(),
            comments: self.url(&format!("/api/v1/recordings/{slug}/comments")),
            formats,
            previews: Previews {
                stereo: d.has_preview.then(|| files("preview.ogg")),
                spatial: d.has_spatial_preview.then(|| files("spatial.ogg")),
                spatial_order: d.spatial_order,
                binaural_mp3: d.has_podcast.then(|| files("binaural.mp3")),
                waveform: d.has_preview.then(|| files("waveform.svg")),
                direction: d.has_direction_picture.then(|| files("doa.svg")),
            },
            torrent: d.torrent.as_ref().map(|_| files("download.torrent")),
        }
    }

    pub fn comments(&self, comments: &[CommentView]) -> CommentList {
        CommentList {
            items: comments
                .iter()
                .map(|c| Comment {
                    id: c.id,
                    author: c.author.clone(),
                    title: c.title.clone(),
                    body: c.body.clone(),
                    created_at: c.created_at,
                })
                .collect(),
        }
    }

    pub fn user(&self, p: &domain::model::ProfilePage) -> User {
        User {
            username: p.username.clone(),
            role: p.role.as_str().to_owned(),
            bio: p.bio.clone(),
            joined_at: p.joined,
            followers: p.followers,
            page: self.url(&format!("/users/{}", p.username)),
            recordings: self.url(&format!("/api/v1/users/{}/recordings", p.username)),
        }
    }

    pub fn collection(&self, c: &domain::model::CollectionPage) -> Collection {
        Collection {
            slug: c.slug.clone(),
            title: c.title.clone(),
            note: c.note.clone(),
            owner: c.owner.clone(),
            public: c.is_public,
            pack: c.is_pack,
            updated_at: c.updated_at,
            page: self.url(&format!("/collections/{}", c.slug)),
            download: self.url(&format!("/collections/{}/download.zip", c.slug)),
            items: c.items.iter().map(|card| self.summary(card)).collect(),
        }
    }

    /// An API path (with its query) made absolute.
    pub fn absolute(&self, path: &str) -> String {
        self.url(path)
    }
}

impl From<Count> for Total {
    fn from(c: Count) -> Self {
        match c {
            Count::Exact(count) => Total { count, exact: true },
            Count::AtLeast(count) => Total {
                count,
                exact: false,
            },
        }
    }
}
