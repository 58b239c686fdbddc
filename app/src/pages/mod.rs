//! One file per page. Each loads its data through a server function in `crate::api`, and
//! renders the data or an `ErrorView` that carries the right status.

pub mod account;
pub mod auth;
pub mod catalog;
pub mod collections;
pub mod errors;
pub mod following;
pub mod home;
pub mod map;
pub mod moderation;
pub mod premium;
pub mod profile;
pub mod recording;
pub mod tag;
pub mod upload;
