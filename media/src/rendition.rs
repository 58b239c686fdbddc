//! The forms a recording can be downloaded in besides the original (`?format=…`), which
//! recordings each applies to, and the streaming writer that makes them: the header first
//! (so the length is known before the answer starts), then frames through fixed buffers.
//!
//! - `ambix`, `fuma`: the other channel order of a full-sphere recording ([`crate::convert`]).
//! - `ambix-48k`: first-order AmbiX at 48 kHz, what 360° video tools expect.
//! - `binaural`: headphone stereo at the recording's own order (up to the third), facing
//!   front or `yaw` degrees to the left ([`crate::hrtf::Headphones`]).
//! - `uhj`: two-channel UHJ, playable on any stereo system ([`crate::uhj`]).
//! - `5.1`: a basic first-order decode to ITU 5.1 (L R C LFE Ls Rs at ±30°, 0°, ±110°):
//!   each speaker a virtual supercardioid aimed at it, `p·W + (1 − p)·(cos φ·X + sin φ·Y)`
//!   with `p` = 0.37 (docs/ambisonics.md's virtual microphone, SN3D W); the LFE stays silent.
//!
//! The last four start from [`FirstOrder`], so they apply to FuMa and AmbiX of any order and
//! to UHJ (decoded first).

use std::io::{self, Read, Write};

use crate::{
    Convention,
    convert::{self, Direction, get_sample},
    first_order::{FirstOrder, NotASoundField, W, X, Y},
    hrtf, resample, uhj,
    wav::{self, Container, Spec},
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rendition {
    Ambix,
    Fuma,
    Ambix48k,
    Binaural,
    Uhj,
    Surround51,
}

/// What a download in a given form streams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Made {
    /// The recording is in that form already: the original, as it is.
    Original,
    /// Made on the way out.
    Rendered,
}

#[derive(Debug, thiserror::Error)]
pub enum RenditionError {
    #[error(transparent)]
    NotASoundField(#[from] NotASoundField),
    #[error(
        "only full-sphere recordings of order 1 to 3 (4, 9 or 16 channels) convert between FuMa and AmbiX"
    )]
    NotFullSphere,
    #[error("a {0} recording cannot be had as {1}")]
    Other(&'static str, &'static str),
    #[error(transparent)]
    Convert(#[from] convert::ConvertError),
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// Frames read from the original at once.
const READ_FRAMES: usize = 16 * 1024;
/// The virtual microphones of the 5.1 decode.
const SUPERCARDIOID: f64 = 0.37;
const SURROUND_AZIMUTHS_DEG: [Option<f64>; 6] = [
    Some(30.0),
    Some(-30.0),
    Some(0.0),
    None,
    Some(110.0),
    Some(-110.0),
];
/// WAVE speaker mask of FL FR FC LFE BL BR.
const MASK_5_1: u32 = 0x3F;
const MASK_STEREO: u32 = 0x3;
pub const AMBIX_48K_RATE: u32 = 48_000;

impl Rendition {
    pub const ALL: [Rendition; 6] = [
        Rendition::Ambix,
        Rendition::Fuma,
        Rendition::Ambix48k,
        Rendition::Binaural,
        Rendition::Uhj,
        Rendition::Surround51,
    ];

    /// The word in `?format=`.
    pub fn as_str(self) -> &'static str {
        match self {
            Rendition::Ambix => "ambix",
            Rendition::Fuma => "fuma",
            Rendition::Ambix48k => "ambix-48k",
            Rendition::Binaural => "binaural",
            Rendition::Uhj => "uhj",
            Rendition::Surround51 => "5.1",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|r| r.as_str() == raw)
    }

    /// How a download link names it.
    pub fn label(self) -> &'static str {
        match self {
            Rendition::Ambix => "AmbiX (ACN/SN3D)",
            Rendition::Fuma => "FuMa (.amb)",
            Rendition::Ambix48k => "AmbiX first order, 48 kHz (360° video)",
            Rendition::Binaural => "Binaural (headphones)",
            Rendition::Uhj => "UHJ (any stereo system)",
            Rendition::Surround51 => "5.1 surround",
        }
    }

    /// The end of the downloaded file's name, after the recording's slug.
    pub fn file_suffix(self) -> &'static str {
        match self {
            Rendition::Ambix => "-ambix.wav",
            Rendition::Fuma => "-fuma.amb",
            Rendition::Ambix48k => "-ambix-48k.wav",
            Rendition::Binaural => "-binaural.wav",
            Rendition::Uhj => "-uhj.wav",
            Rendition::Surround51 => "-5.1.wav",
        }
    }

    /// Whether a recording of `convention` with `channels` can be had in this form, and how.
    pub fn of(self, convention: Option<Convention>, channels: u16) -> Result<Made, RenditionError> {
        let full_sphere = matches!(channels, 4 | 9 | 16);
        let label = convention.map_or("unknown", Convention::label);
        match (self, convention) {
            (Rendition::Ambix, Some(Convention::Ambix))
            | (Rendition::Fuma, Some(Convention::Fuma))
            | (Rendition::Uhj, Some(Convention::Uhj)) => Ok(Made::Original),
            (Rendition::Ambix, Some(Convention::Fuma))
            | (Rendition::Fuma, Some(Convention::Ambix)) => {
                if full_sphere {
                    Ok(Made::Rendered)
                } else {
                    Err(RenditionError::NotFullSphere)
                }
            }
            (Rendition::Ambix | Rendition::Fuma, _) => {
                Err(RenditionError::Other(label, self.label()))
            }
            (Rendition::Uhj, Some(Convention::Fuma | Convention::Ambix))
            | (Rendition::Ambix48k | Rendition::Binaural | Rendition::Surround51, _) => {
                FirstOrder::new(convention, channels)?;
                Ok(Made::Rendered)
            }
            (Rendition::Uhj, _) => Err(RenditionError::Other(label, self.label())),
        }
    }

    /// The forms a recording can be downloaded in, in the order a page lists them.
    pub fn offered(convention: Option<Convention>, channels: u16) -> Vec<Rendition> {
        Self::ALL
            .into_iter()
            .filter(|r| matches!(r.of(convention, channels), Ok(Made::Rendered)))
            .collect()
    }
}

/// One download in one form: what the header says, and how the samples are made.
#[derive(Debug, Clone)]
pub struct Plan {
    rendition: Rendition,
    convention: Option<Convention>,
    source: Spec,
    in_data_len: u64,
    target: Spec,
    container: Container,
    extra: Vec<([u8; 4], Vec<u8>)>,
    out_data_len: u64,
    /// Binaural: the listener faces this many degrees to the left (0: as recorded).
    yaw_deg: f64,
}

impl Plan {
    /// A binaural rendering for a listener facing `yaw_deg` degrees to the left.
    pub fn facing(mut self, yaw_deg: f64) -> Self {
        self.yaw_deg = yaw_deg;
        self
    }

    /// `source` and `data_len` are the original's, as inspected.
    pub fn new(
        source: &Spec,
        convention: Option<Convention>,
        data_len: u64,
        rendition: Rendition,
    ) -> Result<Self, RenditionError> {
        rendition.of(convention, source.channels)?;
        let (channels, rate, mask, extended, extra) = match rendition {
            Rendition::Ambix | Rendition::Fuma => {
                let target = convert::target_spec(source, direction(rendition))?;
                return Ok(Self::with(
                    rendition,
                    convention,
                    source,
                    data_len,
                    target,
                    vec![],
                    data_len,
                ));
            }
            Rendition::Ambix48k => (4, AMBIX_48K_RATE, 0, true, vec![]),
            Rendition::Binaural => (2, source.sample_rate, 0, false, vec![]),
            Rendition::Uhj => (
                2,
                source.sample_rate,
                MASK_STEREO,
                true,
                vec![(*b"AMBU", wav::ambu_body())],
            ),
            Rendition::Surround51 => (6, source.sample_rate, MASK_5_1, true, vec![]),
        };
        // Integer originals keep their depth (at least 16 bits); float ones stay 32-bit float.
        let (bits, float) = match (source.float, source.bits) {
            (true, _) => (32, true),
            (false, b) => (b.max(16), false),
        };
        let target = Spec {
            channels,
            sample_rate: rate,
            bits,
            float,
            sub_format: extended.then_some(if float {
                wav::GUID_FLOAT
            } else {
                wav::GUID_PCM
            }),
            channel_mask: mask,
        };
        let in_frames = data_len / u64::from(source.block_align().max(1));
        let out_frames = resample::out_frames(in_frames, source.sample_rate, rate);
        let out_data_len = out_frames.saturating_mul(u64::from(target.block_align()));
        Ok(Self::with(
            rendition,
            convention,
            source,
            data_len,
            target,
            extra,
            out_data_len,
        ))
    }

    fn with(
        rendition: Rendition,
        convention: Option<Convention>,
        source: &Spec,
        in_data_len: u64,
        target: Spec,
        extra: Vec<([u8; 4], Vec<u8>)>,
        out_data_len: u64,
    ) -> Self {
        let container = if out_data_len.saturating_add(1024) > u64::from(u32::MAX) {
            Container::Rf64
        } else {
            Container::Riff
        };
        Self {
            rendition,
            convention,
            source: *source,
            in_data_len,
            target,
            container,
            extra,
            out_data_len,
            yaw_deg: 0.0,
        }
    }

    /// The whole file's length in bytes.
    pub fn total_len(&self) -> u64 {
        wav::header(self.container, &self.target, &self.extra, self.out_data_len).len() as u64
            + self.out_data_len
            + wav::trailer(self.container, self.out_data_len).len() as u64
    }

    /// Writes the whole file from the original's samples (its data chunk). Returns how many
    /// samples clipped (integer output only).
    pub fn write(&self, samples: impl Read, mut out: impl Write) -> Result<u64, RenditionError> {
        if matches!(self.rendition, Rendition::Ambix | Rendition::Fuma) {
            return Ok(convert::convert(
                &self.source,
                direction(self.rendition),
                self.in_data_len,
                samples,
                out,
            )?);
        }
        out.write_all(&wav::header(
            self.container,
            &self.target,
            &self.extra,
            self.out_data_len,
        ))?;
        let mut sink = Sink {
            target: self.target,
            out: &mut out,
            buf: Vec::with_capacity(64 * 1024),
            clipped: 0,
            written: 0,
            limit: self.out_data_len,
        };
        let mut first_order = FirstOrder::new(self.convention, self.source.channels)?;
        let mut headphones = match self.rendition {
            Rendition::Binaural => Some(hrtf::Headphones::new(
                self.convention,
                self.source.channels,
                self.source.sample_rate,
                self.yaw_deg,
            )?),
            _ => None,
        };
        let mut stage = Stage::new(self.rendition, &self.source);
        let block = usize::from(self.source.block_align());
        let channels = usize::from(self.source.channels);
        let width = block / channels.max(1);
        let mut raw = vec![0u8; block * READ_FRAMES];
        let mut frame = vec![0.0; channels];
        let mut remaining = self.in_data_len - self.in_data_len % block as u64;
        let mut samples = samples;
        while remaining > 0 {
            let want = remaining.min(raw.len() as u64) as usize;
            samples.read_exact(&mut raw[..want])?;
            for f in raw[..want].chunks_exact(block) {
                for (c, v) in frame.iter_mut().enumerate() {
                    *v = get_sample(&self.source, &f[c * width..]);
                }
                match headphones.as_mut() {
                    Some(h) => {
                        let (l, r) = h.push(&frame);
                        sink.frame(&[l, r])?;
                    }
                    None => stage.push(first_order.push(&frame), &mut sink)?,
                }
            }
            remaining -= want as u64;
        }
        stage.finish(&mut sink)?;
        sink.flush()?;
        sink.out
            .write_all(&wav::trailer(self.container, self.out_data_len))?;
        Ok(sink.clipped)
    }
}

fn direction(r: Rendition) -> Direction {
    if r == Rendition::Fuma {
        Direction::AmbixToFuma
    } else {
        Direction::FumaToAmbix
    }
}

/// Encodes output frames, stopping at the length the header promised.
struct Sink<'a, O: Write> {
    target: Spec,
    out: &'a mut O,
    buf: Vec<u8>,
    clipped: u64,
    written: u64,
    limit: u64,
}

impl<O: Write> Sink<'_, O> {
    fn frame(&mut self, values: &[f64]) -> io::Result<()> {
        let block = u64::from(self.target.block_align());
        if self.written + block > self.limit {
            return Ok(());
        }
        for v in values {
            if !self.target.float && v.abs() > 1.0 {
                self.clipped += 1;
            }
            wav::put_sample(&mut self.buf, &self.target, *v);
        }
        self.written += block;
        if self.buf.len() >= 60 * 1024 {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.out.write_all(&self.buf)?;
        self.buf.clear();
        Ok(())
    }
}

/// What happens to each first-order frame (binaural works at the recording's own order:
/// [`hrtf::Headphones`]).
enum Stage {
    Ambix48k(Option<resample::Resampler>),
    Uhj(Box<uhj::Encoder>),
    Surround51([[f64; 4]; 6]),
}

impl Stage {
    fn new(rendition: Rendition, source: &Spec) -> Self {
        match rendition {
            Rendition::Uhj => Stage::Uhj(Box::default()),
            Rendition::Surround51 => Stage::Surround51(surround_gains()),
            Rendition::Ambix48k | Rendition::Ambix | Rendition::Fuma | Rendition::Binaural => {
                Stage::Ambix48k(
                    (source.sample_rate != AMBIX_48K_RATE)
                        .then(|| resample::Resampler::new(source.sample_rate, AMBIX_48K_RATE, 4)),
                )
            }
        }
    }

    fn push<O: Write>(&mut self, foa: [f64; 4], sink: &mut Sink<'_, O>) -> io::Result<()> {
        match self {
            Stage::Ambix48k(None) => sink.frame(&foa),
            Stage::Ambix48k(Some(r)) => {
                let mut result = Ok(());
                r.push(&foa, |f| {
                    if result.is_ok() {
                        result = sink.frame(f);
                    }
                });
                result
            }
            // UHJ's equations take W at unity gain for a plane wave: SN3D's W.
            Stage::Uhj(e) => {
                let (l, r) = e.push(foa[W], foa[X], foa[Y]);
                sink.frame(&[l, r])
            }
            Stage::Surround51(gains) => {
                let feeds = gains.map(|g| g.iter().zip(foa).map(|(g, v)| g * v).sum::<f64>());
                sink.frame(&feeds)
            }
        }
    }

    fn finish<O: Write>(&mut self, sink: &mut Sink<'_, O>) -> io::Result<()> {
        if let Stage::Ambix48k(Some(r)) = self {
            let total = sink.limit / u64::from(sink.target.block_align().max(1));
            let mut result = Ok(());
            r.finish(total, |f| {
                if result.is_ok() {
                    result = sink.frame(f);
                }
            });
            result?;
        }
        Ok(())
    }
}

/// Per 5.1 speaker, its gains on `[W, Y, Z, X]`.
fn surround_gains() -> [[f64; 4]; 6] {
    SURROUND_AZIMUTHS_DEG.map(|az| match az {
        None => [0.0; 4],
        Some(az) => {
            let (s, c) = az.to_radians().sin_cos();
            let d = 1.0 - SUPERCARDIOID;
            [SUPERCARDIOID, d * s, 0.0, d * c]
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A third-order recording is heard at third order: a source at the side is louder in
    /// its ear than first order makes it, and a listener facing it hears it in front.
    #[test]
    fn binaural_renders_at_the_recordings_order_and_faces_where_asked() {
        let spec = Spec {
            channels: 16,
            sample_rate: 48_000,
            bits: 32,
            float: true,
            sub_format: Some(wav::GUID_AMB_FLOAT),
            channel_mask: 0,
        };
        let y = crate::sh::sn3d(crate::sh::direction(90.0, 0.0));
        let mut data = Vec::new();
        let mut x = 3u64;
        for _ in 0..24_000 {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
            let s = ((x >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 0.5;
            for g in y {
                wav::put_sample(&mut data, &spec, g * s);
            }
        }
        let ild = |yaw: f64, channels: u16| {
            let spec = Spec { channels, ..spec };
            let data: Vec<u8> = if channels == 16 {
                data.clone()
            } else {
                data.chunks_exact(64)
                    .flat_map(|f| f[..16].to_vec())
                    .collect()
            };
            let plan = Plan::new(
                &spec,
                Some(Convention::Ambix),
                data.len() as u64,
                Rendition::Binaural,
            )
            .unwrap_or_else(|e| panic!("{e}"))
            .facing(yaw);
            let mut out = Vec::new();
            plan.write(&data[..], &mut out)
                .unwrap_or_else(|e| panic!("{e}"));
            let body = &out[out.len() - 24_000 * 8..];
            let (mut l2, mut r2) = (0.0, 0.0);
            for f in body.chunks_exact(8).skip(1_000) {
                let l = f64::from(f32::from_le_bytes([f[0], f[1], f[2], f[3]]));
                let r = f64::from(f32::from_le_bytes([f[4], f[5], f[6], f[7]]));
                l2 += l * l;
                r2 += r * r;
            }
            10.0 * (l2 / r2).log10()
        };
        let (third, first) = (ild(0.0, 16), ild(0.0, 4));
        assert!(
            third > first + 1.0,
            "third order {third:.1} dB, first {first:.1} dB"
        );
        assert!(
            ild(90.0, 16).abs() < 1.0,
            "facing it: {:.1} dB",
            ild(90.0, 16)
        );
        assert!(
            ild(180.0, 16) < -6.0,
            "turned away: {:.1} dB",
            ild(180.0, 16)
        );
    }
    use crate::inspect::inspect;
    use std::f64::consts::{FRAC_1_SQRT_2, PI};

    /// A FuMa file: a 1 kHz tone (or noise) from `azimuth_deg`, 24-bit, `rate`, one second.
    fn fuma_plane_wave(azimuth_deg: f64, rate: u32, channels: u16) -> Vec<u8> {
        use rand::{Rng, SeedableRng, rngs::StdRng};
        let spec = Spec {
            channels,
            sample_rate: rate,
            bits: 24,
            float: false,
            sub_format: Some(wav::GUID_AMB_PCM),
            channel_mask: 0,
        };
        let mut rng = StdRng::seed_from_u64(3);
        let a = azimuth_deg.to_radians();
        let mut data = Vec::new();
        for _ in 0..rate {
            let s: f64 = rng.gen_range(-0.4..0.4);
            let mut frame = vec![0.0; usize::from(channels)];
            frame[..3].copy_from_slice(&[s * FRAC_1_SQRT_2, s * a.cos(), s * a.sin()]);
            for v in frame {
                wav::put_sample(&mut data, &spec, v);
            }
        }
        let mut f = wav::header(Container::Riff, &spec, &[], data.len() as u64);
        f.extend_from_slice(&data);
        f
    }

    /// Renders `file` and returns the result, after checking its length is the promised one.
    fn render(file: &[u8], rendition: Rendition) -> Vec<u8> {
        let i = inspect(file).unwrap_or_else(|e| panic!("{e}"));
        let plan = Plan::new(&i.spec, i.convention(), i.data_len, rendition)
            .unwrap_or_else(|e| panic!("{e}"));
        let data = &file[i.data_offset as usize..(i.data_offset + i.data_len) as usize];
        let mut out = Vec::new();
        plan.write(data, &mut out).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            out.len() as u64,
            plan.total_len(),
            "{rendition:?}: the length the header promised"
        );
        out
    }

    /// Mean power (dB) per channel of a rendered file, skipping its first 50 ms.
    fn channel_levels(file: &[u8]) -> Vec<f64> {
        let i = inspect(file).unwrap_or_else(|e| panic!("{e}"));
        let ch = usize::from(i.spec.channels);
        let width = usize::from(i.spec.bits / 8);
        let data = &file[i.data_offset as usize..(i.data_offset + i.data_len) as usize];
        let skip = i.spec.sample_rate as usize / 20;
        let mut power = vec![0.0; ch];
        for f in data.chunks_exact(ch * width).skip(skip) {
            for (c, p) in power.iter_mut().enumerate() {
                let v = get_sample(&i.spec, &f[c * width..]);
                *p += v * v;
            }
        }
        power
            .iter()
            .map(|p| 10.0 * (p.max(1e-30)).log10())
            .collect()
    }

    #[test]
    fn each_form_applies_to_the_recordings_it_can_be_made_from() {
        use Convention::*;
        assert_eq!(
            Rendition::offered(Some(Fuma), 4),
            [
                Rendition::Ambix,
                Rendition::Ambix48k,
                Rendition::Binaural,
                Rendition::Uhj,
                Rendition::Surround51
            ]
        );
        assert_eq!(
            Rendition::offered(Some(Fuma), 3),
            [
                Rendition::Ambix48k,
                Rendition::Binaural,
                Rendition::Uhj,
                Rendition::Surround51
            ]
        );
        assert_eq!(
            Rendition::offered(Some(Uhj), 2),
            [
                Rendition::Ambix48k,
                Rendition::Binaural,
                Rendition::Surround51
            ]
        );
        assert_eq!(Rendition::Uhj.of(Some(Uhj), 2).ok(), Some(Made::Original));
        assert!(Rendition::offered(Some(Stereo), 2).is_empty());
        assert!(Rendition::offered(None, 4).is_empty());
        let e = Rendition::Binaural
            .of(Some(Gformat), 6)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("not a sound field"), "{e}");
        for r in Rendition::ALL {
            assert_eq!(Rendition::parse(r.as_str()), Some(r));
        }
    }

    #[test]
    fn binaural_left_is_louder_for_a_source_on_the_left_and_equal_in_front() {
        let left = channel_levels(&render(
            &fuma_plane_wave(90.0, 48_000, 4),
            Rendition::Binaural,
        ));
        assert!(
            left[0] - left[1] > 4.0,
            "left − right = {:.2} dB",
            left[0] - left[1]
        );
        let front = channel_levels(&render(
            &fuma_plane_wave(0.0, 48_000, 4),
            Rendition::Binaural,
        ));
        assert!((front[0] - front[1]).abs() < 1.0, "{front:?}");
    }

    #[test]
    fn uhj_is_marked_as_uhj_and_places_the_source() {
        let out = render(&fuma_plane_wave(90.0, 44_100, 3), Rendition::Uhj);
        let i = inspect(&out[..]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (i.convention, i.channels, i.spec.channel_mask),
            ("uhj", 2, 0x3)
        );
        let l = channel_levels(&out);
        assert!(l[0] - l[1] > 10.0, "left − right = {:.2} dB", l[0] - l[1]);
        let front = channel_levels(&render(&fuma_plane_wave(0.0, 44_100, 4), Rendition::Uhj));
        assert!((front[0] - front[1]).abs() < 1.0, "{front:?}");
    }

    #[test]
    fn five_one_puts_a_left_source_on_the_left_and_a_front_one_in_the_centre() {
        let out = render(&fuma_plane_wave(90.0, 48_000, 9), Rendition::Surround51);
        let i = inspect(&out[..]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (i.convention, i.layout.as_deref()),
            ("gformat", Some("5.1"))
        );
        let [l, r, c, lfe, ls, rs] = channel_levels(&out)[..] else {
            panic!("six channels")
        };
        assert!(
            l - r > 10.0 && ls - rs > 10.0,
            "L {l:.1} R {r:.1} Ls {ls:.1} Rs {rs:.1}"
        );
        assert!(lfe < -200.0, "the LFE is silent: {lfe}");
        let [l, r, c2, _, ls, rs] = channel_levels(&render(
            &fuma_plane_wave(0.0, 48_000, 4),
            Rendition::Surround51,
        ))[..] else {
            panic!("six channels")
        };
        assert!(
            (l - r).abs() < 1.0 && (ls - rs).abs() < 1.0,
            "{l} {r} {ls} {rs}"
        );
        assert!(
            c2 > l && c2 > c,
            "front: the centre is loudest ({c2:.1} against L {l:.1})"
        );
    }

    #[test]
    fn ambix_48k_is_first_order_acn_sn3d_at_48_khz_from_any_order_and_rate() {
        // A 1 kHz tone from the left at 44.1 kHz, third-order FuMa: W √2·(s/√2) = s, Y = s.
        let spec = Spec {
            channels: 16,
            sample_rate: 44_100,
            bits: 32,
            float: true,
            sub_format: Some(wav::GUID_AMB_FLOAT),
            channel_mask: 0,
        };
        let mut data = Vec::new();
        for n in 0..44_100 {
            let s = 0.5 * (2.0 * PI * 1_000.0 * f64::from(n) / 44_100.0).sin();
            let mut frame = [0.1; 16];
            frame[..4].copy_from_slice(&[s * FRAC_1_SQRT_2, 0.0, s, 0.0]);
            for v in frame {
                wav::put_sample(&mut data, &spec, v);
            }
        }
        let mut file = wav::header(Container::Riff, &spec, &[], data.len() as u64);
        file.extend_from_slice(&data);
        let out = render(&file, Rendition::Ambix48k);
        let i = inspect(&out[..]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (i.channels, i.spec.sample_rate, i.frames, i.spec.float),
            (4, 48_000, 48_000, true)
        );
        let data = &out[i.data_offset as usize..];
        let mut worst = [0.0f64; 4];
        for (n, f) in data.chunks_exact(16).enumerate().skip(1_000).take(46_000) {
            let s = 0.5 * (2.0 * PI * 1_000.0 * n as f64 / 48_000.0).sin();
            for (c, want) in [s, s, 0.0, 0.0].into_iter().enumerate() {
                worst[c] = worst[c].max((get_sample(&i.spec, &f[c * 4..]) - want).abs());
            }
        }
        assert!(worst.iter().all(|w| *w < 1e-3), "W Y Z X off by {worst:?}");
    }

    #[test]
    fn stereo_and_unknown_recordings_are_refused_before_anything_is_written() {
        let spec = Spec {
            channels: 2,
            sample_rate: 48_000,
            bits: 16,
            float: false,
            sub_format: None,
            channel_mask: 0,
        };
        for r in [
            Rendition::Binaural,
            Rendition::Uhj,
            Rendition::Ambix48k,
            Rendition::Surround51,
            Rendition::Ambix,
        ] {
            assert!(
                Plan::new(&spec, Some(Convention::Stereo), 400, r).is_err(),
                "{r:?}"
            );
        }
    }
}
