//! A secret (a key, a token) that never prints itself: `Debug` and logs show only that one
//! is set, so a settings struct can derive `Debug` safely.

use std::fmt;

#[derive(Clone, Default, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value itself, for the one call that needs it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() {
            "Secret(unset)"
        } else {
            "Secret(…)"
        })
    }
}

#[cfg(test)]
mod tests {
    use super::Secret;

    #[test]
    fn a_secret_never_prints() {
        let s = Secret::new("wJalrXUtnFEMI/K7MDENG");
        assert!(!format!("{s:?}").contains("wJal"));
        assert_eq!(s.expose(), "wJalrXUtnFEMI/K7MDENG");
    }
}
