//! What one client address holds at once: its open connections, and its requests that
//! hold an upstream. One laptop opening hundreds of connections, or dribbling hundreds of
//! bodies, gets its own caps and leaves the replicas' slots to everyone else.

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::{
        Arc, Mutex, MutexGuard,
        atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed},
    },
    time::Duration,
};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::config::Limits;

#[derive(Default)]
pub struct Clients {
    table: Mutex<HashMap<IpAddr, Entry>>,
    pub connections_refused: AtomicU64,
    pub requests_refused: AtomicU64,
    /// Refused connections being closed in stages now ([`Lingering`]).
    lingering: AtomicUsize,
}

struct Entry {
    connections: usize,
    /// Its upstream slots; waiters hold a clone, so an entry is gone only when nobody
    /// holds or waits for one.
    upstream: Arc<Semaphore>,
    upstream_cap: usize,
}

/// An open connection, counted against its address until dropped.
pub struct ConnectionSlot {
    clients: Arc<Clients>,
    ip: IpAddr,
}

/// A refused connection being closed in stages, counted until dropped: at most
/// `max_lingering_refusals` at once, from all addresses together.
pub struct Lingering {
    clients: Arc<Clients>,
}

impl Drop for Lingering {
    fn drop(&mut self) {
        self.clients.lingering.fetch_sub(1, Relaxed);
    }
}

/// A request holding an upstream, counted against its address until its answer's last
/// byte is sent (it travels with the upstream claim).
pub struct UpstreamSlot {
    clients: Arc<Clients>,
    ip: IpAddr,
    permit: Option<OwnedSemaphorePermit>,
}

impl Clients {
    fn table(&self) -> MutexGuard<'_, HashMap<IpAddr, Entry>> {
        self.table.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn entry<'a>(
        table: &'a mut HashMap<IpAddr, Entry>,
        ip: IpAddr,
        limits: &Limits,
    ) -> &'a mut Entry {
        table.entry(ip).or_insert_with(|| {
            let cap = limits.max_upstream_per_client;
            Entry {
                connections: 0,
                upstream: Arc::new(Semaphore::new(if cap == 0 {
                    Semaphore::MAX_PERMITS
                } else {
                    cap
                })),
                upstream_cap: cap,
            }
        })
    }

    /// A new connection from `ip`, or `None` when it already has the most allowed.
    pub fn connect(self: &Arc<Self>, ip: IpAddr, limits: &Limits) -> Option<ConnectionSlot> {
        let mut table = self.table();
        let e = Self::entry(&mut table, ip, limits);
        if limits.max_connections_per_client > 0
            && e.connections >= limits.max_connections_per_client
        {
            drop(table);
            self.connections_refused.fetch_add(1, Relaxed);
            return None;
        }
        e.connections += 1;
        Some(ConnectionSlot {
            clients: Arc::clone(self),
            ip,
        })
    }

    /// Leave to close a refused connection in stages; `None` when `max_lingering_refusals`
    /// are being closed so already (0: no cap).
    pub fn linger(self: &Arc<Self>, limits: &Limits) -> Option<Lingering> {
        let cap = limits.max_lingering_refusals;
        self.lingering
            .fetch_update(Relaxed, Relaxed, |n| (cap == 0 || n < cap).then_some(n + 1))
            .ok()?;
        Some(Lingering {
            clients: Arc::clone(self),
        })
    }

    /// Refused connections being closed in stages now.
    pub fn lingering(&self) -> usize {
        self.lingering.load(Relaxed)
    }

    /// One of `ip`'s upstream slots, waiting up to the client queue timeout for one of its
    /// own requests to finish; `None` when it did not.
    pub async fn go_upstream(
        self: &Arc<Self>,
        ip: IpAddr,
        limits: &Limits,
    ) -> Option<UpstreamSlot> {
        if limits.max_upstream_per_client == 0 {
            return Some(UpstreamSlot {
                clients: Arc::clone(self),
                ip,
                permit: None,
            });
        }
        let semaphore = {
            let mut table = self.table();
            Arc::clone(&Self::entry(&mut table, ip, limits).upstream)
        };
        let mut slot = UpstreamSlot {
            clients: Arc::clone(self),
            ip,
            permit: None,
        };
        let permit = match semaphore.clone().try_acquire_owned() {
            Ok(p) => Some(p),
            Err(_) => tokio::time::timeout(
                limits.client_queue_timeout,
                Arc::clone(&semaphore).acquire_owned(),
            )
            .await
            .ok()
            .and_then(Result::ok),
        };
        drop(semaphore);
        match permit {
            Some(p) => {
                slot.permit = Some(p);
                Some(slot)
            }
            None => {
                self.requests_refused.fetch_add(1, Relaxed);
                None
            }
        }
    }

    /// Addresses holding a connection or an upstream slot now.
    pub fn tracked(&self) -> usize {
        self.table().len()
    }

    /// Forgets `ip` once nothing of it is held or awaited.
    fn release(&self, ip: IpAddr, connection: bool) {
        let mut table = self.table();
        let Some(e) = table.get_mut(&ip) else { return };
        if connection {
            e.connections = e.connections.saturating_sub(1);
        }
        let idle = e.connections == 0
            && Arc::strong_count(&e.upstream) == 1
            && (e.upstream_cap == 0 || e.upstream.available_permits() == e.upstream_cap);
        if idle {
            table.remove(&ip);
        }
    }
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        self.clients.release(self.ip, true);
    }
}

impl Drop for UpstreamSlot {
    fn drop(&mut self) {
        // The permit goes back before the entry is looked at, so the last one out removes it.
        self.permit.take();
        self.clients.release(self.ip, false);
    }
}

/// How long a refused client is asked to wait.
pub const RETRY_AFTER: Duration = Duration::from_secs(1);

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(conns: usize, upstream: usize) -> Limits {
        Limits {
            max_connections_per_client: conns,
            max_upstream_per_client: upstream,
            client_queue_timeout: Duration::from_millis(50),
            ..Limits::default()
        }
    }

    #[test]
    fn an_address_gets_its_connections_and_no_more_and_is_forgotten_after() {
        let clients = Arc::new(Clients::default());
        let l = limits(2, 1);
        let (a, b) = (IpAddr::from([192, 0, 2, 1]), IpAddr::from([192, 0, 2, 2]));
        let first = clients.connect(a, &l);
        let second = clients.connect(a, &l);
        assert!(first.is_some() && second.is_some());
        assert!(
            clients.connect(a, &l).is_none(),
            "a third from the same address"
        );
        assert!(
            clients.connect(b, &l).is_some(),
            "another address is not affected"
        );
        drop(first);
        let third = clients.connect(a, &l);
        assert!(third.is_some(), "room again");
        drop((second, third));
        assert_eq!(clients.tracked(), 0);
        assert_eq!(clients.connections_refused.load(Relaxed), 1);
    }

    #[tokio::test]
    async fn upstream_slots_wait_briefly_then_refuse() {
        let clients = Arc::new(Clients::default());
        let l = limits(0, 1);
        let a = IpAddr::from([192, 0, 2, 1]);
        let held = clients.go_upstream(a, &l).await;
        assert!(held.is_some());
        assert!(
            clients.go_upstream(a, &l).await.is_none(),
            "waited, refused"
        );
        let waiter = {
            let clients = Arc::clone(&clients);
            tokio::spawn(async move { clients.go_upstream(a, &l).await.is_some() })
        };
        tokio::time::sleep(Duration::from_millis(10)).await;
        drop(held);
        assert!(
            matches!(waiter.await, Ok(true)),
            "a slot freed while waiting is taken"
        );
        assert_eq!(clients.tracked(), 0);
        assert_eq!(clients.requests_refused.load(Relaxed), 1);
    }
}
