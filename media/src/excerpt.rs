//! The first seconds of an Ogg Vorbis stream (RFC 3533, Vorbis I §A), cut without decoding
//! a sample: what a listener without premium hears of a premium recording's previews.
//!
//! Pages are copied as they are up to the first whose granule position (samples decoded by
//! its end) reaches the limit; that page loses any packet it only begins, is marked the end
//! of the stream, and gets its checksum again. So the excerpt is the original's first bytes
//! plus one changed page header, plays to the end of the page that passes the limit (under
//! a second more: libvorbis writes a page every few kilobytes), and costs reading no more
//! than it keeps.

use std::io::{self, Read};

/// Why a stream could not be cut.
#[derive(Debug, thiserror::Error)]
pub enum ExcerptError {
    #[error("reading the stream: {0}")]
    Io(#[from] io::Error),
    #[error("not an Ogg Vorbis stream: {0}")]
    NotVorbis(&'static str),
}

/// The `OggS` capture pattern that starts every page.
const CAPTURE: &[u8; 4] = b"OggS";
/// Bytes of a page header before its segment table.
const HEADER_LEN: usize = 27;
/// `header_type` bit: the last page of its logical stream.
const END_OF_STREAM: u8 = 0x04;

/// The first `seconds` of the Ogg Vorbis stream `input` (all of it when shorter).
pub fn excerpt(mut input: impl Read, seconds: u32) -> Result<Vec<u8>, ExcerptError> {
    let mut out = Vec::new();
    let mut limit: Option<i64> = None;
    while let Some(mut page) = read_page(&mut input)? {
        let granule = page.granule();
        if limit.is_none() {
            let rate = vorbis_rate(page.body()).ok_or(ExcerptError::NotVorbis(
                "its first page has no Vorbis identification header",
            ))?;
            limit = Some(i64::from(seconds) * i64::from(rate));
        }
        let reached = limit.is_some_and(|l| granule >= l) && granule != -1;
        if reached || page.is_last() {
            page.end_here();
            out.extend_from_slice(&page.bytes);
            return Ok(out);
        }
        out.extend_from_slice(&page.bytes);
    }
    if out.is_empty() {
        return Err(ExcerptError::NotVorbis("it is empty"));
    }
    Ok(out)
}

/// One page, as bytes.
struct Page {
    bytes: Vec<u8>,
}

impl Page {
    fn segments(&self) -> usize {
        usize::from(self.bytes[26])
    }

    fn granule(&self) -> i64 {
        let mut g = [0u8; 8];
        g.copy_from_slice(&self.bytes[6..14]);
        i64::from_le_bytes(g)
    }

    fn body(&self) -> &[u8] {
        &self.bytes[HEADER_LEN + self.segments()..]
    }

    fn is_last(&self) -> bool {
        self.bytes[5] & END_OF_STREAM != 0
    }

    /// Makes this the stream's last page: drops a packet it only begins (its lacing values
    /// after the last one under 255), marks it, and sums it again. (Its granule position
    /// stays: a smaller one would trim only within its last packet, Vorbis I §A.2, and the
    /// page holds several.)
    fn end_here(&mut self) {
        let n = self.segments();
        let lacing = &self.bytes[HEADER_LEN..HEADER_LEN + n];
        let keep = lacing.iter().rposition(|&l| l < 255).map_or(0, |i| i + 1);
        let body_keep: usize = lacing[..keep].iter().map(|&l| usize::from(l)).sum();
        let body_start = HEADER_LEN + n;
        let mut bytes = Vec::with_capacity(HEADER_LEN + keep + body_keep);
        bytes.extend_from_slice(&self.bytes[..HEADER_LEN]);
        bytes.extend_from_slice(&self.bytes[HEADER_LEN..HEADER_LEN + keep]);
        bytes.extend_from_slice(&self.bytes[body_start..body_start + body_keep]);
        bytes[26] = u8::try_from(keep).unwrap_or(u8::MAX);
        bytes[5] |= END_OF_STREAM;
        bytes[22..26].fill(0);
        let sum = crc(&bytes);
        bytes[22..26].copy_from_slice(&sum.to_le_bytes());
        self.bytes = bytes;
    }
}

/// The next page, or `None` at the end of the stream.
fn read_page(input: &mut impl Read) -> Result<Option<Page>, ExcerptError> {
    let mut header = [0u8; HEADER_LEN];
    match input.read_exact(&mut header) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    if &header[..4] != CAPTURE {
        return Err(ExcerptError::NotVorbis("a page does not start with OggS"));
    }
    let mut lacing = vec![0u8; usize::from(header[26])];
    input.read_exact(&mut lacing)?;
    let body_len: usize = lacing.iter().map(|&l| usize::from(l)).sum();
    let mut bytes = Vec::with_capacity(HEADER_LEN + lacing.len() + body_len);
    bytes.extend_from_slice(&header);
    bytes.extend_from_slice(&lacing);
    bytes.resize(bytes.len() + body_len, 0);
    let body_start = HEADER_LEN + lacing.len();
    input.read_exact(&mut bytes[body_start..])?;
    Ok(Some(Page { bytes }))
}

/// The sample rate in a Vorbis identification header (packet type 1, "vorbis", version,
/// channels, rate).
fn vorbis_rate(packet: &[u8]) -> Option<u32> {
    if packet.get(..7)? != b"\x01vorbis" {
        return None;
    }
    let rate = u32::from_le_bytes(packet.get(12..16)?.try_into().ok()?);
    (rate > 0).then_some(rate)
}

/// Ogg's page checksum: CRC-32 with polynomial 0x04C11DB7, not reflected, from 0, over the
/// page with its checksum field zeroed.
pub(crate) fn crc(bytes: &[u8]) -> u32 {
    static TABLE: std::sync::LazyLock<[u32; 256]> = std::sync::LazyLock::new(|| {
        let mut t = [0u32; 256];
        for (i, entry) in t.iter_mut().enumerate() {
            let mut r = (i as u32) << 24;
            for _ in 0..8 {
                r = if r & 0x8000_0000 != 0 {
                    (r << 1) ^ 0x04C1_1DB7
                } else {
                    r << 1
                };
            }
            *entry = r;
        }
        t
    });
    bytes.iter().fold(0u32, |c, &b| {
        (c << 8) ^ TABLE[usize::from(((c >> 24) as u8) ^ b)]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A page of one logical stream with `packets` (each under 255 bytes), then a packet it
    /// only begins when `open`.
    fn page(seq: u32, granule: i64, flags: u8, packets: &[&[u8]], open: bool) -> Vec<u8> {
        let mut lacing = Vec::new();
        let mut body = Vec::new();
        for p in packets {
            lacing.push(u8::try_from(p.len()).unwrap_or(0));
            body.extend_from_slice(p);
        }
        if open {
            lacing.push(255);
            body.extend(std::iter::repeat_n(7u8, 255));
        }
        let mut b = Vec::new();
        b.extend_from_slice(CAPTURE);
        b.push(0);
        b.push(flags);
        b.extend_from_slice(&granule.to_le_bytes());
        b.extend_from_slice(&1234u32.to_le_bytes());
        b.extend_from_slice(&seq.to_le_bytes());
        b.extend_from_slice(&[0; 4]);
        b.push(u8::try_from(lacing.len()).unwrap_or(0));
        b.extend_from_slice(&lacing);
        b.extend_from_slice(&body);
        let sum = crc(&b);
        b[22..26].copy_from_slice(&sum.to_le_bytes());
        b
    }

    fn identification(rate: u32) -> Vec<u8> {
        let mut p = b"\x01vorbis".to_vec();
        p.extend_from_slice(&0u32.to_le_bytes());
        p.push(2);
        p.extend_from_slice(&rate.to_le_bytes());
        p.extend_from_slice(&[0; 14]);
        p
    }

    #[test]
    fn a_stream_is_cut_at_the_first_page_past_the_limit_and_ends_there() {
        let rate = 1000;
        let mut stream = page(0, 0, 0x02, &[&identification(rate)], false);
        stream.extend(page(1, 0, 0, &[b"comments", b"setup"], false));
        let pages: Vec<Vec<u8>> = (2..10)
            .map(|s| page(s, i64::from(s - 1) * 400, 0, &[b"audio", b"more"], true))
            .collect();
        for p in &pages {
            stream.extend_from_slice(p);
        }
        let cut = excerpt(std::io::Cursor::new(&stream), 2).unwrap_or_else(|e| panic!("{e}"));
        // Granules 400, 800, 1200, 1600, 2000: the page reaching 2000 samples (2 s) is last.
        let kept: Vec<Page> = {
            let mut r = std::io::Cursor::new(&cut);
            std::iter::from_fn(|| read_page(&mut r).ok().flatten()).collect()
        };
        assert_eq!(kept.len(), 2 + 5);
        let last = kept.last().unwrap_or_else(|| unreachable!());
        assert_eq!(last.granule(), 2000);
        assert!(last.is_last(), "marked the end of the stream");
        assert_eq!(last.segments(), 2, "the packet it only began is gone");
        assert_eq!(last.body(), b"audiomore");
        let mut zeroed = last.bytes.clone();
        zeroed[22..26].fill(0);
        assert_eq!(
            crc(&zeroed).to_le_bytes(),
            last.bytes[22..26],
            "summed again"
        );
        let before_last = cut.len() - last.bytes.len();
        assert_eq!(
            cut[..before_last],
            stream[..before_last],
            "the rest as it was"
        );
    }

    #[test]
    fn a_short_stream_is_kept_whole_and_anything_else_is_refused() {
        let mut stream = page(0, 0, 0x02, &[&identification(1000)], false);
        stream.extend(page(1, 500, 0x04, &[b"audio"], false));
        let cut = excerpt(std::io::Cursor::new(&stream), 60).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(cut, stream);
        assert!(excerpt(std::io::Cursor::new(b"RIFF1234WAVE".to_vec()), 60).is_err());
        assert!(excerpt(std::io::Cursor::new(Vec::new()), 60).is_err());
    }
}
