//! The podcast enclosure's encoding: stereo in, MP3 out (LAME). One shape for every
//! recording, so that its length says its duration and any prefix of whole frames is a
//! playable excerpt: MPEG-1 Layer III at 48 kHz (LAME resamples other rates), constant
//! 192 kb/s — 576-byte frames of 1,152 samples, 24,000 bytes a second — with no ID3 or
//! Xing frame in front (the feed carries the metadata).

use std::io::Write;

use mp3lame_encoder::{Bitrate, Builder, DualPcm, Encoder, FlushGap, Mode, Quality};

/// The enclosure's sample rate.
pub const RATE: u32 = 48_000;
/// Its bit rate: comfortable for headphones, half a minute under 1 MB.
pub const KBPS: u32 = 192;
/// Bytes of one frame (1,152 samples at [`RATE`] and [`KBPS`]; never padded at 48 kHz).
pub const FRAME_BYTES: u64 = 144 * KBPS as u64 * 1000 / RATE as u64;
/// Bytes a second.
pub const BYTES_PER_SECOND: u64 = KBPS as u64 * 1000 / 8;

/// Stereo frames handed to LAME at once.
const BLOCK: usize = 4096;

#[derive(Debug, thiserror::Error)]
pub enum Mp3Error {
    #[error("the MP3 encoder could not be set up: {0}")]
    Setup(String),
    #[error("the MP3 encoder failed: {0}")]
    Encode(String),
    #[error("writing the MP3 failed: {0}")]
    Io(#[from] std::io::Error),
}

/// The first `seconds` of an enclosure of `total` bytes, in whole frames.
pub fn excerpt_len(total: u64, seconds: u64) -> u64 {
    let want = seconds * BYTES_PER_SECOND;
    total.min(want - want % FRAME_BYTES)
}

/// Writes MP3 to `out` from stereo samples at `in_rate` (±1.0 full scale).
pub struct Mp3Writer<W: Write> {
    encoder: Encoder,
    out: W,
    left: Vec<f32>,
    right: Vec<f32>,
    buf: Vec<u8>,
    written: u64,
    /// How many output samples an input sample may become (LAME resamples to [`RATE`]).
    growth: usize,
}

impl<W: Write> Mp3Writer<W> {
    pub fn new(in_rate: u32, out: W) -> Result<Self, Mp3Error> {
        let setup = |e: mp3lame_encoder::BuildError| Mp3Error::Setup(e.to_string());
        let mut b = Builder::new().ok_or_else(|| Mp3Error::Setup("no memory".into()))?;
        b.set_num_channels(2).map_err(setup)?;
        b.set_sample_rate(in_rate).map_err(setup)?;
        b.set_output_sample_rate(std::num::NonZeroU32::new(RATE))
            .map_err(setup)?;
        b.set_brate(Bitrate::Kbps192).map_err(setup)?;
        // Plain stereo: the ears' difference is the point of a binaural rendering.
        b.set_mode(Mode::Stereo).map_err(setup)?;
        b.set_quality(Quality::NearBest).map_err(setup)?;
        b.set_to_write_vbr_tag(false).map_err(setup)?;
        Ok(Self {
            encoder: b.build().map_err(setup)?,
            out,
            left: Vec::with_capacity(BLOCK),
            right: Vec::with_capacity(BLOCK),
            buf: Vec::new(),
            written: 0,
            growth: (RATE as usize).div_ceil(in_rate.max(1) as usize).max(1),
        })
    }

    /// One stereo frame.
    pub fn push(&mut self, l: f64, r: f64) -> Result<(), Mp3Error> {
        self.left.push(l.clamp(-1.0, 1.0) as f32);
        self.right.push(r.clamp(-1.0, 1.0) as f32);
        if self.left.len() == BLOCK {
            self.encode()?;
        }
        Ok(())
    }

    fn encode(&mut self) -> Result<(), Mp3Error> {
        self.buf.clear();
        self.buf.reserve(mp3lame_encoder::max_required_buffer_size(
            self.left.len() * self.growth,
        ));
        let input = DualPcm {
            left: &self.left[..],
            right: &self.right[..],
        };
        self.encoder
            .encode_to_vec(input, &mut self.buf)
            .map_err(|e| Mp3Error::Encode(e.to_string()))?;
        self.left.clear();
        self.right.clear();
        self.drain()
    }

    fn drain(&mut self) -> Result<(), Mp3Error> {
        self.out.write_all(&self.buf)?;
        self.written += self.buf.len() as u64;
        self.buf.clear();
        Ok(())
    }

    /// Encodes what is left and flushes; the bytes written in all.
    pub fn finish(mut self) -> Result<u64, Mp3Error> {
        if !self.left.is_empty() {
            self.encode()?;
        }
        self.buf.reserve(7200);
        self.encoder
            .flush_to_vec::<FlushGap>(&mut self.buf)
            .map_err(|e| Mp3Error::Encode(e.to_string()))?;
        self.drain()?;
        self.out.flush()?;
        Ok(self.written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `seconds` of a 1 kHz tone at `rate`, left only.
    fn tone(rate: u32, seconds: u32) -> Vec<u8> {
        let mut out = Vec::new();
        let mut w = Mp3Writer::new(rate, &mut out).unwrap_or_else(|e| panic!("encoder: {e}"));
        for n in 0..rate * seconds {
            let v =
                0.5 * (2.0 * std::f64::consts::PI * 1000.0 * f64::from(n) / f64::from(rate)).sin();
            w.push(v, 0.0).unwrap_or_else(|e| panic!("frame: {e}"));
        }
        w.finish().unwrap_or_else(|e| panic!("finish: {e}"));
        out
    }

    /// Each frame header at its place: sync, MPEG-1 Layer III, 192 kb/s, 48 kHz, no padding.
    #[test]
    fn every_frame_is_576_bytes_at_48_khz_whatever_the_input_rate() {
        assert_eq!(FRAME_BYTES, 576);
        for rate in [8_000, 22_050, 44_100, 48_000, 96_000, 192_000] {
            let mp3 = tone(rate, 3);
            assert_eq!(mp3.len() as u64 % FRAME_BYTES, 0, "{rate}: whole frames");
            for frame in mp3.chunks(FRAME_BYTES as usize) {
                assert_eq!(&frame[..3], &[0xFF, 0xFB, 0xB4], "{rate}: header");
                assert_eq!(frame[2] & 0x02, 0, "{rate}: no padding");
            }
            // Three seconds, plus the encoder's delay and last partial frame.
            let seconds = mp3.len() as f64 / BYTES_PER_SECOND as f64;
            assert!((3.0..3.2).contains(&seconds), "{rate}: {seconds} s");
        }
    }

    #[test]
    fn an_excerpt_is_whole_frames() {
        assert_eq!(excerpt_len(10_000_000, 30) % FRAME_BYTES, 0);
        assert!(excerpt_len(10_000_000, 30) <= 30 * BYTES_PER_SECOND);
        assert_eq!(excerpt_len(1_000, 30), 1_000);
    }
}
