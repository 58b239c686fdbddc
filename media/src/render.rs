//! What a listener gets before downloading: a stereo preview in Ogg Vorbis, a waveform and
//! a direction-of-arrival picture, made in one pass over the original's samples.
//!
//! The stereo decoder is the one ambisonics.md documents: two virtual cardioids at ±45°,
//! L/R = 0.5·(√2·W + 0.7071·X ± 0.7071·Y) on FuMa first order (AmbiX is brought to FuMa
//! first; higher orders contribute their first-order part). UHJ and stereo files are their
//! own preview; mono is doubled; G-format previews its first two speaker feeds.

use std::{
    f64::consts::{FRAC_1_SQRT_2, SQRT_2},
    fmt::Write as _,
    io::{Read, Seek, SeekFrom, Write},
    num::{NonZeroU8, NonZeroU32},
};

use crate::Convention;

use crate::{convert::get_sample, doa::Analyser, inspect::Inspection};

/// Columns of the waveform picture.
const WAVEFORM_COLUMNS: usize = 600;
/// Frames handed to the encoder at once.
const BLOCK: usize = 4096;

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("reading the original failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("the preview encoder failed: {0}")]
    Encoder(String),
}

/// The pictures made while the preview was written.
pub struct Pictures {
    pub waveform_svg: String,
    /// `None` when the recording has no horizontal B-format to analyse.
    pub doa_svg: Option<String>,
}

/// Reads the samples of `file` (inspected as `found`) and writes the preview to `preview`.
pub fn render<R: Read + Seek, W: Write>(
    mut file: R,
    found: &Inspection,
    convention: Option<Convention>,
    preview: W,
) -> Result<Pictures, RenderError> {
    let spec = found.spec;
    let channels = usize::from(spec.channels);
    let width = usize::from(spec.bits / 8);
    let block_align = channels * width;
    file.seek(SeekFrom::Start(found.data_offset))?;
    let mut data = file.take(found.data_len - found.data_len % block_align as u64);

    let rate = NonZeroU32::new(spec.sample_rate).unwrap_or(NonZeroU32::MIN);
    let two = NonZeroU8::new(2).unwrap_or(NonZeroU8::MIN);
    let mut encoder =
        vorbis_rs::VorbisEncoderBuilder::new_with_serial(rate, two, preview, 0x414D_4253)
            .build()
            .map_err(|e| RenderError::Encoder(e.to_string()))?;

    let b_format =
        matches!(convention, Some(Convention::Fuma | Convention::Ambix)) && channels >= 3;
    let frames_total = found.frames.max(1) as usize;
    let per_column = frames_total.div_ceil(WAVEFORM_COLUMNS).max(1);
    let mut peaks: Vec<(f32, f32)> = Vec::with_capacity(WAVEFORM_COLUMNS);
    let (mut lo, mut hi, mut in_column) = (0f32, 0f32, 0usize);
    let mut analyser = Analyser::new((spec.sample_rate / 10).max(1) as usize);
    let mut arrivals = Vec::new();

    let mut raw = vec![0u8; block_align * BLOCK];
    let (mut left, mut right) = (Vec::with_capacity(BLOCK), Vec::with_capacity(BLOCK));
    loop {
        let got = read_full(&mut data, &mut raw)?;
        if got < block_align {
            break;
        }
        left.clear();
        right.clear();
        for frame in raw[..got - got % block_align].chunks_exact(block_align) {
            let ch = |c: usize| get_sample(&spec, &frame[c * width..]);
            let (l, r) = if b_format {
                // FuMa first order, whatever the file's convention.
                let (w, x, y) = match convention {
                    Some(Convention::Ambix) => (ch(0) / SQRT_2, ch(3.min(channels - 1)), ch(1)),
                    _ => (ch(0), ch(1), ch(2)),
                };
                if let Some(a) = analyser.push(w, x, y) {
                    arrivals.push(a);
                }
                let front = SQRT_2 * w + FRAC_1_SQRT_2 * x;
                (
                    0.5 * (front + FRAC_1_SQRT_2 * y),
                    0.5 * (front - FRAC_1_SQRT_2 * y),
                )
            } else if channels == 1 {
                (ch(0), ch(0))
            } else {
                (ch(0), ch(1))
            };
            let (l, r) = (l as f32, r as f32);
            left.push(l);
            right.push(r);
            let mono = 0.5 * (l + r);
            lo = lo.min(mono);
            hi = hi.max(mono);
            in_column += 1;
            if in_column == per_column {
                peaks.push((lo, hi));
                (lo, hi, in_column) = (0.0, 0.0, 0);
            }
        }
        encoder
            .encode_audio_block([&left[..], &right[..]])
            .map_err(|e| RenderError::Encoder(e.to_string()))?;
    }
    if in_column > 0 {
        peaks.push((lo, hi));
    }
    if let Some(a) = analyser.finish() {
        arrivals.push(a);
    }
    encoder
        .finish()
        .map_err(|e| RenderError::Encoder(e.to_string()))?;
    Ok(Pictures {
        waveform_svg: waveform_svg(&peaks),
        doa_svg: b_format.then(|| doa_svg(&arrivals, found.duration_s)),
    })
}

fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..])? {
            0 => break,
            n => got += n,
        }
    }
    Ok(got)
}

/// Min/max per column, drawn as one filled shape around the centre line.
pub fn waveform_svg(peaks: &[(f32, f32)]) -> String {
    let (w, h) = (peaks.len().max(1), 120.0f32);
    let mid = h / 2.0;
    let mut d = String::with_capacity(peaks.len() * 24);
    for (x, (_, hi)) in peaks.iter().enumerate() {
        let _ = write!(
            d,
            "{}{x} {:.1} ",
            if x == 0 { "M" } else { "L" },
            mid - hi.clamp(-1.0, 1.0) * mid
        );
    }
    for (x, (lo, _)) in peaks.iter().enumerate().rev() {
        let _ = write!(d, "L{x} {:.1} ", mid - lo.clamp(-1.0, 1.0) * mid);
    }
    d.push('Z');
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" preserveAspectRatio=\"none\" role=\"img\">\
         <title>Waveform</title><rect width=\"{w}\" height=\"{h}\" fill=\"#10161c\"/>\
         <line x1=\"0\" y1=\"{mid}\" x2=\"{w}\" y2=\"{mid}\" stroke=\"#2c3a46\" stroke-width=\"1\"/>\
         <path d=\"{d}\" fill=\"#6cc4d9\"/></svg>"
    )
}

/// Azimuth over time: one dot per 100 ms window, left of the picture the start, front
/// (0°) across the middle, left (+90°) above, right (−90°) below, behind at the edges; bolder
/// where louder, larger where the sound is more directional.
pub fn doa_svg(arrivals: &[crate::doa::Arrival], duration_s: f64) -> String {
    let (w, h) = (600.0f64, 240.0f64);
    let loudest = arrivals
        .iter()
        .map(|a| a.energy)
        .fold(0.0f64, f64::max)
        .max(1e-12);
    let n = arrivals.len().max(1) as f64;
    let mut dots = String::with_capacity(arrivals.len() * 64);
    for (i, a) in arrivals.iter().enumerate() {
        let Some(az) = a.azimuth_deg else { continue };
        let x = (i as f64 + 0.5) / n * w;
        let y = h / 2.0 - az / 180.0 * (h / 2.0);
        let level = (a.energy / loudest).sqrt().clamp(0.05, 1.0);
        let r = 1.5 + 3.0 * a.directness;
        let _ = write!(
            dots,
            "<circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"{r:.1}\" fill-opacity=\"{level:.2}\"/>"
        );
    }
    let label = |y: f64, t: &str| {
        format!("<text x=\"4\" y=\"{y:.0}\" fill=\"#7f93a3\" font-size=\"11\">{t}</text>")
    };
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" viewBox=\"0 0 {w} {h}\" role=\"img\">\
         <title>Where the sound comes from over {duration_s:.1} s</title>\
         <rect width=\"{w}\" height=\"{h}\" fill=\"#10161c\"/>\
         <line x1=\"0\" y1=\"{}\" x2=\"{w}\" y2=\"{}\" stroke=\"#2c3a46\"/>\
         {}{}{}{}\
         <g fill=\"#f2b84b\">{dots}</g></svg>",
        h / 2.0,
        h / 2.0,
        label(14.0, "behind"),
        label(h / 4.0 + 4.0, "left"),
        label(h / 2.0 - 4.0, "front"),
        label(3.0 * h / 4.0 + 4.0, "right"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{inspect::inspect, wav};

    fn plane_wave(azimuth_deg: f64, seconds: f64) -> Vec<u8> {
        let spec = wav::Spec {
            channels: 4,
            sample_rate: 48_000,
            bits: 24,
            float: false,
            sub_format: Some(wav::GUID_AMB_PCM),
            channel_mask: 0,
        };
        let az = azimuth_deg.to_radians();
        let frames = (48_000.0 * seconds) as usize;
        let mut data = Vec::new();
        for i in 0..frames {
            let s = 0.4 * (i as f64 * 2.0 * std::f64::consts::PI * 440.0 / 48_000.0).sin();
            for v in [s * FRAC_1_SQRT_2, s * az.cos(), s * az.sin(), 0.0] {
                wav::put_sample(&mut data, &spec, v);
            }
        }
        let mut f = wav::header(wav::Container::Riff, &spec, &[], data.len() as u64);
        f.extend_from_slice(&data);
        f
    }

    #[test]
    fn a_source_on_the_left_gives_a_vorbis_preview_and_is_drawn_above_the_middle() {
        let bytes = plane_wave(90.0, 1.0);
        let found = inspect(&bytes[..]).unwrap_or_else(|e| panic!("{e}"));
        let mut ogg = Vec::new();
        let pictures = render(
            std::io::Cursor::new(&bytes),
            &found,
            Some(Convention::Fuma),
            &mut ogg,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(&ogg[..4], b"OggS", "an Ogg stream");
        assert!(ogg.windows(6).any(|w| w == b"vorbis"), "carrying Vorbis");
        assert!(
            ogg.len() < bytes.len() / 4,
            "compressed: {} of {}",
            ogg.len(),
            bytes.len()
        );
        assert!(
            pictures.waveform_svg.starts_with("<svg") && pictures.waveform_svg.contains("<path")
        );
        let doa = pictures.doa_svg.unwrap_or_default();
        // Ten windows, each at +90° → y = 120 − 90/180·120 = 60.
        assert_eq!(doa.matches("<circle").count(), 10);
        assert!(doa.contains("cy=\"60.0\""), "{doa}");
    }

    #[test]
    fn the_cardioid_decoder_follows_ambisonics_md() {
        // A plane wave from +45° has all its energy in the left cardioid's axis: L = s, R = s/2.
        let s = 0.5;
        let az = 45f64.to_radians();
        let (w, x, y) = (s * FRAC_1_SQRT_2, s * az.cos(), s * az.sin());
        let front = SQRT_2 * w + FRAC_1_SQRT_2 * x;
        let (l, r) = (
            0.5 * (front + FRAC_1_SQRT_2 * y),
            0.5 * (front - FRAC_1_SQRT_2 * y),
        );
        assert!(
            (l - s).abs() < 1e-12 && (r - s * 0.5).abs() < 1e-12,
            "{l} {r}"
        );
    }
}
