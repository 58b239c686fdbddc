//! Integration tests: the real app replica in-process on port 0, driven over HTTP like a
//! browser would (form posts with `Accept: text/html`, `Referer` and `Origin`).
//! Every test runs twice, on its own fresh SQLite file and its own PostgreSQL database.

#![expect(
    clippy::expect_used,
    reason = "a test that cannot set itself up should stop at once, saying where"
)]

mod helpers;

mod abuse;
mod accounts;

mod bus;
mod bus_tls;
mod cache;
mod catalog;
mod catalog_scale;
mod collections;
mod csrf;
mod following;
mod front_door;
mod hostile_clients;
mod interactions;
mod listening;
mod map;
mod media;
mod media_store;
mod never_lost;
mod observability;
mod podcast;
mod premium;
mod public_api;
mod read_replica;
mod request_ids;
mod restarts;
mod uploads;
