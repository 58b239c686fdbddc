//! A measured head with its delays: a Neumann KU100 dummy head's left ear as the IEM
//! Plug-in Suite's BinauralDecoder renders it at seventh order — 64 SH-domain filters at
//! 44.1 kHz, as `media/data/iem-ku100-left.txt` carries them (read from Debian's
//! `iem-plugin-suite-vst` by `scripts/vendor-ku100`; GPL-3.0-or-later, see
//! `media/data/IEM-KU100.txt`). Seventh order holds a head's responses, level and delay,
//! well up into the kHz (its own least-squares cutoff is about 4.4 kHz) and its levels above:
//! a plane wave from a direction through these filters is what [`crate::hrtf`] takes as the
//! KU100's response from there. The head is mirror-symmetric, as the filters assume.

use std::sync::OnceLock;

use crate::sh::{self, order_of};

/// The set, read once per process, ready for SN3D signals.
pub struct Ku100 {
    rate: u32,
    /// `left[c]`: the left ear's response to ACN channel `c` of an SN3D signal.
    left: Vec<Vec<f64>>,
    /// The sample taken as time zero: where the sound from the side first reaches the ear
    /// on that side (the filters come centred, their main arrivals some 2.5 ms late).
    start: usize,
}

impl Ku100 {
    pub fn get() -> &'static Ku100 {
        static SET: OnceLock<Ku100> = OnceLock::new();
        SET.get_or_init(|| Self::parse(include_str!("../data/iem-ku100-left.txt")))
    }

    /// The data as `scripts/vendor-ku100` writes it (the tests check that it is whole).
    fn parse(text: &str) -> Self {
        let mut rate = 44_100;
        let mut left: Vec<Vec<f64>> = Vec::new();
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            if let Some(r) = line.strip_prefix("rate ") {
                rate = r.trim().parse().unwrap_or(rate);
            } else if !line.starts_with("order ") {
                // 16-bit samples, filters for N3D signals: scaled for SN3D ones.
                let gain = sh::n3d_gain(left.len()) / 32_768.0;
                left.push(
                    line.split_whitespace()
                        .filter_map(|v| v.parse::<f64>().ok())
                        .map(|v| v * gain)
                        .collect(),
                );
            }
        }
        let start = first_arrival(&left);
        Self { rate, left, start }
    }

    pub fn rate(&self) -> u32 {
        self.rate
    }

    /// The order of the filters (7).
    pub fn order(&self) -> usize {
        order_of(self.left.len().saturating_sub(1))
    }

    /// The left ear's filter per ACN channel (SN3D).
    pub fn left(&self) -> &[Vec<f64>] {
        &self.left
    }

    /// The sample of the filters taken as time zero.
    pub fn start(&self) -> usize {
        self.start
    }
}

/// The sample where the sound from the left first reaches the left ear: where the response
/// to a plane wave from there first comes within 20 dB of its peak.
fn first_arrival(left: &[Vec<f64>]) -> usize {
    let order = order_of(left.len().saturating_sub(1));
    let y = sh::harmonics(order, sh::direction(90.0, 0.0));
    let taps = left.iter().map(Vec::len).min().unwrap_or(0);
    let h: Vec<f64> = (0..taps)
        .map(|t| y.iter().zip(left).map(|(g, f)| g * f[t]).sum())
        .collect();
    let peak = h.iter().fold(0.0f64, |m, v| m.max(v.abs()));
    h.iter().position(|v| v.abs() >= 0.1 * peak).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use std::f64::consts::PI;

    use super::*;

    /// The level (dB) of the response from `d` at `f`.
    fn level_db(k: &Ku100, d: [f64; 3], f: f64) -> f64 {
        let y = sh::harmonics(k.order(), d);
        let w = 2.0 * PI * f / f64::from(k.rate());
        let (mut re, mut im) = (0.0, 0.0);
        for (g, taps) in y.iter().zip(k.left()) {
            for (n, v) in taps.iter().enumerate() {
                re += g * v * (w * n as f64).cos();
                im -= g * v * (w * n as f64).sin();
            }
        }
        10.0 * (re * re + im * im).log10()
    }

    #[test]
    fn the_set_is_read_whole_and_its_left_ear_hears_the_left_louder_at_the_top() {
        let k = Ku100::get();
        assert_eq!(
            (k.rate(), k.order(), k.left().len()),
            (44_100, 7, sh::channels(7))
        );
        assert!(k.left().iter().all(|f| f.len() == k.left()[0].len()));
        let (left, right) = (sh::direction(90.0, 0.0), sh::direction(-90.0, 0.0));
        for f in [6_000.0, 12_000.0] {
            let ild = level_db(k, left, f) - level_db(k, right, f);
            assert!(ild > 15.0, "{f} Hz: {ild:.1} dB");
        }
        // Its time zero: the sound from the left reaching the left ear, 2.2 ms into the
        // filters.
        assert_eq!(k.start(), 96);
    }
}
