//! What a recording is, read from its bytes: container (RIFF/WAVE, RF64, Sony Wave64),
//! sample format, channels, and the ambisonic convention they carry (FuMa by its B-format
//! GUID, UHJ by its `AMBU` chunk, G-format by a speaker mask, or "ask the uploader" for a
//! plain multichannel file that AmbiX and FuMa cannot be told apart in). Pure code over a
//! `Read`: the file streams through once, hashed with SHA-256 as it goes, memory fixed.
//!
//! Anything else — not audio, truncated, a header that lies about its sizes, no channels,
//! an absurd rate — is refused with a message written for the person who sent it.

use std::io::{self, Read};

use crate::Convention;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::wav::{
    Container, FORMAT_EXTENSIBLE, FORMAT_FLOAT, FORMAT_PCM, GUID_AMB_FLOAT, GUID_AMB_PCM,
    GUID_FLOAT, GUID_PCM, Spec, W64_DATA, W64_FMT, W64_RIFF, W64_WAVE,
};

/// What the site reads from a file (`server media inspect --json` prints this).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Inspection {
    /// `wav`, `rf64` or `w64`.
    pub container: &'static str,
    /// `fuma`, `ambix`, `uhj`, `gformat`, `stereo`, `mono`, or `unknown` when the uploader
    /// must say (a plain multichannel WAV).
    pub convention: &'static str,
    /// Ambisonic order (for `unknown`, the order the channel count would have as AmbiX).
    pub order: Option<u8>,
    /// Malham layout (`h`, `f`, `hh`, `fh`, `ff` …) for B-format; the speaker layout
    /// (`quad`, `5.1` …) for G-format.
    pub layout: Option<String>,
    pub channels: u16,
    pub sample_rate: u32,
    pub bits: u16,
    pub float: bool,
    pub frames: u64,
    pub duration_s: f64,
    pub size_bytes: u64,
    pub sha256: String,
    /// Where the samples are, for readers that decode them.
    #[serde(skip)]
    pub data_offset: u64,
    #[serde(skip)]
    pub data_len: u64,
    #[serde(skip)]
    pub spec: Spec,
}

impl Inspection {
    pub fn convention(&self) -> Option<Convention> {
        Convention::parse(self.convention)
    }
}

/// Why a file was refused; the message is for the uploader.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum InspectError {
    #[error(
        "this is not a WAVE file (RIFF, RF64 or Wave64); Ambisonia takes .wav, .amb, .rf64 and .w64 recordings"
    )]
    NotWave,
    #[error(
        "the file ends early: its header promises {promised} bytes but it has {actual}; it may have been cut off while copying"
    )]
    Truncated { promised: u64, actual: u64 },
    #[error(
        "the file's header says it is {declared} bytes long, but it goes on after that; the header is wrong"
    )]
    LongerThanDeclared { declared: u64 },
    #[error("a chunk in the file claims to be longer than the whole file; the header is wrong")]
    ChunkPastEnd,
    #[error("the file has no `fmt ` chunk describing its audio")]
    NoFormat,
    #[error("the file has no audio data (no `data` chunk)")]
    NoData,
    #[error("the audio comes before the chunk that describes it; the file is damaged")]
    DataBeforeFormat,
    #[error("the `{0}` chunk is malformed")]
    BadChunk(&'static str),
    #[error("the file has no audio channels")]
    NoChannels,
    #[error("{0} channels is more than a recording can have here (at most 64)")]
    TooManyChannels(u16),
    #[error("{0} Hz is not a sample rate a recording has (8,000 to 768,000 Hz)")]
    AbsurdRate(u32),
    #[error(
        "{bits}-bit {kind} samples are not supported (PCM 8, 16, 24, 32 bit or float 32, 64 bit)"
    )]
    UnsupportedBits { bits: u16, kind: &'static str },
    #[error(
        "the audio is compressed or in an encoding Ambisonia does not read (format 0x{0:04X}); send uncompressed PCM or float"
    )]
    UnsupportedEncoding(u16),
    #[error(
        "the header's frame size ({declared} bytes) does not match {channels} channels of {bits}-bit samples"
    )]
    BadBlockAlign {
        declared: u16,
        channels: u16,
        bits: u16,
    },
    #[error(
        "a FuMa B-format file with {0} channels matches no FuMa layout (3, 4, 5, 6, 7, 8, 9, 11 or 16 channels)"
    )]
    NoFumaLayout(u16),
    #[error("the file could not be read: {0}")]
    Io(String),
}

/// A reader that hashes and counts what passes through it.
struct Hashing<R> {
    inner: R,
    hash: Sha256,
    read: u64,
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hash.update(&buf[..n]);
        self.read += n as u64;
        Ok(n)
    }
}

impl<R: Read> Hashing<R> {
    /// Fills `buf` or reports how far it got.
    fn fill(&mut self, buf: &mut [u8]) -> Result<usize, InspectError> {
        let mut got = 0;
        while got < buf.len() {
            match self.read(&mut buf[got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(InspectError::Io(e.to_string())),
            }
        }
        Ok(got)
    }

    fn exact(&mut self, buf: &mut [u8], promised_end: u64) -> Result<(), InspectError> {
        let got = self.fill(buf)?;
        if got < buf.len() {
            return Err(InspectError::Truncated {
                promised: promised_end,
                actual: self.read,
            });
        }
        Ok(())
    }

    /// Reads past `n` bytes (hashing them) without holding them.
    fn skip(&mut self, n: u64, promised_end: u64) -> Result<(), InspectError> {
        let copied = io::copy(&mut (&mut *self).take(n), &mut io::sink())
            .map_err(|e| InspectError::Io(e.to_string()))?;
        if copied < n {
            return Err(InspectError::Truncated {
                promised: promised_end,
                actual: self.read,
            });
        }
        Ok(())
    }
}

fn u16le(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}
fn u32le(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}
fn u64le(b: &[u8], at: usize) -> u64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

/// Reads a whole file from `r` and says what it is.
pub fn inspect(r: impl Read) -> Result<Inspection, InspectError> {
    read(r, false)
}

/// Reads only as far as the first sample, leaving `r` there: for streaming the samples of
/// a file already inspected once (format conversion). `size_bytes` and `sha256` say
/// nothing in the answer; `data_len` is what the header declares.
pub fn inspect_header(r: impl Read) -> Result<Inspection, InspectError> {
    read(r, true)
}

fn read(r: impl Read, stop_at_data: bool) -> Result<Inspection, InspectError> {
    let mut r = Hashing {
        inner: r,
        hash: Sha256::new(),
        read: 0,
    };
    let mut magic = [0u8; 4];
    if r.fill(&mut magic)? < 4 {
        return Err(InspectError::NotWave);
    }
    let container = match &magic {
        b"RIFF" => Container::Riff,
        b"RF64" => Container::Rf64,
        b"riff" => Container::Wave64,
        _ => return Err(InspectError::NotWave),
    };

    // The size the container declares for the whole file, when it declares one.
    let declared_end: Option<u64>;
    let mut ds64_data: Option<u64> = None;
    match container {
        Container::Riff | Container::Rf64 => {
            let mut h = [0u8; 8];
            if r.fill(&mut h)? < 8 || &h[4..] != b"WAVE" {
                return Err(InspectError::NotWave);
            }
            let size = u32le(&h, 0);
            declared_end = match (container, size) {
                // A writer that streamed and never came back to fill the size in.
                (Container::Riff, 0 | u32::MAX) => None,
                (Container::Riff, s) => Some(u64::from(s) + 8),
                _ => None, // RF64: the real size is in ds64, read next.
            };
            if container == Container::Rf64 {
                let mut ds = [0u8; 8];
                r.exact(&mut ds, 0)?;
                let len = u64::from(u32le(&ds, 4));
                if &ds[..4] != b"ds64" || !(24..=4096).contains(&len) {
                    return Err(InspectError::BadChunk("ds64"));
                }
                let mut body = vec![0u8; len as usize];
                r.exact(&mut body, 0)?;
                r.skip(len % 2, 0)?;
                ds64_data = Some(u64le(&body, 8));
                return chunks(
                    r,
                    container,
                    Some(u64le(&body, 0) + 8),
                    ds64_data,
                    stop_at_data,
                );
            }
        }
        Container::Wave64 => {
            let mut h = [0u8; 36];
            r.exact(&mut h, 0)?;
            if magic[..] != W64_RIFF[..4] || h[..12] != W64_RIFF[4..] || h[20..36] != W64_WAVE {
                return Err(InspectError::NotWave);
            }
            declared_end = Some(u64le(&h, 12));
        }
    }
    chunks(r, container, declared_end, ds64_data, stop_at_data)
}

fn chunks<R: Read>(
    mut r: Hashing<R>,
    container: Container,
    declared_end: Option<u64>,
    ds64_data: Option<u64>,
    stop_at_data: bool,
) -> Result<Inspection, InspectError> {
    let promised = declared_end.unwrap_or(0);
    let mut spec: Option<Spec> = None;
    let mut data: Option<(u64, u64)> = None;
    let mut ambu = false;
    loop {
        if declared_end.is_some_and(|end| r.read >= end) {
            break;
        }
        // Chunk header: FourCC + u32 (RIFF/RF64), or GUID + u64 including the header (W64).
        let (id, body_len): ([u8; 4], u64) = match container {
            Container::Riff | Container::Rf64 => {
                let mut h = [0u8; 8];
                match r.fill(&mut h)? {
                    0 if declared_end.is_none() => break,
                    8 => {}
                    _ => {
                        return Err(InspectError::Truncated {
                            promised,
                            actual: r.read,
                        });
                    }
                }
                let id = [h[0], h[1], h[2], h[3]];
                let size = u32le(&h, 4);
                let len = match (&id, size, ds64_data) {
                    (b"data", u32::MAX, Some(real)) => real,
                    _ => u64::from(size),
                };
                (id, len)
            }
            Container::Wave64 => {
                let mut h = [0u8; 24];
                match r.fill(&mut h)? {
                    0 if declared_end.is_none() => break,
                    24 => {}
                    _ => {
                        return Err(InspectError::Truncated {
                            promised,
                            actual: r.read,
                        });
                    }
                }
                let id = [h[0], h[1], h[2], h[3]];
                let known = h[..16] == W64_FMT || h[..16] == W64_DATA || h[4..16] == W64_FMT[4..];
                let size = u64le(&h, 16);
                if size < 24 {
                    return Err(InspectError::BadChunk("Wave64 chunk"));
                }
                (if known { id } else { *b"????" }, size - 24)
            }
        };
        // A chunk that claims to run past the container's end is a lie about sizes.
        if declared_end.is_some_and(|end| r.read + body_len > end) {
            return Err(InspectError::ChunkPastEnd);
        }
        let pad = match container {
            Container::Riff | Container::Rf64 => body_len % 2,
            Container::Wave64 => body_len.next_multiple_of(8) - body_len,
        };
        match &id {
            b"fmt " => {
                if !(16..=1024).contains(&body_len) {
                    return Err(InspectError::BadChunk("fmt "));
                }
                let mut body = vec![0u8; body_len as usize];
                r.exact(&mut body, promised)?;
                spec = Some(parse_fmt(&body)?);
            }
            b"AMBU" | b"ambu" => {
                ambu = true;
                r.skip(body_len, promised)?;
            }
            b"data" => {
                if spec.is_none() {
                    return Err(InspectError::DataBeforeFormat);
                }
                let offset = r.read;
                if stop_at_data {
                    data = Some((offset, body_len));
                    break;
                }
                r.skip(body_len, offset + body_len)?;
                data = Some((offset, body_len));
            }
            _ => r.skip(body_len, promised)?,
        }
        // The pad byte may be missing at the very end of a file; nothing else may.
        let at_end = declared_end.is_some_and(|end| r.read + pad > end);
        if pad > 0 && !at_end {
            let mut p = vec![0u8; pad as usize];
            let got = r.fill(&mut p)?;
            if got < p.len() && declared_end.is_some() {
                return Err(InspectError::Truncated {
                    promised,
                    actual: r.read,
                });
            }
            if got < p.len() {
                break;
            }
        }
    }
    // Nothing may follow the declared end.
    if let Some(end) = declared_end.filter(|_| !stop_at_data) {
        let mut one = [0u8; 1];
        if r.fill(&mut one)? > 0 {
            return Err(InspectError::LongerThanDeclared { declared: end });
        }
    }
    let spec = spec.ok_or(InspectError::NoFormat)?;
    let (data_offset, data_len) = data.ok_or(InspectError::NoData)?;
    let (convention, order, layout) = classify(&spec, ambu)?;
    let frames = data_len / u64::from(spec.block_align());
    Ok(Inspection {
        container: match container {
            Container::Riff => "wav",
            Container::Rf64 => "rf64",
            Container::Wave64 => "w64",
        },
        convention,
        order,
        layout,
        channels: spec.channels,
        sample_rate: spec.sample_rate,
        bits: spec.bits,
        float: spec.float,
        frames,
        duration_s: frames as f64 / f64::from(spec.sample_rate),
        size_bytes: r.read,
        sha256: hex::encode(r.hash.finalize()),
        data_offset,
        data_len,
        spec,
    })
}

fn parse_fmt(b: &[u8]) -> Result<Spec, InspectError> {
    let tag = u16le(b, 0);
    let channels = u16le(b, 2);
    let sample_rate = u32le(b, 4);
    let block_align = u16le(b, 12);
    let bits = u16le(b, 14);
    let (float, sub_format, channel_mask) = match tag {
        FORMAT_PCM => (false, None, 0),
        FORMAT_FLOAT => (true, None, 0),
        FORMAT_EXTENSIBLE => {
            if b.len() < 40 || u16le(b, 16) < 22 {
                return Err(InspectError::BadChunk("fmt "));
            }
            let mut guid = [0u8; 16];
            guid.copy_from_slice(&b[24..40]);
            let float = match guid {
                g if g == GUID_PCM || g == GUID_AMB_PCM => false,
                g if g == GUID_FLOAT || g == GUID_AMB_FLOAT => true,
                g => return Err(InspectError::UnsupportedEncoding(u16le(&g, 0))),
            };
            (float, Some(guid), u32le(b, 20))
        }
        other => return Err(InspectError::UnsupportedEncoding(other)),
    };
    if channels == 0 {
        return Err(InspectError::NoChannels);
    }
    if channels > 64 {
        return Err(InspectError::TooManyChannels(channels));
    }
    if !(8_000..=768_000).contains(&sample_rate) {
        return Err(InspectError::AbsurdRate(sample_rate));
    }
    let bits_ok = if float {
        matches!(bits, 32 | 64)
    } else {
        matches!(bits, 8 | 16 | 24 | 32)
    };
    if !bits_ok {
        return Err(InspectError::UnsupportedBits {
            bits,
            kind: if float { "float" } else { "PCM" },
        });
    }
    let spec = Spec {
        channels,
        sample_rate,
        bits,
        float,
        sub_format,
        channel_mask,
    };
    if block_align != spec.block_align() {
        return Err(InspectError::BadBlockAlign {
            declared: block_align,
            channels,
            bits,
        });
    }
    Ok(spec)
}

/// FuMa layouts by channel count (Malham notation) and their order.
const FUMA_LAYOUTS: [(u16, &str, u8); 9] = [
    (3, "h", 1),
    (4, "f", 1),
    (5, "hh", 2),
    (6, "fh", 2),
    (7, "hhh", 3),
    (8, "fhh", 3),
    (9, "ff", 2),
    (11, "ffh", 3),
    (16, "fff", 3),
];

fn classify(
    spec: &Spec,
    ambu: bool,
) -> Result<(&'static str, Option<u8>, Option<String>), InspectError> {
    let ch = spec.channels;
    if spec
        .sub_format
        .is_some_and(|g| g == GUID_AMB_PCM || g == GUID_AMB_FLOAT)
    {
        let (_, layout, order) = FUMA_LAYOUTS
            .iter()
            .find(|(n, ..)| *n == ch)
            .ok_or(InspectError::NoFumaLayout(ch))?;
        return Ok(("fuma", Some(*order), Some((*layout).to_owned())));
    }
    if ambu && ch == 2 {
        return Ok(("uhj", Some(1), Some("h".into())));
    }
    match ch {
        1 => return Ok(("mono", None, None)),
        2 => return Ok(("stereo", None, None)),
        _ => {}
    }
    if spec.channel_mask != 0 {
        let layout = match spec.channel_mask {
            0x7 => "3.0".to_owned(),
            0x33 => "quad".to_owned(),
            0x107 => "4.0".to_owned(),
            0x37 => "5.0".to_owned(),
            0x3F => "5.1".to_owned(),
            0x60F => "5.1 (side)".to_owned(),
            0x63F => "7.1".to_owned(),
            _ => format!("{ch} speakers"),
        };
        return Ok(("gformat", None, Some(layout)));
    }
    // (N+1)² channels could be AmbiX of order N, or FuMa without its GUID: ask.
    let order = (1u8..=7).find(|n| (u16::from(*n) + 1).pow(2) == ch);
    let layout = order.map(|n| "f".repeat(usize::from(n)));
    Ok(("unknown", order, layout))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wav::{self, ambu_body, header, put_sample, trailer};

    fn spec(channels: u16, bits: u16, float: bool, sub: Option<[u8; 16]>, mask: u32) -> Spec {
        Spec {
            channels,
            sample_rate: 48_000,
            bits,
            float,
            sub_format: sub,
            channel_mask: mask,
        }
    }

    /// A whole file: header, `frames` frames of a quiet ramp, trailer.
    pub(crate) fn file(
        container: Container,
        s: &Spec,
        extra: &[([u8; 4], Vec<u8>)],
        frames: usize,
    ) -> Vec<u8> {
        let mut samples = Vec::new();
        for i in 0..frames {
            for c in 0..s.channels {
                put_sample(
                    &mut samples,
                    s,
                    ((i + usize::from(c)) % 100) as f64 / 1000.0,
                );
            }
        }
        let mut f = header(container, s, extra, samples.len() as u64);
        f.extend_from_slice(&samples);
        f.extend_from_slice(&trailer(container, samples.len() as u64));
        f
    }

    fn read(bytes: &[u8]) -> Result<Inspection, InspectError> {
        inspect(bytes)
    }

    #[test]
    fn every_container_is_read_with_its_sizes() {
        let s = spec(4, 24, false, Some(wav::GUID_AMB_PCM), 0);
        for (container, name) in [
            (Container::Riff, "wav"),
            (Container::Rf64, "rf64"),
            (Container::Wave64, "w64"),
        ] {
            let bytes = file(container, &s, &[], 4801);
            let i = read(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(i.container, name);
            assert_eq!(
                (i.channels, i.sample_rate, i.bits, i.float),
                (4, 48_000, 24, false)
            );
            assert_eq!(i.frames, 4801);
            assert!((i.duration_s - 4801.0 / 48_000.0).abs() < 1e-9);
            assert_eq!(i.size_bytes, bytes.len() as u64);
            assert_eq!(i.sha256, hex::encode(Sha256::digest(&bytes)));
            assert_eq!(i.data_len, 4801 * 12);
        }
    }

    #[test]
    fn each_b_format_guid_and_layout_is_recognised() {
        for guid in [wav::GUID_AMB_PCM, wav::GUID_AMB_FLOAT] {
            let float = guid == wav::GUID_AMB_FLOAT;
            for (channels, layout, order) in FUMA_LAYOUTS {
                let s = spec(channels, if float { 32 } else { 16 }, float, Some(guid), 0);
                let i = read(&file(Container::Riff, &s, &[], 10))
                    .unwrap_or_else(|e| panic!("{channels}: {e}"));
                assert_eq!(
                    (i.convention, i.order, i.layout.as_deref()),
                    ("fuma", Some(order), Some(layout))
                );
                assert_eq!(i.float, float);
            }
        }
        let s = spec(10, 16, false, Some(wav::GUID_AMB_PCM), 0);
        assert_eq!(
            read(&file(Container::Riff, &s, &[], 10)),
            Err(InspectError::NoFumaLayout(10))
        );
    }

    #[test]
    fn uhj_stereo_mono_g_format_and_plain_multichannel() {
        let uhj = spec(2, 16, false, Some(wav::GUID_PCM), 0x3);
        let i = read(&file(Container::Riff, &uhj, &[(*b"AMBU", ambu_body())], 10)).ok();
        assert_eq!(i.map(|i| i.convention), Some("uhj"));
        let i = read(&file(
            Container::Riff,
            &spec(2, 16, false, None, 0),
            &[],
            10,
        ))
        .ok();
        assert_eq!(i.map(|i| i.convention), Some("stereo"));
        let i = read(&file(
            Container::Wave64,
            &spec(1, 32, true, None, 0),
            &[],
            10,
        ))
        .ok();
        assert_eq!(i.map(|i| i.convention), Some("mono"));
        let i = read(&file(
            Container::Riff,
            &spec(6, 24, false, Some(wav::GUID_PCM), 0x3F),
            &[],
            10,
        ))
        .ok();
        assert_eq!(
            i.map(|i| (i.convention, i.layout)),
            Some(("gformat", Some("5.1".to_owned())))
        );
        let i = read(&file(
            Container::Riff,
            &spec(4, 24, false, Some(wav::GUID_PCM), 0),
            &[],
            10,
        ))
        .ok();
        assert_eq!(
            i.map(|i| (i.convention, i.order, i.layout)),
            Some(("unknown", Some(1), Some("f".to_owned())))
        );
        let i = read(&file(
            Container::Rf64,
            &spec(16, 32, true, None, 0),
            &[],
            10,
        ))
        .ok();
        assert_eq!(
            i.map(|i| (i.convention, i.order)),
            Some(("unknown", Some(3)))
        );
    }

    #[test]
    fn broken_files_are_refused_with_a_reason() {
        let good = file(
            Container::Riff,
            &spec(4, 16, false, Some(wav::GUID_AMB_PCM), 0),
            &[],
            100,
        );
        assert_eq!(read(b"ID3\x03 this is an mp3"), Err(InspectError::NotWave));
        assert_eq!(read(b""), Err(InspectError::NotWave));
        assert!(matches!(
            read(&good[..good.len() - 10]),
            Err(InspectError::Truncated { .. })
        ));
        assert!(matches!(
            read(&good[..30]),
            Err(InspectError::Truncated { .. })
        ));
        let mut longer = good.clone();
        longer.extend_from_slice(b"junk");
        assert!(matches!(
            read(&longer),
            Err(InspectError::LongerThanDeclared { .. })
        ));
        // A data chunk that claims more than the file holds.
        let mut lying = good.clone();
        let at = lying.windows(4).position(|w| w == b"data").unwrap_or(0) + 4;
        lying[at..at + 4].copy_from_slice(&1_000_000u32.to_le_bytes());
        assert_eq!(read(&lying), Err(InspectError::ChunkPastEnd));

        let with = |f: &dyn Fn(&mut Spec)| {
            let mut s = spec(4, 16, false, None, 0);
            f(&mut s);
            read(&file(Container::Riff, &s, &[], 4))
        };
        assert_eq!(
            with(&|s| s.sample_rate = 3),
            Err(InspectError::AbsurdRate(3))
        );
        assert_eq!(
            with(&|s| s.sample_rate = 10_000_000),
            Err(InspectError::AbsurdRate(10_000_000))
        );
        assert!(matches!(
            with(&|s| s.bits = 12),
            Err(InspectError::UnsupportedBits { bits: 12, .. })
        ));

        let mut no_channels = file(Container::Riff, &spec(4, 16, false, None, 0), &[], 4);
        no_channels[22..24].copy_from_slice(&0u16.to_le_bytes());
        assert_eq!(read(&no_channels), Err(InspectError::NoChannels));
        let mut mp3 = file(Container::Riff, &spec(2, 16, false, None, 0), &[], 4);
        mp3[20..22].copy_from_slice(&0x55u16.to_le_bytes());
        assert_eq!(read(&mp3), Err(InspectError::UnsupportedEncoding(0x55)));
        let mut bad_align = file(Container::Riff, &spec(2, 16, false, None, 0), &[], 4);
        bad_align[32..34].copy_from_slice(&3u16.to_le_bytes());
        assert!(matches!(
            read(&bad_align),
            Err(InspectError::BadBlockAlign { .. })
        ));
    }

    #[test]
    fn messages_speak_to_a_person() {
        let e = InspectError::Truncated {
            promised: 1000,
            actual: 10,
        }
        .to_string();
        assert!(e.contains("cut off"), "{e}");
        assert!(InspectError::NotWave.to_string().contains(".amb"));
    }

    /// The fuzz target: whatever the bytes, inspection answers (never panics, never reads
    /// past what it was given), and a real file, cut or damaged anywhere, is never
    /// mistaken for a whole one.
    mod fuzz {
        use super::*;
        use proptest::prelude::*;

        fn any_spec() -> impl Strategy<Value = (Container, Spec, bool)> {
            let containers = prop_oneof![
                Just(Container::Riff),
                Just(Container::Rf64),
                Just(Container::Wave64)
            ];
            let formats = prop_oneof![
                Just((8, false)),
                Just((16, false)),
                Just((24, false)),
                Just((32, false)),
                Just((32, true)),
                Just((64, true))
            ];
            let subs = prop_oneof![
                Just(None),
                Just(Some(wav::GUID_PCM)),
                Just(Some(wav::GUID_AMB_PCM)),
                Just(Some(wav::GUID_FLOAT)),
                Just(Some(wav::GUID_AMB_FLOAT))
            ];
            (
                containers,
                formats,
                subs,
                prop::sample::select(vec![1u16, 2, 3, 4, 6, 9, 16]),
                8_000u32..200_000,
                any::<bool>(),
            )
                .prop_map(|(c, (bits, float), sub, channels, rate, ambu)| {
                    // Keep the GUID's sample type consistent with the format.
                    let sub = sub.map(|g| match (g, float) {
                        (g, true) if g == wav::GUID_AMB_PCM => wav::GUID_AMB_FLOAT,
                        (g, true) if g == wav::GUID_PCM => wav::GUID_FLOAT,
                        (g, false) if g == wav::GUID_AMB_FLOAT => wav::GUID_AMB_PCM,
                        (g, false) if g == wav::GUID_FLOAT => wav::GUID_PCM,
                        (g, _) => g,
                    });
                    (
                        c,
                        Spec {
                            channels,
                            sample_rate: rate,
                            bits,
                            float,
                            sub_format: sub,
                            channel_mask: 0,
                        },
                        ambu,
                    )
                })
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(512))]

            #[test]
            fn arbitrary_bytes_get_an_answer(bytes in prop::collection::vec(any::<u8>(), 0..4096)) {
                let _ = inspect(&bytes[..]);
            }

            #[test]
            fn arbitrary_bytes_after_a_real_header_get_an_answer(
                (container, spec, _) in any_spec(),
                tail in prop::collection::vec(any::<u8>(), 0..512),
            ) {
                let mut bytes = header(container, &spec, &[], 1 << 20);
                bytes.extend_from_slice(&tail);
                prop_assert!(inspect(&bytes[..]).is_err(), "a file shorter than its header says is refused");
            }

            #[test]
            fn generated_files_read_back_and_damaged_ones_never_read_whole(
                (container, spec, ambu) in any_spec(),
                frames in 0usize..300,
                cut in any::<prop::sample::Index>(),
                flip in any::<prop::sample::Index>(),
                byte in any::<u8>(),
            ) {
                let extra = if ambu { vec![(*b"AMBU", ambu_body())] } else { vec![] };
                let bytes = file(container, &spec, &extra, frames);
                let whole = inspect(&bytes[..]);
                prop_assume!(!matches!(whole, Err(InspectError::NoFumaLayout(_))));
                let i = whole.map_err(|e| TestCaseError::fail(e.to_string()))?;
                prop_assert_eq!(i.frames, frames as u64);
                prop_assert_eq!(i.size_bytes, bytes.len() as u64);
                prop_assert_eq!((i.channels, i.bits, i.float), (spec.channels, spec.bits, spec.float));

                let short = &bytes[..cut.index(bytes.len())];
                prop_assert!(inspect(short).is_err(), "cut at {} of {}", short.len(), bytes.len());

                let mut damaged = bytes.clone();
                let at = flip.index(damaged.len());
                damaged[at] ^= byte | 1;
                // Damage may land in the samples (still a file) or the header (refused or
                // read differently); either way an answer, and the checksum tells them apart.
                if let Ok(d) = inspect(&damaged[..]) {
                    prop_assert_ne!(d.sha256, i.sha256);
                }
            }
        }
    }
}
