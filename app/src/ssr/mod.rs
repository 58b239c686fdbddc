//! What runs only on the server: the Leptos context's state, the request facts the
//! `server` crate's middleware resolves, cookies, the page's cache headers, and the one
//! conversion of the domain's errors for visitors. The services themselves are the
//! `domain` crate's; components never reach in here directly, they go through `crate::api`.

pub mod cache;
pub mod cookies;
pub mod errors;
pub mod headers;
pub mod request;
pub mod state;
