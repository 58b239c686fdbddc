//! The cache contract between the app replicas and the balancer in front of them (and any
//! shared cache beside it), written once for both sides:
//!
//! - [`header`]: the names both sides speak (`Surrogate-Key`, `X-Purge-Keys`, `X-Bus-Seq`,
//!   `X-Cache`, `X-Request-Id` …);
//! - [`key`]: how surrogate keys are spelled — the pages that show a thing are cached under
//!   its key, and the writes that change it purge that key;
//! - [`policy`]: whether a response may be kept by a shared cache at all, and the
//!   `Cache-Control` a shareable page carries;
//! - [`uploads`]: the paths whose requests carry recordings, how large they may be and how
//!   long their answer may take after the body;
//! - [`histogram`]: the latency histogram both roles' `/metrics` render, with one set of
//!   buckets, so that one dashboard and one set of alert rules read both.
//!
//! The app decides what a page shows and names it; the balancer stores, serves and purges
//! by those names. `docs/architecture.md` ("The cache contract") tells the whole story.

pub mod header;
pub mod histogram;
pub mod key;
pub mod policy;
pub mod uploads;
