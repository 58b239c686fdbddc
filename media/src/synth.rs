//! Sample B-format recordings made from nothing, so a fresh install plays sound: a bee
//! circling the listener, a swift flying over, and a wood at dusk. Each is encoded from
//! mono sources at known directions with the equations of docs/ambisonics.md (FuMa, first
//! order), deterministic (seeded), six seconds at 48 kHz, 24-bit.

use std::f64::consts::{FRAC_1_SQRT_2, PI, TAU};

use rand::{Rng, SeedableRng, rngs::StdRng};

use crate::wav::{self, Container, Spec};

pub struct Synthesised {
    /// What the uploader says of a plain multichannel file (AmbiX has no mark of its own).
    pub convention: Option<crate::Convention>,
    pub title: &'static str,
    pub location: &'static str,
    pub description: &'static str,
    pub tags: &'static [&'static str],
    pub file: Vec<u8>,
}

const RATE: f64 = 48_000.0;
const SECONDS: f64 = 6.0;

fn spec() -> Spec {
    Spec {
        channels: 4,
        sample_rate: 48_000,
        bits: 24,
        float: false,
        sub_format: Some(wav::GUID_AMB_PCM),
        channel_mask: 0,
    }
}

/// Adds a mono sample `s` arriving from azimuth `a` and elevation `e` (radians) to `bf`.
fn encode(bf: &mut [f64; 4], s: f64, a: f64, e: f64) {
    bf[0] += s * FRAC_1_SQRT_2;
    bf[1] += s * a.cos() * e.cos();
    bf[2] += s * a.sin() * e.cos();
    bf[3] += s * e.sin();
}

fn write(frames: impl Iterator<Item = [f64; 4]>) -> Vec<u8> {
    let spec = spec();
    let mut data = Vec::with_capacity((RATE * SECONDS) as usize * 12);
    for f in frames {
        for v in f {
            wav::put_sample(&mut data, &spec, v);
        }
    }
    let mut out = wav::header(Container::Riff, &spec, &[], data.len() as u64);
    out.extend_from_slice(&data);
    out.extend_from_slice(&wav::trailer(Container::Riff, data.len() as u64));
    out
}

/// Quiet, decorrelated noise on every channel: a room, not a direction.
fn room(rng: &mut StdRng, level: f64, state: &mut [f64; 4]) -> [f64; 4] {
    let mut out = [0.0; 4];
    for (o, s) in out.iter_mut().zip(state.iter_mut()) {
        // One-pole low-pass: a darker, more natural hiss.
        *s = 0.97 * *s + 0.03 * rng.gen_range(-1.0..1.0);
        *o = level * *s * 6.0;
    }
    out
}

pub fn circling_bee() -> Synthesised {
    let mut rng = StdRng::seed_from_u64(1);
    let mut state = [0.0; 4];
    let n = (RATE * SECONDS) as usize;
    let mut phase = 0.0f64;
    let frames = (0..n).map(move |i| {
        let t = i as f64 / RATE;
        // A buzz: a 180 Hz sawtooth with a slow vibrato, its upper harmonics softened.
        phase = (phase + (180.0 + 6.0 * (TAU * 5.0 * t).sin()) / RATE).fract();
        let saw = 2.0 * phase - 1.0;
        let s =
            0.25 * (0.7 * saw + 0.3 * (TAU * phase).sin()) * (0.8 + 0.2 * (TAU * 0.7 * t).sin());
        let mut bf = room(&mut rng, 0.01, &mut state);
        // Once round the listener, anticlockwise from the front, in six seconds.
        encode(&mut bf, s, TAU * t / SECONDS, 0.0);
        bf
    });
    Synthesised {
        convention: None,
        title: "A Bee Circling the Listener",
        location: "Synthesised",
        description: "One bee flies a full circle round the microphone, anticlockwise from the front, in six seconds. Made by Ambisonia's demo data to show the direction picture.",
        tags: &["insects", "demo"],
        file: write(frames),
    }
}

pub fn swift_fly_over() -> Synthesised {
    let mut rng = StdRng::seed_from_u64(2);
    let mut state = [0.0; 4];
    let n = (RATE * SECONDS) as usize;
    let (mut lp, mut hp) = (0.0f64, 0.0f64);
    let frames = (0..n).map(move |i| {
        let t = i as f64 / RATE;
        let u = t / SECONDS;
        // From front left, low, up overhead, down behind right.
        let azimuth = (60.0 - 240.0 * u).to_radians();
        let elevation = (10.0 + 70.0 * (PI * u).sin()).to_radians();
        // A whoosh: band-passed noise swelling as it passes over, with a screech on top.
        let white: f64 = rng.gen_range(-1.0..1.0);
        lp = 0.8 * lp + 0.2 * white;
        hp = lp - (0.995 * hp + 0.005 * lp);
        let swell = (PI * u).sin().powi(3);
        let screech = 0.3
            * (TAU * (3200.0 + 800.0 * (TAU * 9.0 * t).sin()) * t).sin()
            * ((TAU * 4.0 * t).sin().max(0.0));
        let s = 0.5 * swell * (hp + 0.2 * screech);
        let mut bf = room(&mut rng, 0.008, &mut state);
        encode(&mut bf, s, azimuth, elevation);
        bf
    });
    Synthesised {
        convention: None,
        title: "Swift Fly-over",
        location: "Synthesised",
        description: "A swift passes from front left, over the listener's head, to behind on the right. Made by Ambisonia's demo data.",
        tags: &["birds", "demo"],
        file: write(frames),
    }
}

pub fn wood_at_dusk() -> Synthesised {
    let mut rng = StdRng::seed_from_u64(3);
    let mut state = [0.0; 4];
    let n = (RATE * SECONDS) as usize;
    // Three birds at fixed places, each calling on its own rhythm.
    let birds = [
        (30f64, 0.9f64, 4200.0f64),
        (150.0, 1.3, 3100.0),
        (-70.0, 1.7, 5200.0),
    ];
    let frames = (0..n).map(move |i| {
        let t = i as f64 / RATE;
        let mut bf = room(&mut rng, 0.03, &mut state);
        for (azimuth, period, pitch) in birds {
            let local = (t + azimuth.abs() / 360.0) % period;
            if local < 0.18 {
                let env = (PI * local / 0.18).sin().powi(2);
                let sweep = pitch * (1.0 + 0.25 * local / 0.18);
                let s = 0.22 * env * (TAU * sweep * local).sin();
                encode(&mut bf, s, azimuth.to_radians(), 0.2);
            }
        }
        bf
    });
    Synthesised {
        convention: None,
        title: "Beech Wood at Dusk",
        location: "Synthesised",
        description: "A quiet wood with three birds calling from the front left, behind left and the right. Made by Ambisonia's demo data.",
        tags: &["birds", "forest", "demo"],
        file: write(frames),
    }
}

/// Third order: three bells around and above the listener — front left at ear height,
/// behind right 30° up, and nearly overhead — in AmbiX (ACN/SN3D, 16 channels), so that the
/// binaural download is heard at third order.
pub fn bells_third_order() -> Synthesised {
    // Plain WAVE-EXTENSIBLE PCM: AmbiX has no mark of its own (the `.amb` GUID would say
    // FuMa); the uploader (`convention`) says what it is.
    let spec = Spec {
        channels: 16,
        sub_format: Some(wav::GUID_PCM),
        ..spec()
    };
    let mut rng = StdRng::seed_from_u64(4);
    let n = (RATE * SECONDS) as usize;
    // (azimuth°, elevation°, first strike s, pitch Hz)
    let bells = [
        (40.0f64, 0.0f64, 0.2f64, 660.0f64),
        (-130.0, 30.0, 1.1, 523.0),
        (10.0, 75.0, 2.0, 784.0),
    ];
    let gains: Vec<[f64; 16]> = bells
        .iter()
        .map(|(a, e, ..)| crate::sh::sn3d(crate::sh::direction(*a, *e)))
        .collect();
    let mut data = Vec::with_capacity(n * 16 * 3);
    let mut hiss = [0.0f64; 16];
    for i in 0..n {
        let t = i as f64 / RATE;
        let mut frame = [0.0f64; 16];
        // A quiet room in the omnidirectional channel and a little in every other.
        for (c, (v, h)) in frame.iter_mut().zip(hiss.iter_mut()).enumerate() {
            *h = 0.97 * *h + 0.03 * rng.gen_range(-1.0..1.0);
            *v = if c == 0 { 0.05 } else { 0.01 } * *h;
        }
        for ((_, _, first, pitch), g) in bells.iter().zip(&gains) {
            // Struck every three seconds: inharmonic partials, each dying away.
            let local = (t - first).rem_euclid(3.0);
            if t < *first {
                continue;
            }
            let partials: [(f64, f64, f64); 4] = [
                (1.0, 1.0, 1.2),
                (2.0, 0.5, 2.0),
                (2.76, 0.35, 3.0),
                (5.4, 0.2, 5.0),
            ];
            // The clapper's strike: 40 ms of bright noise.
            let strike = if local < 0.04 {
                0.3 * (1.0 - local / 0.04) * rng.gen_range(-1.0..1.0)
            } else {
                0.0
            };
            let s: f64 = strike
                + partials
                    .iter()
                    .map(|(ratio, level, decay)| {
                        level * (-decay * local).exp() * (TAU * pitch * ratio * local).sin()
                    })
                    .sum::<f64>()
                    * 0.18;
            for (v, gain) in frame.iter_mut().zip(g) {
                *v += s * gain;
            }
        }
        for v in frame {
            wav::put_sample(&mut data, &spec, v);
        }
    }
    let mut file = wav::header(Container::Riff, &spec, &[], data.len() as u64);
    file.extend_from_slice(&data);
    file.extend_from_slice(&wav::trailer(Container::Riff, data.len() as u64));
    Synthesised {
        convention: Some(crate::Convention::Ambix),
        title: "Three Bells Around and Above (Third Order)",
        location: "Synthesised",
        description: "Three bells: front left at ear height, behind right above, and nearly overhead, in third-order AmbiX (16 channels). Its binaural download is heard at third order. Made by Ambisonia's demo data.",
        tags: &["bells", "demo"],
        file,
    }
}

pub fn all() -> Vec<Synthesised> {
    vec![
        circling_bee(),
        swift_fly_over(),
        wood_at_dusk(),
        bells_third_order(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{doa::Analyser, inspect::inspect};

    #[test]
    fn the_bells_are_third_order_ambix() {
        let bells = bells_third_order();
        let found = inspect(&bells.file[..]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!((found.spec.channels, found.duration_s), (16, 6.0));
        // Nothing in the file claims FuMa: the uploader's word (AmbiX) decides.
        assert_eq!(found.convention, "unknown");
        assert_eq!(bells.convention, Some(crate::Convention::Ambix));
    }

    #[test]
    fn the_bee_goes_once_round_anticlockwise() {
        let bee = circling_bee();
        let found = inspect(&bee.file[..]).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (found.convention, found.layout.as_deref(), found.duration_s),
            ("fuma", Some("f"), 6.0)
        );
        let spec = found.spec;
        let data = &bee.file[found.data_offset as usize..];
        let mut a = Analyser::new(4800);
        let mut seen = Vec::new();
        for frame in data.chunks_exact(12) {
            let s = |c: usize| crate::convert::get_sample(&spec, &frame[c * 3..]);
            if let Some(arrival) = a.push(s(0), s(1), s(2)) {
                seen.push(arrival.azimuth_deg.unwrap_or(f64::NAN));
            }
        }
        // At 1.5 s (window 15) the bee is at 90°, at 4.5 s at 270° = −90°.
        assert!((seen[15] - 93.0).abs() < 8.0, "{}", seen[15]);
        assert!((seen[45] + 87.0).abs() < 8.0, "{}", seen[45]);
    }
}
