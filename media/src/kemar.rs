//! The levels a real head gives: the MIT KEMAR dummy head's measured responses ("normal
//! pinna", Gardner and Martin 1994), left ear, 710 directions from 40° below the horizon to
//! the zenith, as `media/data/mit-kemar-left.txt` carries them (made from Debian's
//! `libmysofa1` by `scripts/vendor-kemar`; licence and citation in
//! `media/data/MIT-KEMAR.txt`). Levels only, 1/6-octave smoothed: what the ear judges
//! direction and timbre by above the cutoff where the binaural filters give up the phase.
//! The set is mirror-symmetric (its right ear is its left ear at the mirrored azimuth), as
//! the filters assume.

use std::sync::OnceLock;

use crate::sh;

/// The measured set, read once per process.
pub struct Kemar {
    /// log2 of each frequency the levels are given at (Hz), rising.
    log_hz: Vec<f64>,
    /// Each measured direction (unit vector: x front, y left, z up).
    dirs: Vec<[f64; 3]>,
    /// `db[direction][frequency]`: the left ear's level.
    db: Vec<Vec<f32>>,
}

/// Where a frequency falls among the measured ones: an index and how far towards the next.
#[derive(Debug, Clone, Copy)]
pub struct At(usize, f64);

impl Kemar {
    pub fn get() -> &'static Kemar {
        static SET: OnceLock<Kemar> = OnceLock::new();
        SET.get_or_init(|| Self::parse(include_str!("../data/mit-kemar-left.txt")))
    }

    /// The data as `scripts/vendor-kemar` writes it (a line it cannot read is left out:
    /// the tests check that every direction is there).
    fn parse(text: &str) -> Self {
        let mut lines = text.lines().filter(|l| !l.starts_with('#'));
        let numbers = |l: &str| -> Vec<f64> {
            l.split_whitespace()
                .filter_map(|v| v.parse().ok())
                .collect()
        };
        let log_hz: Vec<f64> = lines
            .next()
            .and_then(|l| l.strip_prefix("hz "))
            .map(numbers)
            .unwrap_or_default()
            .into_iter()
            .map(f64::log2)
            .collect();
        let (mut dirs, mut db) = (Vec::new(), Vec::new());
        for v in lines.map(numbers) {
            if let [azimuth, elevation, levels @ ..] = v.as_slice()
                && levels.len() == log_hz.len()
            {
                dirs.push(sh::direction(*azimuth, *elevation));
                db.push(levels.iter().map(|x| *x as f32).collect());
            }
        }
        Self { log_hz, dirs, db }
    }

    pub fn directions(&self) -> &[[f64; 3]] {
        &self.dirs
    }

    /// The measured direction nearest `u` (below the lowest ring, a direction of that ring).
    pub fn nearest(&self, u: [f64; 3]) -> usize {
        let dot = |d: &[f64; 3]| d[0] * u[0] + d[1] * u[1] + d[2] * u[2];
        (0..self.dirs.len())
            .max_by(|a, b| dot(&self.dirs[*a]).total_cmp(&dot(&self.dirs[*b])))
            .unwrap_or(0)
    }

    /// Where `f` (Hz) falls; outside the measured range, the nearest end.
    pub fn at(&self, f: f64) -> At {
        let x = f.max(1.0).log2();
        match self.log_hz.iter().position(|l| *l > x) {
            Some(0) => At(0, 0.0),
            Some(i) => At(
                i - 1,
                (x - self.log_hz[i - 1]) / (self.log_hz[i] - self.log_hz[i - 1]),
            ),
            None => At(self.log_hz.len().saturating_sub(1), 0.0),
        }
    }

    /// The left ear's level (dB) from measured direction `q` at `at`.
    pub fn level_db(&self, q: usize, at: At) -> f64 {
        let row = self.db.get(q).map_or(&[][..], Vec::as_slice);
        let level = |i: usize| {
            row.get(i.min(row.len().saturating_sub(1)))
                .map_or(0.0, |v| f64::from(*v))
        };
        let (a, b) = (level(at.0), level(at.0 + 1));
        a + (b - a) * at.1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_set_is_read_whole_and_its_left_ear_hears_the_left_louder_at_the_top() {
        let k = Kemar::get();
        assert_eq!(k.directions().len(), 710);
        let left = k.nearest(sh::direction(90.0, 0.0));
        let right = k.nearest(sh::direction(-90.0, 0.0));
        assert!(sh::direction(90.0, 0.0)[1] - k.directions()[left][1] < 1e-9);
        let at = k.at(10_000.0);
        assert!(k.level_db(left, at) - k.level_db(right, at) > 15.0);
        // Below the lowest ring, the lowest ring answers.
        let below = k.nearest(sh::direction(30.0, -80.0));
        assert!((k.directions()[below][2] - (-40f64).to_radians().sin()).abs() < 1e-9);
    }
}
