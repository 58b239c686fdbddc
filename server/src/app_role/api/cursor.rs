//! A walk's place, opaque to clients: the catalog's own keyset cursor (`KEY~ID`, the
//! recording a page ends with) or, for a ranked search, which of its numbered pages comes
//! next — with the sort it belongs to, so that a cursor is never read in another order.
//! Written as unpadded base64url of `v1 {walk} {after|page} {value}`.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use domain::catalog_query::{Cursor, NUMBERED_PAGES, Sort};

use super::problem::{ApiError, Kind};

/// Where the next page starts.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Place {
    After(Cursor),
    Page(u64),
}

/// What a cursor walks: the catalog in a sort, or an uploader's recordings (newest first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Walk {
    Catalog(Sort),
    Uploads,
}

impl Walk {
    fn name(self) -> &'static str {
        match self {
            Walk::Catalog(s) => s.as_str(),
            Walk::Uploads => "uploads",
        }
    }

    fn sort(self) -> Sort {
        match self {
            Walk::Catalog(s) => s,
            Walk::Uploads => Sort::Newest,
        }
    }
}

pub fn encode(walk: Walk, place: Place) -> String {
    let text = match place {
        Place::After(c) => format!("v1 {} after {}", walk.name(), c.encode()),
        Place::Page(n) => format!("v1 {} page {n}", walk.name()),
    };
    URL_SAFE_NO_PAD.encode(text)
}

pub fn decode(walk: Walk, raw: &str) -> Result<Place, ApiError> {
    let bad = || {
        ApiError::new(
            Kind::BadCursor,
            "That cursor was not made by this API for this sort; start again without one.",
        )
    };
    let bytes = URL_SAFE_NO_PAD
        .decode(raw.trim().as_bytes())
        .map_err(|_| bad())?;
    let text = String::from_utf8(bytes).map_err(|_| bad())?;
    let mut parts = text.split(' ');
    let (Some("v1"), Some(name), Some(how), Some(value), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(bad());
    };
    if name != walk.name() {
        return Err(bad());
    }
    match how {
        "after" => Cursor::parse(walk.sort(), value)
            .map(Place::After)
            .ok_or_else(bad),
        "page" => value
            .parse()
            .ok()
            .filter(|n| (2..=NUMBERED_PAGES).contains(n))
            .map(Place::Page)
            .ok_or_else(bad),
        _ => Err(bad()),
    }
}

/// The place a catalog page's `next` link (`/catalog?…&after=…` or `…&page=N`) in `sort`
/// points at (its values are digits, `.`, `-` and `~`: never percent-encoded).
pub fn of_next_link(href: &str, sort: Sort) -> Option<Place> {
    let (_, query) = href.split_once('?')?;
    query
        .split('&')
        .find_map(|pair| match pair.split_once('=')? {
            ("after", v) => Some(Place::After(Cursor::parse(sort, v)?)),
            ("page", v) => v.parse().ok().map(Place::Page),
            _ => None,
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::catalog_query::Key;

    #[test]
    fn a_cursor_reads_back_only_in_its_own_walk() {
        let c = Cursor {
            key: Key::Published(1_700_000_000_000_000_000),
            id: 42,
        };
        let newest = Walk::Catalog(Sort::Newest);
        let raw = encode(newest, Place::After(c));
        assert_eq!(decode(newest, &raw).ok(), Some(Place::After(c)));
        assert!(decode(Walk::Catalog(Sort::MostDownloaded), &raw).is_err());
        assert!(decode(Walk::Uploads, &raw).is_err());
        let page = encode(Walk::Catalog(Sort::Relevance), Place::Page(3));
        assert_eq!(
            decode(Walk::Catalog(Sort::Relevance), &page).ok(),
            Some(Place::Page(3))
        );
        for bad in ["", "!!!", "djEgbmV3ZXN0", &raw[..raw.len() - 2]] {
            assert!(decode(newest, bad).is_err(), "{bad:?}");
        }
    }
}
