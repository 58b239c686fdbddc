//! Headphone filters for ambisonic sound of the first, second or third order, made by
//! magnitude least squares (MagLS) from the responses of a head (see below). The browser's
//! player loads the same filters (`/binaural/{rate}.json`) into ConvolverNodes, so what the
//! page plays and what `?format=binaural` writes come from this one design.
//!
//! **The heads** ([`HeadModel`]). Served from second order on: a Neumann KU100 dummy head
//! ([`crate::ku100`]), as the IEM Plug-in Suite's seventh-order filters render it — levels
//! and delays, pinna and torso — diffuse-field equalised (each frequency divided by the level
//! averaged over all directions, as a headphone is) and timed from its first arrival. Served
//! at first order: the spherical head of Brown and Duda ("A structural model for binaural
//! sound synthesis", 1998): the interaural delay of a sphere (Woodworth's formula as they
//! give it), then the head shadow, a one-pole/one-zero shelf `H(s) = (α(θ)·s + β) / (s + β)`
//! with `β = 2c/a` and `α(θ) = 1 + α_min/2 + (1 − α_min/2)·cos(θ/θ_min · 180°)` (α_min = 0.1,
//! θ_min = 150°): +6 dB at high frequencies facing the ear, −20 dB behind it, 0 dB at low
//! frequencies; no pinna and no torso. First order can follow no head's detail; fitted to the
//! sphere it leaves more level difference between the ears above 8 kHz than fitted to the
//! KU100 (15.5 against 13.5 dB, at 4–8 kHz 14.0 against 16.0), and at second and third order
//! the KU100 gives what the sphere cannot (20.7 / 20.4 dB at 4–8 / 8–16 kHz at third order,
//! the sphere 15.7 / 18.8). Beside them, to judge by, the MIT KEMAR dummy head's levels
//! ([`crate::kemar`]), diffuse-field equalised, on the sphere's delays, easing into the
//! sphere's level below 500 Hz where the measurement's loudspeaker fades; below the set's
//! lowest ring (40° down) a direction takes the nearest measured one's level. Each is
//! evaluated at [`DIRECTIONS`] directions of a Fibonacci lattice; docs/ambisonics.md has the
//! figures, measured.
//!
//! **The filters.** For an order-N signal (ACN, SN3D) the ear's filter per channel `g(f)`
//! should make `Σ_m g_m(f)·Y_m(d) = H(f, d)` for every direction `d`. Plain least squares
//! (`g = Y⁺·H`) matches both magnitude and phase, which order N can do only below about
//! `N·c / (2π·a)` (0.62 kHz at first order, 1.9 kHz at third); above it, the phase of a
//! head response turns too fast across directions, the fit averages it away and the sound
//! goes dull (12–17 dB down at the top at first order). MagLS (Schörkhuber, Zaunschirm and
//! Höldrich, DAGA 2018; Zaunschirm, Schörkhuber and Höldrich, JASA 143(6), 2018) keeps least
//! squares below that cutoff and above it fits the magnitude only: the phase it aims at is
//! that of the previous frequency's solution, so what is left is a smooth phase the order
//! can follow, while the level at each ear — what the ear judges direction and timbre by up
//! there — is the head's. The filters are the inverse transform of `g`, faded out over their
//! last quarter.
//!
//! The head is left–right symmetric, so the right ear's filters are the left ear's with the
//! sign of every channel of negative degree turned (those odd in y).

use std::f64::consts::PI;

use crate::{
    Convention,
    first_order::{Field, NotASoundField},
    kemar::Kemar,
    ku100::Ku100,
    sh::{self, MAX_ORDER, channels, degree_of, order_of, sn3d},
};

pub const HEAD_RADIUS_M: f64 = 0.0875;
pub const SPEED_OF_SOUND_M_S: f64 = 343.0;
const ALPHA_MIN: f64 = 0.1;
const THETA_MIN: f64 = 150.0 * PI / 180.0;
/// Directions the filters are fitted over (a Fibonacci lattice; enough for the third order).
pub const DIRECTIONS: usize = 1200;
/// Taps at 48 kHz (5.3 ms); scaled with the rate.
const TAPS_AT_48K: f64 = 256.0;
/// Every response starts this late (seconds), so that what least squares spreads before the
/// arrival still falls inside the filter.
const BULK_DELAY_S: f64 = 0.001;
/// How much finer than the filter's own the design's frequency grid is.
const DESIGN_OVERSAMPLING: usize = 4;

/// The filters for one sample rate and order: `left[c]` is the left ear's response to ACN
/// channel `c`.
#[derive(Debug, Clone)]
pub struct Binaural {
    pub rate: u32,
    pub order: usize,
    pub head: HeadModel,
    pub left: Vec<Vec<f32>>,
}

/// Where MagLS takes over from least squares for `order`: N·c / (2π·a).
pub fn cutoff_hz(order: usize) -> f64 {
    order as f64 * SPEED_OF_SOUND_M_S / (2.0 * PI * HEAD_RADIUS_M)
}

/// Right ear = left ear's filter times this, for ACN channel `acn`.
pub fn right_ear_sign(acn: usize) -> f64 {
    if degree_of(acn) < 0 { -1.0 } else { 1.0 }
}

impl Binaural {
    /// First-order filters for `rate` (Hz): what the player uses with the 4-channel preview.
    pub fn new(rate: u32) -> Self {
        Self::of_order(rate, 1)
    }

    /// The filters for `rate` and `order`, designed once per process and shared: what the
    /// renderers and the player's JSON use (a design takes a good part of a second at
    /// 192 kHz and third order).
    pub fn shared(rate: u32, order: usize) -> std::sync::Arc<Self> {
        type Designs = std::collections::HashMap<(u32, usize), std::sync::Arc<Binaural>>;
        static DESIGNS: std::sync::Mutex<Option<Designs>> = std::sync::Mutex::new(None);
        let order = order.clamp(1, MAX_ORDER);
        if let Some(b) = DESIGNS
            .lock()
            .ok()
            .and_then(|d| d.as_ref().and_then(|d| d.get(&(rate, order)).cloned()))
        {
            return b;
        }
        let made = std::sync::Arc::new(Self::of_order(rate, order));
        if let Ok(mut d) = DESIGNS.lock() {
            d.get_or_insert_with(Default::default)
                .insert((rate, order), std::sync::Arc::clone(&made));
        }
        made
    }

    /// The filters for `rate` and `order` (1–3; higher is taken as 3), fitted to the head
    /// served at that order.
    pub fn of_order(rate: u32, order: usize) -> Self {
        Self::design(rate, order, HeadModel::served(order))
    }

    /// The filters for `rate` and `order`, fitted to `head`.
    pub fn design(rate: u32, order: usize, head_model: HeadModel) -> Self {
        let order = order.clamp(1, MAX_ORDER);
        let dirs = sh::fibonacci_sphere(DIRECTIONS);
        let head = Head::new(head_model, dirs.clone());
        Self {
            rate,
            order,
            head: head_model,
            left: magls(rate, order, &dirs, &head),
        }
    }

    pub fn taps(&self) -> usize {
        self.left.first().map_or(0, Vec::len)
    }

    pub fn channels(&self) -> usize {
        self.left.len()
    }

    /// The filters as the player reads them: rate, order, method, channel order, and per
    /// channel the left ear's taps (the right ear's follow from `rightEarSigns`).
    pub fn to_json(&self) -> String {
        let channels: Vec<String> = self
            .left
            .iter()
            .map(|f| {
                let taps: Vec<String> = f.iter().map(|v| format!("{v:.7e}")).collect();
                format!("[{}]", taps.join(","))
            })
            .collect();
        let signs: Vec<&str> = (0..self.channels())
            .map(|c| if right_ear_sign(c) < 0.0 { "-1" } else { "1" })
            .collect();
        format!(
            "{{\"rate\":{},\"order\":{},\"channelOrder\":\"ACN\",\"normalisation\":\"SN3D\",\
             \"method\":\"MagLS (least squares below {:.0} Hz, magnitude least squares above), {DIRECTIONS} directions\",\
             \"head\":\"{}\",\"model\":\"{}\",\"licence\":\"{}\",\
             \"rightEarSigns\":[{}],\"left\":[{}]}}",
            self.rate,
            self.order,
            cutoff_hz(self.order),
            self.head.name(),
            self.head.describe(),
            self.head.licence(),
            signs.join(","),
            channels.join(",")
        )
    }

    /// How the filters do as ears judge them ([`Judged`]).
    pub fn judge(&self) -> Judged {
        Ears {
            rate: self.rate,
            left: &self.left,
        }
        .judge()
    }
}

/// Headphone filters to judge, ours or another decoder's (`examples/judge_filters.rs`):
/// `left[c]` is the left ear's response to ACN channel `c` of an SN3D signal at `rate`; the
/// right ear's follows by [`right_ear_sign`].
pub struct Ears<'a> {
    pub rate: u32,
    pub left: &'a [Vec<f32>],
}

impl Ears<'_> {
    /// Each channel's filter at the frequencies `freqs`: `[channel][frequency]`.
    pub fn spectra(&self, freqs: &[f64]) -> Vec<Vec<C>> {
        self.left
            .iter()
            .map(|taps| {
                freqs
                    .iter()
                    .map(|f| {
                        let w = -2.0 * PI * f / f64::from(self.rate);
                        taps.iter().enumerate().fold(C::ZERO, |s, (n, v)| {
                            s + C::cis(w * n as f64) * f64::from(*v)
                        })
                    })
                    .collect()
            })
            .collect()
    }

    /// The harmonics of direction `d` these filters take: those of their order.
    pub fn harmonics(&self, d: [f64; 3]) -> Vec<f64> {
        sh::harmonics(order_of(self.left.len().saturating_sub(1)), d)
    }

    /// The ears' responses (left, right) to a plane wave whose harmonics are `y`
    /// ([`Self::harmonics`]), at the `i`th frequency of `spectra`.
    pub fn ears(spectra: &[Vec<C>], i: usize, y: &[f64]) -> (C, C) {
        let (mut l, mut r) = (C::ZERO, C::ZERO);
        for (c, g) in spectra.iter().enumerate() {
            l = l + g[i] * y[c];
            r = r + g[i] * (y[c] * right_ear_sign(c));
        }
        (l, r)
    }

    /// The ears' impulse responses to a plane wave from `d` (left, right).
    pub fn impulse_responses(&self, d: [f64; 3]) -> (Vec<f64>, Vec<f64>) {
        let y = self.harmonics(d);
        let taps = self.left.first().map_or(0, Vec::len);
        let (mut l, mut r) = (vec![0.0; taps], vec![0.0; taps]);
        for (c, taps) in self.left.iter().enumerate() {
            for (n, v) in taps.iter().enumerate() {
                l[n] += f64::from(*v) * y[c];
                r[n] += f64::from(*v) * y[c] * right_ear_sign(c);
            }
        }
        (l, r)
    }

    /// How the filters do as ears judge them ([`Judged`]).
    pub fn judge(&self) -> Judged {
        let level = |band: (f64, f64), d: [f64; 3]| {
            let freqs = band_points(band.0, band.1);
            let g = self.spectra(&freqs);
            let y = self.harmonics(d);
            let (mut l2, mut r2) = (0.0, 0.0);
            for i in 0..freqs.len() {
                let (l, r) = Self::ears(&g, i, &y);
                l2 += l.abs2();
                r2 += r.abs2();
            }
            10.0 * (l2 / r2).log10()
        };
        let left = sh::direction(90.0, 0.0);
        let ild_90 = BANDS.map(|band| level(band, left));
        let front_db = level((200.0, 16_000.0), sh::direction(0.0, 0.0));
        // Power averaged over directions, per band, against 0.5–1.5 kHz.
        let ys: Vec<Vec<f64>> = sh::fibonacci_sphere(600)
            .into_iter()
            .map(|d| self.harmonics(d))
            .collect();
        let diffuse_band = |lo: f64, hi: f64| {
            let freqs = band_points(lo, hi);
            let g = self.spectra(&freqs);
            let mut p = 0.0;
            for y in &ys {
                for i in 0..freqs.len() {
                    p += Self::ears(&g, i, y).0.abs2();
                }
            }
            p / (ys.len() * freqs.len()) as f64
        };
        let reference = diffuse_band(500.0, 1_500.0);
        let diffuse =
            DIFFUSE_BANDS.map(|(lo, hi)| 10.0 * (diffuse_band(lo, hi) / reference).log10());
        let (l, r) = self.impulse_responses(left);
        let (l, r) = (
            low_pass(&l, ITD_LOW_PASS_HZ, self.rate),
            low_pass(&r, ITD_LOW_PASS_HZ, self.rate),
        );
        Judged {
            ild_90,
            front_db,
            diffuse,
            itd_90_us: cross_correlation_lag(&l, &r) / f64::from(self.rate) * 1e6,
        }
    }
}

/// What filters are fitted to: the left ear's response at frequency `f` to a plane wave
/// from each of the directions the fit was given.
pub trait Ear {
    fn responses(&self, f: f64) -> Vec<C>;
}

impl Ear for Head {
    fn responses(&self, f: f64) -> Vec<C> {
        Head::responses(self, f)
    }
}

/// The left ear's MagLS filters (per ACN channel, SN3D) of `order` (1–3) at `rate`, fitted
/// to `ear`'s responses at `dirs` (as the module's head describes).
pub fn magls(rate: u32, order: usize, dirs: &[[f64; 3]], ear: &impl Ear) -> Vec<Vec<f32>> {
    let order = order.clamp(1, MAX_ORDER);
    let fs = f64::from(rate.max(1));
    let taps = ((fs * TAPS_AT_48K / 48_000.0).ceil() as usize)
        .next_multiple_of(16)
        .max(64);
    let m = channels(order);
    let y: Vec<Vec<f64>> = dirs.iter().map(|d| sn3d(*d)[..m].to_vec()).collect();
    let pinv = sh::pseudo_inverse(&y);
    let cutoff = cutoff_hz(order);
    // Designed on a finer grid than the filter's own, so that the phase MagLS carries
    // from bin to bin changes little between them and the response is short: what the
    // filter keeps of it (its first `taps`) is then what was designed, between the
    // bins too.
    let design = taps * DESIGN_OVERSAMPLING;
    let bins = design / 2 + 1;
    let mut spectra = vec![Vec::with_capacity(bins); m];
    let mut previous = vec![C::ZERO; m];
    let mut target = vec![C::ZERO; dirs.len()];
    let fit = |target: &[C]| -> Vec<C> {
        pinv.iter()
            .map(|row| {
                row.iter()
                    .zip(target)
                    .fold(C::ZERO, |s, (p, t)| s + *t * *p)
            })
            .collect()
    };
    let reconstruct =
        |g: &[C], q: usize| -> C { y[q].iter().zip(g).fold(C::ZERO, |s, (yv, g)| s + *g * *yv) };
    for k in 0..bins {
        let f = k as f64 * fs / design as f64;
        let late = C::cis(-2.0 * PI * f * BULK_DELAY_S);
        let head: Vec<C> = ear.responses(f).into_iter().map(|h| h * late).collect();
        let mut g = if f <= cutoff {
            fit(&head)
        } else {
            // The magnitude the head gives, with the phase of the previous bin's fit,
            // advanced by the bulk delay's turn over one bin, so that the response keeps
            // arriving at that delay rather than drifting to time zero (and before it).
            let step = C::cis(-2.0 * PI * (fs / design as f64) * BULK_DELAY_S);
            let g: Vec<C> = previous.iter().map(|v| *v * step).collect();
            for (q, t) in target.iter_mut().enumerate() {
                let fitted = reconstruct(&g, q);
                let norm = fitted.abs();
                *t = if norm > 1e-12 {
                    fitted * (head[q].abs() / norm)
                } else {
                    C::new(head[q].abs(), 0.0)
                };
            }
            fit(&target)
        };
        // Diffuse-field level: the fit's power averaged over directions made the head's.
        let fitted_power: f64 = (0..dirs.len()).map(|q| reconstruct(&g, q).abs2()).sum();
        let head_power: f64 = head.iter().map(|h| h.abs2()).sum();
        if fitted_power > 1e-30 {
            let k_eq = (head_power / fitted_power).sqrt();
            for v in &mut g {
                *v = *v * k_eq;
            }
        }
        for (spectrum, v) in spectra.iter_mut().zip(&g) {
            spectrum.push(*v);
        }
        previous = g;
    }
    let fade = taps / 4;
    spectra
        .iter()
        .map(|spectrum| {
            inverse_real(spectrum, design)
                .into_iter()
                .take(taps)
                .enumerate()
                .map(|(n, v)| {
                    let w = if n + fade >= taps {
                        let t = (n + fade - taps) as f64 / fade as f64;
                        0.5 + 0.5 * (PI * t).cos()
                    } else {
                        1.0
                    };
                    (v * w) as f32
                })
                .collect()
        })
        .collect()
}

/// A head's own left − right level (dB) for a source at 90° left, in [`BANDS`]: what the
/// filters of any order approach.
pub fn head_ild_90(model: HeadModel) -> [f64; 4] {
    let left = sh::direction(90.0, 0.0);
    // With the fit's directions, so that a measured head is equalised as it is for the fit.
    let mut dirs = sh::fibonacci_sphere(DIRECTIONS);
    dirs.extend([left, [left[0], -left[1], left[2]]]);
    let head = Head::new(model, dirs);
    BANDS.map(|(lo, hi)| {
        let (mut l2, mut r2) = (0.0, 0.0);
        for f in band_points(lo, hi) {
            let ears = head.responses(f);
            l2 += ears[DIRECTIONS].abs2();
            r2 += ears[DIRECTIONS + 1].abs2();
        }
        10.0 * (l2 / r2).log10()
    })
}

/// The bands the interaural level difference is judged in (Hz).
pub const BANDS: [(f64, f64); 4] = [
    (1_000.0, 2_000.0),
    (2_000.0, 4_000.0),
    (4_000.0, 8_000.0),
    (8_000.0, 16_000.0),
];
/// The bands the diffuse field is judged in, each against 0.5–1.5 kHz (third octaves would
/// say the same: the bands are checked on a fine grid inside).
pub const DIFFUSE_BANDS: [(f64, f64); 3] =
    [(2_000.0, 4_000.0), (4_000.0, 8_000.0), (8_000.0, 16_000.0)];

/// What a listener's ears would say of a set of filters.
#[derive(Debug, Clone, PartialEq)]
pub struct Judged {
    /// Left − right level (dB) for a source at 90° left, in [`BANDS`].
    pub ild_90: [f64; 4],
    /// Left − right level (dB) for a source in front, 0.2–16 kHz.
    pub front_db: f64,
    /// Diffuse-field level (dB) in [`DIFFUSE_BANDS`] against 0.5–1.5 kHz.
    pub diffuse: [f64; 3],
    /// The interaural time difference (µs) for a source at 90° left: where the ears'
    /// impulse responses, below [`ITD_LOW_PASS_HZ`], correlate best.
    pub itd_90_us: f64,
}

/// One line: the figures the module's test, `examples/judge_filters.rs` and the docs' tables
/// give.
impl std::fmt::Display for Judged {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let [a, b, c, d] = self.ild_90;
        let [e, g, h] = self.diffuse;
        write!(
            f,
            "ILD at 90° {a:.1} / {b:.1} / {c:.1} / {d:.1} dB; front {:+.2} dB; \
             diffuse {e:+.1} / {g:+.1} / {h:+.1} dB; ITD {:.0} µs",
            self.front_db, self.itd_90_us
        )
    }
}

/// The interaural time difference is read below this (Hz), where the ears judge it by: above
/// it, MagLS gives up the phase on purpose.
pub const ITD_LOW_PASS_HZ: f64 = 1_500.0;

/// `x` through a linear-phase low-pass at `cutoff` (a Hann-windowed sinc of ±2 ms), the
/// same length, aligned.
fn low_pass(x: &[f64], cutoff: f64, rate: u32) -> Vec<f64> {
    let fs = f64::from(rate);
    let half = (0.002 * fs) as i64;
    let kernel: Vec<f64> = (-half..=half)
        .map(|n| {
            let t = n as f64;
            let sinc = if n == 0 {
                2.0 * cutoff / fs
            } else {
                (2.0 * PI * cutoff * t / fs).sin() / (PI * t)
            };
            sinc * (0.5 + 0.5 * (PI * t / (half + 1) as f64).cos())
        })
        .collect();
    (0..x.len() as i64)
        .map(|i| {
            kernel
                .iter()
                .enumerate()
                .filter_map(|(k, h)| {
                    let j = i + k as i64 - half;
                    (0..x.len() as i64).contains(&j).then(|| h * x[j as usize])
                })
                .sum()
        })
        .collect()
}

/// Frequencies a band is judged at: 128 a band, evenly spaced, so that a band's level is
/// what white noise in it carries — the way issue 25's table is computed: on the filters
/// MagLS replaced, this gives its row exactly (7.1 / 10.5 / 11.1 / 11.5 dB at the side;
/// diffuse −6.6 / −12.0 / −17.5 against its −6.6 / −12.1 / −17.5), where points evenly
/// spaced on a log scale (pink noise) gave 6.6 dB at 1–2 kHz.
fn band_points(lo: f64, hi: f64) -> Vec<f64> {
    const POINTS: usize = 128;
    (0..POINTS)
        .map(|i| lo + (hi - lo) * (i as f64 + 0.5) / POINTS as f64)
        .collect()
}

/// The lag (samples, interpolated) by which `b` follows `a` best, within ±1.5 ms at 48 kHz.
fn cross_correlation_lag(a: &[f64], b: &[f64]) -> f64 {
    let n = a.len() as i64;
    let max_lag = 72.min(n - 1);
    let corr = |lag: i64| -> f64 {
        (0..n)
            .filter_map(|i| {
                let j = i + lag;
                (0..n).contains(&j).then(|| a[i as usize] * b[j as usize])
            })
            .sum()
    };
    let (mut best, mut best_v) = (0, f64::MIN);
    for lag in -max_lag..=max_lag {
        let v = corr(lag);
        if v > best_v {
            (best, best_v) = (lag, v);
        }
    }
    // A parabola through the peak and its neighbours.
    let (l, r) = (corr(best - 1), corr(best + 1));
    let denom = l - 2.0 * best_v + r;
    let shift = if denom.abs() > 1e-30 {
        0.5 * (l - r) / denom
    } else {
        0.0
    };
    best as f64 + shift
}

/// The head the filters are fitted to (see the module's head).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeadModel {
    /// Brown and Duda's spherical head: what the site serves.
    Sphere,
    /// The MIT KEMAR dummy head's measured levels on the sphere's delays: the measured head
    /// the sphere is judged against.
    Kemar,
    /// A Neumann KU100 dummy head, levels and delays, as seventh-order filters render it
    /// ([`crate::ku100`]).
    Ku100,
}

impl HeadModel {
    /// The head the player's and the downloads' filters of `order` are fitted to: from second
    /// order on, the KU100, whose level differences and delays an order of two or more can
    /// follow; at first order, where no head's detail survives, the sphere, which leaves more
    /// level difference between the ears above 8 kHz (15.5 against 13.5 dB; the module's
    /// test prints both).
    pub fn served(order: usize) -> HeadModel {
        if order >= 2 {
            HeadModel::Ku100
        } else {
            HeadModel::Sphere
        }
    }

    /// Its short name, as the player's status line gives it (`/binaural/{rate}.json`'s `head`).
    pub fn name(self) -> &'static str {
        match self {
            HeadModel::Sphere => "a spherical head",
            HeadModel::Kemar => "the KEMAR dummy head",
            HeadModel::Ku100 => "the KU100 dummy head",
        }
    }

    /// What `/binaural/{rate}.json` says of it.
    pub fn describe(self) -> String {
        match self {
            HeadModel::Sphere => {
                format!("spherical head (Brown and Duda 1998), radius {HEAD_RADIUS_M} m")
            }
            HeadModel::Kemar => format!(
                "levels of the MIT KEMAR dummy head (normal pinna; Gardner and Martin 1994), \
                 diffuse-field equalised, on the delays of a spherical head of radius {HEAD_RADIUS_M} m"
            ),
            HeadModel::Ku100 => "Neumann KU100 dummy head as the IEM Plug-in Suite's \
                 seventh-order BinauralDecoder filters render it, diffuse-field equalised"
                .into(),
        }
    }

    /// The terms filters fitted to it are offered under (`/binaural/{rate}.json` says it).
    pub fn licence(self) -> &'static str {
        match self {
            HeadModel::Sphere | HeadModel::Kemar => "AGPL-3.0-or-later (Ambisonia's own)",
            HeadModel::Ku100 => {
                "GPL-3.0-or-later: fitted to the IEM Plug-in Suite's KU100 filters \
                 (media/data/IEM-KU100.txt in Ambisonia's source)"
            }
        }
    }
}

/// A head at a set of directions.
pub struct Head {
    dirs: Vec<[f64; 3]>,
    at: HeadAt,
}

/// What a head needs at its directions.
enum HeadAt {
    Sphere,
    /// The measured direction each takes its level from.
    Kemar(Vec<usize>),
    /// The filters' harmonics at each.
    Ku100(ShHead<'static>),
}

/// KEMAR: below the first, the level is the sphere's; above the second, the measured
/// head's; in between it eases from one to the other (Hz).
const MEASURED_FROM_HZ: (f64, f64) = (200.0, 500.0);
/// A head made by filters: above this (Hz), its response at this (the KU100's loudspeaker
/// and its set's 44.1 kHz rate end about here).
const MEASURED_TO_HZ: f64 = 20_000.0;

impl Head {
    pub fn new(model: HeadModel, dirs: Vec<[f64; 3]>) -> Self {
        let at = match model {
            HeadModel::Sphere => HeadAt::Sphere,
            HeadModel::Kemar => {
                let kemar = Kemar::get();
                HeadAt::Kemar(dirs.iter().map(|d| kemar.nearest(*d)).collect())
            }
            HeadModel::Ku100 => {
                let set = Ku100::get();
                HeadAt::Ku100(ShHead::new(set.rate(), set.left(), set.start(), &dirs))
            }
        };
        Self { dirs, at }
    }

    /// The left ear's response at frequency `f` to a plane wave from each direction.
    pub fn responses(&self, f: f64) -> Vec<C> {
        match &self.at {
            HeadAt::Sphere => self.dirs.iter().map(|d| sphere_response(f, *d)).collect(),
            HeadAt::Kemar(nearest) => self.kemar_responses(nearest, f),
            // Diffuse-field equalised, as KEMAR's levels are.
            HeadAt::Ku100(head) => diffuse_field_equalised(head.responses(f)),
        }
    }

    fn kemar_responses(&self, nearest: &[usize], f: f64) -> Vec<C> {
        let kemar = Kemar::get();
        let at = kemar.at(f);
        let levels: Vec<f64> = nearest.iter().map(|q| kemar.level_db(*q, at)).collect();
        // Diffuse-field equalised: the power averaged over the directions made 0 dB.
        let mean_power =
            levels.iter().map(|l| 10f64.powf(l / 10.0)).sum::<f64>() / levels.len() as f64;
        let equalise = -10.0 * mean_power.log10();
        let (lo, hi) = MEASURED_FROM_HZ;
        let measured_share = ((f.max(1.0) / lo).log2() / (hi / lo).log2()).clamp(0.0, 1.0);
        self.dirs
            .iter()
            .zip(levels)
            .map(|(d, level)| {
                let sphere = sphere_response(f, *d);
                let sphere_db = 10.0 * sphere.abs2().max(1e-30).log10();
                let db = measured_share * (level + equalise) + (1.0 - measured_share) * sphere_db;
                sphere * 10f64.powf((db - sphere_db) / 20.0)
            })
            .collect()
    }
}

/// Responses made to average 0 dB in power over their directions, as a headphone is
/// equalised.
fn diffuse_field_equalised(responses: Vec<C>) -> Vec<C> {
    let mean_power =
        responses.iter().map(|h| h.abs2()).sum::<f64>() / responses.len().max(1) as f64;
    let k = if mean_power > 1e-30 {
        mean_power.sqrt().recip()
    } else {
        1.0
    };
    responses.into_iter().map(|h| h * k).collect()
}

/// A head made by SH-domain filters (the left ear's, per ACN channel of an SN3D signal, at
/// `rate`, of any order): its response from a direction is what the filters give for a plane
/// wave from there, timed from sample `start`. Filters of a high order stand for the head
/// they were made from: the KU100's ([`crate::ku100`]).
struct ShHead<'a> {
    rate: u32,
    left: &'a [Vec<f64>],
    start: usize,
    /// Per direction, the harmonics of the filters' order.
    y: Vec<Vec<f64>>,
}

impl<'a> ShHead<'a> {
    fn new(rate: u32, left: &'a [Vec<f64>], start: usize, dirs: &[[f64; 3]]) -> Self {
        let order = order_of(left.len().saturating_sub(1));
        let y = dirs.iter().map(|d| sh::harmonics(order, *d)).collect();
        Self {
            rate,
            left,
            start,
            y,
        }
    }

    /// The left ear's response at `f` to a plane wave from each direction (above
    /// [`MEASURED_TO_HZ`] or the filters' Nyquist frequency, the response there: only the
    /// level is fitted up there).
    fn responses(&self, f: f64) -> Vec<C> {
        let top = MEASURED_TO_HZ.min(0.5 * f64::from(self.rate));
        let w = -2.0 * PI * f.min(top) / f64::from(self.rate);
        let start = self.start as f64;
        let taps = self.left.iter().map(Vec::len).max().unwrap_or(0);
        let turns: Vec<C> = (0..taps).map(|n| C::cis(w * (n as f64 - start))).collect();
        let gains: Vec<C> = self
            .left
            .iter()
            .map(|f| f.iter().zip(&turns).fold(C::ZERO, |s, (v, t)| s + *t * *v))
            .collect();
        self.y
            .iter()
            .map(|y| y.iter().zip(&gains).fold(C::ZERO, |s, (y, g)| s + *g * *y))
            .collect()
    }
}

/// The left ear's response at frequency `f` to a plane wave from unit vector `u` (x front,
/// y left, z up) of a sphere: its delay and head shadow.
pub fn sphere_response(f: f64, u: [f64; 3]) -> C {
    // θ: angle between the source and the left ear's axis (0, 1, 0).
    let theta = u[1].clamp(-1.0, 1.0).acos();
    let a_c = HEAD_RADIUS_M / SPEED_OF_SOUND_M_S;
    let delay_s = if theta < PI / 2.0 {
        a_c * (1.0 - theta.cos())
    } else {
        a_c * (1.0 + theta - PI / 2.0)
    };
    let alpha = 1.0 + ALPHA_MIN / 2.0 + (1.0 - ALPHA_MIN / 2.0) * (theta / THETA_MIN * PI).cos();
    let beta = 2.0 * SPEED_OF_SOUND_M_S / HEAD_RADIUS_M;
    let w = 2.0 * PI * f;
    let shelf = C::new(beta, alpha * w) / C::new(beta, w);
    shelf * C::cis(-w * delay_s)
}

/// The real signal of `taps` samples whose spectrum's first `taps/2 + 1` bins are `s`.
fn inverse_real(s: &[C], taps: usize) -> Vec<f64> {
    let half = taps / 2;
    (0..taps)
        .map(|n| {
            let mut v = s[0].re + s[half].re * if n % 2 == 0 { 1.0 } else { -1.0 };
            for (k, x) in s.iter().enumerate().take(half).skip(1) {
                let w = 2.0 * PI * (k * n) as f64 / taps as f64;
                v += 2.0 * (x.re * w.cos() - x.im * w.sin());
            }
            v / taps as f64
        })
        .collect()
}

/// A complex number (what the filter design needs of one).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct C {
    pub re: f64,
    pub im: f64,
}

impl C {
    pub const ZERO: C = C { re: 0.0, im: 0.0 };

    pub fn new(re: f64, im: f64) -> Self {
        Self { re, im }
    }

    /// e^(iφ).
    pub fn cis(phi: f64) -> Self {
        Self::new(phi.cos(), phi.sin())
    }

    pub fn abs2(self) -> f64 {
        self.re * self.re + self.im * self.im
    }

    pub fn abs(self) -> f64 {
        self.abs2().sqrt()
    }
}

impl std::ops::Add for C {
    type Output = C;
    fn add(self, o: C) -> C {
        C::new(self.re + o.re, self.im + o.im)
    }
}

impl std::ops::Mul for C {
    type Output = C;
    fn mul(self, o: C) -> C {
        C::new(
            self.re * o.re - self.im * o.im,
            self.re * o.im + self.im * o.re,
        )
    }
}

impl std::ops::Mul<f64> for C {
    type Output = C;
    fn mul(self, k: f64) -> C {
        C::new(self.re * k, self.im * k)
    }
}

impl std::ops::Div for C {
    type Output = C;
    fn div(self, o: C) -> C {
        let d = o.abs2();
        C::new(
            (self.re * o.re + self.im * o.im) / d,
            (self.im * o.re - self.re * o.im) / d,
        )
    }
}

/// Ambisonic signals of up to the third order in, headphone signals out: the filters run
/// as FIRs over the last `taps` frames. Each channel's history is kept twice over, so that
/// the last `taps` samples are always one contiguous slice, oldest first, and the filters
/// are stored reversed to meet them: a plain dot product the compiler vectorises. Channels
/// of even and odd symmetry in y are summed apart, so each ear is their sum or difference.
pub struct Renderer {
    reversed: Vec<Vec<f64>>,
    odd: Vec<bool>,
    history: Vec<Vec<f64>>,
    at: usize,
}

impl Renderer {
    pub fn new(binaural: &Binaural) -> Self {
        let taps = binaural.taps();
        let reversed: Vec<Vec<f64>> = binaural
            .left
            .iter()
            .map(|f| f.iter().rev().map(|v| f64::from(*v)).collect())
            .collect();
        let channels = reversed.len();
        Self {
            odd: (0..channels).map(|c| right_ear_sign(c) < 0.0).collect(),
            history: vec![vec![0.0; 2 * taps]; channels],
            reversed,
            at: 0,
        }
    }

    /// The channels it renders: (order + 1)².
    pub fn channels(&self) -> usize {
        self.reversed.len()
    }

    /// One frame (ACN, SN3D; at least [`Renderer::channels`] values, the rest ignored) →
    /// `(left, right)`.
    pub fn push(&mut self, frame: &[f64]) -> (f64, f64) {
        let taps = self.reversed.first().map_or(0, Vec::len);
        let (mut even, mut odd) = (0.0, 0.0);
        for ((h, f), (v, is_odd)) in self
            .history
            .iter_mut()
            .zip(&self.reversed)
            .zip(frame.iter().zip(&self.odd))
        {
            h[self.at] = *v;
            h[self.at + taps] = *v;
            let window = &h[self.at + 1..=self.at + taps];
            let sum: f64 = window.iter().zip(f).map(|(a, b)| a * b).sum();
            if *is_odd {
                odd += sum;
            } else {
                even += sum;
            }
        }
        self.at = (self.at + 1) % taps.max(1);
        (even + odd, even - odd)
    }
}

/// A recording heard on headphones: its sound field read at its own order (up to the
/// third, [`Field`]), turned for a listener facing `yaw` degrees to the left (0: as
/// recorded), through that order's filters. What `?format=binaural` and the podcast MP3 are.
pub struct Headphones {
    field: Field,
    renderer: Renderer,
    turn: Option<Vec<Vec<f64>>>,
    acn: Vec<f64>,
    turned: Vec<f64>,
}

impl Headphones {
    pub fn new(
        convention: Option<Convention>,
        channels: u16,
        rate: u32,
        yaw_deg: f64,
    ) -> Result<Self, NotASoundField> {
        let field = Field::new(convention, channels)?;
        let order = field.order();
        let size = sh::channels(order);
        // Facing yaw° to the left is the field turned yaw° to the right.
        let turn = (yaw_deg.rem_euclid(360.0) != 0.0)
            .then(|| sh::Rotator::new().matrix(&sh::rotation(-yaw_deg, 0.0, 0.0), order));
        Ok(Self {
            renderer: Renderer::new(&Binaural::shared(rate, order)),
            field,
            turn,
            acn: vec![0.0; size],
            turned: vec![0.0; size],
        })
    }

    /// The order it renders at.
    pub fn order(&self) -> usize {
        self.field.order()
    }

    /// One frame of the file's channels → `(left, right)`.
    pub fn push(&mut self, frame: &[f64]) -> (f64, f64) {
        self.field.push(frame, &mut self.acn);
        match &self.turn {
            Some(m) => {
                for (out, row) in self.turned.iter_mut().zip(m) {
                    *out = row.iter().zip(&self.acn).map(|(g, v)| g * v).sum();
                }
                self.renderer.push(&self.turned)
            }
            None => self.renderer.push(&self.acn),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the filters of each order do, fitted to each head, judged as a listener's ears
    /// would judge them (docs/ambisonics.md's table is this output): for every head, both
    /// ears equal for a source in front, the diffuse field flat within ±3 dB from 2 to 16 kHz,
    /// and from 4 kHz up a level difference at the side a first-order least-squares fit
    /// cannot give (it gives 6 dB); the sphere's within 1.5 dB of the sphere's own.
    #[test]
    fn filters_of_each_order_are_judged_as_ears_would() {
        for model in [HeadModel::Sphere, HeadModel::Kemar, HeadModel::Ku100] {
            let head = head_ild_90(model);
            println!(
                "{model:?} itself: ILD at 90° {:.1} / {:.1} / {:.1} / {:.1} dB",
                head[0], head[1], head[2], head[3]
            );
            for order in 1..=MAX_ORDER {
                let j = Binaural::design(48_000, order, model).judge();
                println!("{model:?}, order {order}: {j}");
                for (band, (ild, truth)) in j.ild_90.iter().zip(head).enumerate().skip(2) {
                    let enough = match model {
                        HeadModel::Sphere => *ild > truth - 1.5 && *ild > 13.5,
                        // Measured: pinna lobes a first order cannot follow above 8 kHz.
                        HeadModel::Kemar | HeadModel::Ku100 => *ild > 12.0,
                    };
                    assert!(
                        enough,
                        "{model:?}, order {order}, band {band}: {ild:.1} dB (the head: {truth:.1})"
                    );
                }
                assert!(
                    j.front_db.abs() < 1.0,
                    "{model:?}, order {order}: front {:.2}",
                    j.front_db
                );
                assert!(
                    j.diffuse.iter().all(|d| d.abs() < 3.0),
                    "{model:?}, order {order}: diffuse {:?}",
                    j.diffuse
                );
            }
        }
    }

    /// The filters served, held to issue 25's goals, judged as its table is (white-noise
    /// bands): at first order at least 14 dB between the ears at the side from 4 to 16 kHz
    /// (the sphere gives 14.01 / 15.50 dB: met by a hundredth of a dB at 4–8 kHz, where the
    /// KU100 would give 16.0 but 13.5 above 8 kHz); at third order 17 dB (the KU100: 20.7 /
    /// 20.4) and an interaural delay of at least 0.65 ms (766 µs); at second order 16 dB.
    #[test]
    fn the_served_filters_of_each_order_meet_their_goals() {
        for rate in [44_100, 48_000, 96_000] {
            for (order, least_db) in [(1, 14.0), (2, 16.0), (3, 17.0)] {
                let b = Binaural::of_order(rate, order);
                let j = b.judge();
                println!(
                    "served at {rate} Hz, order {order} ({:?}): {j} (4–8 / 8–16 kHz: {:.2} / {:.2})",
                    b.head, j.ild_90[2], j.ild_90[3]
                );
                for band in 2..4 {
                    assert!(
                        j.ild_90[band] >= least_db,
                        "{rate} Hz, order {order}, band {band}: {:.1} dB",
                        j.ild_90[band]
                    );
                }
                assert!(j.diffuse.iter().all(|d| d.abs() < 3.0), "{j}");
                assert!(j.front_db.abs() < 1.0, "{j}");
                if order == 3 {
                    assert!(j.itd_90_us >= 650.0, "{rate} Hz: {j}");
                }
            }
        }
    }

    /// The same sound at the side, louder in the ear it faces, through the renderer.
    #[test]
    fn a_source_on_the_left_is_louder_in_the_left_ear_at_every_order() {
        for order in 1..=MAX_ORDER {
            let b = Binaural::of_order(48_000, order);
            let mut r = Renderer::new(&b);
            let y = sn3d(sh::direction(90.0, 0.0));
            let (mut l2, mut r2, mut x) = (0.0, 0.0, 1u64);
            for n in 0..24_000 {
                x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                let s = (x >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
                let frame: Vec<f64> = y[..b.channels()].iter().map(|g| g * s).collect();
                let (l, rr) = r.push(&frame);
                if n > 1_000 {
                    l2 += l * l;
                    r2 += rr * rr;
                }
            }
            let ild = 10.0 * (l2 / r2).log10();
            assert!(ild > 6.0, "order {order}: {ild:.1} dB");
        }
    }

    #[test]
    fn the_renderer_plays_each_filter_as_its_impulse_response() {
        for order in [1, 3] {
            let b = Binaural::of_order(48_000, order);
            for channel in 0..b.channels() {
                let mut r = Renderer::new(&b);
                for n in 0..b.taps() * 2 + 5 {
                    let mut frame = vec![0.0; b.channels()];
                    if n == 0 {
                        frame[channel] = 1.0;
                    }
                    let (l, right) = r.push(&frame);
                    let want = b.left[channel].get(n).map_or(0.0, |v| f64::from(*v));
                    assert!((l - want).abs() < 1e-12, "channel {channel}, tap {n}");
                    assert!((right - right_ear_sign(channel) * want).abs() < 1e-12);
                }
            }
        }
    }

    #[test]
    fn the_filters_pass_low_frequencies_at_unity_and_say_what_they_are() {
        let b = Binaural::new(48_000);
        assert_eq!((b.taps(), b.channels(), b.order), (256, 4, 1));
        assert_eq!(Binaural::new(96_000).taps(), 512);
        assert_eq!(Binaural::of_order(44_100, 3).channels(), 16);
        // At DC every ear response sums to one: W's filter does, the others cancel.
        let dc: Vec<f64> = b
            .left
            .iter()
            .map(|f| f.iter().map(|v| f64::from(*v)).sum())
            .collect();
        assert!(
            (dc[0] - 1.0).abs() < 0.01 && dc[1..].iter().all(|v| v.abs() < 0.01),
            "{dc:?}"
        );
        let json = Binaural::of_order(48_000, 2).to_json();
        assert!(
            json.starts_with("{\"rate\":48000,\"order\":2,")
                && json.contains("\"method\":\"MagLS")
                && json.contains("\"rightEarSigns\":[1,-1,1,1,-1,-1,1,1,1]"),
            "{}",
            &json[..300]
        );
    }
}
