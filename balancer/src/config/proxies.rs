//! Whose word on the client's address is believed: one list for both roles (the balancer,
//! and app replicas working out whom to throttle).

use std::net::{IpAddr, SocketAddr};

/// The proxies whose word on the client's address (`X-Forwarded-For`, and for the balancer
/// also `X-Forwarded-Proto/-Host` and `Forwarded`) is believed — by the balancer, and by app
/// replicas working out whom to throttle. One list for both roles, loopback by default (as
/// Rails' `RemoteIp` does): a replica behind a balancer on the same machine sees real
/// client addresses without setting anything.
#[derive(Debug, Clone, clap::Args)]
pub struct TrustedProxies {
    /// Proxies (IP or CIDR, repeat or comma-separate) whose X-Forwarded-* headers are
    /// believed, by either role.
    #[arg(
        long = "trusted-proxy",
        env = "AMBISONIA_TRUSTED_PROXIES",
        value_delimiter = ',',
        default_value = TrustedProxies::DEFAULT,
        value_parser = Cidr::parse
    )]
    pub list: Vec<Cidr>,
}

impl Default for TrustedProxies {
    fn default() -> Self {
        Self {
            list: Self::DEFAULT
                .split(',')
                .filter_map(|c| Cidr::parse(c).ok())
                .collect(),
        }
    }
}

impl TrustedProxies {
    pub const DEFAULT: &str = "127.0.0.0/8,::1";

    pub fn trusts(&self, ip: IpAddr) -> bool {
        self.list.iter().any(|c| c.contains(ip))
    }

    /// The client's address: the peer itself, unless it is a trusted proxy; then the
    /// right-most address of `X-Forwarded-For` (all its values, in order) that is not a
    /// trusted proxy. Entries left of one that does not parse are not believed; when every
    /// entry is trusted, the left-most is the client.
    pub fn client_address<'a>(
        &self,
        peer: IpAddr,
        forwarded_for: impl IntoIterator<Item = &'a str>,
    ) -> IpAddr {
        if !self.trusts(peer) {
            return peer;
        }
        let entries: Vec<&str> = forwarded_for
            .into_iter()
            .flat_map(|v| v.split(','))
            .collect();
        let mut client = peer;
        for entry in entries.iter().rev().map(|e| e.trim()) {
            let parsed = entry
                .parse::<IpAddr>()
                .or_else(|_| entry.parse::<SocketAddr>().map(|a| a.ip()));
            let Ok(ip) = parsed else {
                return client;
            };
            let ip = match ip {
                IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
                v4 => v4,
            };
            client = ip;
            if !self.trusts(ip) {
                return ip;
            }
        }
        client
    }
}

/// An address block for the trusted-proxy list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    net: IpAddr,
    bits: u8,
}

impl Cidr {
    pub fn parse(s: &str) -> Result<Self, String> {
        let (addr, bits) = match s.split_once('/') {
            Some((a, b)) => (a, Some(b)),
            None => (s, None),
        };
        let net: IpAddr = addr
            .trim()
            .parse()
            .map_err(|_| format!("`{s}` is not an IP address or CIDR block"))?;
        let max = if net.is_ipv4() { 32 } else { 128 };
        let bits = match bits {
            None => max,
            Some(b) => b
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|b| *b <= max)
                .ok_or_else(|| format!("`{s}` has a prefix length outside 0..={max}"))?,
        };
        Ok(Self { net, bits })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
            v4 => v4,
        };
        match (self.net, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX.checked_shl(32 - u32::from(self.bits)).unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.bits))
                    .unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_is_the_right_most_address_no_trusted_proxy_vouches_for() {
        let p = TrustedProxies::default();
        let ip = |s: &str| s.parse::<IpAddr>().unwrap_or(IpAddr::from([0, 0, 0, 0]));
        let from = |peer: &str, xff: &[&str]| p.client_address(ip(peer), xff.iter().copied());
        // Straight from the internet: the header is the client's own word, ignored.
        assert_eq!(from("203.0.113.9", &["10.0.0.1"]), ip("203.0.113.9"));
        // Behind a balancer on this machine: its last entry is who connected to it.
        assert_eq!(from("127.0.0.1", &["198.51.100.7"]), ip("198.51.100.7"));
        // A client that forged an entry before ours: the forged one is left of the truth.
        assert_eq!(
            from("127.0.0.1", &["1.1.1.1, 198.51.100.7"]),
            ip("198.51.100.7")
        );
        assert_eq!(
            from("127.0.0.1", &["1.1.1.1", "198.51.100.7:5555"]),
            ip("198.51.100.7")
        );
        // Every hop trusted (clients on loopback): the left-most.
        assert_eq!(
            from("127.0.0.1", &["127.0.0.2, 127.0.0.1"]),
            ip("127.0.0.2")
        );
        assert_eq!(from("::1", &["::ffff:127.0.0.3"]), ip("127.0.0.3"));
        // Garbage stops the walk: nothing left of it is believed.
        assert_eq!(
            from("127.0.0.1", &["8.8.8.8, nonsense, 127.0.0.5"]),
            ip("127.0.0.5")
        );
        assert_eq!(from("127.0.0.1", &[]), ip("127.0.0.1"));
        let none = TrustedProxies { list: vec![] };
        assert_eq!(
            none.client_address(ip("127.0.0.1"), ["9.9.9.9"]),
            ip("127.0.0.1")
        );
    }

    #[test]
    fn cidr_blocks_match_what_they_cover() {
        let c = Cidr::parse("10.0.0.0/8").unwrap_or_else(|e| panic!("{e}"));
        assert!(c.contains("10.1.2.3".parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))));
        assert!(!c.contains("11.0.0.1".parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))));
        let one = Cidr::parse("127.0.0.1").unwrap_or_else(|e| panic!("{e}"));
        assert!(
            one.contains(
                "::ffff:127.0.0.1"
                    .parse()
                    .unwrap_or(IpAddr::from([0, 0, 0, 0]))
            )
        );
        assert!(Cidr::parse("10.0.0.0/33").is_err());
        assert!(Cidr::parse("example.org").is_err());
    }
}
