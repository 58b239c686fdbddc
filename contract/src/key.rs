//! How surrogate keys are spelled. A page is cached (by the balancer and by a replica's read
//! cache) under the keys of what it shows; a write names the keys of what it changed, and
//! everything filed under them is dropped. The loaders that tag pages and the writes that
//! purge them both spell keys here, so the two cannot drift apart.

/// Every list of published recordings: home, catalog, tag pages, feeds.
pub const CATALOG: &str = "catalog";

/// A recording's own page (and its feed entry, its files' pages).
pub fn recording(id: i32) -> String {
    format!("recording:{id}")
}

/// A recording's card, wherever lists show it (home, catalog, tags, profiles, feeds). Kept
/// apart from [`recording`]: what a comment or a rating changes on a card (its counts) is
/// purged softly ([`soft`]), while the recording's own page shows it at once.
pub fn card(id: i32) -> String {
    format!("card:{id}")
}

/// A soft purge of `key`: what is filed under it is marked stale, not dropped — served
/// (within its `stale-while-revalidate`) while one request fetches it anew — so a storm of
/// writes costs one render per page, not one per visitor.
pub fn soft(key: &str) -> String {
    format!("~{key}")
}

/// A key as a purge names it: the key itself, and whether the purge is soft.
pub fn purged(named: &str) -> (&str, bool) {
    match named.strip_prefix('~') {
        Some(key) => (key, true),
        None => (named, false),
    }
}

/// A person's public profile.
pub fn user(id: i32) -> String {
    format!("user:{id}")
}

/// A public collection's page and feed.
pub fn collection(id: i32) -> String {
    format!("collection:{id}")
}

/// A tag's page.
pub fn tag(slug: &str) -> String {
    format!("tag:{slug}")
}

/// One login (by its token's hash): what a replica's read cache keeps of it goes when the
/// visitor logs out. Never a page's key (pages with a viewer are never shared).
pub fn session(token_hash: &str) -> String {
    format!("session:{token_hash}")
}

/// Every login of a user: gone from read caches when their password or role changes.
pub fn sessions_of(user_id: i32) -> String {
    format!("sessions:{user_id}")
}

/// Keys as they travel in a header (`Surrogate-Key`, `X-Purge-Keys`): space-separated.
pub fn join(keys: &[String]) -> String {
    keys.join(" ")
}

/// The keys of a header value, in order, without empty ones.
pub fn split(value: &str) -> impl Iterator<Item = &str> {
    value.split_ascii_whitespace()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip_through_a_header() {
        let keys = vec![recording(42), user(7), CATALOG.to_owned(), tag("birds")];
        let header = join(&keys);
        assert_eq!(header, "recording:42 user:7 catalog tag:birds");
        assert_eq!(split(&header).collect::<Vec<_>>(), keys);
        assert_eq!(split("  a  b ").collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(purged(&soft(&card(42))), ("card:42", true));
        assert_eq!(purged(&recording(42)), ("recording:42", false));
    }
}
