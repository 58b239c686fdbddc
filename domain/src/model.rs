//! What pages show: plain data returned by loaders and server functions.
//! No database types leak past this line.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::{
    Processing, Role, Status,
    billing::{LedgerEntry, Money, Plan, SubscriptionStatus},
    catalog_query::CatalogQuery,
};

/// The logged-in person looking at a page, resolved from the session cookie once per
/// request. `csrf` goes into every form they can post.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Viewer {
    pub user_id: i32,
    pub username: String,
    pub role: Role,
    pub csrf: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TagRef {
    pub slug: String,
    pub name: String,
}

/// One recording as a catalog card: enough to choose it at a glance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordingCard {
    pub id: i32,
    pub slug: String,
    pub title: String,
    pub artist: String,
    pub location: String,
    pub convention: Option<String>,
    pub order: Option<i32>,
    pub layout: Option<String>,
    pub channels: Option<i32>,
    pub duration_ms: Option<i64>,
    pub uploader: String,
    pub tags: Vec<TagRef>,
    pub downloads: i64,
    pub rating_avg: f64,
    pub rating_count: i32,
    pub is_premium: bool,
    pub recorded_on: Option<NaiveDate>,
    pub published_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HomePage {
    pub latest: Vec<RecordingCard>,
    pub popular: Vec<RecordingCard>,
    pub recording_count: u64,
}

/// One choice of a filter menu: the value in the URL, what the menu shows, and how many
/// published recordings have it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Facet {
    pub value: String,
    pub label: String,
    pub count: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Facets {
    pub microphones: Vec<Facet>,
    pub licences: Vec<Facet>,
    pub conventions: Vec<Facet>,
    pub orders: Vec<Facet>,
    pub tags: Vec<Facet>,
}

/// How many recordings match: exactly, or at least so many (a search is counted only up to
/// a bound, so that counting never costs more than the page).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Count {
    Exact(u64),
    AtLeast(u64),
}

impl Count {
    /// "No recordings match.", "1 recording", "24 recordings", "1,000+ recordings".
    pub fn summary(self) -> String {
        match self {
            Count::Exact(0) => "No recordings match.".to_owned(),
            Count::Exact(1) => "1 recording".to_owned(),
            Count::Exact(n) => format!("{} recordings", thousands(n)),
            Count::AtLeast(n) => format!("{}+ recordings", thousands(n)),
        }
    }
}

/// 12345 → "12,345".
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CatalogPage {
    pub query: CatalogQuery,
    pub items: Vec<RecordingCard>,
    pub total: Count,
    /// Pages the pager offers by number (`page=N`, the first ones); `next` walks by key.
    pub numbered_pages: u64,
    /// Links to the pages before and after this one, when there are any.
    pub prev: Option<String>,
    pub next: Option<String>,
    pub facets: Facets,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CommentView {
    pub id: i32,
    pub author: String,
    pub title: String,
    pub body: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordingDetail {
    pub card: RecordingCard,
    pub composer: String,
    pub description: String,
    pub latitude: Option<f64>,
    pub longitude: Option<f64>,
    pub microphone: String,
    pub recorder: String,
    pub processing_notes: String,
    pub licence: String,
    pub sample_rate: Option<i32>,
    pub bit_depth: Option<i32>,
    pub is_float: bool,
    pub size_bytes: Option<i64>,
    pub sha256: Option<String>,
    pub has_media: bool,
    /// Only the uploader and editors see a recording that is not published.
    pub status: Status,
    /// A deleted recording: until when it can be restored.
    pub restorable_until: Option<DateTime<Utc>>,
    /// An editor's reason for a rejection.
    pub moderation_note: String,
    /// The viewer may change the title and description (uploader before publication, editors).
    pub can_describe: bool,
    /// The viewer is its uploader or an editor: sees processing failures and may retry.
    pub can_manage: bool,
    pub has_preview: bool,
    pub has_direction_picture: bool,
    /// First-order AmbiX for the binaural player (recordings with a sound field).
    pub has_spatial_preview: bool,
    /// The order the binaural player may play it at: 2 or 3 when its higher-order preview
    /// is made, else 1.
    pub spatial_order: u8,
    pub processing: Processing,
    pub processing_error: String,
    pub plays: i64,
    pub comments: Vec<CommentView>,
    /// The viewer's own rating, when logged in and rated.
    pub my_rating: Option<u8>,
    /// Tips are on: the currency they are paid in (set by the page's loader).
    pub tip_currency: Option<String>,
    /// The binaural MP3 (the podcast enclosure) is made.
    pub has_podcast: bool,
    /// The original is offered as a torrent (published and free): its info hash, file name
    /// and size.
    pub torrent: Option<TorrentOffer>,
    /// Its magnet link, with this site as web seed (set by the page's loader).
    pub magnet: Option<String>,
    /// The site's public URL (set by the page's loader): what its share links start with.
    pub site_url: String,
    /// In how many public collections it is, its packs, and the viewer's own (set by the
    /// page's loader).
    pub collections: RecordingCollections,
    /// The site's map tiles, for the small map of where it was made (set by the loader).
    pub tiles: MapTiles,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TorrentOffer {
    pub info_hash: String,
    pub name: String,
    pub size: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfilePage {
    pub username: String,
    pub role: Role,
    pub bio: String,
    pub joined: DateTime<Utc>,
    pub recordings: Vec<RecordingCard>,
    /// Their public collections, packs first.
    pub collections: Vec<CollectionRef>,
    /// How many follow them.
    pub followers: u64,
    /// Whether the viewer follows them (set by the page's loader for a logged-in viewer).
    pub viewer_follows: Option<bool>,
}

/// `/following`: whom and what the viewer follows, and the newest recordings from them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FollowingPage {
    pub people: Vec<String>,
    pub tags: Vec<TagRef>,
    pub recordings: Vec<RecordingCard>,
    /// A private feed is on.
    pub has_feed: bool,
    /// Its secret, just made: shown this once.
    pub new_feed_token: Option<String>,
}

/// A collection as its page shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CollectionPage {
    pub id: i32,
    pub slug: String,
    pub title: String,
    pub note: String,
    pub owner: String,
    pub is_public: bool,
    pub is_saved: bool,
    /// Public, and every recording in it is its owner's.
    pub is_pack: bool,
    pub updated_at: DateTime<Utc>,
    pub items: Vec<RecordingCard>,
    /// The viewer owns it: the page offers its forms.
    pub mine: bool,
}

/// A collection in a list (the owner's, a profile's, a recording page's).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CollectionRef {
    pub slug: String,
    pub title: String,
    pub owner: String,
    pub is_public: bool,
    pub is_saved: bool,
    pub is_pack: bool,
    pub count: u64,
}

/// What a recording's page says of collections: in how many public ones it is, the packs it
/// belongs to, and — for a logged-in viewer — whether they saved it and which of their
/// collections hold it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RecordingCollections {
    pub public_count: u64,
    pub packs: Vec<CollectionRef>,
    pub saved: bool,
    /// The viewer's own collections (not the saved one): (ref, holds this recording).
    pub mine: Vec<(CollectionRef, bool)>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TagPage {
    pub tag: TagRef,
    pub recordings: Vec<RecordingCard>,
    /// Whether the viewer follows it (set by the page's loader for a logged-in viewer).
    pub viewer_follows: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccountPage {
    pub username: String,
    pub email: String,
    pub role: Role,
    pub joined: DateTime<Utc>,
    pub tokens: Vec<TokenView>,
    /// A token made a moment ago, shown this once.
    pub new_token: Option<String>,
    pub membership: Membership,
    /// Payments are configured: the page offers "Manage billing" and plans.
    pub payments_on: bool,
    /// Tips to this account's recordings (empty for someone never tipped).
    pub earnings: Earnings,
}

/// Whether someone is premium, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Membership {
    pub premium: bool,
    pub subscription: Option<SubscriptionView>,
    /// Premium given by an admin, until then.
    pub granted_until: Option<DateTime<Utc>>,
    /// A dispute of a subscription payment keeps the subscription from granting premium.
    pub suspended_by_dispute: bool,
}

impl Membership {
    /// The card failed and Stripe is retrying: still premium, but the page asks to fix it.
    pub fn card_needs_fixing(&self) -> bool {
        self.subscription
            .as_ref()
            .is_some_and(|s| s.status == SubscriptionStatus::PastDue)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubscriptionView {
    pub plan: Option<Plan>,
    pub price: Option<Money>,
    pub interval_months: Option<i32>,
    pub status: SubscriptionStatus,
    pub current_period_end: Option<DateTime<Utc>>,
    pub cancel_at_period_end: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanOffer {
    pub plan: Plan,
    /// From Stripe's price; `None` when Stripe could not be asked just now.
    pub price: Option<Money>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PremiumPage {
    pub payments_on: bool,
    pub plans: Vec<PlanOffer>,
    /// `None` for a visitor who is not logged in.
    pub membership: Option<Membership>,
}

/// An uploader's tips: what they are owed per currency, and the lines behind it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Earnings {
    pub owed: Vec<Money>,
    pub lines: Vec<LedgerLine>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LedgerLine {
    pub entry: LedgerEntry,
    pub recording: Option<(String, String)>,
    pub gross: Money,
    pub fee: Money,
    pub share: Money,
    pub at: DateTime<Utc>,
}

/// A personal API token as its owner sees it (never the token itself).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TokenView {
    pub id: i32,
    pub name: String,
    pub prefix: String,
    pub created_at: DateTime<Utc>,
    pub last_used_at: Option<DateTime<Utc>>,
    /// What it may do (`read`, `upload`, `download`).
    pub scopes: Vec<String>,
}

/// One recording waiting for an editor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PendingItem {
    pub card: RecordingCard,
    pub description: String,
    pub sample_rate: Option<i32>,
    pub bit_depth: Option<i32>,
    pub is_float: bool,
    pub size_bytes: Option<i64>,
    pub uploaded_at: DateTime<Utc>,
    /// The stereo preview is ready to listen to.
    pub has_preview: bool,
}

/// Where map tiles come from: a URL template (`{z}`, `{x}`, `{y}`, `{s}`) and the credit
/// its licence asks for (HTML). An empty template: no tiles, markers over a plain ground.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MapTiles {
    pub url: String,
    pub attribution: String,
}

/// A recording on the map.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MapPoint {
    pub card: RecordingCard,
    pub latitude: f64,
    pub longitude: f64,
}

/// `/map`: the recordings with a place that match the catalog's filters and search.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MapPage {
    pub query: CatalogQuery,
    pub points: Vec<MapPoint>,
    /// More matched than a map shows (the newest are shown).
    pub capped: bool,
    pub tiles: MapTiles,
}
