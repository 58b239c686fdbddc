//! Values that arrive from forms and URLs, parsed once into types that cannot be invalid.
//!
//! Each `parse` says in plain words what it refuses; the tests at the bottom pin that.

use serde::{Deserialize, Serialize};
use std::fmt;

pub use media::Convention;
#[cfg(feature = "server")]
use sea_orm::sea_query::StringLen;

use crate::error::ServiceError;

fn invalid(msg: &str) -> ServiceError {
    ServiceError::Invalid(msg.to_string())
}

/// 3–32 characters: lowercase letters, digits, `-` and `_`, starting with a letter.
/// Usernames are case-insensitive, so they are stored lowercased.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Username(String);

impl Username {
    pub fn parse(raw: &str) -> Result<Self, ServiceError> {
        let name = raw.trim().to_lowercase();
        let len = name.chars().count();
        if !(3..=32).contains(&len) {
            return Err(invalid("A username has 3 to 32 characters."));
        }
        if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
            return Err(invalid("A username starts with a letter."));
        }
        if !name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        {
            return Err(invalid(
                "A username may contain only letters, digits, '-' and '_'.",
            ));
        }
        Ok(Self(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A deliberately plain check: one `@`, something on each side, a dot in the domain, no
/// spaces. Whether the address works is only known by writing to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, ServiceError> {
        let email = raw.trim().to_lowercase();
        let ok = email.len() <= 254
            && !email.chars().any(|c| c.is_whitespace() || c.is_control())
            && match email.split_once('@') {
                Some((local, domain)) => {
                    !local.is_empty()
                        && !domain.contains('@')
                        && domain.contains('.')
                        && !domain.starts_with('.')
                        && !domain.ends_with('.')
                }
                None => false,
            };
        if ok {
            Ok(Self(email))
        } else {
            Err(invalid(
                "Please give an email address such as name@example.org.",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A new password: 10 to 128 characters. Never printed, not even in debug output.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    pub fn parse(raw: &str) -> Result<Self, ServiceError> {
        let len = raw.chars().count();
        if len < 10 {
            return Err(invalid("A password has at least 10 characters."));
        }
        if len > 128 {
            return Err(invalid("A password has at most 128 characters."));
        }
        Ok(Self(raw.to_string()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(…)")
    }
}

/// A URL slug made from a title: lowercase ASCII words joined by `-`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Slug(String);

impl Slug {
    /// Accepts an existing slug from a URL.
    pub fn parse(raw: &str) -> Result<Self, ServiceError> {
        let ok = (1..=96).contains(&raw.len())
            && raw
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !raw.starts_with('-')
            && !raw.ends_with('-');
        if ok {
            Ok(Self(raw.to_string()))
        } else {
            Err(ServiceError::NotFound)
        }
    }

    /// Makes a slug from free text; `None` when nothing usable is left.
    pub fn from_title(title: &str) -> Option<Self> {
        let mut slug = String::new();
        for c in title.chars().flat_map(char::to_lowercase) {
            let c = fold_accent(c);
            if c.is_ascii_alphanumeric() {
                slug.push(c);
            } else if !slug.is_empty() && !slug.ends_with('-') {
                slug.push('-');
            }
            if slug.len() >= 80 {
                break;
            }
        }
        let slug = slug.trim_end_matches('-').to_string();
        (!slug.is_empty()).then_some(Self(slug))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn fold_accent(c: char) -> char {
    match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' => 'a',
        'ç' => 'c',
        'è' | 'é' | 'ê' | 'ë' => 'e',
        'ì' | 'í' | 'î' | 'ï' => 'i',
        'ñ' => 'n',
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' => 'o',
        'ù' | 'ú' | 'û' | 'ü' => 'u',
        'ý' | 'ÿ' => 'y',
        other => other,
    }
}

/// A rating from one to five stars.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stars(u8);

impl Stars {
    pub fn parse(raw: &str) -> Result<Self, ServiceError> {
        match raw.trim().parse::<u8>() {
            Ok(n @ 1..=5) => Ok(Self(n)),
            _ => Err(invalid("A rating is a whole number of stars from 1 to 5.")),
        }
    }

    pub fn get(self) -> u8 {
        self.0
    }
}

/// A comment: a title of at most 120 characters and a body of 1 to 5,000. Stored as the
/// visitor typed it; escaping happens when it is rendered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommentText {
    pub title: String,
    pub body: String,
}

impl CommentText {
    pub fn parse(title: &str, body: &str) -> Result<Self, ServiceError> {
        let title = title.trim();
        let body = body.trim();
        if title.chars().count() > 120 {
            return Err(invalid("A comment title has at most 120 characters."));
        }
        if body.is_empty() {
            return Err(invalid("Please write something in the comment."));
        }
        if body.chars().count() > 5000 {
            return Err(invalid("A comment has at most 5,000 characters."));
        }
        Ok(Self {
            title: title.to_string(),
            body: body.to_string(),
        })
    }
}

/// Who someone is on the site. Ordered: each role can do what the ones before it can.
/// Stored as its word (`listener` …) in `users.role`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(
    feature = "server",
    derive(sea_orm::EnumIter, sea_orm::DeriveActiveEnum)
)]
#[cfg_attr(
    feature = "server",
    sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")
)]
pub enum Role {
    #[cfg_attr(feature = "server", sea_orm(string_value = "listener"))]
    Listener,
    #[cfg_attr(feature = "server", sea_orm(string_value = "uploader"))]
    Uploader,
    #[cfg_attr(feature = "server", sea_orm(string_value = "editor"))]
    Editor,
    #[cfg_attr(feature = "server", sea_orm(string_value = "admin"))]
    Admin,
}

impl Role {
    pub const ALL: [Role; 4] = [Role::Listener, Role::Uploader, Role::Editor, Role::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Listener => "listener",
            Role::Uploader => "uploader",
            Role::Editor => "editor",
            Role::Admin => "admin",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, ServiceError> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == raw)
            .ok_or_else(|| invalid("A role is one of listener, uploader, editor, admin."))
    }

    /// Uploaders and above may upload recordings.
    pub fn uploads(self) -> bool {
        self >= Role::Uploader
    }

    /// Editors and above publish and reject uploads, and may describe or delete any
    /// recording.
    pub fn moderates(self) -> bool {
        self >= Role::Editor
    }
}

/// Where a recording is in its life. Only `Published` ones are shown to the public.
/// Stored as its word in `recordings.status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(
    feature = "server",
    derive(sea_orm::EnumIter, sea_orm::DeriveActiveEnum)
)]
#[cfg_attr(
    feature = "server",
    sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")
)]
pub enum Status {
    #[cfg_attr(feature = "server", sea_orm(string_value = "draft"))]
    Draft,
    #[cfg_attr(feature = "server", sea_orm(string_value = "pending"))]
    Pending,
    #[cfg_attr(feature = "server", sea_orm(string_value = "published"))]
    Published,
    #[cfg_attr(feature = "server", sea_orm(string_value = "rejected"))]
    Rejected,
    /// Hidden from everyone but its uploader and editors, who may restore it within
    /// [`Status::RESTORE_DAYS`]; then its row and its media go.
    #[cfg_attr(feature = "server", sea_orm(string_value = "deleted"))]
    Deleted,
}

impl Status {
    /// How long a deleted recording can be restored.
    pub const RESTORE_DAYS: i64 = 30;

    pub fn as_str(self) -> &'static str {
        match self {
            Status::Draft => "draft",
            Status::Pending => "pending",
            Status::Published => "published",
            Status::Rejected => "rejected",
            Status::Deleted => "deleted",
        }
    }

    /// The status stored as `word` (what a deleted recording is restored to).
    pub fn parse(word: &str) -> Option<Self> {
        [
            Status::Draft,
            Status::Pending,
            Status::Published,
            Status::Rejected,
            Status::Deleted,
        ]
        .into_iter()
        .find(|s| s.as_str() == word)
    }
}

/// Where the making of a recording's preview and pictures is. `None` for a recording
/// without a file (stored as the empty word in `recordings.processing`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(
    feature = "server",
    derive(sea_orm::EnumIter, sea_orm::DeriveActiveEnum)
)]
#[cfg_attr(
    feature = "server",
    sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")
)]
pub enum Processing {
    #[cfg_attr(feature = "server", sea_orm(string_value = ""))]
    None,
    #[cfg_attr(feature = "server", sea_orm(string_value = "queued"))]
    Queued,
    #[cfg_attr(feature = "server", sea_orm(string_value = "running"))]
    Running,
    #[cfg_attr(feature = "server", sea_orm(string_value = "done"))]
    Done,
    #[cfg_attr(feature = "server", sea_orm(string_value = "failed"))]
    Failed,
}

/// A processing job's state in `jobs.state`: queued (perhaps to retry at `locked_until`),
/// running under a lock, done, or failed for good.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(
    feature = "server",
    derive(sea_orm::EnumIter, sea_orm::DeriveActiveEnum)
)]
#[cfg_attr(
    feature = "server",
    sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")
)]
pub enum JobState {
    #[cfg_attr(feature = "server", sea_orm(string_value = "queued"))]
    Queued,
    #[cfg_attr(feature = "server", sea_orm(string_value = "running"))]
    Running,
    #[cfg_attr(feature = "server", sea_orm(string_value = "done"))]
    Done,
    #[cfg_attr(feature = "server", sea_orm(string_value = "failed"))]
    Failed,
}

/// What a job does, stored as its word in `jobs.kind`; its `subject_id` is what it does
/// it to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(
    feature = "server",
    derive(sea_orm::EnumIter, sea_orm::DeriveActiveEnum)
)]
#[cfg_attr(
    feature = "server",
    sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")
)]
pub enum JobKind {
    /// Make a recording's previews and pictures (subject: the recording).
    #[cfg_attr(feature = "server", sea_orm(string_value = "process"))]
    Process,
    /// Join, inspect and take a direct upload (subject: the direct upload).
    #[cfg_attr(feature = "server", sea_orm(string_value = "finish-upload"))]
    FinishUpload,
    /// Purge recordings deleted past their window, and remove media no row names (no
    /// subject).
    #[cfg_attr(feature = "server", sea_orm(string_value = "collect-media"))]
    CollectMedia,
}

/// Where a direct upload is, stored as its word in `direct_uploads.state`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(
    feature = "server",
    derive(sea_orm::EnumIter, sea_orm::DeriveActiveEnum)
)]
#[cfg_attr(
    feature = "server",
    sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")
)]
pub enum UploadState {
    /// The browser is sending parts to the bucket.
    #[cfg_attr(feature = "server", sea_orm(string_value = "uploading"))]
    Uploading,
    /// Every part sent: a job joins, inspects and takes it.
    #[cfg_attr(feature = "server", sea_orm(string_value = "finishing"))]
    Finishing,
    /// It became a recording.
    #[cfg_attr(feature = "server", sea_orm(string_value = "done"))]
    Done,
    /// It was not taken, with a sentence saying why (a duplicate, a file the site does not
    /// read, parts cut short).
    #[cfg_attr(feature = "server", sea_orm(string_value = "refused"))]
    Refused,
}

impl UploadState {
    pub fn as_str(self) -> &'static str {
        match self {
            UploadState::Uploading => "uploading",
            UploadState::Finishing => "finishing",
            UploadState::Done => "done",
            UploadState::Refused => "refused",
        }
    }

    /// Still on its way: its incoming object is still needed.
    pub fn in_progress(self) -> bool {
        matches!(self, UploadState::Uploading | UploadState::Finishing)
    }
}

impl JobState {
    /// The recording's processing state that goes with this job state.
    pub fn processing(self) -> Processing {
        match self {
            JobState::Queued => Processing::Queued,
            JobState::Running => Processing::Running,
            JobState::Done => Processing::Done,
            JobState::Failed => Processing::Failed,
        }
    }
}

/// The licences an uploader can choose. The key is stored; label and link are shown.
pub const LICENCES: [(&str, &str, &str); 6] = [
    (
        "cc-by-4.0",
        "CC BY 4.0",
        "https://creativecommons.org/licenses/by/4.0/",
    ),
    (
        "cc-by-sa-4.0",
        "CC BY-SA 4.0",
        "https://creativecommons.org/licenses/by-sa/4.0/",
    ),
    (
        "cc-by-nc-4.0",
        "CC BY-NC 4.0",
        "https://creativecommons.org/licenses/by-nc/4.0/",
    ),
    (
        "cc-by-nc-sa-4.0",
        "CC BY-NC-SA 4.0",
        "https://creativecommons.org/licenses/by-nc-sa/4.0/",
    ),
    (
        "cc0-1.0",
        "CC0 1.0 (public domain)",
        "https://creativecommons.org/publicdomain/zero/1.0/",
    ),
    ("all-rights-reserved", "All rights reserved", ""),
];

/// One of [`LICENCES`], by its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Licence(&'static str);

impl Licence {
    /// The licence a new recording gets when its uploader names none.
    pub const DEFAULT: &'static str = "cc-by-4.0";

    pub fn parse(raw: &str) -> Result<Self, ServiceError> {
        let raw = raw.trim();
        let raw = if raw.is_empty() { Self::DEFAULT } else { raw };
        LICENCES
            .iter()
            .find(|(k, ..)| *k == raw)
            .map(|(k, ..)| Self(k))
            .ok_or_else(|| invalid("Choose one of the licences offered."))
    }

    pub fn as_str(&self) -> &'static str {
        self.0
    }
}

pub fn licence_label(key: &str) -> &str {
    LICENCES
        .iter()
        .find(|(k, _, _)| *k == key)
        .map_or(key, |(_, label, _)| label)
}

pub fn licence_url(key: &str) -> Option<&'static str> {
    LICENCES
        .iter()
        .find(|(k, _, url)| *k == key && !url.is_empty())
        .map(|(_, _, url)| *url)
}

/// The most a recording's fields may hold, written once for every way they are set: the
/// upload form, the API, a direct upload and the uploader's later edits.
pub mod caps {
    pub const TITLE: usize = 200;
    pub const LOCATION: usize = 200;
    pub const DESCRIPTION: usize = 20_000;
    pub const MICROPHONE: usize = 100;
}

/// What an uploader says about a recording, whichever way it arrives, checked once: a
/// title (1–200 characters), a place (≤ 200), a description (≤ 20,000), one of the
/// licences offered (CC BY 4.0 when none is named) and, for a plain multichannel file,
/// the convention (`ambix` or `fuma`, or none). Longer text is refused, not cut.
#[derive(Debug, Clone, PartialEq)]
pub struct UploadMeta {
    pub title: String,
    pub description: String,
    pub location: String,
    pub licence: Licence,
    pub convention: Option<Convention>,
    /// Where it was recorded (latitude, longitude), when the uploader said.
    pub place: Option<(f64, f64)>,
}

/// Latitude and longitude from a form: both empty is no place; otherwise decimal degrees
/// in range. Blurred, each is rounded to two decimals (within about 0.6 km).
pub fn place(lat: &str, lon: &str, blur: bool) -> Result<Option<(f64, f64)>, ServiceError> {
    let (lat, lon) = (lat.trim(), lon.trim());
    if lat.is_empty() && lon.is_empty() {
        return Ok(None);
    }
    let parse = |v: &str| {
        v.replace(',', ".")
            .parse::<f64>()
            .ok()
            .filter(|x| x.is_finite())
    };
    let (Some(la), Some(lo)) = (parse(lat), parse(lon)) else {
        return Err(invalid(
            "Give the place as two numbers in decimal degrees (52.7, 23.85), or leave both empty.",
        ));
    };
    if !(-90.0..=90.0).contains(&la) || !(-180.0..=180.0).contains(&lo) {
        return Err(invalid(
            "Latitude is from -90 to 90 and longitude from -180 to 180.",
        ));
    }
    let keep = |x: f64| {
        if blur {
            (x * 100.0).round() / 100.0
        } else {
            (x * 1e6).round() / 1e6
        }
    };
    Ok(Some((keep(la), keep(lo))))
}

impl UploadMeta {
    pub fn parse(
        title: &str,
        description: &str,
        location: &str,
        licence: &str,
        convention: &str,
    ) -> Result<Self, ServiceError> {
        let title = title.trim();
        if title.is_empty() {
            return Err(invalid("Give the recording a title."));
        }
        let within = |text: &str, cap: usize, what: &str| {
            if text.chars().count() > cap {
                Err(invalid(&format!(
                    "The {what} has at most {cap} characters."
                )))
            } else {
                Ok(text.to_owned())
            }
        };
        let convention = match convention.trim() {
            "" => None,
            word => Some(
                Convention::parse(word)
                    .filter(|c| c.is_b_format())
                    .ok_or_else(|| invalid("The convention is ambix or fuma."))?,
            ),
        };
        Ok(Self {
            title: within(title, caps::TITLE, "title")?,
            description: within(description.trim(), caps::DESCRIPTION, "description")?,
            location: within(location.trim(), caps::LOCATION, "place")?,
            licence: Licence::parse(licence)?,
            convention,
            place: None,
        })
    }
}

/// "3:07" or "1:02:45" for a duration in milliseconds.
pub fn format_duration(ms: i64) -> String {
    let total = ms.max(0) / 1000;
    let (h, m, s) = (total / 3600, (total / 60) % 60, total % 60);
    if h > 0 {
        format!("{h}:{m:02}:{s:02}")
    } else {
        format!("{m}:{s:02}")
    }
}

/// "1st order", "2nd order", "3rd order".
pub fn order_label(order: i32) -> String {
    let suffix = match order {
        1 => "st",
        2 => "nd",
        3 => "rd",
        _ => "th",
    };
    format!("{order}{suffix} order")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        assert_eq!(Username::parse(" Ada_L ").map(|u| u.0), Ok("ada_l".into()));
        assert!(Username::parse("ab").is_err());
        assert!(Username::parse("1abc").is_err());
        assert!(Username::parse("a b c").is_err());
        assert!(Username::parse("<script>").is_err());
        assert!(Username::parse(&"a".repeat(33)).is_err());
    }

    #[test]
    fn emails() {
        assert_eq!(
            Email::parse("Ada@Example.org").map(|e| e.0),
            Ok("ada@example.org".into())
        );
        for bad in [
            "",
            "ada",
            "ada@",
            "@x.org",
            "a@b",
            "a b@x.org",
            "a@@x.org",
            "a@x.",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn passwords_have_bounds_and_hide_themselves() {
        assert!(Password::parse("short").is_err());
        assert!(Password::parse(&"x".repeat(129)).is_err());
        let p = Password::parse("correct horse battery").unwrap_or_else(|e| panic!("{e}"));
        assert!(!format!("{p:?}").contains("horse"));
    }

    #[test]
    fn slugs() {
        assert_eq!(
            Slug::from_title("Dawn Chorus, Wytham Woods (2008)").map(|s| s.0),
            Some("dawn-chorus-wytham-woods-2008".into())
        );
        assert_eq!(
            Slug::from_title("Église Saint-Étienne").map(|s| s.0),
            Some("eglise-saint-etienne".into())
        );
        assert_eq!(Slug::from_title("!!!"), None);
        assert!(Slug::parse("ok-slug-1").is_ok());
        assert!(Slug::parse("Bad Slug").is_err());
        assert!(Slug::parse("-x").is_err());
        assert!(Slug::parse("../etc").is_err());
    }

    #[test]
    fn stars() {
        assert_eq!(Stars::parse("4").map(Stars::get), Ok(4));
        for bad in ["0", "6", "-1", "three", "", "4.5"] {
            assert!(Stars::parse(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn comments() {
        assert!(CommentText::parse("", "  ").is_err());
        assert!(CommentText::parse(&"t".repeat(121), "body").is_err());
        assert!(CommentText::parse("", &"b".repeat(5001)).is_err());
        let c = CommentText::parse("  Hi ", " <b>x</b> ").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((c.title.as_str(), c.body.as_str()), ("Hi", "<b>x</b>"));
    }

    #[test]
    fn roles_and_conventions_round_trip() {
        for r in Role::ALL {
            assert_eq!(Role::parse(r.as_str()), Ok(r));
        }
        assert!(Role::parse("root").is_err());
        assert!(Role::Admin > Role::Editor && Role::Editor > Role::Uploader);
    }

    #[test]
    fn licences_are_the_offered_ones() {
        assert_eq!(Licence::parse("cc0-1.0").map(|l| l.as_str()), Ok("cc0-1.0"));
        assert_eq!(Licence::parse("").map(|l| l.as_str()), Ok("cc-by-4.0"));
        for bad in ["GPL", "cc-by", "<b>free</b>"] {
            assert!(Licence::parse(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn upload_meta_has_one_set_of_caps() {
        let ok = UploadMeta::parse(" A wood ", "d", "here", "", "ambix")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(ok.title, "A wood");
        assert_eq!(ok.convention, Some(Convention::Ambix));
        assert!(UploadMeta::parse(" ", "", "", "", "").is_err());
        assert!(UploadMeta::parse(&"t".repeat(caps::TITLE + 1), "", "", "", "").is_err());
        assert!(UploadMeta::parse(&"t".repeat(caps::TITLE), "", "", "", "").is_ok());
        assert!(UploadMeta::parse("t", &"d".repeat(caps::DESCRIPTION + 1), "", "", "").is_err());
        assert!(UploadMeta::parse("t", "", &"p".repeat(caps::LOCATION + 1), "", "").is_err());
        assert!(UploadMeta::parse("t", "", "", "nonsense", "").is_err());
        assert!(UploadMeta::parse("t", "", "", "", "uhj").is_err());
    }

    #[test]
    fn durations_and_orders() {
        assert_eq!(format_duration(187_400), "3:07");
        assert_eq!(format_duration(3_765_000), "1:02:45");
        assert_eq!(order_label(1), "1st order");
        assert_eq!(order_label(3), "3rd order");
    }
}
