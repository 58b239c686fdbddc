//! What a recording offers beyond its page, to podcast apps and BitTorrent clients: the
//! podcast enclosure (the binaural MP3; for a premium recording, its first
//! [`PREMIUM_EXCERPT_S`] seconds to anyone without premium) and the original's torrent
//! (published, free recordings only). The rules, once, for feeds, pages and the routes
//! that serve them.

use crate::{Status, billing::PREMIUM_EXCERPT_S, entities::recordings, model::TorrentOffer};

/// What anyone without premium gets of a recording's podcast enclosure, in bytes: the
/// whole, or for a premium recording its first [`PREMIUM_EXCERPT_S`] seconds (whole frames).
pub fn open_podcast_len(row: &recordings::Model) -> Option<u64> {
    let whole = row.podcast_key.as_ref().and(row.podcast_bytes)?;
    let whole = u64::try_from(whole).ok()?;
    Some(if row.is_premium {
        media::mp3::excerpt_len(whole, u64::from(PREMIUM_EXCERPT_S))
    } else {
        whole
    })
}

/// Whether a recording's original is offered as a torrent: published, free, made.
pub fn offers_torrent(row: &recordings::Model) -> bool {
    row.status == Status::Published
        && !row.is_premium
        && row.torrent_key.is_some()
        && row.torrent_info_hash.is_some()
}

/// The magnet link of a torrent offered, with `web_seed` (the original's download URL).
pub fn magnet(t: &TorrentOffer, web_seed: &str, trackers: &[String]) -> String {
    media::torrent::magnet(&t.info_hash, &t.name, t.size, web_seed, trackers)
}

/// The name of a recording's original as downloaded (and in its torrent): `slug.ext`.
pub fn original_name(row: &recordings::Model) -> Option<String> {
    let key = row.media_key.as_deref()?;
    Some(format!(
        "{}.{}",
        row.slug,
        key.rsplit('.').next().unwrap_or("wav")
    ))
}
