//! Which pool a request goes to: longest path prefix wins, matched on whole segments
//! (`/wiki` takes `/wiki` and `/wiki/…`, never `/wikipedia`); a route naming the request's
//! host beats any route without a host.

use super::config::RouteSettings;

pub struct Router {
    /// Most specific first: host routes before hostless ones, longer prefixes first.
    routes: Vec<RouteSettings>,
}

impl Router {
    pub fn new(mut routes: Vec<RouteSettings>) -> Self {
        routes.sort_by(|a, b| {
            b.host
                .is_some()
                .cmp(&a.host.is_some())
                .then(b.prefix.len().cmp(&a.prefix.len()))
        });
        Self { routes }
    }

    /// `host` is the request's host without port, lower case.
    pub fn route(&self, host: &str, path: &str) -> Option<&RouteSettings> {
        self.routes.iter().find(|r| {
            r.host.as_deref().is_none_or(|h| h == host) && prefix_matches(&r.prefix, path)
        })
    }
}

fn prefix_matches(prefix: &str, path: &str) -> bool {
    prefix == "/"
        || path
            .strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// The path the upstream sees: with the route's prefix removed when it asks for that.
pub fn upstream_path<'a>(route: &RouteSettings, path: &'a str) -> std::borrow::Cow<'a, str> {
    if !route.strip_prefix || route.prefix == "/" {
        return path.into();
    }
    match path.strip_prefix(route.prefix.as_str()) {
        Some("") => "/".into(),
        Some(rest) => rest.into(),
        None => path.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(host: Option<&str>, prefix: &str, pool: &str) -> RouteSettings {
        RouteSettings {
            host: host.map(Into::into),
            prefix: prefix.into(),
            pool: pool.into(),
            strip_prefix: true,
            ..RouteSettings::everything_to(pool)
        }
    }

    #[test]
    fn longest_whole_segment_prefix_wins() {
        let r = Router::new(vec![
            route(None, "/", "app"),
            route(None, "/wiki", "wiki"),
            route(None, "/wiki/special", "special"),
            route(Some("forum.example.org"), "/", "forum"),
        ]);
        let pool = |host, path| r.route(host, path).map(|r| r.pool.as_str());
        assert_eq!(pool("example.org", "/catalog"), Some("app"));
        assert_eq!(pool("example.org", "/wiki"), Some("wiki"));
        assert_eq!(pool("example.org", "/wiki/Main_Page"), Some("wiki"));
        assert_eq!(pool("example.org", "/wikipedia"), Some("app"));
        assert_eq!(pool("example.org", "/wiki/special/x"), Some("special"));
        assert_eq!(pool("forum.example.org", "/wiki"), Some("forum"));
    }

    #[test]
    fn strip_leaves_a_path_that_starts_with_a_slash() {
        let r = route(None, "/wiki", "wiki");
        assert_eq!(upstream_path(&r, "/wiki"), "/");
        assert_eq!(upstream_path(&r, "/wiki/Main_Page"), "/Main_Page");
    }
}
