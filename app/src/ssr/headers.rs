//! The security headers every page carries (the `server` crate's `page_headers` middleware
//! sets them on every response; the shell adds the Content-Security-Policy with the nonce
//! of this render's inline scripts). One policy, written here.

/// The Content-Security-Policy of an HTML page: scripts only from this site and inline ones
/// carrying this render's `nonce`; styles, fonts, forms and frames of this site only; no
/// plug-ins; nobody may frame the site. `media_origin` is where the media store's presigned
/// links point (an S3 bucket), which pictures, players and direct uploads must reach.
/// `payment_origins` are where a form may lead (Stripe Checkout and the Customer Portal:
/// a form posts here and is redirected there, and `form-action` covers redirects).
pub fn content_security_policy(
    nonce: Option<&str>,
    media_origin: Option<&str>,
    payment_origins: Option<&str>,
    tile_origin: Option<&str>,
) -> String {
    let pay = payment_origins.map(|o| format!(" {o}")).unwrap_or_default();
    policy(
        nonce,
        media_origin,
        tile_origin,
        &format!("'self'{pay}"),
        "'none'",
    )
}

/// The policy of the embeddable player (`/embed/{slug}`): the page's, except that any site
/// may frame it and it posts no forms at all.
pub fn embed_security_policy(media_origin: Option<&str>) -> String {
    policy(None, media_origin, None, "'none'", "*")
}

fn policy(
    nonce: Option<&str>,
    media_origin: Option<&str>,
    tile_origin: Option<&str>,
    form_action: &str,
    frame_ancestors: &str,
) -> String {
    let nonce = nonce.map(|n| format!(" 'nonce-{n}'")).unwrap_or_default();
    let media = media_origin.map(|o| format!(" {o}")).unwrap_or_default();
    let tiles = tile_origin.map(|o| format!(" {o}")).unwrap_or_default();
    format!(
        "default-src 'self'; script-src 'self'{nonce}; style-src 'self'; \
         img-src 'self' data:{media}{tiles}; media-src 'self'{media}; connect-src 'self'{media}; \
         font-src 'self'; object-src 'none'; base-uri 'self'; form-action {form_action}; \
         frame-ancestors {frame_ancestors}"
    )
}

#[cfg(test)]
mod tests {
    use super::content_security_policy;

    #[test]
    fn inline_script_needs_the_nonce_and_the_bucket_is_named_where_media_goes() {
        let p = content_security_policy(
            Some("abc"),
            Some("https://b.s3.example"),
            Some("https://checkout.stripe.com"),
            Some("https://tile.openstreetmap.org"),
        );
        assert!(
            p.contains("img-src 'self' data: https://b.s3.example https://tile.openstreetmap.org;"),
            "{p}"
        );
        assert!(p.contains("script-src 'self' 'nonce-abc';"), "{p}");
        assert!(!p.contains("unsafe-inline"));
        assert!(p.contains("media-src 'self' https://b.s3.example;"));
        assert!(p.contains("connect-src 'self' https://b.s3.example;"));
        assert!(p.contains("frame-ancestors 'none'"));
        assert!(p.contains("form-action 'self' https://checkout.stripe.com;"));
        let plain = content_security_policy(None, None, None, None);
        assert!(plain.contains("script-src 'self';") && plain.contains("img-src 'self' data:;"));
        assert!(plain.contains("form-action 'self';"));
        let embed = super::embed_security_policy(None);
        assert!(embed.ends_with("frame-ancestors *") && embed.contains("form-action 'none';"));
    }
}
