//! Signatures for what the site hands a browser to bring back (the form error in a redirect,
//! `?__err=`), so that a page shows only what this site said. HMAC-SHA-256 (RFC 2104) under
//! a key the replicas share through the `site_keys` table, made by whichever starts first.

use sea_orm::{DatabaseConnection, EntityTrait, Set};
use sha2::{Digest, Sha256};

use crate::{Secret, entities::site_keys, error::ServiceError};

const FORM_ERRORS: &str = "form-errors";
const BLOCK: usize = 64;

/// The key that signs form errors: read, or made and kept if no replica has made it yet.
pub async fn form_error_key(db: &DatabaseConnection) -> Result<Secret, ServiceError> {
    let fresh = crate::sessions::random_token() + &crate::sessions::random_token();
    let made = site_keys::Entity::insert(site_keys::ActiveModel {
        name: Set(FORM_ERRORS.into()),
        value: Set(fresh),
    })
    .on_conflict_do_nothing()
    .exec(db)
    .await;
    if let Err(e) = made
        && !matches!(e, sea_orm::DbErr::RecordNotInserted)
    {
        return Err(e.into());
    }
    let row = site_keys::Entity::find_by_id(FORM_ERRORS.to_string())
        .one(db)
        .await?
        .ok_or_else(|| ServiceError::internal("reading the site key", "missing after insert"))?;
    Ok(Secret::new(row.value))
}

/// HMAC-SHA-256 of `message` under `key`, as hex.
pub fn sign(key: &Secret, message: &str) -> String {
    let mut k = [0u8; BLOCK];
    let raw = key.expose().as_bytes();
    if raw.len() > BLOCK {
        k[..32].copy_from_slice(&Sha256::digest(raw));
    } else {
        k[..raw.len()].copy_from_slice(raw);
    }
    let pad = |byte: u8| k.map(|b| b ^ byte);
    let inner = Sha256::new()
        .chain_update(pad(0x36))
        .chain_update(message.as_bytes())
        .finalize();
    let outer = Sha256::new()
        .chain_update(pad(0x5c))
        .chain_update(inner)
        .finalize();
    hex::encode(outer)
}

/// Whether `signature` is `message`'s, compared in time that does not depend on where a
/// forgery differs.
pub fn verify(key: &Secret, message: &str, signature: &str) -> bool {
    let want = sign(key, message);
    want.len() == signature.len()
        && want
            .bytes()
            .zip(signature.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

/// What a form error's signature covers: the form it belongs to and the encoded error.
pub fn form_error_message(path: &str, encoded_error: &str) -> String {
    format!("{path}\n{encoded_error}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_sha256_matches_rfc_4231() {
        // Test case 2: key "Jefe", "what do ya want for nothing?".
        assert_eq!(
            sign(&Secret::new("Jefe"), "what do ya want for nothing?"),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
        let key = Secret::new("k");
        let s = sign(&key, "a");
        assert!(verify(&key, "a", &s));
        assert!(!verify(&key, "b", &s));
        assert!(!verify(&Secret::new("other"), "a", &s));
        assert!(!verify(&key, "a", ""));
    }
}
