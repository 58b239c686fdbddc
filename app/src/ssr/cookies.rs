//! The site's cookies: the session (`ambisonia_session`), the anonymous form token
//! (`ambisonia_csrf`, double submit), a new API token shown once, and where the visitor's
//! last write stood in the primary's log (`ambisonia_wrote_at`, with a read replica). All are HttpOnly and
//! SameSite=Lax, and Secure when the public URL is https.

use domain::sessions::SESSION_DAYS;

/// The session cookie. The balancer bypasses its page cache for requests carrying it (the
/// cache contract's name, and the balancer's default).
pub use contract::policy::SESSION_COOKIE;
/// The anonymous form-token cookie (double-submit) used by the log-in and register forms.
pub const CSRF_COOKIE: &str = "ambisonia_csrf";

fn cookie(name: &str, value: &str, max_age_s: i64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{name}={value}; Path=/; Max-Age={max_age_s}; HttpOnly; SameSite=Lax{secure}")
}

pub fn session_cookie(token: &str, secure: bool) -> String {
    cookie(SESSION_COOKIE, token, SESSION_DAYS * 86_400, secure)
}

pub fn clear_session_cookie(secure: bool) -> String {
    cookie(SESSION_COOKIE, "", 0, secure)
}

/// A new API token, shown once on the account page right after it is made (two minutes).
pub const NEW_TOKEN_COOKIE: &str = "ambisonia_new_token";

pub fn new_token_cookie(token: &str, secure: bool) -> String {
    cookie(NEW_TOKEN_COOKIE, token, 120, secure)
}

pub fn clear_new_token_cookie(secure: bool) -> String {
    cookie(NEW_TOKEN_COOKIE, "", 0, secure)
}

pub fn csrf_cookie(token: &str, secure: bool) -> String {
    cookie(
        CSRF_COOKIE,
        token,
        domain::signing::ANONYMOUS_FORM_TOKEN_S,
        secure,
    )
}

/// Where the primary's log stood after this visitor's last write (with a read replica):
/// their own pages are read from the replica only once it has replayed that far.
pub const WROTE_AT_COOKIE: &str = "ambisonia_wrote_at";

pub fn wrote_at_cookie(lsn: domain::replica::Lsn, secure: bool) -> String {
    cookie(
        WROTE_AT_COOKIE,
        &lsn.to_string(),
        i64::from(domain::replica::REMEMBER_S),
        secure,
    )
}

/// The value of cookie `name` in a `Cookie` request header.
pub fn cookie_value<'a>(header: &'a str, name: &str) -> Option<&'a str> {
    header
        .split(';')
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// The value of cookie `name` in a request, across every `Cookie` header it carries
/// (HTTP/2 clients may split cookies over several).
pub fn request_cookie<'a>(headers: &'a http::HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|h| cookie_value(h, name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_http_only_and_same_site() {
        let c = session_cookie("abc", true);
        assert!(c.contains("HttpOnly") && c.contains("SameSite=Lax") && c.contains("Secure"));
        assert!(!session_cookie("abc", false).contains("Secure"));
    }

    #[test]
    fn cookie_values_are_found_by_name() {
        let h = "a=1; ambisonia_session=tok; ambisonia_csrf=c";
        assert_eq!(cookie_value(h, SESSION_COOKIE), Some("tok"));
        assert_eq!(cookie_value(h, CSRF_COOKIE), Some("c"));
        assert_eq!(cookie_value(h, "missing"), None);
    }
}
