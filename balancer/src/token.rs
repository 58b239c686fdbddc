//! The purge and admin tokens (`AMBISONIA_PURGE_TOKEN`, `AMBISONIA_ADMIN_TOKEN`): a secret that never prints itself, checked in
//! time that does not depend on where a guess differs.

use std::fmt;

use http::{HeaderMap, header};

#[derive(Clone, PartialEq, Eq)]
pub struct BearerToken(String);

impl BearerToken {
    /// `None` for an empty value: an empty token would admit an empty guess.
    pub fn new(value: String) -> Option<Self> {
        (!value.is_empty()).then_some(Self(value))
    }

    /// Whether the request carries `Authorization: Bearer <this token>`.
    pub fn admits(&self, headers: &HeaderMap) -> bool {
        let offered = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or("");
        constant_time_eq(offered.as_bytes(), self.0.as_bytes())
    }
}

impl fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BearerToken(…)")
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use http::{HeaderMap, HeaderValue, header};

    use super::BearerToken;

    #[test]
    fn a_token_admits_only_itself_and_never_prints() {
        let t = BearerToken::new("s3cret-purge".into()).unwrap_or_else(|| panic!("a token"));
        assert!(!format!("{t:?}").contains("s3cret"));
        let mut h = HeaderMap::new();
        assert!(!t.admits(&h));
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer s3cret-purg"),
        );
        assert!(!t.admits(&h));
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer s3cret-purge"),
        );
        assert!(t.admits(&h));
        assert!(BearerToken::new(String::new()).is_none());
    }
}
