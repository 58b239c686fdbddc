//! Square cover art for feeds (podcast directories ask for a 1,400–3,000 px JPEG or PNG):
//! a sound-field rose — the polar pattern of a virtual microphone, as the site's pictures
//! draw them — in colours and a shape taken from a name (the catalog, a tag, an uploader,
//! a recording), so each feed and item is told apart at a glance. Pure pixels and a PNG
//! writer; no fonts, nothing fetched.

use std::f64::consts::PI;

use sha2::{Digest, Sha256};

/// The side of every picture, in pixels.
pub const SIDE: u32 = 1400;

/// The PNG of `name`'s picture, [`SIDE`] pixels square.
pub fn square_png(name: &str) -> Vec<u8> {
    let seed = Sha256::digest(name.as_bytes());
    let hue = f64::from(u16::from_be_bytes([seed[0], seed[1]])) / 65536.0 * 360.0;
    // A first- to third-order lobe count and a turn, from the name.
    let lobes = 1.0 + f64::from(seed[2] % 6);
    let turn = f64::from(seed[3]) / 256.0 * 2.0 * PI;
    let directivity = 0.25 + f64::from(seed[4] % 4) * 0.15;
    let background = hsl(hue, 0.45, 0.18);
    let field = hsl(hue, 0.65, 0.55);
    let ring = hsl(hue, 0.35, 0.32);
    let centre = hsl((hue + 180.0) % 360.0, 0.7, 0.7);

    let side = SIDE as usize;
    let half = SIDE as f64 / 2.0;
    let mut raw = Vec::with_capacity((side * 3 + 1) * side);
    for y in 0..side {
        raw.push(0); // filter: none
        for x in 0..side {
            let (dx, dy) = (x as f64 + 0.5 - half, y as f64 + 0.5 - half);
            let r = (dx * dx + dy * dy).sqrt() / half;
            let theta = dy.atan2(dx);
            // The pattern of a virtual microphone, `p + (1 − p)·cos(kθ)`, as a radius.
            let gain = (directivity + (1.0 - directivity) * (lobes * theta + turn).cos()).abs();
            let rose = 0.12 + 0.68 * gain;
            let px = if r < 0.045 {
                centre
            } else if r < rose {
                field
            } else if r < 0.92 && ((r * 10.0).fract() < 0.012) {
                ring
            } else {
                background
            };
            raw.extend_from_slice(&px);
        }
    }
    png(SIDE, SIDE, &raw)
}

/// An RGB colour from hue (degrees), saturation and lightness (0–1).
fn hsl(h: f64, s: f64, l: f64) -> [u8; 3] {
    let c = (1.0 - (2.0 * l - 1.0).abs()) * s;
    let hp = h / 60.0;
    let x = c * (1.0 - (hp % 2.0 - 1.0).abs());
    let (r, g, b) = match hp as u32 {
        0 => (c, x, 0.0),
        1 => (x, c, 0.0),
        2 => (0.0, c, x),
        3 => (0.0, x, c),
        4 => (x, 0.0, c),
        _ => (c, 0.0, x),
    };
    let m = l - c / 2.0;
    [r, g, b].map(|v| ((v + m) * 255.0).round().clamp(0.0, 255.0) as u8)
}

/// An 8-bit RGB PNG of `raw` (rows, each a filter byte then its pixels).
fn png(width: u32, height: u32, raw: &[u8]) -> Vec<u8> {
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut header = Vec::with_capacity(13);
    header.extend_from_slice(&width.to_be_bytes());
    header.extend_from_slice(&height.to_be_bytes());
    header.extend_from_slice(&[8, 2, 0, 0, 0]); // 8 bits, RGB, deflate, no filter set, no interlace
    chunk(&mut out, b"IHDR", &header);
    chunk(
        &mut out,
        b"IDAT",
        &miniz_oxide::deflate::compress_to_vec_zlib(raw, 6),
    );
    chunk(&mut out, b"IEND", &[]);
    out
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let mut crc = crc32fast::Hasher::new();
    crc.update(kind);
    crc.update(data);
    out.extend_from_slice(&crc.finalize().to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_square_png_podcast_directories_take() {
        let png = square_png("tag:birds");
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        assert_eq!(&png[12..16], b"IHDR");
        assert_eq!(
            u32::from_be_bytes(png[16..20].try_into().unwrap_or_else(|e| panic!("{e:?}"))),
            1400
        );
        assert_eq!(
            u32::from_be_bytes(png[20..24].try_into().unwrap_or_else(|e| panic!("{e:?}"))),
            1400
        );
        // Apple's limit is 512 KB.
        assert!(png.len() < 512 * 1024, "{} bytes", png.len());
        // The image data inflates back to every row.
        let start = png
            .windows(4)
            .position(|w| w == b"IDAT")
            .unwrap_or_else(|| panic!("no IDAT"));
        let len = u32::from_be_bytes(
            png[start - 4..start]
                .try_into()
                .unwrap_or_else(|e| panic!("{e:?}")),
        ) as usize;
        let raw = miniz_oxide::inflate::decompress_to_vec_zlib(&png[start + 4..start + 4 + len])
            .unwrap_or_else(|e| panic!("zlib: {e}"));
        assert_eq!(raw.len(), (1400 * 3 + 1) * 1400);
        assert_ne!(square_png("tag:birds"), square_png("tag:church"));
        assert_eq!(square_png("tag:birds"), png);
    }
}
