//! Sample-rate conversion for `?format=ambix-48k`: a streaming windowed-sinc resampler
//! (Kaiser window, β = 8.6, 24 zero crossings a side, cutoff 95 % of the lower Nyquist
//! frequency), memory fixed whatever the length. Output frame `n` is the band-limited
//! input at time `n · in_rate / out_rate`, so the first frames line up and the output has
//! exactly [`out_frames`] frames: the length is known before the first byte is written.

use std::f64::consts::PI;

const ZERO_CROSSINGS: f64 = 24.0;
const KAISER_BETA: f64 = 8.6;
const PASS: f64 = 0.95;
/// Kernel values tabulated per input sample (linearly interpolated between).
const PHASES: usize = 512;

/// How many frames `in_frames` become: ⌈in_frames · out_rate / in_rate⌉.
pub fn out_frames(in_frames: u64, in_rate: u32, out_rate: u32) -> u64 {
    let (n, i, o) = (
        u128::from(in_frames),
        u128::from(in_rate.max(1)),
        u128::from(out_rate),
    );
    u64::try_from((n * o).div_ceil(i)).unwrap_or(u64::MAX)
}

pub struct Resampler {
    in_rate: u64,
    out_rate: u64,
    channels: usize,
    /// Input frames reach this far either side of an output instant.
    half: i64,
    table: Vec<f64>,
    /// Input frames from logical index `base` on, `channels` values each.
    frames: Vec<f64>,
    base: i64,
    /// Input frames pushed so far.
    pushed: i64,
    /// Output frames emitted so far, and how many there may be.
    emitted: u64,
    limit: u64,
    out: Vec<f64>,
}

impl Resampler {
    pub fn new(in_rate: u32, out_rate: u32, channels: usize) -> Self {
        let (in_rate, out_rate) = (u64::from(in_rate.max(1)), u64::from(out_rate.max(1)));
        // The cutoff, as a fraction of the input's Nyquist frequency.
        let cutoff = PASS * (out_rate as f64 / in_rate as f64).min(1.0);
        let half = (ZERO_CROSSINGS / cutoff).ceil();
        let bessel_beta = bessel_i0(KAISER_BETA);
        let table = (0..=half as usize * PHASES + 1)
            .map(|i| {
                let d = i as f64 / PHASES as f64;
                if d >= half {
                    return 0.0;
                }
                let x = PI * cutoff * d;
                let sinc = if x == 0.0 { 1.0 } else { x.sin() / x };
                let r = d / half;
                cutoff * sinc * bessel_i0(KAISER_BETA * (1.0 - r * r).sqrt()) / bessel_beta
            })
            .collect();
        let half = half as i64;
        Self {
            in_rate,
            out_rate,
            channels,
            half,
            table,
            frames: vec![0.0; half as usize * channels],
            base: -half,
            pushed: 0,
            emitted: 0,
            limit: u64::MAX,
            out: vec![0.0; channels],
        }
    }

    /// One input frame; `emit` gets every output frame that is now complete.
    pub fn push(&mut self, frame: &[f64], mut emit: impl FnMut(&[f64])) {
        self.frames.extend_from_slice(&frame[..self.channels]);
        self.pushed += 1;
        while self.emitted < self.limit {
            let (whole, _) = self.position(self.emitted);
            if whole + self.half >= self.pushed {
                break;
            }
            self.compute(self.emitted);
            emit(&self.out);
            self.emitted += 1;
        }
        // Forget what no later output frame reaches.
        let (whole, _) = self.position(self.emitted);
        let keep_from = whole - self.half + 1;
        if keep_from - self.base > 4096 {
            let drop = (keep_from - self.base) as usize;
            self.frames.drain(..drop * self.channels);
            self.base = keep_from;
        }
    }

    /// The input has ended: emits output frames (reading silence past the end) until
    /// `total` have been emitted in all.
    pub fn finish(&mut self, total: u64, mut emit: impl FnMut(&[f64])) {
        let silence = vec![0.0; self.channels];
        self.limit = total;
        while self.emitted < total {
            self.push(&silence, &mut emit);
        }
    }

    /// Output frame `n` falls at input index `whole` plus `frac` (0 ≤ frac < 1).
    fn position(&self, n: u64) -> (i64, f64) {
        let t = u128::from(n) * u128::from(self.in_rate);
        let whole = (t / u128::from(self.out_rate)) as i64;
        let frac = (t % u128::from(self.out_rate)) as f64 / self.out_rate as f64;
        (whole, frac)
    }

    fn kernel(&self, d: f64) -> f64 {
        let p = d.abs() * PHASES as f64;
        let i = p as usize;
        match (self.table.get(i), self.table.get(i + 1)) {
            (Some(a), Some(b)) => a + (b - a) * (p - i as f64),
            _ => 0.0,
        }
    }

    fn compute(&mut self, n: u64) {
        let (whole, frac) = self.position(n);
        self.out.iter_mut().for_each(|v| *v = 0.0);
        for j in (whole - self.half + 1)..=(whole + self.half) {
            let k = self.kernel((whole - j) as f64 + frac);
            let at = (j - self.base) as usize * self.channels;
            for (o, v) in self
                .out
                .iter_mut()
                .zip(&self.frames[at..at + self.channels])
            {
                *o += k * v;
            }
        }
    }
}

/// The modified Bessel function of the first kind, order 0 (for the Kaiser window).
fn bessel_i0(x: f64) -> f64 {
    let (mut sum, mut term, mut k) = (1.0, 1.0, 1.0);
    while term > 1e-12 * sum {
        term *= (x / (2.0 * k)) * (x / (2.0 * k));
        sum += term;
        k += 1.0;
    }
    sum
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Resamples a tone and returns the output (one channel).
    fn tone(freq: f64, in_rate: u32, out_rate: u32, frames: u64) -> Vec<f64> {
        let mut r = Resampler::new(in_rate, out_rate, 1);
        let mut out = Vec::new();
        for n in 0..frames {
            let v = 0.5 * (2.0 * PI * freq * n as f64 / f64::from(in_rate)).sin();
            r.push(&[v], |f| out.push(f[0]));
        }
        r.finish(out_frames(frames, in_rate, out_rate), |f| out.push(f[0]));
        out
    }

    #[test]
    fn lengths_are_known_up_front() {
        assert_eq!(out_frames(44_100, 44_100, 48_000), 48_000);
        assert_eq!(out_frames(44_101, 44_100, 48_000), 48_002);
        assert_eq!(out_frames(96_001, 96_000, 48_000), 48_001);
        for (i, frames) in [
            (44_100, 10_001u64),
            (96_000, 7),
            (22_050, 3_333),
            (48_000, 100),
        ] {
            assert_eq!(
                tone(440.0, i, 48_000, frames).len() as u64,
                out_frames(frames, i, 48_000),
                "{i}"
            );
        }
    }

    #[test]
    fn a_tone_keeps_its_pitch_level_and_timing() {
        for in_rate in [44_100, 88_200, 96_000, 32_000] {
            let out = tone(1_000.0, in_rate, 48_000, u64::from(in_rate));
            // Away from the edges the output is the same tone sampled at 48 kHz.
            let worst = out[1_000..47_000]
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    let n = (i + 1_000) as f64;
                    (v - 0.5 * (2.0 * PI * 1_000.0 * n / 48_000.0).sin()).abs()
                })
                .fold(0.0, f64::max);
            assert!(worst < 0.5e-3, "{in_rate} Hz: worst error {worst}");
        }
    }

    #[test]
    fn what_the_new_rate_cannot_carry_is_filtered_out() {
        // 30 kHz in a 96 kHz file would alias to 18 kHz at 48 kHz.
        let out = tone(30_000.0, 96_000, 48_000, 96_000);
        let peak = out[1_000..47_000]
            .iter()
            .fold(0.0f64, |m, v| m.max(v.abs()));
        assert!(peak < 0.5 * 0.01, "peak {peak} (−40 dB is {})", 0.5 * 0.01);
    }
}
