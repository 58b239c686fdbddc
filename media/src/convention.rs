//! How the channels of a file are to be understood (see docs/ambisonics.md): the one
//! list of conventions the catalog knows, with the word stored for each.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Convention {
    Fuma,
    Ambix,
    Uhj,
    Gformat,
    Stereo,
    Mono,
}

impl Convention {
    pub const ALL: [Convention; 6] = [
        Convention::Fuma,
        Convention::Ambix,
        Convention::Uhj,
        Convention::Gformat,
        Convention::Stereo,
        Convention::Mono,
    ];

    /// The word stored in the database and used in URLs (`?convention=ambix`).
    pub fn as_str(self) -> &'static str {
        match self {
            Convention::Fuma => "fuma",
            Convention::Ambix => "ambix",
            Convention::Uhj => "uhj",
            Convention::Gformat => "gformat",
            Convention::Stereo => "stereo",
            Convention::Mono => "mono",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Convention::Fuma => "FuMa",
            Convention::Ambix => "AmbiX",
            Convention::Uhj => "UHJ",
            Convention::Gformat => "G-format",
            Convention::Stereo => "Stereo",
            Convention::Mono => "Mono",
        }
    }

    /// The one reading of a stored or typed word; anything else is `None`.
    pub fn parse(raw: &str) -> Option<Self> {
        Convention::ALL.into_iter().find(|c| c.as_str() == raw)
    }

    /// B-format of either channel order: the conventions that convert into one another.
    pub fn is_b_format(self) -> bool {
        matches!(self, Convention::Fuma | Convention::Ambix)
    }
}

#[cfg(test)]
mod tests {
    use super::Convention;

    #[test]
    fn every_convention_reads_back_from_its_word() {
        for c in Convention::ALL {
            assert_eq!(Convention::parse(c.as_str()), Some(c));
        }
        assert_eq!(Convention::parse("FuMa"), None);
        assert_eq!(Convention::parse(""), None);
    }
}
