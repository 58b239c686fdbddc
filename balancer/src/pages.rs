//! The balancer's own answers: short pages that say what happened and never which
//! upstream, address or error was behind it.

use http::{HeaderValue, Response, StatusCode, header};

use super::body::Body;

pub fn error(status: StatusCode, retry_after_s: Option<u32>) -> Response<Body> {
    let (title, advice) = match status.as_u16() {
        400 => ("Bad request", "The request could not be understood."),
        403 => ("Forbidden", "This request is not allowed."),
        404 => ("Not found", "Nothing is served at this address."),
        405 => (
            "Method not allowed",
            "This address does not accept that method.",
        ),
        408 => (
            "Request timeout",
            "The request arrived too slowly. Please try again.",
        ),
        429 => (
            "Too many requests",
            "Too many requests from your address at once. Please try again in a moment.",
        ),
        413 => (
            "Request too large",
            "The request body is larger than this address accepts.",
        ),
        502 => (
            "Bad gateway",
            "The site could not answer just now. Please try again in a moment.",
        ),
        503 => (
            "Busy",
            "The site is busy or being updated. Please try again in a moment.",
        ),
        504 => (
            "Gateway timeout",
            "The site took too long to answer. Please try again in a moment.",
        ),
        _ => ("Error", "Something went wrong."),
    };
    let html = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title} — Ambisonia</title></head>\
         <body><h1>{title}</h1><p>{advice}</p></body></html>\n"
    );
    let mut resp = Response::new(Body::bytes(html));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Some(s) = retry_after_s {
        h.insert(header::RETRY_AFTER, HeaderValue::from(s));
    }
    resp
}

pub fn text(status: StatusCode, content_type: &'static str, body: String) -> Response<Body> {
    let mut resp = Response::new(Body::bytes(body));
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}
