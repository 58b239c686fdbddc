//! FuMa ⇄ AmbiX for full-sphere recordings of order 1 to 3, with the gains of
//! docs/ambisonics.md written as the exact values its four-digit figures round
//! (0.8660 = √3/2, 0.7906 = √(5/8), 0.7454 = √(5/9), 0.8433 = √(32/45)). Streaming: one
//! frame at a time from a reader of samples to a writer, memory fixed.

use std::io::{self, Read, Write};

use crate::wav::{self, Container, Spec};

/// FuMa's channel letters in file order: W X Y Z R S T U V K L M N O P Q.
const W: usize = 0;
const X: usize = 1;
const Y: usize = 2;
const Z: usize = 3;
const R: usize = 4;
const S: usize = 5;
const T: usize = 6;
const U: usize = 7;
const V: usize = 8;
const K: usize = 9;
const L: usize = 10;
const M: usize = 11;
const N: usize = 12;
const O: usize = 13;
const P: usize = 14;
const Q: usize = 15;

/// For each ACN channel: the FuMa channel it comes from and the gain (AmbiX = gain × FuMa).
fn acn_from_fuma() -> [(usize, f64); 16] {
    let s3_2 = 3f64.sqrt() / 2.0;
    let s5_8 = (5.0f64 / 8.0).sqrt();
    let s5_9 = (5.0f64 / 9.0).sqrt();
    let s32_45 = (32.0f64 / 45.0).sqrt();
    [
        (W, std::f64::consts::SQRT_2),
        (Y, 1.0),
        (Z, 1.0),
        (X, 1.0),
        (V, s3_2),
        (T, s3_2),
        (R, 1.0),
        (S, s3_2),
        (U, s3_2),
        (Q, s5_8),
        (O, s5_9),
        (M, s32_45),
        (K, 1.0),
        (L, s32_45),
        (N, s5_9),
        (P, s5_8),
    ]
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    FumaToAmbix,
    AmbixToFuma,
}

/// Converts one frame of `(order+1)²` channels.
pub fn frame(direction: Direction, input: &[f64], output: &mut [f64]) {
    let map = acn_from_fuma();
    let n = input.len().min(output.len()).min(16);
    for (acn, (fuma, gain)) in map.iter().enumerate().take(n) {
        match direction {
            Direction::FumaToAmbix => output[acn] = gain * input[*fuma],
            Direction::AmbixToFuma => output[*fuma] = input[acn] / gain,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    #[error(
        "only full-sphere recordings of order 1 to 3 (4, 9 or 16 channels) convert between FuMa and AmbiX; this one has {0}"
    )]
    Layout(u16),
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// The spec of the converted file: same samples, the other convention's identifier.
pub fn target_spec(source: &Spec, direction: Direction) -> Result<Spec, ConvertError> {
    if !matches!(source.channels, 4 | 9 | 16) {
        return Err(ConvertError::Layout(source.channels));
    }
    let sub = match (direction, source.float) {
        (Direction::AmbixToFuma, false) => wav::GUID_AMB_PCM,
        (Direction::AmbixToFuma, true) => wav::GUID_AMB_FLOAT,
        (Direction::FumaToAmbix, false) => wav::GUID_PCM,
        (Direction::FumaToAmbix, true) => wav::GUID_FLOAT,
    };
    Ok(Spec {
        sub_format: Some(sub),
        channel_mask: 0,
        ..*source
    })
}

/// Writes a whole converted file: header, `data_len` bytes of samples read from `samples`
/// (the source's data chunk), trailer. Returns how many samples clipped (a FuMa W near
/// full scale exceeds it by √2 in AmbiX when the format is integer).
pub fn convert(
    source: &Spec,
    direction: Direction,
    data_len: u64,
    mut samples: impl Read,
    mut out: impl Write,
) -> Result<u64, ConvertError> {
    let target = target_spec(source, direction)?;
    let container = if data_len + 1024 > u64::from(u32::MAX) {
        Container::Rf64
    } else {
        Container::Riff
    };
    out.write_all(&wav::header(container, &target, &[], data_len))?;
    let block = usize::from(source.block_align());
    let channels = usize::from(source.channels);
    let frames_per_read = (64 * 1024 / block).max(1);
    let mut buf = vec![0u8; block * frames_per_read];
    let mut encoded = Vec::with_capacity(buf.len());
    let (mut input, mut output) = (vec![0.0; channels], vec![0.0; channels]);
    let mut remaining = data_len - data_len % block as u64;
    let mut clipped = 0u64;
    while remaining > 0 {
        let want = (remaining.min(buf.len() as u64)) as usize;
        samples.read_exact(&mut buf[..want])?;
        encoded.clear();
        for f in buf[..want].chunks_exact(block) {
            for (c, v) in input.iter_mut().enumerate() {
                *v = get_sample(source, &f[c * block / channels..]);
            }
            frame(direction, &input, &mut output);
            for v in &output {
                if !source.float && v.abs() > 1.0 {
                    clipped += 1;
                }
                wav::put_sample(&mut encoded, &target, *v);
            }
        }
        out.write_all(&encoded)?;
        remaining -= want as u64;
    }
    // Keep the file's length what the header says, even if the source ended mid-frame.
    let written = data_len - data_len % block as u64;
    out.write_all(&vec![0u8; (data_len - written) as usize])?;
    out.write_all(&wav::trailer(container, data_len))?;
    Ok(clipped)
}

/// Reads one sample at the start of `b` as a value in [−1, 1).
pub fn get_sample(spec: &Spec, b: &[u8]) -> f64 {
    match (spec.float, spec.bits) {
        (true, 64) => f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]),
        (true, _) => f64::from(f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        (false, 8) => (f64::from(b[0]) - 128.0) / 128.0,
        (false, 16) => f64::from(i16::from_le_bytes([b[0], b[1]])) / 32_768.0,
        (false, 24) => f64::from(i32::from_le_bytes([0, b[0], b[1], b[2]]) >> 8) / 8_388_608.0,
        (false, _) => f64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]])) / 2_147_483_648.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inspect::inspect;
    use rand::{Rng, SeedableRng, rngs::StdRng};

    #[test]
    fn first_order_gains_are_those_of_ambisonics_md() {
        let mut out = [0.0; 4];
        frame(Direction::FumaToAmbix, &[0.5, 0.1, 0.2, 0.3], &mut out);
        let expect = [0.5 * std::f64::consts::SQRT_2, 0.2, 0.3, 0.1];
        for (o, e) in out.iter().zip(expect) {
            assert!((o - e).abs() < 1e-12, "{out:?}");
        }
        // The four-digit figures of the table are these gains rounded.
        let rounded: Vec<String> = acn_from_fuma()[4..]
            .iter()
            .map(|(_, g)| format!("{g:.4}"))
            .collect();
        assert_eq!(
            rounded,
            [
                "0.8660", "0.8660", "1.0000", "0.8660", "0.8660", "0.7906", "0.7454", "0.8433",
                "1.0000", "0.8433", "0.7454", "0.7906"
            ]
        );
    }

    fn fuma_file(spec: &Spec, frames: usize, seed: u64) -> (Vec<u8>, u64) {
        let mut rng = StdRng::seed_from_u64(seed);
        let mut data = Vec::new();
        for _ in 0..frames {
            for c in 0..spec.channels {
                // FuMa's W is −3 dB: within 1/√2 of full scale it survives ×√2 unclipped.
                let limit = if c == 0 { 0.70 } else { 0.99 };
                wav::put_sample(&mut data, spec, rng.gen_range(-limit..limit));
            }
        }
        let mut f = wav::header(Container::Riff, spec, &[], data.len() as u64);
        f.extend_from_slice(&data);
        f.extend_from_slice(&wav::trailer(Container::Riff, data.len() as u64));
        (f, data.len() as u64)
    }

    fn round_trip(spec: Spec) {
        let (file, data_len) = fuma_file(
            &spec,
            1000,
            u64::from(spec.channels) * 31 + u64::from(spec.bits),
        );
        let i = inspect(&file[..]).unwrap_or_else(|e| panic!("{e}"));
        let data = &file[i.data_offset as usize..(i.data_offset + i.data_len) as usize];

        let mut ambix = Vec::new();
        let clipped = convert(&i.spec, Direction::FumaToAmbix, data_len, data, &mut ambix)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(clipped, 0);
        let a = inspect(&ambix[..]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (a.convention, a.channels),
            ("unknown", spec.channels),
            "AmbiX has no identifier of its own"
        );
        let a_data = &ambix[a.data_offset as usize..(a.data_offset + a.data_len) as usize];

        let mut fuma = Vec::new();
        convert(
            &a.spec,
            Direction::AmbixToFuma,
            a.data_len,
            a_data,
            &mut fuma,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let back = inspect(&fuma[..]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(back.convention, "fuma");
        assert_eq!(fuma.len(), file.len());
        let what = format!(
            "{} ch {}-bit {}",
            spec.channels,
            spec.bits,
            if spec.float { "float" } else { "PCM" }
        );
        // First-order PCM comes back to the sample: ×√2 then ÷√2, each rounded, cannot
        // move an integer. Gains below 1 (second and third order) and float in its own
        // precision can move a sample by one unit in the last place, never more.
        let exact = spec.channels == 4 && !spec.float;
        let width = usize::from(spec.bits / 8);
        let unit = if spec.float {
            1.0
        } else {
            2f64.powi(1 - i32::from(spec.bits))
        };
        let start = i.data_offset as usize;
        let end = start + i.data_len as usize;
        for (n, (a, b)) in fuma[start..end]
            .chunks_exact(width)
            .zip(file[start..end].chunks_exact(width))
            .enumerate()
        {
            if exact || !spec.float {
                let diff = (get_sample(&spec, a) - get_sample(&spec, b)).abs();
                let allowed = if exact { 0.0 } else { unit * 1.0001 };
                assert!(diff <= allowed, "{what}: sample {n} moved by {diff}");
            } else {
                let (a, b) = (
                    i32::from_le_bytes([a[0], a[1], a[2], a[3]]),
                    i32::from_le_bytes([b[0], b[1], b[2], b[3]]),
                );
                assert!(
                    (a - b).abs() <= 1,
                    "{what}: sample {n} is {a:#x}, was {b:#x}"
                );
            }
        }
        assert_eq!(fuma[..start], file[..start], "{what}: the same header");
    }

    #[test]
    fn fuma_to_ambix_to_fuma_round_trips_to_the_sample() {
        for channels in [4, 9, 16] {
            for bits in [16, 24, 32] {
                round_trip(Spec {
                    channels,
                    sample_rate: 48_000,
                    bits,
                    float: false,
                    sub_format: Some(wav::GUID_AMB_PCM),
                    channel_mask: 0,
                });
            }
            round_trip(Spec {
                channels,
                sample_rate: 48_000,
                bits: 32,
                float: true,
                sub_format: Some(wav::GUID_AMB_FLOAT),
                channel_mask: 0,
            });
        }
    }

    #[test]
    fn a_plane_wave_lands_where_ambix_expects_it() {
        // From the left (azimuth 90°): FuMa Y = s, X = 0; AmbiX ACN1 (Y) = s, ACN3 (X) = 0.
        let s = 0.5;
        let fuma = [s * std::f64::consts::FRAC_1_SQRT_2, 0.0, s, 0.0];
        let mut ambix = [0.0; 4];
        frame(Direction::FumaToAmbix, &fuma, &mut ambix);
        assert!(
            (ambix[0] - s * std::f64::consts::FRAC_1_SQRT_2 * std::f64::consts::SQRT_2).abs()
                < 1e-12
        );
        assert!((ambix[1] - s).abs() < 1e-12 && ambix[3].abs() < 1e-12);
    }

    #[test]
    fn other_layouts_are_refused() {
        let spec = Spec {
            channels: 3,
            sample_rate: 48_000,
            bits: 16,
            float: false,
            sub_format: None,
            channel_mask: 0,
        };
        assert!(matches!(
            target_spec(&spec, Direction::FumaToAmbix),
            Err(ConvertError::Layout(3))
        ));
    }
}
