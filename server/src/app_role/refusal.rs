//! The one shape of a refused request outside Leptos (uploads, downloads, forms refused
//! before they ran): a status and a
//! sentence for the person, rendered as a page for a browser form or as `{"error": …}` for
//! a script. An internal cause travels with the response (an [`ErrorCause`] in its
//! extensions) to the request log, which writes it once; the person never sees it.

use app::ssr::errors::ErrorCause;
use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Response},
};
use domain::{ServiceError, payments::DownloadGate};

pub struct Refusal {
    status: StatusCode,
    message: String,
    cause: Option<String>,
    /// Seconds to wait before asking again (a 429 or 503).
    retry_after: Option<u32>,
}

/// What an uploader reads when our side failed: nothing they sent was kept.
const UPLOAD_LOST: &str =
    "The site could not keep your upload just now; nothing was saved. Please try again.";

impl Refusal {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            cause: None,
            retry_after: None,
        }
    }

    /// A refusal of an upload: an internal failure says that nothing was kept.
    pub fn of_upload(e: ServiceError) -> Self {
        let internal = e.cause().is_some();
        let mut r = Self::from(e);
        if internal {
            r.message = UPLOAD_LOST.to_owned();
        }
        r
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    /// A page for a browser that posted the upload form.
    pub fn page(self) -> Response {
        self.render(
            "Upload refused",
            "upload-error",
            ("/upload", "Back to the upload form"),
        )
    }

    /// A page for a browser whose form (or any state-changing request) was refused before
    /// anything ran.
    pub fn form_page(self) -> Response {
        self.render(
            "That form could not be sent",
            "form-refused",
            ("/", "Back to the home page"),
        )
    }

    /// The same refusal with another status and sentence (its cause, if any, is kept for
    /// the log).
    pub fn with_message(mut self, status: StatusCode, message: &str) -> Self {
        self.status = status;
        self.message = message.to_owned();
        self
    }

    /// A page for a browser that asked for a download.
    pub fn download_page(self) -> Response {
        self.render(
            "Download not possible",
            "download-error",
            ("/catalog", "Back to the catalog"),
        )
    }

    /// The page a premium download refused: why, and where to become premium.
    pub fn premium_page(gate: DownloadGate, slug: &str) -> Response {
        let slug = html_escape(slug);
        let premium = "<a href=\"/premium\" data-testid=\"premium-link\">See the premium plans</a>";
        let (status, why, next) = match gate {
            DownloadGate::NeedsLogin => (
                StatusCode::UNAUTHORIZED,
                "This is a premium recording: its original and its other formats are for premium members. ",
                format!(
                    "<a href=\"/login?next=/recordings/{slug}\">Log in</a> if you are a member, or {}.",
                    premium.replacen("See", "see", 1)
                ),
            ),
            _ => (
                StatusCode::FORBIDDEN,
                "This is a premium recording: its original and its other formats are for premium members, and your account is not premium (or no longer is). ",
                format!("{premium}: a premium membership downloads everything, in any format."),
            ),
        };
        let free = format!(
            "Its page and the first {} seconds of its previews stay free.",
            domain::billing::PREMIUM_EXCERPT_S
        );
        let body = page(
            "A premium download",
            "premium-refusal",
            &format!(
                "<p data-testid=\"download-error\">{why}{free}</p><p>{next}</p>\
                 <p><a href=\"/recordings/{slug}\">Back to the recording</a></p>"
            ),
        );
        finish((status, Html(body)).into_response(), None, None)
    }

    fn render(self, heading: &str, testid: &str, (back, back_text): (&str, &str)) -> Response {
        let body = page(
            heading,
            "",
            &format!(
                "<p data-testid=\"{testid}\">{}</p><p><a href=\"{back}\">{back_text}</a></p>",
                html_escape(&self.message)
            ),
        );
        let (status, cause, wait) = (self.status, self.cause, self.retry_after);
        finish((status, Html(body)).into_response(), cause, wait)
    }

    /// `{"error": "…"}` for a script (the token API, the direct-upload calls).
    pub fn json(self) -> Response {
        let body = Json(serde_json::json!({ "error": self.message }));
        finish(
            (self.status, body).into_response(),
            self.cause,
            self.retry_after,
        )
    }
}

impl From<ServiceError> for Refusal {
    fn from(e: ServiceError) -> Self {
        let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        Self {
            status,
            cause: e.cause().map(str::to_owned),
            message: e.to_string(),
            retry_after: e.retry_after_s(),
        }
    }
}

fn finish(mut resp: Response, cause: Option<String>, retry_after: Option<u32>) -> Response {
    if let Some(wait) = retry_after {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(wait));
    }
    resp.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(contract::policy::PRIVATE),
    );
    if let Some(cause) = cause {
        let slot = ErrorCause::default();
        slot.set(&cause);
        resp.extensions_mut().insert(slot);
    }
    resp
}

/// The document around a refusal: `heading`, then `inner` (HTML, already escaped).
fn page(heading: &str, class: &str, inner: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{heading} — Ambisonia</title>\
         <link rel=\"stylesheet\" href=\"/style/main.css\"></head><body><main class=\"page {class}\">\
         <h1>{heading}</h1>{inner}</main></body></html>"
    )
}

pub fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A plain 404 for a file that is not there (or not for this viewer).
pub fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        Html("<!doctype html><title>Not found</title><h1>Not found</h1>"),
    )
        .into_response()
}
