//! BitTorrent v1 (BEP 3) for an original: its info dictionary — name, length, piece length
//! chosen by size, the pieces' SHA-1s — made once from the file; the metainfo (`.torrent`)
//! around it, with the site's download URL as web seed (BEP 19 `url-list`) and trackers if
//! any; and the magnet link (BEP 9) with the same.

use std::io::{self, Read};

use sha1::{Digest, Sha1};

/// The smallest and largest piece: a small file still has a few pieces, a huge one no
/// more than about [`TARGET_PIECES`] of them.
const MIN_PIECE: u64 = 16 * 1024;
const MAX_PIECE: u64 = 16 * 1024 * 1024;
const TARGET_PIECES: u64 = 1500;

/// A file's info dictionary, bencoded, and its SHA-1 (the info hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Info {
    pub bencoded: Vec<u8>,
    pub hash: [u8; 20],
}

impl Info {
    pub fn of_bencoded(bencoded: Vec<u8>) -> Self {
        let hash = Sha1::digest(&bencoded).into();
        Self { bencoded, hash }
    }

    pub fn hash_hex(&self) -> String {
        hex::encode(self.hash)
    }
}

/// The piece length for a file of `size` bytes: a power of two between 16 KiB and 16 MiB,
/// the smallest that keeps the file within about 1,500 pieces.
pub fn piece_length(size: u64) -> u64 {
    (size / TARGET_PIECES)
        .next_power_of_two()
        .clamp(MIN_PIECE, MAX_PIECE)
}

/// Reads the whole file (`size` bytes) from `file` and makes its info dictionary.
pub fn info(name: &str, size: u64, mut file: impl Read) -> io::Result<Info> {
    let piece = piece_length(size);
    let mut pieces = Vec::with_capacity(20 * size.div_ceil(piece) as usize);
    let mut buf = vec![0u8; piece as usize];
    let mut read = 0u64;
    while read < size {
        let want = (size - read).min(piece) as usize;
        file.read_exact(&mut buf[..want])?;
        pieces.extend_from_slice(&Sha1::digest(&buf[..want]));
        read += want as u64;
    }
    // Keys in byte order, as bencoding requires.
    let mut b = Vec::with_capacity(pieces.len() + 128);
    b.push(b'd');
    put_str(&mut b, b"length");
    put_int(&mut b, size);
    put_str(&mut b, b"name");
    put_str(&mut b, name.as_bytes());
    put_str(&mut b, b"piece length");
    put_int(&mut b, piece);
    put_str(&mut b, b"pieces");
    put_str(&mut b, &pieces);
    b.push(b'e');
    Ok(Info::of_bencoded(b))
}

/// The length of the info dictionary [`info`] makes for `name` and `size`, without reading
/// the file.
pub fn info_len(name: &str, size: u64) -> usize {
    let pieces = 20 * size.div_ceil(piece_length(size)) as usize;
    let str_len = |n: usize| n.to_string().len() + 1 + n;
    let int_len = |n: u64| n.to_string().len() + 2;
    2 + str_len(6)
        + int_len(size)
        + str_len(4)
        + str_len(name.len())
        + str_len(12)
        + int_len(piece_length(size))
        + str_len(6)
        + str_len(pieces)
}

/// The `.torrent` around the bencoded info dictionary `info`: fetched from `web_seed` (the
/// file's own URL), announced to `trackers` when there are any.
pub fn metainfo(info: &[u8], web_seed: &str, trackers: &[String], created: i64) -> Vec<u8> {
    let mut b = Vec::with_capacity(info.len() + 256);
    b.push(b'd');
    if let Some(first) = trackers.first() {
        put_str(&mut b, b"announce");
        put_str(&mut b, first.as_bytes());
        put_str(&mut b, b"announce-list");
        b.push(b'l');
        for t in trackers {
            b.push(b'l');
            put_str(&mut b, t.as_bytes());
            b.push(b'e');
        }
        b.push(b'e');
    }
    put_str(&mut b, b"created by");
    put_str(&mut b, b"Ambisonia");
    put_str(&mut b, b"creation date");
    put_int(&mut b, created.max(0) as u64);
    put_str(&mut b, b"info");
    b.extend_from_slice(info);
    put_str(&mut b, b"url-list");
    b.push(b'l');
    put_str(&mut b, web_seed.as_bytes());
    b.push(b'e');
    b.push(b'e');
    b
}

/// The magnet link: info hash, name, length, the web seed (`ws`) and trackers (`tr`).
pub fn magnet(
    info_hash_hex: &str,
    name: &str,
    size: u64,
    web_seed: &str,
    trackers: &[String],
) -> String {
    let mut m = format!(
        "magnet:?xt=urn:btih:{info_hash_hex}&dn={}&xl={size}&ws={}",
        percent(name),
        percent(web_seed)
    );
    for t in trackers {
        m.push_str("&tr=");
        m.push_str(&percent(t));
    }
    m
}

fn percent(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn put_str(b: &mut Vec<u8>, s: &[u8]) {
    b.extend_from_slice(s.len().to_string().as_bytes());
    b.push(b':');
    b.extend_from_slice(s);
}

fn put_int(b: &mut Vec<u8>, n: u64) {
    b.push(b'i');
    b.extend_from_slice(n.to_string().as_bytes());
    b.push(b'e');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_info_length_is_known_without_the_file() {
        for size in [0u64, 1, 16_384, 16_385, 40_000, 3_000_000] {
            let data = vec![7u8; size as usize];
            let made =
                info("recording.amb", size, &data[..]).unwrap_or_else(|e| panic!("info: {e}"));
            assert_eq!(
                info_len("recording.amb", size),
                made.bencoded.len(),
                "{size}"
            );
        }
    }

    #[test]
    fn piece_lengths_grow_with_the_file() {
        assert_eq!(piece_length(0), MIN_PIECE);
        assert_eq!(piece_length(1_000_000), MIN_PIECE);
        assert_eq!(piece_length(100_000_000), 128 * 1024);
        assert_eq!(piece_length(2_000_000_000), 2 * 1024 * 1024);
        assert_eq!(piece_length(u64::MAX / 2), MAX_PIECE);
    }

    /// A known answer: the pieces of 40,000 bytes of `0..=255` repeated (three pieces of
    /// 16 KiB, the last short), bencoded by hand.
    #[test]
    fn info_is_bencoded_in_key_order_with_a_sha1_per_piece() {
        let data: Vec<u8> = (0..40_000u32).map(|i| i as u8).collect();
        let info =
            info("bee.amb", data.len() as u64, &data[..]).unwrap_or_else(|e| panic!("info: {e}"));
        let mut pieces = Vec::new();
        for chunk in data.chunks(16_384) {
            pieces.extend_from_slice(&Sha1::digest(chunk));
        }
        let mut want = b"d6:lengthi40000e4:name7:bee.amb12:piece lengthi16384e6:pieces60:".to_vec();
        want.extend_from_slice(&pieces);
        want.push(b'e');
        assert_eq!(info.bencoded, want);
        assert_eq!(info.hash, <[u8; 20]>::from(Sha1::digest(&want)));
    }

    #[test]
    fn metainfo_and_magnet_name_the_web_seed_and_trackers() {
        let info = info("a b.wav", 3, &b"abc"[..]).unwrap_or_else(|e| panic!("info: {e}"));
        let seed = "https://example.org/recordings/a-b/download";
        let t = metainfo(&info.bencoded, seed, &[], 1_700_000_000);
        let text = String::from_utf8_lossy(&t);
        assert!(text.starts_with("d10:created by9:Ambisonia13:creation datei1700000000e4:infod"));
        assert!(text.ends_with("8:url-listl43:https://example.org/recordings/a-b/downloadee"));
        assert!(!text.contains("announce"));
        let tracked = metainfo(&info.bencoded, seed, &["udp://t.example:6969".into()], 0);
        assert!(String::from_utf8_lossy(&tracked).starts_with(
            "d8:announce20:udp://t.example:696913:announce-listll20:udp://t.example:6969ee"
        ));
        let m = magnet(&info.hash_hex(), "a b.wav", 3, seed, &[]);
        assert_eq!(
            m,
            format!(
                "magnet:?xt=urn:btih:{}&dn=a%20b.wav&xl=3&ws=https%3A%2F%2Fexample.org%2Frecordings%2Fa-b%2Fdownload",
                info.hash_hex()
            )
        );
    }
}
