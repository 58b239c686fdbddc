//! The state of the catalog page, as a URL.
//!
//! Every combination of search, filters, sort and page is a link: `from_pairs` reads a query
//! string leniently (an unknown or malformed value is dropped, never an error page), and
//! `href` writes the canonical form back, leaving out defaults, so one state has one URL.
//!
//! A page is named either by number (`page=3`: the first pages, and links people already
//! have) or by where it starts (`after=KEY~ID`: the page after that recording in the sort)
//! or ends (`before=KEY~ID`), which costs the same on the first page and the ten-thousandth.

use serde::{Deserialize, Serialize};

use crate::Convention;

/// Pages the pager offers by number (`page=N`, at most this); "Next" walks on by key.
pub const NUMBERED_PAGES: u64 = 20;

pub const PAGE_SIZE: u64 = 24;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Sort {
    #[default]
    Newest,
    MostDownloaded,
    BestRated,
    Longest,
    /// Best match first (the default when there is a search text): a title match above a
    /// match elsewhere.
    Relevance,
}

impl Sort {
    pub const ALL: [Sort; 5] = [
        Sort::Relevance,
        Sort::Newest,
        Sort::MostDownloaded,
        Sort::BestRated,
        Sort::Longest,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Sort::Newest => "newest",
            Sort::MostDownloaded => "downloads",
            Sort::BestRated => "rating",
            Sort::Longest => "longest",
            Sort::Relevance => "relevance",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Sort::Newest => "Newest",
            Sort::MostDownloaded => "Most downloaded",
            Sort::BestRated => "Best rated",
            Sort::Longest => "Longest",
            Sort::Relevance => "Best match",
        }
    }

    fn parse(raw: &str) -> Option<Self> {
        Sort::ALL.into_iter().find(|s| s.as_str() == raw)
    }
}

/// A recording's place in a sort: its sort key and its id (which breaks ties, so that
/// pages never overlap or skip). Written in a URL as `KEY~ID`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub enum Key {
    /// Newest: when it was published, in nanoseconds since 1970 (as precise as stored).
    Published(i64),
    /// Most downloaded.
    Downloads(i64),
    /// Best rated: the average, then the number of ratings.
    Rating(f64, i32),
    /// Longest: the duration in milliseconds; recordings without one come last.
    Duration(Option<i64>),
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Cursor {
    pub key: Key,
    pub id: i32,
}

impl Cursor {
    /// Reads `KEY~ID` for `sort`; `None` for anything else (relevance has no keys: it pages
    /// by number).
    pub fn parse(sort: Sort, raw: &str) -> Option<Self> {
        let mut parts = raw.split('~');
        let (a, b, c) = (parts.next()?, parts.next()?, parts.next());
        if parts.next().is_some() {
            return None;
        }
        let (key, id) = match (sort, c) {
            (Sort::Newest, None) => (Key::Published(a.parse().ok()?), b),
            (Sort::MostDownloaded, None) => (Key::Downloads(a.parse().ok()?), b),
            (Sort::Longest, None) => (
                Key::Duration(if a == "-" {
                    None
                } else {
                    Some(a.parse().ok()?)
                }),
                b,
            ),
            (Sort::BestRated, Some(id)) => {
                let avg: f64 = a.parse().ok().filter(|v: &f64| v.is_finite())?;
                (Key::Rating(avg, b.parse().ok()?), id)
            }
            _ => return None,
        };
        Some(Self {
            key,
            id: id.parse().ok().filter(|id| *id > 0)?,
        })
    }

    pub fn encode(&self) -> String {
        let id = self.id;
        match self.key {
            Key::Published(t) => format!("{t}~{id}"),
            Key::Downloads(n) => format!("{n}~{id}"),
            Key::Rating(avg, n) => format!("{avg}~{n}~{id}"),
            Key::Duration(Some(d)) => format!("{d}~{id}"),
            Key::Duration(None) => format!("-~{id}"),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CatalogQuery {
    /// Free text, searched in title, artist, description, location and tags.
    pub q: String,
    pub convention: Option<Convention>,
    /// Ambisonic order, 1 to 3.
    pub order: Option<u8>,
    pub microphone: Option<String>,
    pub licence: Option<String>,
    pub tag: Option<String>,
    /// Duration range in whole minutes.
    pub min_minutes: Option<u32>,
    pub max_minutes: Option<u32>,
    pub sort: Sort,
    /// 1-based; used when no cursor names the page.
    pub page: u64,
    /// The page after this recording in the sort.
    pub after: Option<Cursor>,
    /// The page before this recording in the sort.
    pub before: Option<Cursor>,
}

fn non_empty(v: &str) -> Option<String> {
    let v = v.trim();
    (!v.is_empty() && v.len() <= 100).then(|| v.to_string())
}

impl CatalogQuery {
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        let mut q = CatalogQuery {
            page: 1,
            ..Default::default()
        };
        let (mut sort, mut after, mut before) = (None, None, None);
        for (key, value) in pairs {
            match key {
                "q" => q.q = value.trim().chars().take(200).collect(),
                "convention" => q.convention = Convention::parse(value),
                "order" => q.order = value.parse().ok().filter(|o| (1..=3).contains(o)),
                "mic" => q.microphone = non_empty(value),
                "licence" => q.licence = non_empty(value),
                "tag" => q.tag = non_empty(value),
                "min" => q.min_minutes = value.parse().ok().filter(|m| *m <= 10_000),
                "max" => q.max_minutes = value.parse().ok().filter(|m| *m <= 10_000),
                "sort" => sort = Sort::parse(value),
                // Beyond the numbered pages only `after`/`before` links walk on: a deep
                // OFFSET would cost the database a row per skipped recording.
                "page" => {
                    q.page = value
                        .parse()
                        .ok()
                        .filter(|p| (1..=NUMBERED_PAGES).contains(p))
                        .unwrap_or(1);
                }
                "after" => after = Some(value),
                "before" => before = Some(value),
                _ => {}
            }
        }
        q.sort = match sort {
            Some(Sort::Relevance) if q.q.is_empty() => Sort::Newest,
            Some(s) => s,
            None => q.default_sort(),
        };
        q.after = after.and_then(|a| Cursor::parse(q.sort, a));
        q.before = before
            .filter(|_| q.after.is_none())
            .and_then(|b| Cursor::parse(q.sort, b));
        if let (Some(min), Some(max)) = (q.min_minutes, q.max_minutes)
            && min > max
        {
            q.min_minutes = Some(max);
            q.max_minutes = Some(min);
        }
        q
    }

    /// The canonical `/catalog?…` link for this state.
    pub fn href(&self) -> String {
        let mut pairs: Vec<(&str, String)> = Vec::new();
        if !self.q.is_empty() {
            pairs.push(("q", self.q.clone()));
        }
        if let Some(c) = self.convention {
            pairs.push(("convention", c.as_str().to_string()));
        }
        if let Some(o) = self.order {
            pairs.push(("order", o.to_string()));
        }
        if let Some(m) = &self.microphone {
            pairs.push(("mic", m.clone()));
        }
        if let Some(l) = &self.licence {
            pairs.push(("licence", l.clone()));
        }
        if let Some(t) = &self.tag {
            pairs.push(("tag", t.clone()));
        }
        if let Some(m) = self.min_minutes {
            pairs.push(("min", m.to_string()));
        }
        if let Some(m) = self.max_minutes {
            pairs.push(("max", m.to_string()));
        }
        if self.sort != self.default_sort() {
            pairs.push(("sort", self.sort.as_str().to_string()));
        }
        if let Some(c) = &self.after {
            pairs.push(("after", c.encode()));
        } else if let Some(c) = &self.before {
            pairs.push(("before", c.encode()));
        } else if self.page > 1 {
            pairs.push(("page", self.page.to_string()));
        }
        if pairs.is_empty() {
            return "/catalog".to_string();
        }
        let query: Vec<String> = pairs
            .into_iter()
            .map(|(k, v)| format!("{k}={}", encode_component(&v)))
            .collect();
        format!("/catalog?{}", query.join("&"))
    }

    /// This search's feed (`ext` is `atom` or `rss`): the first page's query words on
    /// `/catalog/feed.{ext}`.
    pub fn feed_href(&self, ext: &str) -> String {
        let page = self.with_page(1).href();
        match page.split_once('?') {
            Some((_, query)) => format!("/catalog/feed.{ext}?{query}"),
            None => format!("/catalog/feed.{ext}"),
        }
    }

    /// The sort a query has when none is asked for: best match for a search, else newest.
    pub fn default_sort(&self) -> Sort {
        if self.q.is_empty() {
            Sort::Newest
        } else {
            Sort::Relevance
        }
    }

    pub fn with_page(&self, page: u64) -> Self {
        Self {
            page,
            after: None,
            before: None,
            ..self.clone()
        }
    }

    /// The page after `cursor`.
    pub fn with_after(&self, cursor: Cursor) -> Self {
        Self {
            page: 1,
            after: Some(cursor),
            before: None,
            ..self.clone()
        }
    }

    /// The page before `cursor`.
    pub fn with_before(&self, cursor: Cursor) -> Self {
        Self {
            page: 1,
            after: None,
            before: Some(cursor),
            ..self.clone()
        }
    }

    /// Changing a filter or the sort starts again from the first page.
    pub fn with_sort(&self, sort: Sort) -> Self {
        Self {
            sort,
            page: 1,
            after: None,
            before: None,
            ..self.clone()
        }
    }

    /// The sorts that make sense for this query (best match only with a search text).
    pub fn sorts(&self) -> impl Iterator<Item = Sort> + '_ {
        Sort::ALL
            .into_iter()
            .filter(|s| *s != Sort::Relevance || !self.q.is_empty())
    }

    pub fn is_filtered(&self) -> bool {
        !self.q.is_empty()
            || self.convention.is_some()
            || self.order.is_some()
            || self.microphone.is_some()
            || self.licence.is_some()
            || self.tag.is_some()
            || self.min_minutes.is_some()
            || self.max_minutes.is_some()
    }

    /// The words of `q` that a search index can use: letters and digits only, lowercased,
    /// at most eight. Both backends build their query from these, so they agree.
    pub fn search_terms(&self) -> Vec<String> {
        self.q
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::to_lowercase)
            .take(8)
            .collect()
    }
}

/// Percent-encodes everything but unreserved characters (RFC 3986), spaces as `+`.
pub fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> CatalogQuery {
        let pairs: Vec<(&str, &str)> = s.split('&').filter_map(|kv| kv.split_once('=')).collect();
        CatalogQuery::from_pairs(pairs)
    }

    #[test]
    fn defaults_have_the_bare_url() {
        assert_eq!(parse("").href(), "/catalog");
        assert_eq!(parse("page=1&sort=newest").href(), "/catalog");
        assert_eq!(parse("page=20").href(), "/catalog?page=20");
        assert_eq!(
            parse("page=21").href(),
            "/catalog",
            "beyond the numbered pages"
        );
        assert_eq!(parse("page=99999999999").href(), "/catalog");
    }

    #[test]
    fn every_state_round_trips_through_its_url() {
        let q = parse(
            "q=dawn&convention=fuma&order=1&mic=TetraMic&licence=cc-by-4.0&tag=birds&min=2&max=10&sort=rating&page=3",
        );
        assert_eq!(
            q.href(),
            "/catalog?q=dawn&convention=fuma&order=1&mic=TetraMic&licence=cc-by-4.0&tag=birds&min=2&max=10&sort=rating&page=3"
        );
        let again = parse(q.href().trim_start_matches("/catalog?"));
        assert_eq!(again, q);
    }

    #[test]
    fn junk_is_dropped_not_fatal() {
        let q = parse("convention=dolby&order=9&page=-2&sort=random&min=x");
        assert_eq!(q, parse(""));
    }

    #[test]
    fn reversed_duration_range_is_swapped() {
        let q = parse("min=10&max=2");
        assert_eq!((q.min_minutes, q.max_minutes), (Some(2), Some(10)));
    }

    #[test]
    fn changing_sort_goes_back_to_page_one() {
        let q = parse("q=sea&page=4");
        assert_eq!(
            q.with_sort(Sort::Longest).href(),
            "/catalog?q=sea&sort=longest"
        );
        assert_eq!(q.with_page(5).href(), "/catalog?q=sea&page=5");
    }

    #[test]
    fn a_search_is_sorted_by_best_match_unless_asked_otherwise() {
        assert_eq!(parse("q=sea").sort, Sort::Relevance);
        assert_eq!(parse("q=sea").href(), "/catalog?q=sea");
        assert_eq!(
            parse("q=sea&sort=newest").href(),
            "/catalog?q=sea&sort=newest"
        );
        assert_eq!(
            parse("sort=relevance").sort,
            Sort::Newest,
            "nothing to match"
        );
    }

    #[test]
    fn cursors_round_trip_for_each_sort_and_junk_is_dropped() {
        for (sort, raw) in [
            ("newest", "1733133000123456~42"),
            ("downloads", "1534~42"),
            ("rating", "4.25~17~42"),
            ("longest", "187400~42"),
            ("longest", "-~42"),
        ] {
            let q = parse(&format!("sort={sort}&after={raw}"));
            assert_eq!(q.after.map(|c| c.encode()).as_deref(), Some(raw), "{sort}");
            assert_eq!(parse(q.href().trim_start_matches("/catalog?")), q);
        }
        for junk in [
            "after=x~1",
            "after=1~0",
            "after=1~2~3",
            "sort=rating&after=NaN~1~2",
            "after=1",
        ] {
            assert_eq!(parse(junk).after, None, "{junk}");
        }
        let q = parse("after=5~9&before=5~9");
        assert!(
            q.after.is_some() && q.before.is_none(),
            "one direction at a time"
        );
        assert_eq!(parse("after=5~9&page=3").href(), "/catalog?after=5~9");
    }

    #[test]
    fn search_terms_strip_query_syntax() {
        let q = CatalogQuery {
            q: "\"Dawn\" OR chorus* -NEAR(x) Église".into(),
            ..Default::default()
        };
        assert_eq!(
            q.search_terms(),
            ["dawn", "or", "chorus", "near", "x", "église"]
        );
    }

    #[test]
    fn encoding_escapes_reserved_characters() {
        assert_eq!(encode_component("a b&c=d/é"), "a+b%26c%3Dd%2F%C3%A9");
    }
}
