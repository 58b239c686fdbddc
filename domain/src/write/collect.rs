//! The keys a request's writes changed, gathered while it runs (a task-local), so that its
//! answer can name them to the balancer in front (`X-Purge-Keys`).

use std::{cell::RefCell, future::Future};

tokio::task_local! {
    static CHANGED: RefCell<Vec<String>>;
}

/// Runs `f`, gathering the keys every write committed inside it changed (deduplicated, in
/// the order first named).
pub async fn collecting<F: Future>(f: F) -> (F::Output, Vec<String>) {
    CHANGED
        .scope(RefCell::new(Vec::new()), async {
            let out = f.await;
            let keys = CHANGED.with(|c| c.take());
            (out, keys)
        })
        .await
}

/// A write committed these keys (unheard when nobody is collecting: a command or the
/// worker, whose writes only the bus carries).
pub(super) fn changed(keys: impl IntoIterator<Item = String>) {
    let _ = CHANGED.try_with(|c| {
        let mut c = c.borrow_mut();
        for k in keys {
            if !c.contains(&k) {
                c.push(k);
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn writes_inside_are_collected_once_and_outside_unheard() {
        let named = |id: i32| {
            [
                contract::key::recording(id),
                contract::key::user(7),
                contract::key::CATALOG.to_owned(),
            ]
        };
        changed(named(1));
        let ((), keys) = collecting(async {
            changed(named(42));
            changed(named(42));
        })
        .await;
        assert_eq!(keys, ["recording:42", "user:7", "catalog"]);
    }
}
