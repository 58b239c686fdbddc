//! Where the sound comes from, over time: the azimuth of the active intensity vector,
//! (⟨W·X⟩, ⟨W·Y⟩) averaged over short windows (docs/ambisonics.md). For FuMa and AmbiX alike the
//! W gain is positive, so it scales the vector without turning it.

/// One window's answer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Arrival {
    /// Degrees anticlockwise from the front, in (−180, 180]; `None` in silence.
    pub azimuth_deg: Option<f64>,
    /// Mean W energy of the window (for how bold to draw it).
    pub energy: f64,
    /// How much of the energy arrives from one direction, 0..1 (diffuse sound is near 0).
    pub directness: f64,
}

/// Accumulates frames and yields one [`Arrival`] per `window` frames.
pub struct Analyser {
    window: usize,
    n: usize,
    wx: f64,
    wy: f64,
    ww: f64,
    xx_yy: f64,
}

impl Analyser {
    pub fn new(window: usize) -> Self {
        Self {
            window: window.max(1),
            n: 0,
            wx: 0.0,
            wy: 0.0,
            ww: 0.0,
            xx_yy: 0.0,
        }
    }

    /// `w`, `x`, `y` of one frame (FuMa scaling; pass AmbiX W as is, only its size differs).
    pub fn push(&mut self, w: f64, x: f64, y: f64) -> Option<Arrival> {
        self.wx += w * x;
        self.wy += w * y;
        self.ww += w * w;
        self.xx_yy += x * x + y * y;
        self.n += 1;
        if self.n < self.window {
            return None;
        }
        let arrival = self.arrival();
        *self = Self::new(self.window);
        Some(arrival)
    }

    /// The partial window at the end of a recording, if any frames are in it.
    pub fn finish(&mut self) -> Option<Arrival> {
        (self.n > 0).then(|| self.arrival())
    }

    fn arrival(&self) -> Arrival {
        let n = self.n as f64;
        let energy = self.ww / n;
        let intensity = self.wx.hypot(self.wy);
        let silent = energy < 1e-12 || intensity < 1e-15;
        let azimuth_deg = (!silent).then(|| self.wy.atan2(self.wx).to_degrees());
        // |I| ≤ sqrt(⟨W²⟩·⟨X²+Y²⟩) by Cauchy–Schwarz: the ratio says how plane the wave is.
        let bound = (self.ww * self.xx_yy).sqrt();
        let directness = if bound > 0.0 {
            (intensity / bound).clamp(0.0, 1.0)
        } else {
            0.0
        };
        Arrival {
            azimuth_deg,
            energy,
            directness,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::{Rng, SeedableRng, rngs::StdRng};

    fn angle_between(a: f64, b: f64) -> f64 {
        let d = (a - b).rem_euclid(360.0);
        d.min(360.0 - d)
    }

    #[test]
    fn a_plane_wave_from_azimuth_a_is_reported_within_five_degrees_of_a() {
        let mut rng = StdRng::seed_from_u64(7);
        for a in (-180..=180).step_by(15) {
            let az = f64::from(a).to_radians();
            let mut analyser = Analyser::new(4800);
            let mut seen = Vec::new();
            for _ in 0..48_000 {
                let s: f64 = rng.gen_range(-0.5..0.5);
                // Plane wave, encoded as docs/ambisonics.md says (FuMa, elevation 0) …
                let (mut w, mut x, mut y) = (
                    s * std::f64::consts::FRAC_1_SQRT_2,
                    s * az.cos(),
                    s * az.sin(),
                );
                // … in a room: uncorrelated diffuse noise 20 dB down on every channel.
                w += rng.gen_range(-0.05..0.05);
                x += rng.gen_range(-0.05..0.05);
                y += rng.gen_range(-0.05..0.05);
                if let Some(arrival) = analyser.push(w, x, y) {
                    seen.push(arrival);
                }
            }
            assert_eq!(seen.len(), 10);
            for arrival in seen {
                let got = arrival.azimuth_deg.unwrap_or(f64::NAN);
                assert!(
                    angle_between(got, f64::from(a)) <= 5.0,
                    "source at {a}°, reported {got:.1}°"
                );
                assert!(arrival.directness > 0.8, "{arrival:?}");
            }
        }
    }

    #[test]
    fn silence_has_no_direction_and_diffuse_sound_little_directness() {
        let mut a = Analyser::new(100);
        let quiet = (0..100).filter_map(|_| a.push(0.0, 0.0, 0.0)).next();
        assert_eq!(quiet.map(|q| q.azimuth_deg), Some(None));
        let mut rng = StdRng::seed_from_u64(1);
        let mut a = Analyser::new(48_000);
        let diffuse = (0..48_000)
            .filter_map(|_| {
                a.push(
                    rng.gen_range(-0.5..0.5),
                    rng.gen_range(-0.5..0.5),
                    rng.gen_range(-0.5..0.5),
                )
            })
            .next();
        assert!(diffuse.is_some_and(|d| d.directness < 0.05), "{diffuse:?}");
    }
}
