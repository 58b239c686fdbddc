//! Head-related impulse responses from a spherical head (Brown & Duda, "A structural model
//! for binaural sound synthesis", 1998), and the four filter pairs that turn first-order
//! AmbiX into headphone signals. The browser's player loads the same filters
//! (`/binaural/{rate}.json`) into ConvolverNodes, so what the page plays and what
//! `?format=binaural` writes come from this one model.
//!
//! Per ear and direction: the interaural delay of a sphere (Woodworth's formula as Brown and
//! Duda give it), then the head shadow, a one-pole/one-zero shelf
//! `H(s) = (α(θ)·s + β) / (s + β)` with `β = 2c/a` and
//! `α(θ) = 1 + α_min/2 + (1 − α_min/2)·cos(θ/θ_min · 180°)` (α_min = 0.1, θ_min = 150°):
//! +6 dB at high frequencies facing the ear, −20 dB behind it, 0 dB at low frequencies.
//! No pinna and no torso: elevation is heard only through the head shadow.
//!
//! The ambisonic decode: a max-rE first-order decode to 240 virtual loudspeakers spread
//! evenly over the sphere, each heard through its impulse responses; summed per ambisonic
//! channel this gives one filter per channel and ear. The head is left–right symmetric, so
//! the right ear's filters are the left ear's with Y's sign turned.

use std::f64::consts::PI;

use crate::first_order::{W, X, Y, Z};

pub const HEAD_RADIUS_M: f64 = 0.0875;
pub const SPEED_OF_SOUND_M_S: f64 = 343.0;
const ALPHA_MIN: f64 = 0.1;
const THETA_MIN: f64 = 150.0 * PI / 180.0;
/// Virtual loudspeakers on a Fibonacci sphere.
const SPEAKERS: usize = 240;
/// Max-rE weight of the first-order components for a 3-D decode.
const MAX_RE_FIRST_ORDER: f64 = 0.577_350_3;
/// Half-width (samples) of the windowed sinc that places a fractional delay.
const SINC_HALF: usize = 8;
/// Right ear = left ear's filter times this, per ACN channel.
pub const RIGHT_EAR_SIGNS: [f64; 4] = [1.0, -1.0, 1.0, 1.0];

/// The filters for one sample rate: `left[c]` is the left ear's response to ACN channel `c`.
#[derive(Debug, Clone)]
pub struct Binaural {
    pub rate: u32,
    pub left: [Vec<f32>; 4],
}

impl Binaural {
    /// The filters for `rate` (Hz); about 128 taps at 48 kHz (2.7 ms), scaled with the rate.
    pub fn new(rate: u32) -> Self {
        let fs = f64::from(rate.max(1));
        let taps = ((fs * 128.0 / 48_000.0).ceil() as usize)
            .next_multiple_of(16)
            .max(32);
        let mut left: [Vec<f64>; 4] = std::array::from_fn(|_| vec![0.0; taps]);
        let golden = PI * (3.0 - 5f64.sqrt());
        for k in 0..SPEAKERS {
            let z = 1.0 - 2.0 * (k as f64 + 0.5) / SPEAKERS as f64;
            let r = (1.0 - z * z).sqrt();
            let (x, y) = (r * (golden * k as f64).cos(), r * (golden * k as f64).sin());
            let ir = ear_impulse_response(fs, [x, y, z], taps);
            let n = SPEAKERS as f64;
            let gain = {
                let mut g = [0.0; 4];
                g[W] = 1.0 / n;
                g[X] = 3.0 * MAX_RE_FIRST_ORDER * x / n;
                g[Y] = 3.0 * MAX_RE_FIRST_ORDER * y / n;
                g[Z] = 3.0 * MAX_RE_FIRST_ORDER * z / n;
                g
            };
            for (filter, g) in left.iter_mut().zip(gain) {
                for (t, v) in filter.iter_mut().zip(&ir) {
                    *t += g * v;
                }
            }
        }
        Self {
            rate,
            left: left.map(|f| f.into_iter().map(|v| v as f32).collect()),
        }
    }

    pub fn taps(&self) -> usize {
        self.left[W].len()
    }

    /// The filters as the player reads them: rate, channel order, and per channel the
    /// left ear's taps (the right ear's follow from `rightEarSigns`).
    pub fn to_json(&self) -> String {
        let channels: Vec<String> = self
            .left
            .iter()
            .map(|f| {
                let taps: Vec<String> = f.iter().map(|v| format!("{v:.7e}")).collect();
                format!("[{}]", taps.join(","))
            })
            .collect();
        format!(
            "{{\"rate\":{},\"order\":\"ACN\",\"normalisation\":\"SN3D\",\
             \"model\":\"spherical head (Brown and Duda 1998), radius {HEAD_RADIUS_M} m, max-rE first-order decode to {SPEAKERS} virtual loudspeakers\",\
             \"rightEarSigns\":[1,-1,1,1],\"left\":[{}]}}",
            self.rate,
            channels.join(",")
        )
    }
}

/// The left ear's impulse response to a plane wave from unit vector `u` (x front, y left,
/// z up): a fractional delay, then the head shadow.
fn ear_impulse_response(fs: f64, u: [f64; 3], taps: usize) -> Vec<f64> {
    // θ: angle between the source and the left ear's axis (0, 1, 0).
    let theta = u[1].clamp(-1.0, 1.0).acos();
    let a_c = HEAD_RADIUS_M / SPEED_OF_SOUND_M_S;
    let delay_s = if theta < PI / 2.0 {
        a_c * (1.0 - theta.cos())
    } else {
        a_c * (1.0 + theta - PI / 2.0)
    };
    let at = SINC_HALF as f64 + delay_s * fs;
    let mut h: Vec<f64> = (0..taps)
        .map(|n| {
            let t = n as f64 - at;
            if t.abs() >= SINC_HALF as f64 {
                return 0.0;
            }
            let sinc = if t == 0.0 {
                1.0
            } else {
                (PI * t).sin() / (PI * t)
            };
            let hann = 0.5 + 0.5 * (PI * t / SINC_HALF as f64).cos();
            sinc * hann
        })
        .collect();
    // The shelf by the bilinear transform: (b0 + b1·z⁻¹) / (1 + a1·z⁻¹).
    let alpha = 1.0 + ALPHA_MIN / 2.0 + (1.0 - ALPHA_MIN / 2.0) * (theta / THETA_MIN * PI).cos();
    let beta = 2.0 * SPEED_OF_SOUND_M_S / HEAD_RADIUS_M;
    let k = 2.0 * fs;
    let (b0, b1, a1) = (
        (beta + alpha * k) / (beta + k),
        (beta - alpha * k) / (beta + k),
        (beta - k) / (beta + k),
    );
    let (mut x1, mut y1) = (0.0, 0.0);
    for v in &mut h {
        let y = b0 * *v + b1 * x1 - a1 * y1;
        x1 = *v;
        y1 = y;
        *v = y;
    }
    h
}

/// First-order AmbiX in, headphone signals out: the filters run as FIRs over the last
/// `taps` frames (W, Z and X reach both ears alike, Y with opposite signs). Each channel's
/// history is kept twice over, so that the last `taps` samples are always one contiguous
/// slice, oldest first, and the filters are stored reversed to meet them: a plain dot
/// product the compiler vectorises.
pub struct Renderer {
    reversed: [Vec<f64>; 4],
    history: [Vec<f64>; 4],
    at: usize,
}

impl Renderer {
    pub fn new(binaural: &Binaural) -> Self {
        let taps = binaural.taps();
        let reversed = binaural
            .left
            .clone()
            .map(|f| f.into_iter().rev().map(f64::from).collect::<Vec<_>>());
        Self {
            reversed,
            history: std::array::from_fn(|_| vec![0.0; 2 * taps]),
            at: 0,
        }
    }

    /// One frame `[W, Y, Z, X]` → `(left, right)`.
    pub fn push(&mut self, foa: [f64; 4]) -> (f64, f64) {
        let taps = self.reversed[W].len();
        let mut per_channel = [0.0; 4];
        for ((sum, (h, f)), v) in per_channel
            .iter_mut()
            .zip(self.history.iter_mut().zip(&self.reversed))
            .zip(foa)
        {
            h[self.at] = v;
            h[self.at + taps] = v;
            let window = &h[self.at + 1..=self.at + taps];
            *sum = window.iter().zip(f).map(|(a, b)| a * b).sum();
        }
        self.at = (self.at + 1) % taps;
        let both = per_channel[W] + per_channel[Z] + per_channel[X];
        (both + per_channel[Y], both - per_channel[Y])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Left and right levels (dB difference) of a plane wave at `azimuth_deg` through the
    /// renderer: band-limited noise, as a real source would be.
    fn interaural_level_difference(azimuth_deg: f64, elevation_deg: f64) -> f64 {
        use rand::{Rng, SeedableRng, rngs::StdRng};
        let b = Binaural::new(48_000);
        let mut r = Renderer::new(&b);
        let mut rng = StdRng::seed_from_u64(7);
        let (a, e) = (azimuth_deg.to_radians(), elevation_deg.to_radians());
        let (mut l2, mut r2) = (0.0, 0.0);
        for n in 0..48_000 {
            let s: f64 = rng.gen_range(-0.5..0.5);
            let (l, rr) = r.push([s, s * a.sin() * e.cos(), s * e.sin(), s * a.cos() * e.cos()]);
            if n > 1_000 {
                l2 += l * l;
                r2 += rr * rr;
            }
        }
        10.0 * (l2 / r2).log10()
    }

    /// First order spreads every source over the whole sphere, so the level difference of
    /// a source at the side is small (4.4 dB here, broadband; a real head gives 10–20 dB at
    /// high frequencies): the interaural delay carries much of the direction.
    #[test]
    fn a_source_on_the_left_is_louder_in_the_left_ear() {
        let ild = interaural_level_difference(90.0, 0.0);
        assert!(ild > 4.0, "left − right = {ild:.2} dB");
        let ild = interaural_level_difference(-90.0, 0.0);
        assert!(
            ild < -4.0,
            "a source on the right: left − right = {ild:.2} dB"
        );
        let ild = interaural_level_difference(45.0, 0.0);
        assert!(ild > 2.0, "45° left: left − right = {ild:.2} dB");
    }

    #[test]
    fn a_source_in_front_or_overhead_is_equal_in_both_ears() {
        for (az, el) in [(0.0, 0.0), (180.0, 0.0), (0.0, 90.0)] {
            let ild = interaural_level_difference(az, el);
            assert!(
                ild.abs() < 1.0,
                "({az}°, {el}°): left − right = {ild:.2} dB"
            );
        }
    }

    #[test]
    fn the_renderer_plays_each_filter_as_its_impulse_response() {
        let b = Binaural::new(48_000);
        for channel in [W, Y, Z, X] {
            let mut r = Renderer::new(&b);
            for n in 0..b.taps() * 2 + 5 {
                let mut frame = [0.0; 4];
                if n == 0 {
                    frame[channel] = 1.0;
                }
                let (l, right) = r.push(frame);
                let want = b.left[channel].get(n).map_or(0.0, |v| f64::from(*v));
                assert!(
                    (l - want).abs() < 1e-12,
                    "channel {channel}, tap {n}: {l} ≠ {want}"
                );
                assert!((right - RIGHT_EAR_SIGNS[channel] * want).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn the_filters_pass_low_frequencies_at_unity_and_carry_the_delay() {
        let b = Binaural::new(48_000);
        assert_eq!(b.taps(), 128);
        assert_eq!(Binaural::new(96_000).taps(), 256);
        // At DC every ear response sums to one: W's filter does, the others cancel.
        let dc: Vec<f64> = b
            .left
            .iter()
            .map(|f| f.iter().map(|v| f64::from(*v)).sum())
            .collect();
        assert!(
            (dc[W] - 1.0).abs() < 0.01 && dc[X].abs() < 0.01 && dc[Y].abs() < 0.01,
            "{dc:?}"
        );
        // A single ear faced squarely: the sinc sits at its pre-delay; behind, 0.66 ms later.
        let near = ear_impulse_response(48_000.0, [0.0, 1.0, 0.0], 128);
        let far = ear_impulse_response(48_000.0, [0.0, -1.0, 0.0], 128);
        let peak = |h: &[f64]| {
            h.iter()
                .enumerate()
                .fold(
                    (0, 0.0),
                    |b, (i, v)| if v.abs() > b.1 { (i, v.abs()) } else { b },
                )
                .0
        };
        assert_eq!(peak(&near), SINC_HALF);
        let itd_ms = (peak(&far) - peak(&near)) as f64 / 48.0;
        assert!((itd_ms - 0.66).abs() < 0.05, "{itd_ms} ms");
        let json = b.to_json();
        assert!(
            json.starts_with("{\"rate\":48000") && json.matches('[').count() == 6,
            "{}",
            &json[..200]
        );
    }
}
