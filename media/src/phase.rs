//! The wide-band 90° phase shift (the `j` of UHJ's equations in docs/ambisonics.md), as two
//! chains of all-pass filters whose outputs stay 90° apart over nearly the whole band.
//! Olli Niemitalo's published design: four second-order sections a chain, each
//! `y[n] = a²·(x[n] + y[n−2]) − x[n−2]`, the second chain one sample later; the pair holds
//! 90° ± 0.7° from 0.2 % to 99.8 % of the Nyquist frequency (20 Hz–22 kHz at 44.1 kHz).
//!
//! Both outputs are phase-shifted copies of the input, so a formula that mixes plain and
//! `j`-shifted signals takes every term from the same kind of pair: `i` for the plain
//! terms, `q` for the `j` terms.

const CHAIN_I: [f64; 4] = [
    0.692_387_8,
    0.936_065_432_295_9,
    0.988_229_522_686,
    0.998_748_845_273_7,
];
const CHAIN_Q: [f64; 4] = [
    0.402_192_116_242_6,
    0.856_171_088_242,
    0.972_290_954_565_1,
    0.995_288_479_127_8,
];

#[derive(Debug, Clone, Default)]
struct Chain {
    /// Per section: x[n−1], x[n−2], y[n−1], y[n−2].
    state: [[f64; 4]; 4],
}

impl Chain {
    fn push(&mut self, coefficients: &[f64; 4], mut x: f64) -> f64 {
        for (a, s) in coefficients.iter().zip(self.state.iter_mut()) {
            let y = a * a * (x + s[3]) - s[1];
            *s = [x, s[0], y, s[2]];
            x = y;
        }
        x
    }
}

/// One signal's pair: feed a sample, get `(i, q)` with `q` leading `i` by 90° (`q = j·i`).
#[derive(Debug, Clone, Default)]
pub struct Quadrature {
    i: Chain,
    q: Chain,
    i_delayed: f64,
}

impl Quadrature {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn push(&mut self, x: f64) -> (f64, f64) {
        let i = std::mem::replace(&mut self.i_delayed, self.i.push(&CHAIN_I, x));
        let q = self.q.push(&CHAIN_Q, x);
        (i, q)
    }
}

#[cfg(test)]
mod tests {
    use super::Quadrature;
    use std::f64::consts::PI;

    /// Amplitude and phase (radians) of a signal at `freq`, by correlation over whole cycles.
    fn phasor(signal: &[f64], freq: f64, rate: f64) -> (f64, f64) {
        let (mut re, mut im) = (0.0, 0.0);
        for (n, v) in signal.iter().enumerate() {
            let t = 2.0 * PI * freq * n as f64 / rate;
            re += v * t.cos();
            im -= v * t.sin();
        }
        let n = signal.len() as f64;
        ((re * re + im * im).sqrt() * 2.0 / n, im.atan2(re))
    }

    #[test]
    fn q_leads_i_by_ninety_degrees_across_the_band_at_equal_level() {
        let rate = 48_000.0;
        for freq in [50.0f64, 100.0, 440.0, 1_000.0, 5_000.0, 12_000.0, 18_000.0] {
            let mut pair = Quadrature::new();
            let settle = 48_000;
            let cycles = (freq * 0.5).round();
            let len = (cycles * rate / freq).round() as usize;
            let (mut is, mut qs) = (Vec::new(), Vec::new());
            for n in 0..settle + len {
                let (i, q) = pair.push((2.0 * PI * freq * n as f64 / rate).cos());
                if n >= settle {
                    is.push(i);
                    qs.push(q);
                }
            }
            // Phases measured from the window's start: shift the reference to match.
            let (ai, pi) = phasor(&is, freq, rate);
            let (aq, pq) = phasor(&qs, freq, rate);
            let mut diff = (pq - pi).to_degrees();
            while diff > 180.0 {
                diff -= 360.0;
            }
            while diff <= -180.0 {
                diff += 360.0;
            }
            assert!((diff - 90.0).abs() < 1.5, "{freq} Hz: q − i = {diff:.2}°");
            assert!(
                (ai - 1.0).abs() < 0.01 && (aq - 1.0).abs() < 0.01,
                "{freq} Hz: {ai} {aq}"
            );
        }
    }
}
