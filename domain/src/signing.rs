//! Signatures for what the site hands a browser to bring back (the form error in a redirect,
//! `?__err=`), so that a page shows only what this site said. HMAC-SHA-256 (RFC 2104) under
//! a key the replicas share through the `site_keys` table, made by whichever starts first.

use hmac::{Hmac, Mac};
use sea_orm::{DatabaseConnection, EntityTrait, Set};
use sha2::Sha256;

use crate::{
    Secret,
    entities::site_keys,
    error::ServiceError,
    write::{Changed, Write},
};

const FORM_ERRORS: &str = "form-errors";

/// The key that signs form errors: read, or made and kept if no replica has made it yet.
pub async fn form_error_key(db: &DatabaseConnection) -> Result<Secret, ServiceError> {
    let fresh = crate::sessions::random_token() + &crate::sessions::random_token();
    let w = Write::begin(db).await?;
    let made = site_keys::Entity::insert(site_keys::ActiveModel {
        name: Set(FORM_ERRORS.into()),
        value: Set(fresh),
    })
    .on_conflict_do_nothing()
    .exec(&w)
    .await;
    if let Err(e) = made
        && !matches!(e, sea_orm::DbErr::RecordNotInserted)
    {
        return Err(e.into());
    }
    // A key, not anything a page shows.
    w.commit(Changed::nothing_shown()).await?;
    let row = site_keys::Entity::find_by_id(FORM_ERRORS.to_string())
        .one(db)
        .await?
        .ok_or_else(|| ServiceError::internal("reading the site key", "missing after insert"))?;
    Ok(Secret::new(row.value))
}

/// HMAC-SHA-256 (RFC 2104) under `key`, ready for the message: the one HMAC of the site
/// (form errors here, Stripe's webhook signatures in `payments::signature`).
pub(crate) fn hmac_sha256(key: &[u8]) -> Hmac<Sha256> {
    // HMAC takes a key of any length: a long one is hashed first.
    <Hmac<Sha256> as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"))
}

/// HMAC-SHA-256 of `message` under `key`, as hex.
pub fn sign(key: &Secret, message: &str) -> String {
    let mac = hmac_sha256(key.expose().as_bytes()).chain_update(message.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// Whether `signature` is `message`'s, compared in time that does not depend on where a
/// forgery differs.
pub fn verify(key: &Secret, message: &str, signature: &str) -> bool {
    let Ok(claimed) = hex::decode(signature) else {
        return false;
    };
    hmac_sha256(key.expose().as_bytes())
        .chain_update(message.as_bytes())
        .verify_slice(&claimed)
        .is_ok()
}

/// How long a form token handed to a visitor without a session stays good (its cookie
/// lives as long).
pub const ANONYMOUS_FORM_TOKEN_S: i64 = 86_400;

/// A form token for a visitor without a session (the log-in and register forms, double
/// submit): when it was made, a random part, and this site's signature over both. Only a
/// token this site handed out in the last day passes [`is_anonymous_form_token`], so a
/// script cannot choose one value for both the cookie and the field.
pub fn anonymous_form_token(key: &Secret) -> String {
    let mut nonce = [0u8; 16];
    rand::RngCore::fill_bytes(&mut rand::thread_rng(), &mut nonce);
    let made = format!("{}.{}", chrono::Utc::now().timestamp(), hex::encode(nonce));
    let signature = sign(key, &anonymous_form_message(&made));
    format!("{made}.{signature}")
}

/// Whether `token` is one [`anonymous_form_token`] made, within its lifetime.
pub fn is_anonymous_form_token(key: &Secret, token: &str) -> bool {
    let Some((made, signature)) = token.rsplit_once('.') else {
        return false;
    };
    let Some(at) = made
        .split_once('.')
        .and_then(|(t, _)| t.parse::<i64>().ok())
    else {
        return false;
    };
    let age = chrono::Utc::now().timestamp() - at;
    (0..=ANONYMOUS_FORM_TOKEN_S).contains(&age)
        && verify(key, &anonymous_form_message(made), signature)
}

/// What an anonymous form token's signature covers: kept apart from form errors' messages.
fn anonymous_form_message(made: &str) -> String {
    format!("anonymous-form\n{made}")
}

/// What a form error's signature covers: the form it belongs to and the encoded error.
pub fn form_error_message(path: &str, encoded_error: &str) -> String {
    format!("{path}\n{encoded_error}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_anonymous_form_tokens_this_site_made_pass() {
        let key = Secret::new("k".repeat(64));
        let token = anonymous_form_token(&key);
        assert!(is_anonymous_form_token(&key, &token), "{token}");
        assert!(!is_anonymous_form_token(&Secret::new("other"), &token));
        let made_up = "a".repeat(64);
        assert!(
            !is_anonymous_form_token(&key, &made_up),
            "any 64 hex, as before"
        );
        let (made, _) = token.rsplit_once('.').unwrap_or_default();
        let forged = format!("{made}.{}", "0".repeat(64));
        assert!(!is_anonymous_form_token(&key, &forged));
        let old = format!(
            "{}.00",
            chrono::Utc::now().timestamp() - ANONYMOUS_FORM_TOKEN_S - 1
        );
        let signed_long_ago = format!("{old}.{}", sign(&key, &anonymous_form_message(&old)));
        assert!(!is_anonymous_form_token(&key, &signed_long_ago), "expired");
    }

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
        assert!(!verify(&key, "a", "not hex"));
    }
}
