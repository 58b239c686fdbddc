//! Two-channel UHJ, both ways, with the equations of docs/ambisonics.md. Its coefficients take
//! W at unity gain for a plane wave ("classic" scaling, which is also AmbiX's SN3D W):
//! FuMa's W is √2 times smaller, so the callers convert on the way in and out.
//!
//! `j` is the wide-band +90° shift of [`crate::phase`]; every plain term goes through the
//! in-phase chain so that plain and shifted terms stay aligned.

use crate::phase::Quadrature;

/// Horizontal B-format (W at unity gain, X, Y) → UHJ left and right.
#[derive(Debug, Clone, Default)]
pub struct Encoder {
    s: Quadrature,
    d: Quadrature,
    y: Quadrature,
}

impl Encoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// `(w, x, y)` → `(left, right)`.
    pub fn push(&mut self, w: f64, x: f64, y: f64) -> (f64, f64) {
        let (s, _) = self.s.push(0.939_692_6 * w + 0.185_574 * x);
        let (_, jd) = self.d.push(-0.342_020_1 * w + 0.509_860_4 * x);
        let (y, _) = self.y.push(0.655_451_6 * y);
        let d = jd + y;
        ((s + d) / 2.0, (s - d) / 2.0)
    }
}

/// UHJ left and right → horizontal B-format (W at unity gain, X, Y).
#[derive(Debug, Clone, Default)]
pub struct Decoder {
    s: Quadrature,
    d: Quadrature,
}

impl Decoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// `(left, right)` → `(w, x, y)`.
    pub fn push(&mut self, left: f64, right: f64) -> (f64, f64, f64) {
        let (s, js) = self.s.push((left + right) / 2.0);
        let (d, jd) = self.d.push((left - right) / 2.0);
        (
            0.982 * s + 0.164 * jd,
            0.419 * s - 0.828 * jd,
            0.763 * d + 0.385 * js,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::PI;

    /// Azimuth (degrees) of the active intensity (⟨W·X⟩, ⟨W·Y⟩) of a decoded plane wave.
    fn round_trip_azimuth(azimuth_deg: f64, freq: f64) -> f64 {
        let (mut enc, mut dec) = (Encoder::new(), Decoder::new());
        let a = azimuth_deg.to_radians();
        let rate = 48_000.0;
        let (mut wx, mut wy) = (0.0, 0.0);
        for n in 0..96_000 {
            let s = (2.0 * PI * freq * n as f64 / rate).sin();
            let (l, r) = enc.push(s, s * a.cos(), s * a.sin());
            let (w, x, y) = dec.push(l, r);
            if n >= 48_000 {
                wx += w * x;
                wy += w * y;
            }
        }
        wy.atan2(wx).to_degrees()
    }

    fn angle_between(a: f64, b: f64) -> f64 {
        let d = (a - b).rem_euclid(360.0);
        d.min(360.0 - d)
    }

    #[test]
    fn a_round_trip_recovers_the_azimuth_within_ten_degrees() {
        for freq in [250.0, 1_000.0, 4_000.0] {
            for az in [
                0.0, 30.0, 60.0, 90.0, 120.0, 150.0, 180.0, -45.0, -90.0, -135.0,
            ] {
                let got = round_trip_azimuth(az, freq);
                assert!(
                    angle_between(got, az) < 10.0,
                    "{az}° at {freq} Hz came back as {got:.1}°"
                );
            }
        }
    }

    #[test]
    fn a_source_on_the_left_is_louder_on_the_left() {
        let mut enc = Encoder::new();
        let (mut l2, mut r2) = (0.0, 0.0);
        for n in 0..48_000 {
            let s = (2.0 * PI * 1_000.0 * n as f64 / 48_000.0).sin();
            let (l, r) = enc.push(s, 0.0, s);
            if n > 4_800 {
                l2 += l * l;
                r2 += r * r;
            }
        }
        let db = 10.0 * (l2 / r2).log10();
        assert!(db > 10.0, "left − right = {db:.1} dB");
    }
}
