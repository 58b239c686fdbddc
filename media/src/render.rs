//! What a listener gets before downloading: a stereo preview and a spatial preview in Ogg
//! Vorbis, a waveform and a direction-of-arrival picture, made in one pass over the
//! original's samples.
//!
//! Every recording with a sound field (FuMa or AmbiX of any order, UHJ) is first read as
//! first-order AmbiX ([`FirstOrder`]); that is the spatial preview, four channels W Y Z X
//! (ACN, SN3D) for the page's binaural player, and what the direction picture analyses.
//! The stereo decoder is the one docs/ambisonics.md documents: two virtual cardioids at ±45°,
//! L/R = 0.5·(√2·W + 0.7071·X ± 0.7071·Y) in FuMa terms, i.e. 0.5·(W + 0.7071·(X ± Y)) with
//! SN3D's W. UHJ and stereo files are their own stereo preview; mono is doubled; G-format
//! previews its first two speaker feeds.

use std::{
    f64::consts::{FRAC_1_SQRT_2, SQRT_2},
    fmt::Write as _,
    io::{Read, Seek, SeekFrom, Write},
    num::{NonZeroU8, NonZeroU32},
};

use crate::{
    Convention,
    convert::get_sample,
    doa::Analyser,
    first_order::Field,
    first_order::{self, FirstOrder},
    hrtf,
    inspect::Inspection,
    mp3::{Mp3Error, Mp3Writer},
};

/// Columns of the waveform picture.
const WAVEFORM_COLUMNS: usize = 600;
/// Dots of the direction picture at most (two per column of its 600): a long recording's
/// windows grow instead, so the picture stays the same size however long it is.
const DOA_DOTS: u64 = 1_200;
/// Frames handed to the encoder at once.
const BLOCK: usize = 4096;

#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("reading the original failed: {0}")]
    Io(#[from] std::io::Error),
    #[error("the preview encoder failed: {0}")]
    Encoder(String),
    #[error(transparent)]
    Mp3(#[from] Mp3Error),
}

/// The pictures made while the previews were written.
pub struct Pictures {
    pub waveform_svg: String,
    /// `None` when the recording has no sound field to analyse.
    pub doa_svg: Option<String>,
    /// Whether a spatial preview was written (only for recordings with a sound field).
    pub spatial: bool,
    /// The order of the higher-order spatial preview written (2 or 3), if any.
    pub hoa_order: Option<usize>,
}

/// Reads the samples of `file` (inspected as `found`) and writes the stereo preview to
/// `preview`, for a recording with a sound field the spatial preview to `spatial`, and the
/// podcast enclosure to `podcast`: the sound field rendered for headphones with the
/// player's own filters (`hrtf`, facing front), or the stereo preview's sound for a
/// recording without one, in MP3 (`mp3`). A recording of order 2 or 3 also gets its
/// higher-order spatial preview in `hoa`: ACN channels 0–7 in the first Ogg Vorbis stream,
/// the rest in the second (browsers decode up to eight channels reliably).
pub fn render<R: Read + Seek, W: Write, S: Write, P: Write, H: Write>(
    mut file: R,
    found: &Inspection,
    convention: Option<Convention>,
    preview: W,
    spatial: S,
    podcast: P,
    hoa: [H; 2],
) -> Result<Pictures, RenderError> {
    let spec = found.spec;
    let channels = usize::from(spec.channels);
    let width = usize::from(spec.bits / 8);
    let block_align = channels * width;
    file.seek(SeekFrom::Start(found.data_offset))?;
    let mut data = file.take(found.data_len - found.data_len % block_align as u64);

    let rate = NonZeroU32::new(spec.sample_rate).unwrap_or(NonZeroU32::MIN);
    let mut encoder_stereo = encoder(rate, 2, preview)?;
    let mut field = FirstOrder::new(convention, spec.channels).ok();
    let mut encoder_spatial = match field {
        Some(_) => Some(encoder(rate, 4, spatial)?),
        None => None,
    };
    let b_format = field.is_some() && convention != Some(Convention::Uhj);
    // The podcast enclosure hears the field at its own order, as the binaural download does.
    let mut headphones =
        hrtf::Headphones::new(convention, spec.channels, spec.sample_rate, 0.0).ok();
    let mut enclosure = Mp3Writer::new(spec.sample_rate, podcast)?;
    let mut higher = Field::new(convention, spec.channels)
        .ok()
        .filter(|f| f.order() >= 2);
    let hoa_order = higher.as_ref().map(Field::order);
    let hoa_channels = hoa_order.map_or(0, |o| (o + 1) * (o + 1));
    let [hoa_first, hoa_rest] = hoa;
    let mut hoa_encoders = match hoa_order {
        Some(_) => Some((
            encoder(rate, 8, hoa_first)?,
            spatial_encoder(rate, (hoa_channels - 8) as u8, true, hoa_rest)?,
        )),
        None => None,
    };
    let mut hoa_blocks: Vec<Vec<f32>> = (0..hoa_channels)
        .map(|_| Vec::with_capacity(BLOCK))
        .collect();
    let mut hoa_frame = [0.0f64; 16];
    let frames_total = found.frames.max(1) as usize;
    let per_column = frames_total.div_ceil(WAVEFORM_COLUMNS).max(1);
    let mut peaks: Vec<(f32, f32)> = Vec::with_capacity(WAVEFORM_COLUMNS);
    let (mut lo, mut hi, mut in_column) = (0f32, 0f32, 0usize);
    let mut analyser = Analyser::new(doa_window(spec.sample_rate, found.frames));
    let mut arrivals = Vec::new();

    let mut raw = vec![0u8; block_align * BLOCK];
    let (mut left, mut right) = (Vec::with_capacity(BLOCK), Vec::with_capacity(BLOCK));
    let mut acn: [Vec<f32>; 4] = std::array::from_fn(|_| Vec::with_capacity(BLOCK));
    let mut samples = vec![0.0; channels];
    loop {
        let got = read_full(&mut data, &mut raw)?;
        if got < block_align {
            break;
        }
        left.clear();
        right.clear();
        acn.iter_mut().for_each(Vec::clear);
        hoa_blocks.iter_mut().for_each(Vec::clear);
        for frame in raw[..got - got % block_align].chunks_exact(block_align) {
            for (c, v) in samples.iter_mut().enumerate() {
                *v = get_sample(&spec, &frame[c * width..]);
            }
            if let Some(h) = higher.as_mut() {
                h.push(&samples, &mut hoa_frame);
                for (out, v) in hoa_blocks.iter_mut().zip(hoa_frame) {
                    out.push(v as f32);
                }
            }
            let foa = field.as_mut().map(|f| f.push(&samples));
            if let Some(foa) = foa {
                for (out, v) in acn.iter_mut().zip(foa) {
                    out.push(v as f32);
                }
                let (w, x, y) = (
                    foa[first_order::W],
                    foa[first_order::X],
                    foa[first_order::Y],
                );
                // The analyser reads FuMa's W scaling.
                if let Some(a) = analyser.push(w / SQRT_2, x, y) {
                    arrivals.push(a);
                }
            }
            let (l, r) = match foa {
                Some(foa) if b_format => {
                    let (w, x, y) = (
                        foa[first_order::W],
                        foa[first_order::X],
                        foa[first_order::Y],
                    );
                    let front = w + FRAC_1_SQRT_2 * x;
                    (
                        0.5 * (front + FRAC_1_SQRT_2 * y),
                        0.5 * (front - FRAC_1_SQRT_2 * y),
                    )
                }
                _ if channels == 1 => (samples[0], samples[0]),
                _ => (samples[0], samples[1]),
            };
            match headphones.as_mut() {
                Some(h) => {
                    let (hl, hr) = h.push(&samples);
                    enclosure.push(hl, hr)?;
                }
                None => enclosure.push(l, r)?,
            }
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
        encoder_stereo
            .encode_audio_block([&left[..], &right[..]])
            .map_err(|e| RenderError::Encoder(e.to_string()))?;
        if let Some(e) = encoder_spatial.as_mut() {
            e.encode_audio_block(&acn)
                .map_err(|e| RenderError::Encoder(e.to_string()))?;
        }
        if let Some((first, rest)) = hoa_encoders.as_mut() {
            first
                .encode_audio_block(&hoa_blocks[..8])
                .map_err(|e| RenderError::Encoder(e.to_string()))?;
            rest.encode_audio_block(&hoa_blocks[8..])
                .map_err(|e| RenderError::Encoder(e.to_string()))?;
        }
    }
    if in_column > 0 {
        peaks.push((lo, hi));
    }
    if let Some(a) = analyser.finish() {
        arrivals.push(a);
    }
    encoder_stereo
        .finish()
        .map_err(|e| RenderError::Encoder(e.to_string()))?;
    enclosure.finish()?;
    if let Some((first, rest)) = hoa_encoders {
        for e in [first.finish(), rest.finish()] {
            e.map_err(|e| RenderError::Encoder(e.to_string()))?;
        }
    }
    let spatial = match encoder_spatial {
        Some(e) => {
            e.finish()
                .map_err(|e| RenderError::Encoder(e.to_string()))?;
            true
        }
        None => false,
    };
    Ok(Pictures {
        waveform_svg: waveform_svg(&peaks),
        doa_svg: spatial.then(|| doa_svg(&arrivals, found.duration_s)),
        spatial,
        hoa_order,
    })
}

/// Frames per window of the direction picture: 100 ms, or longer so that a recording of
/// any length gives at most [`DOA_DOTS`] windows.
fn doa_window(sample_rate: u32, frames: u64) -> usize {
    let tenth = u64::from(sample_rate / 10).max(1);
    usize::try_from(tenth.max(frames.div_ceil(DOA_DOTS))).unwrap_or(usize::MAX)
}

/// The tone of channel `c` in [`channel_probe`]: 750 Hz × (c + 1).
pub fn probe_tone_hz(c: usize) -> f64 {
    750.0 * (c + 1) as f64
}

/// A quarter second of eight-channel Ogg Vorbis, channel `c` a tone of
/// [`probe_tone_hz`]`(c)`: a browser decodes it and learns how its decoder orders the
/// channels of an eight-channel stream (some reorder them as if they were speakers), so the
/// player can put each channel of a higher-order preview where it belongs.
pub fn channel_probe() -> Result<Vec<u8>, RenderError> {
    let rate = 48_000u32;
    let mut out = Vec::new();
    let mut e = encoder(
        NonZeroU32::new(rate).unwrap_or(NonZeroU32::MIN),
        8,
        &mut out,
    )?;
    let frames = rate as usize / 4;
    let block: Vec<Vec<f32>> = (0..8)
        .map(|c| {
            (0..frames)
                .map(|n| {
                    let t = n as f64 / f64::from(rate);
                    (0.3 * (std::f64::consts::TAU * probe_tone_hz(c) * t).sin()) as f32
                })
                .collect()
        })
        .collect();
    e.encode_audio_block(&block)
        .map_err(|e| RenderError::Encoder(e.to_string()))?;
    e.finish()
        .map_err(|e| RenderError::Encoder(e.to_string()))?;
    Ok(out)
}

/// Vorbis quality of the spatial previews (the stereo preview keeps the default, 0.5). A
/// decoder for headphones takes sums and differences of the channels, so coding noise a
/// channel's own signal masks is heard where the channels cancel — at the far ear. Measured
/// in Chromium (2026-12-06) on the demo's third-order bells, the level difference above
/// 3 kHz for a bell at the side: 7.9 dB at 0.5, 11.3 dB at 0.7, 11.7 dB from the PCM
/// original; the previews grow 1.26× (16 channels) to 1.43× (4 channels).
const SPATIAL_QUALITY: f32 = 0.7;

fn encoder<W: Write>(
    rate: NonZeroU32,
    channels: u8,
    out: W,
) -> Result<vorbis_rs::VorbisEncoder<W>, RenderError> {
    spatial_encoder(rate, channels, channels > 2, out)
}

/// An encoder at the spatial previews' quality when `spatial` (every stream of a sound
/// field, whatever its channel count: the second of an order-2 preview has one).
fn spatial_encoder<W: Write>(
    rate: NonZeroU32,
    channels: u8,
    spatial: bool,
    out: W,
) -> Result<vorbis_rs::VorbisEncoder<W>, RenderError> {
    let n = NonZeroU8::new(channels).unwrap_or(NonZeroU8::MIN);
    let mut b = vorbis_rs::VorbisEncoderBuilder::new_with_serial(rate, n, out, 0x414D_4253);
    if spatial {
        b.bitrate_management_strategy(vorbis_rs::VorbisBitrateManagementStrategy::QualityVbr {
            target_quality: SPATIAL_QUALITY,
        });
    }
    b.build().map_err(|e| RenderError::Encoder(e.to_string()))
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

    /// Decodes an Ogg Vorbis stream: (channels, mean power per channel).
    fn decoded_power(ogg: &[u8]) -> (usize, Vec<f64>) {
        let mut d = vorbis_rs::VorbisDecoder::new(std::io::Cursor::new(ogg.to_vec()))
            .unwrap_or_else(|e| panic!("{e}"));
        let channels = usize::from(d.channels().get());
        let (mut power, mut n) = (vec![0.0f64; channels], 0usize);
        while let Some(block) = d.decode_audio_block().unwrap_or_else(|e| panic!("{e}")) {
            for (p, ch) in power.iter_mut().zip(block.samples()) {
                *p += ch.iter().map(|v| f64::from(*v).powi(2)).sum::<f64>();
            }
            n += block.samples()[0].len();
        }
        (
            channels,
            power.into_iter().map(|p| p / n.max(1) as f64).collect(),
        )
    }

    #[test]
    fn an_excerpt_of_a_preview_decodes_to_its_first_seconds() {
        let (stereo, spatial, _) = previews(&plane_wave(90.0, 5.0), Convention::Fuma);
        for (ogg, channels) in [(stereo, 2), (spatial, 4)] {
            // Every page libvorbis wrote carries the checksum `excerpt` computes.
            let mut at = 0;
            while at < ogg.len() {
                let n = usize::from(ogg[at + 26]);
                let body: usize = ogg[at + 27..at + 27 + n]
                    .iter()
                    .map(|&l| usize::from(l))
                    .sum();
                let mut page = ogg[at..at + 27 + n + body].to_vec();
                page[22..26].fill(0);
                assert_eq!(
                    crate::excerpt::crc(&page).to_le_bytes(),
                    ogg[at + 22..at + 26]
                );
                at += 27 + n + body;
            }
            let cut = crate::excerpt::excerpt(std::io::Cursor::new(&ogg), 2)
                .unwrap_or_else(|e| panic!("{e}"));
            assert!(cut.len() < ogg.len(), "{} of {}", cut.len(), ogg.len());
            let mut d = vorbis_rs::VorbisDecoder::new(std::io::Cursor::new(cut))
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(usize::from(d.channels().get()), channels);
            let mut frames = 0usize;
            while let Some(block) = d.decode_audio_block().unwrap_or_else(|e| panic!("{e}")) {
                frames += block.samples()[0].len();
            }
            let seconds = frames as f64 / f64::from(d.sampling_frequency().get());
            // To the end of the page that passes the limit: at most about a second more.
            assert!(
                (2.0..3.2).contains(&seconds),
                "{seconds} s: to a page past the limit"
            );
        }
    }

    fn previews(bytes: &[u8], convention: Convention) -> (Vec<u8>, Vec<u8>, Pictures) {
        let found = inspect(bytes).unwrap_or_else(|e| panic!("{e}"));
        let (mut ogg, mut spatial, mut mp3) = (Vec::new(), Vec::new(), Vec::new());
        let (mut hoa_first, mut hoa_rest) = (Vec::new(), Vec::new());
        let pictures = render(
            std::io::Cursor::new(bytes),
            &found,
            Some(convention),
            &mut ogg,
            &mut spatial,
            &mut mp3,
            [&mut hoa_first, &mut hoa_rest],
        )
        .unwrap_or_else(|e| panic!("{e}"));
        // The enclosure: whole 576-byte MPEG-1 Layer III frames, as long as the sound.
        assert_eq!(mp3.len() as u64 % crate::mp3::FRAME_BYTES, 0);
        assert_eq!(&mp3[..2], &[0xFF, 0xFB]);
        let seconds = mp3.len() as f64 / crate::mp3::BYTES_PER_SECOND as f64;
        assert!(
            (found.duration_s..found.duration_s + 0.2).contains(&seconds),
            "{seconds} s of MP3 for {} s",
            found.duration_s
        );
        (ogg, spatial, pictures)
    }

    /// Third order: the higher-order preview is the 16 ACN channels in two Ogg streams of
    /// eight, each decoding to the channels it carries.
    #[test]
    fn a_third_order_recording_gets_a_higher_order_preview_in_two_streams() {
        let bells = crate::synth::bells_third_order();
        let found = inspect(&bells.file[..]).unwrap_or_else(|e| panic!("{e}"));
        let (mut ogg, mut spatial, mut mp3) = (Vec::new(), Vec::new(), Vec::new());
        let (mut first, mut rest) = (Vec::new(), Vec::new());
        let pictures = render(
            std::io::Cursor::new(&bells.file),
            &found,
            Some(Convention::Ambix),
            &mut ogg,
            &mut spatial,
            &mut mp3,
            [&mut first, &mut rest],
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(pictures.hoa_order, Some(3));
        for stream in [&first, &rest] {
            let mut d = vorbis_rs::VorbisDecoder::new(std::io::Cursor::new(stream.as_slice()))
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(d.channels().get(), 8);
            let mut frames = 0usize;
            while let Some(block) = d.decode_audio_block().unwrap_or_else(|e| panic!("{e}")) {
                frames += block.samples()[0].len();
            }
            assert_eq!(frames, 6 * 48_000);
        }
        // A first-order recording has none.
        let (_, _, pictures) = previews(&plane_wave(90.0, 0.2), Convention::Fuma);
        assert_eq!(pictures.hoa_order, None);
    }

    #[test]
    fn a_source_on_the_left_gives_a_vorbis_preview_and_is_drawn_above_the_middle() {
        let bytes = plane_wave(90.0, 1.0);
        let (ogg, _, pictures) = previews(&bytes, Convention::Fuma);
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

    /// The spatial preview is W Y Z X in ACN order with SN3D gains, whatever came in: a tone
    /// from the left at amplitude s gives W = Y = s (power s²/2) and X = Z = 0.
    #[test]
    fn the_spatial_preview_is_first_order_ambix_from_fuma_ambix_higher_orders_and_uhj() {
        let s = 0.4f64;
        let tone = |n: usize| s * (n as f64 * 2.0 * std::f64::consts::PI * 440.0 / 48_000.0).sin();
        let file = |channels: u16, sub_format, frame: &mut dyn FnMut(f64) -> Vec<f64>| {
            let spec = wav::Spec {
                channels,
                sample_rate: 48_000,
                bits: 24,
                float: false,
                sub_format,
                channel_mask: if channels == 2 { 3 } else { 0 },
            };
            let mut data = Vec::new();
            for n in 0..48_000 {
                for v in frame(tone(n)) {
                    wav::put_sample(&mut data, &spec, v);
                }
            }
            let extra = if channels == 2 {
                vec![(*b"AMBU", wav::ambu_body())]
            } else {
                vec![]
            };
            let mut f = wav::header(wav::Container::Riff, &spec, &extra, data.len() as u64);
            f.extend_from_slice(&data);
            f
        };
        let with_rest = |head: [f64; 4], channels: usize| {
            let mut v = vec![0.05; channels];
            v[..4].copy_from_slice(&head);
            v
        };
        let cases: Vec<(&str, Vec<u8>, Convention)> = vec![
            (
                "FuMa first order",
                file(4, Some(wav::GUID_AMB_PCM), &mut |t| {
                    vec![t * FRAC_1_SQRT_2, 0.0, t, 0.0]
                }),
                Convention::Fuma,
            ),
            (
                "FuMa second order",
                file(9, Some(wav::GUID_AMB_PCM), &mut |t| {
                    with_rest([t * FRAC_1_SQRT_2, 0.0, t, 0.0], 9)
                }),
                Convention::Fuma,
            ),
            (
                "FuMa third order",
                file(16, Some(wav::GUID_AMB_PCM), &mut |t| {
                    with_rest([t * FRAC_1_SQRT_2, 0.0, t, 0.0], 16)
                }),
                Convention::Fuma,
            ),
            (
                "AmbiX second order",
                file(9, Some(wav::GUID_PCM), &mut |t| {
                    with_rest([t, t, 0.0, 0.0], 9)
                }),
                Convention::Ambix,
            ),
        ];
        let want = s * s / 2.0;
        for (what, bytes, convention) in cases {
            let (_, spatial, pictures) = previews(&bytes, convention);
            assert!(pictures.spatial, "{what}");
            let (channels, p) = decoded_power(&spatial);
            assert_eq!(channels, 4, "{what}");
            assert!(
                (p[0] / want - 1.0).abs() < 0.05 && (p[1] / want - 1.0).abs() < 0.05,
                "{what}: W, Y {p:?}"
            );
            assert!(
                p[2] < want * 1e-3 && p[3] < want * 1e-3,
                "{what}: Z, X {p:?}"
            );
        }
        // UHJ from the left (encoded here with W at unity gain) decodes to a horizontal field
        // whose intensity points left (X and Y also carry parts in quadrature with W, which
        // the direction picture's correlation ignores).
        let mut enc = crate::uhj::Encoder::new();
        let uhj = file(2, Some(wav::GUID_PCM), &mut |t| {
            let (l, r) = enc.push(t, 0.0, t);
            vec![l, r]
        });
        let (stereo, spatial, pictures) = previews(&uhj, Convention::Uhj);
        assert!(pictures.spatial && pictures.doa_svg.is_some() && !stereo.is_empty());
        let (channels, p) = decoded_power(&spatial);
        assert_eq!(channels, 4);
        assert!(
            p[2] < p[0] * 1e-4,
            "UHJ has no height: W Y Z X powers {p:?}"
        );
        let doa = pictures.doa_svg.unwrap_or_default();
        let azimuths: Vec<f64> = doa
            .split("cy=\"")
            .skip(1)
            .filter_map(|c| c.split('"').next()?.parse::<f64>().ok())
            .map(|y| (120.0 - y) * 1.5)
            .collect();
        assert_eq!(azimuths.len(), 10);
        assert!(
            azimuths.iter().all(|a| (a - 90.0).abs() < 10.0),
            "UHJ from the left drawn at {azimuths:?}"
        );
    }

    #[test]
    fn recordings_without_a_sound_field_get_no_spatial_preview() {
        let spec = wav::Spec {
            channels: 2,
            sample_rate: 48_000,
            bits: 16,
            float: false,
            sub_format: None,
            channel_mask: 0,
        };
        let mut data = Vec::new();
        for n in 0..4_800 {
            wav::put_sample(&mut data, &spec, (f64::from(n) * 0.05).sin() * 0.3);
            wav::put_sample(&mut data, &spec, 0.0);
        }
        let mut bytes = wav::header(wav::Container::Riff, &spec, &[], data.len() as u64);
        bytes.extend_from_slice(&data);
        let (stereo, spatial, pictures) = previews(&bytes, Convention::Stereo);
        assert!(!pictures.spatial && spatial.is_empty() && pictures.doa_svg.is_none());
        assert_eq!(decoded_power(&stereo).0, 2);
    }

    #[test]
    fn the_direction_picture_stays_bounded_however_long_the_recording() {
        assert_eq!(
            doa_window(48_000, 48_000 * 60),
            4_800,
            "100 ms windows for a minute"
        );
        let day = 48_000 * 86_400;
        let window = doa_window(48_000, day) as u64;
        assert!(
            day.div_ceil(window) <= DOA_DOTS,
            "a day of sound: {window} frames a window"
        );
        assert_eq!(doa_window(0, 0), 1);
        let windows = u64::MAX.div_ceil(doa_window(192_000, u64::MAX) as u64);
        assert!(windows <= DOA_DOTS);
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
