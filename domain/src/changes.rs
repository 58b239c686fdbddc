//! What a write changed, named by the surrogate keys of the pages that show it. Pages are
//! cached under these keys (the app's half of the cache contract, DESIGN.md); each write in
//! this crate says which keys it changed, once it has committed, and whoever ran the write
//! passes them on — an app replica answering a request puts them in its response's
//! `X-Purge-Keys` header, which the balancer in front acts on (the invalidation bus will
//! carry the same keys to every replica and balancer).

/// The names pages are cached under. The loaders that tag pages and the writes that purge
/// them both spell keys here, so the two cannot drift apart.
pub mod key {
    /// Every list of published recordings: home, catalog, tag pages, feeds.
    pub const CATALOG: &str = "catalog";

    pub fn recording(id: i32) -> String {
        format!("recording:{id}")
    }

    pub fn user(id: i32) -> String {
        format!("user:{id}")
    }

    pub fn tag(slug: &str) -> String {
        format!("tag:{slug}")
    }
}

#[cfg(feature = "server")]
pub use collect::{collecting, recording};

#[cfg(feature = "server")]
mod collect {
    use std::{cell::RefCell, future::Future};

    tokio::task_local! {
        static CHANGED: RefCell<Vec<String>>;
    }

    /// Runs `f`, gathering the keys every write inside it changed (deduplicated, in the
    /// order first named).
    pub async fn collecting<F: Future>(f: F) -> (F::Output, Vec<String>) {
        CHANGED
            .scope(RefCell::new(Vec::new()), async {
                let out = f.await;
                let keys = CHANGED.with(|c| c.take());
                (out, keys)
            })
            .await
    }

    /// A committed write changed these keys (unheard when nobody is collecting: a command
    /// or the worker, whose writes the bus will carry).
    fn changed(keys: impl IntoIterator<Item = String>) {
        let _ = CHANGED.try_with(|c| {
            let mut c = c.borrow_mut();
            for k in keys {
                if !c.contains(&k) {
                    c.push(k);
                }
            }
        });
    }

    /// A published recording changed, appeared or went away: its page, its uploader's page
    /// and every list of recordings.
    pub fn recording(id: i32, uploader_id: i32) {
        changed([
            super::key::recording(id),
            super::key::user(uploader_id),
            super::key::CATALOG.to_owned(),
        ]);
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[tokio::test]
        async fn writes_inside_are_collected_once_and_outside_unheard() {
            recording(1, 2);
            let ((), keys) = collecting(async {
                recording(42, 7);
                recording(42, 7);
            })
            .await;
            assert_eq!(keys, ["recording:42", "user:7", "catalog"]);
        }
    }
}
