//! The WAVE family's identifiers, and a header writer for the three containers (RIFF,
//! RF64, Sony Wave64) used by the demo recordings, format conversion and the tests that
//! check inspection against generated files.

/// `KSDATAFORMAT_SUBTYPE_PCM` as stored on disk.
pub const GUID_PCM: [u8; 16] = guid_tail(
    0x0000_0001,
    [
        0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71,
    ],
);
/// `KSDATAFORMAT_SUBTYPE_IEEE_FLOAT`.
pub const GUID_FLOAT: [u8; 16] = guid_tail(
    0x0000_0003,
    [
        0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71,
    ],
);
/// FuMa B-format, PCM: `00000001-0721-11d3-8644-C8C1CA000000`.
pub const GUID_AMB_PCM: [u8; 16] = guid_tail(
    0x0000_0001,
    [
        0x21, 0x07, 0xD3, 0x11, 0x86, 0x44, 0xC8, 0xC1, 0xCA, 0x00, 0x00, 0x00,
    ],
);
/// FuMa B-format, IEEE float: `00000003-0721-11d3-8644-C8C1CA000000`.
pub const GUID_AMB_FLOAT: [u8; 16] = guid_tail(
    0x0000_0003,
    [
        0x21, 0x07, 0xD3, 0x11, 0x86, 0x44, 0xC8, 0xC1, 0xCA, 0x00, 0x00, 0x00,
    ],
);

/// Sony Wave64 chunk identifiers: the FourCC in the first four bytes, then a fixed tail.
const W64_TAIL: [u8; 12] = [
    0xF3, 0xAC, 0xD3, 0x11, 0x8C, 0xD1, 0x00, 0xC0, 0x4F, 0x8E, 0xDB, 0x8A,
];
pub const W64_RIFF: [u8; 16] = *b"riff\x2E\x91\xCF\x11\xA5\xD6\x28\xDB\x04\xC1\x00\x00";
pub const W64_WAVE: [u8; 16] = w64(*b"wave");
pub const W64_FMT: [u8; 16] = w64(*b"fmt ");
pub const W64_DATA: [u8; 16] = w64(*b"data");

const fn guid_tail(first: u32, tail: [u8; 12]) -> [u8; 16] {
    let f = first.to_le_bytes();
    [
        f[0], f[1], f[2], f[3], tail[0], tail[1], tail[2], tail[3], tail[4], tail[5], tail[6],
        tail[7], tail[8], tail[9], tail[10], tail[11],
    ]
}

pub const fn w64(fourcc: [u8; 4]) -> [u8; 16] {
    let t = W64_TAIL;
    [
        fourcc[0], fourcc[1], fourcc[2], fourcc[3], t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7],
        t[8], t[9], t[10], t[11],
    ]
}

pub const FORMAT_PCM: u16 = 1;
pub const FORMAT_FLOAT: u16 = 3;
pub const FORMAT_EXTENSIBLE: u16 = 0xFFFE;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Container {
    Riff,
    Rf64,
    Wave64,
}

/// What a WAVE header says about the samples.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spec {
    pub channels: u16,
    pub sample_rate: u32,
    pub bits: u16,
    pub float: bool,
    /// `None`: a plain `fmt ` (format 1 or 3); `Some(guid)`: WAVE_FORMAT_EXTENSIBLE.
    pub sub_format: Option<[u8; 16]>,
    pub channel_mask: u32,
}

impl Spec {
    pub fn block_align(&self) -> u16 {
        self.channels * (self.bits / 8)
    }

    fn fmt_body(&self) -> Vec<u8> {
        let mut b = Vec::with_capacity(40);
        let tag = match (self.sub_format, self.float) {
            (Some(_), _) => FORMAT_EXTENSIBLE,
            (None, true) => FORMAT_FLOAT,
            (None, false) => FORMAT_PCM,
        };
        b.extend_from_slice(&tag.to_le_bytes());
        b.extend_from_slice(&self.channels.to_le_bytes());
        b.extend_from_slice(&self.sample_rate.to_le_bytes());
        b.extend_from_slice(&(self.sample_rate * u32::from(self.block_align())).to_le_bytes());
        b.extend_from_slice(&self.block_align().to_le_bytes());
        b.extend_from_slice(&self.bits.to_le_bytes());
        if let Some(guid) = self.sub_format {
            b.extend_from_slice(&22u16.to_le_bytes());
            b.extend_from_slice(&self.bits.to_le_bytes());
            b.extend_from_slice(&self.channel_mask.to_le_bytes());
            b.extend_from_slice(&guid);
        }
        b
    }
}

/// Everything before the samples: the container header, `fmt `, optional extra chunks
/// (each `(fourcc, body)`, e.g. UHJ's `AMBU`) and the `data` chunk header for `data_len`
/// bytes of samples.
pub fn header(
    container: Container,
    spec: &Spec,
    extra: &[([u8; 4], Vec<u8>)],
    data_len: u64,
) -> Vec<u8> {
    let fmt = spec.fmt_body();
    let mut out = Vec::new();
    match container {
        Container::Riff | Container::Rf64 => {
            let mut chunks = Vec::new();
            let mut chunk = |id: &[u8; 4], body: &[u8]| {
                chunks.extend_from_slice(id);
                chunks.extend_from_slice(&(body.len() as u32).to_le_bytes());
                chunks.extend_from_slice(body);
                if body.len() % 2 == 1 {
                    chunks.push(0);
                }
            };
            chunk(b"fmt ", &fmt);
            for (id, body) in extra {
                chunk(id, body);
            }
            let pad = data_len % 2;
            let riff_size = 4 + chunks.len() as u64 + 8 + data_len + pad;
            if container == Container::Riff {
                out.extend_from_slice(b"RIFF");
                out.extend_from_slice(&(riff_size.min(u64::from(u32::MAX)) as u32).to_le_bytes());
                out.extend_from_slice(b"WAVE");
                out.extend_from_slice(&chunks);
                out.extend_from_slice(b"data");
                out.extend_from_slice(&(data_len.min(u64::from(u32::MAX)) as u32).to_le_bytes());
            } else {
                let ds64_len = 28u64;
                let riff_size = riff_size + 8 + ds64_len;
                out.extend_from_slice(b"RF64");
                out.extend_from_slice(&u32::MAX.to_le_bytes());
                out.extend_from_slice(b"WAVE");
                out.extend_from_slice(b"ds64");
                out.extend_from_slice(&(ds64_len as u32).to_le_bytes());
                out.extend_from_slice(&riff_size.to_le_bytes());
                out.extend_from_slice(&data_len.to_le_bytes());
                let frames = data_len / u64::from(spec.block_align().max(1));
                out.extend_from_slice(&frames.to_le_bytes());
                out.extend_from_slice(&0u32.to_le_bytes());
                out.extend_from_slice(&chunks);
                out.extend_from_slice(b"data");
                out.extend_from_slice(&u32::MAX.to_le_bytes());
            }
        }
        Container::Wave64 => {
            let mut chunks = Vec::new();
            let mut chunk = |id: [u8; 16], body: &[u8]| {
                chunks.extend_from_slice(&id);
                chunks.extend_from_slice(&(24 + body.len() as u64).to_le_bytes());
                chunks.extend_from_slice(body);
                chunks.resize(chunks.len().next_multiple_of(8), 0);
            };
            chunk(W64_FMT, &fmt);
            for (id, body) in extra {
                chunk(w64(*id), body);
            }
            let riff_size = 40 + chunks.len() as u64 + 24 + data_len.next_multiple_of(8);
            out.extend_from_slice(&W64_RIFF);
            out.extend_from_slice(&riff_size.to_le_bytes());
            out.extend_from_slice(&W64_WAVE);
            out.extend_from_slice(&chunks);
            out.extend_from_slice(&W64_DATA);
            out.extend_from_slice(&(24 + data_len).to_le_bytes());
        }
    }
    out
}

/// What follows the samples so the container's sizes add up (a pad byte or alignment).
pub fn trailer(container: Container, data_len: u64) -> Vec<u8> {
    match container {
        Container::Riff | Container::Rf64 => vec![0; (data_len % 2) as usize],
        Container::Wave64 => vec![0; (data_len.next_multiple_of(8) - data_len) as usize],
    }
}

/// UHJ's marker chunk body: version 1.
pub fn ambu_body() -> Vec<u8> {
    1u32.to_le_bytes().to_vec()
}

/// Encodes one sample for the spec's format (clipping to full scale for integers).
pub fn put_sample(out: &mut Vec<u8>, spec: &Spec, v: f64) {
    if spec.float {
        match spec.bits {
            64 => out.extend_from_slice(&v.to_le_bytes()),
            _ => out.extend_from_slice(&(v as f32).to_le_bytes()),
        }
        return;
    }
    let bits = u32::from(spec.bits);
    let full = f64::from(1u32 << (bits - 1).min(31));
    let i = (v * full).round().clamp(-full, full - 1.0) as i64;
    match spec.bits {
        8 => out.push((i + 128) as u8),
        16 => out.extend_from_slice(&(i as i16).to_le_bytes()),
        24 => out.extend_from_slice(&(i as i32).to_le_bytes()[..3]),
        _ => out.extend_from_slice(&(i as i32).to_le_bytes()),
    }
}
