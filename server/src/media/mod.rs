//! Recordings as sound: reading what a file is (`inspect`), the WAVE family's headers
//! (`wav`), format conversion (`convert`) and the direction-of-arrival analysis (`doa`).
//! Pure code over readers and sample buffers, pinned by known-answer tests.

pub mod convert;
pub mod doa;
pub mod ingest;
pub mod inspect;
pub mod render;
pub mod store;
pub mod synth;
pub mod wav;
