//! Recordings as sound, and nothing else: what a file is (`inspect`), the WAVE family's
//! headers (`wav`), FuMa ⇄ AmbiX conversion (`convert`), direction of arrival (`doa`), the
//! previews and pictures (`render`, behind the `vorbis` and `mp3` features, which build
//! libvorbis and LAME), a preview's first seconds (`excerpt`), demo sound (`synth`), and
//! what feeds and peers need: the podcast MP3 (`mp3`), torrents (`torrent`) and cover art
//! (`artwork`). Pure code over `Read`/`Write` and sample buffers,
//! pinned by known-answer tests; no files, network or database.

pub mod artwork;
pub mod convention;
pub mod convert;
pub mod doa;
pub mod excerpt;
pub mod first_order;
pub mod hrtf;
pub mod inspect;
pub mod kemar;
pub mod ku100;
#[cfg(feature = "mp3")]
pub mod mp3;
pub mod phase;
#[cfg(all(feature = "vorbis", feature = "mp3"))]
pub mod render;
pub mod rendition;
pub mod resample;
pub mod sh;
pub mod synth;
pub mod torrent;
pub mod uhj;
pub mod wav;

pub use convention::Convention;
