//! What the balancer is told: flags for the simple case (one pool, every path to it) or a
//! TOML file for the full one (pools, routes by host and prefix, limits, cache). Both end
//! as one validated [`Settings`], whose defaults are written once, in `settings`.

mod file;
mod flags;
mod proxies;
mod settings;

pub use flags::BalancerFlags;
pub use proxies::{Cidr, TrustedProxies};
pub use settings::*;
