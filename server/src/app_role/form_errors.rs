//! Signs the error a server function sends a browser back to its form with (leptos answers
//! a failed form post with a redirect to `…?__path=/api/x&__err=<encoded error>`): this
//! appends `&__sig=<HMAC>` so that `FormError` shows only errors this site issued, never a
//! message someone wrote into a link.

use axum::{
    extract::{Request, State},
    http::{HeaderValue, header::LOCATION},
    middleware::Next,
    response::Response,
};
use domain::{Secret, signing};

use super::forms;

pub async fn sign(State(key): State<Secret>, req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    if !res.status().is_redirection() {
        return res;
    }
    let Some(location) = res.headers().get(LOCATION).and_then(|v| v.to_str().ok()) else {
        return res;
    };
    let Some((_, query)) = location.split_once('?') else {
        return res;
    };
    let (mut path, mut err) = (None, None);
    for (k, v) in forms::pairs(query.as_bytes()) {
        match k.as_str() {
            "__path" => path = Some(v),
            "__err" => err = Some(v),
            _ => {}
        }
    }
    let (Some(path), Some(err)) = (path, err) else {
        return res;
    };
    let signature = signing::sign(&key, &signing::form_error_message(&path, &err));
    if let Ok(v) = HeaderValue::from_str(&format!("{location}&__sig={signature}")) {
        res.headers_mut().insert(LOCATION, v);
    }
    res
}
