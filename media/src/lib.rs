//! Recordings as sound, and nothing else: what a file is (`inspect`), the WAVE family's
//! headers (`wav`), FuMa ⇄ AmbiX conversion (`convert`), direction of arrival (`doa`), the
//! stereo preview and pictures (`render`, behind the `vorbis` feature, which builds
//! libvorbis), a preview's first seconds (`excerpt`) and demo sound (`synth`). Pure code over `Read`/`Write` and sample buffers,
//! pinned by known-answer tests; no files, network or database.

pub mod convention;
pub mod convert;
pub mod doa;
pub mod excerpt;
pub mod first_order;
pub mod hrtf;
pub mod inspect;
pub mod phase;
#[cfg(feature = "vorbis")]
pub mod render;
pub mod rendition;
pub mod resample;
pub mod synth;
pub mod uhj;
pub mod wav;

pub use convention::Convention;
