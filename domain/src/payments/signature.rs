//! The `Stripe-Signature` header: `t=TIMESTAMP,v1=HEX[,v1=HEX…]`, each `v1` an
//! HMAC-SHA256 of `TIMESTAMP.BODY` under the endpoint's secret. Every `v1` is tried (Stripe
//! sends two while a secret is being rolled), compared in constant time, and the timestamp
//! must be within `TOLERANCE_S` of now, so that a captured request cannot be replayed later.

use hmac::{Hmac, Mac};
use sha2::Sha256;

pub const TOLERANCE_S: i64 = 300;

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("no Stripe-Signature header")]
    Missing,
    #[error("the Stripe-Signature header does not read as t=…,v1=…")]
    Malformed,
    #[error("no v1 signature matches the body")]
    Mismatch,
    #[error("the signature's timestamp is {0} s away from now (more than {TOLERANCE_S} s)")]
    Stale(i64),
}

/// Checks `header` against the raw `body` as received (not re-serialised).
pub fn verify(
    body: &[u8],
    header: Option<&str>,
    secret: &str,
    now: i64,
) -> Result<(), SignatureError> {
    let header = header.ok_or(SignatureError::Missing)?;
    let mut timestamp = None;
    let mut candidates = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", sig)) => {
                if let Ok(bytes) = hex::decode(sig) {
                    candidates.push(bytes);
                }
            }
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if candidates.is_empty() {
        return Err(SignatureError::Malformed);
    }
    let mut mac = mac(secret, timestamp);
    mac.update(body);
    // `verify_slice` compares in constant time.
    if !candidates
        .iter()
        .any(|c| mac.clone().verify_slice(c).is_ok())
    {
        return Err(SignatureError::Mismatch);
    }
    let skew = (now - timestamp).abs();
    if skew > TOLERANCE_S {
        return Err(SignatureError::Stale(skew));
    }
    Ok(())
}

fn mac(secret: &str, timestamp: i64) -> Hmac<Sha256> {
    let mut mac = crate::signing::hmac_sha256(secret.as_bytes());
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac
}

/// The header Stripe would send for `body` at `timestamp` (for tests and the stand-in).
pub fn sign(body: &[u8], secret: &str, timestamp: i64) -> String {
    let mut mac = mac(secret, timestamp);
    mac.update(body);
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    #[test]
    fn only_a_fresh_signature_of_this_body_under_this_secret_passes() {
        let body = br#"{"id":"evt_1"}"#;
        let good = sign(body, "whsec_a", NOW);
        assert_eq!(verify(body, Some(&good), "whsec_a", NOW + 10), Ok(()));
        assert_eq!(
            verify(body, Some(&good), "whsec_b", NOW),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(br#"{"id":"evt_2"}"#, Some(&good), "whsec_a", NOW),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify(body, Some(&good), "whsec_a", NOW + 301),
            Err(SignatureError::Stale(301))
        );
        assert_eq!(
            verify(body, None, "whsec_a", NOW),
            Err(SignatureError::Missing)
        );
        for bad in ["", "v1=00", "t=abc,v1=00", &format!("t={NOW}")] {
            assert_eq!(
                verify(body, Some(bad), "whsec_a", NOW),
                Err(SignatureError::Malformed),
                "{bad}"
            );
        }
    }

    #[test]
    fn any_v1_may_match_while_a_secret_is_rolled() {
        let body = b"{}";
        let old = sign(body, "whsec_old", NOW);
        let new = sign(body, "whsec_new", NOW);
        let both = format!(
            "{new},v1={},v0=ignored",
            old.split("v1=").nth(1).unwrap_or("")
        );
        assert_eq!(verify(body, Some(&both), "whsec_old", NOW), Ok(()));
        assert_eq!(verify(body, Some(&both), "whsec_new", NOW), Ok(()));
        // A timestamp changed after signing breaks the signature.
        let moved = old.replace(&NOW.to_string(), &(NOW + 1).to_string());
        assert_eq!(
            verify(body, Some(&moved), "whsec_old", NOW),
            Err(SignatureError::Mismatch)
        );
    }
}
