//! The header names of the contract.

use http::HeaderName;

/// On a shareable response: the surrogate keys of what it shows, space-separated.
pub static SURROGATE_KEY: HeaderName = HeaderName::from_static("surrogate-key");
/// Cache-Control for surrogates only (a balancer or CDN obeys it before `Cache-Control`).
pub static SURROGATE_CONTROL: HeaderName = HeaderName::from_static("surrogate-control");
/// Cache-Control for CDNs only (RFC 9213).
pub static CDN_CACHE_CONTROL: HeaderName = HeaderName::from_static("cdn-cache-control");
/// On a replica's answer to a write: the surrogate keys the write changed, purged by the
/// balancer before the answer goes on (and never passed to the client).
pub static PURGE_KEYS: HeaderName = HeaderName::from_static("x-purge-keys");
/// On a replica's answer: the invalidation-log number the replica had applied when it
/// began the answer. A balancer on the bus does not store a page older than the last
/// purge of one of its keys (it may have been read before the write that purged it).
pub static BUS_SEQ: HeaderName = HeaderName::from_static("x-bus-seq");
/// On the balancer's answer: what its cache did (`HIT`, `MISS`, `STALE`, `BYPASS`, `PASS`).
pub static X_CACHE: HeaderName = HeaderName::from_static("x-cache");
/// One request's id: made by the balancer (or kept from a trusted proxy), sent to the
/// replica, written on every log line of the request on both sides, and returned.
pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
