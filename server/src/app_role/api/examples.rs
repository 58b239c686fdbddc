//! The OpenAPI document's example answers, made by the very code that makes real answers:
//! a sample recording goes through `model::Site` and `serde`, so an example cannot drift
//! from what the API sends (and the test command checks each against its schema).

use chrono::{TimeZone, Utc};
use domain::{
    Processing, Role, Status,
    model::{CommentView, Count, ProfilePage, RecordingCard, RecordingDetail, TagRef},
};
use serde_json::Value;

use super::{
    cursor::{self, Place, Walk},
    model::{RecordingList, Site},
    problem::{ApiError, Kind},
};

const SITE: &str = "https://ambisonia.example";

fn card() -> RecordingCard {
    RecordingCard {
        id: 1,
        slug: "dawn-chorus-in-the-forest".into(),
        title: "Dawn chorus in the forest".into(),
        artist: "Marta Gil".into(),
        location: "Białowieża Forest, Poland".into(),
        convention: Some("ambix".into()),
        order: Some(1),
        layout: Some("full sphere".into()),
        channels: Some(4),
        duration_ms: Some(312_500),
        uploader: "marta".into(),
        tags: vec![
            TagRef {
                slug: "birds".into(),
                name: "Birds".into(),
            },
            TagRef {
                slug: "forest".into(),
                name: "Forest".into(),
            },
        ],
        downloads: 1_204,
        rating_avg: 4.5,
        rating_count: 12,
        is_premium: false,
        recorded_on: Utc
            .with_ymd_and_hms(2024, 5, 3, 0, 0, 0)
            .single()
            .map(|t| t.date_naive()),
        published_at: Utc.with_ymd_and_hms(2024, 6, 1, 9, 30, 0).single(),
    }
}

fn comment() -> CommentView {
    CommentView {
        id: 7,
        author: "lena".into(),
        title: "Wonderful".into(),
        body: "The blackbird at 2:10, right behind me.".into(),
        created_at: Utc
            .with_ymd_and_hms(2024, 6, 2, 18, 4, 0)
            .single()
            .unwrap_or_default(),
    }
}

fn detail() -> RecordingDetail {
    RecordingDetail {
        card: card(),
        composer: String::new(),
        description: "Forty minutes before sunrise, a Core Sound TetraMic at head height.".into(),
        latitude: Some(52.7),
        longitude: Some(23.85),
        microphone: "Core Sound TetraMic".into(),
        recorder: "Sound Devices MixPre-6".into(),
        processing_notes: "Converted to AmbiX with the maker's calibration.".into(),
        licence: "cc-by-4.0".into(),
        sample_rate: Some(48_000),
        bit_depth: Some(24),
        is_float: false,
        size_bytes: Some(180_001_324),
        sha256: Some("9f2c4e0b7a1d3c5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6".into()),
        has_media: true,
        status: Status::Published,
        restorable_until: None,
        moderation_note: String::new(),
        can_describe: false,
        can_manage: false,
        has_preview: true,
        has_direction_picture: true,
        has_spatial_preview: true,
        spatial_order: 1,
        processing: Processing::Done,
        processing_error: String::new(),
        plays: 5_310,
        comments: vec![comment()],
        my_rating: None,
        tip_currency: None,
        has_podcast: true,
        torrent: Some(domain::model::TorrentOffer {
            info_hash: "0123456789abcdef0123456789abcdef01234567".into(),
            name: "dawn-chorus-in-the-forest.wav".into(),
            size: 180_001_324,
        }),
        magnet: None,
        site_url: SITE.into(),
        collections: Default::default(),
        tiles: Default::default(),
    }
}

fn json(v: impl serde::Serialize) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// The example of each success answer, by path.
pub fn answers() -> Vec<(&'static str, Value)> {
    let site = Site(SITE);
    let next = cursor::encode(
        Walk::Catalog(domain::catalog_query::Sort::Newest),
        Place::After(domain::catalog_query::Cursor {
            key: domain::catalog_query::Key::Published(1_717_234_200_000_000_000),
            id: 1,
        }),
    );
    let list = RecordingList {
        items: vec![site.summary(&card())],
        next: Some(format!("{SITE}/api/v1/recordings?tag=birds&cursor={next}")),
        next_cursor: Some(next),
        total: Some(Count::Exact(31).into()),
    };
    let uploads = RecordingList {
        total: None,
        next: None,
        next_cursor: None,
        ..list.clone()
    };
    let profile = ProfilePage {
        username: "marta".into(),
        role: Role::Uploader,
        bio: "Field recordist; forests and churches.".into(),
        joined: Utc
            .with_ymd_and_hms(2023, 11, 20, 12, 0, 0)
            .single()
            .unwrap_or_default(),
        recordings: vec![],
        collections: vec![],
        followers: 3,
        viewer_follows: None,
    };
    vec![
        ("/api/v1/recordings", json(list)),
        ("/api/v1/recordings/{slug}", json(site.recording(&detail()))),
        (
            "/api/v1/recordings/{slug}/comments",
            json(site.comments(&[comment()])),
        ),
        ("/api/v1/users/{username}", json(site.user(&profile))),
        ("/api/v1/users/{username}/recordings", json(uploads)),
        (
            "/api/v1/collections/{slug}",
            json(
                site.collection(&domain::model::CollectionPage {
                    id: 3,
                    slug: "forests-at-dawn-1a2b3c4d".into(),
                    title: "Forests at dawn".into(),
                    note: "Five mornings, five forests.".into(),
                    owner: "lena".into(),
                    is_public: true,
                    is_saved: false,
                    is_pack: false,
                    updated_at: Utc
                        .with_ymd_and_hms(2024, 6, 3, 7, 0, 0)
                        .single()
                        .unwrap_or_default(),
                    items: vec![card()],
                    mine: false,
                }),
            ),
        ),
    ]
}

/// The example problem of each status.
pub fn problem(status: &str) -> Option<Value> {
    let kind = match status {
        "400" => Kind::BadParameter,
        "401" => Kind::BadToken,
        "403" => Kind::MissingScope,
        "404" => Kind::NotFound,
        "429" => return Some(json(ApiError::rate_limited(42).problem())),
        _ => return None,
    };
    let detail = match kind {
        Kind::BadParameter => {
            "sort: unknown variant `popular`, expected one of `relevance`, `newest`, `downloads`, `rating`, `longest`"
        }
        Kind::BadToken => "That token is unknown or revoked; make one on your account page.",
        Kind::MissingScope => {
            "This token does not have the \"read\" scope; make one that does on your account page."
        }
        _ => "We could not find that page.",
    };
    Some(json(ApiError::new(kind, detail).problem()))
}
