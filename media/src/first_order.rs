//! Any recording with a sound field in it, brought to first-order AmbiX (ACN order W Y Z X,
//! SN3D): what the spatial preview carries, and what the UHJ and 5.1 decodes start from;
//! and ([`Field`]) read at its own order, up to the third, for the binaural rendering. FuMa of any layout gives its first-order part (W × √2; Z only where the
//! layout has height), AmbiX its first four channels, and UHJ is decoded to horizontal
//! B-format with docs/ambisonics.md's equations (so Z is silent).

use std::f64::consts::SQRT_2;

use crate::{Convention, uhj};

/// ACN indices of the four first-order channels.
pub const W: usize = 0;
pub const Y: usize = 1;
pub const Z: usize = 2;
pub const X: usize = 3;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotASoundField {
    #[error(
        "this recording is {0}, not a sound field: only B-format (FuMa or AmbiX) and UHJ recordings can be heard in the round or decoded"
    )]
    Convention(&'static str),
    #[error("a {0} recording with {1} channels has no first-order sound field to read")]
    Channels(&'static str, u16),
}

/// How one frame of the file becomes first-order AmbiX.
#[derive(Debug, Clone)]
enum Source {
    Fuma { has_z: bool },
    Ambix,
    Uhj(Box<uhj::Decoder>),
}

/// Reads frames of one recording (stateful: UHJ's phase shifters remember the past).
#[derive(Debug, Clone)]
pub struct FirstOrder {
    source: Source,
}

impl FirstOrder {
    pub fn new(convention: Option<Convention>, channels: u16) -> Result<Self, NotASoundField> {
        let source = match convention {
            Some(Convention::Fuma) => match channels {
                // h, hh, hhh: W X Y and horizontal harmonics, no Z.
                3 | 5 | 7 => Source::Fuma { has_z: false },
                4 | 6 | 8 | 9 | 11 | 16 => Source::Fuma { has_z: true },
                n => return Err(NotASoundField::Channels("FuMa", n)),
            },
            Some(Convention::Ambix) if channels >= 4 => Source::Ambix,
            Some(Convention::Ambix) => return Err(NotASoundField::Channels("AmbiX", channels)),
            Some(Convention::Uhj) if channels == 2 => Source::Uhj(Box::default()),
            Some(Convention::Uhj) => return Err(NotASoundField::Channels("UHJ", channels)),
            Some(c) => return Err(NotASoundField::Convention(c.label())),
            None => return Err(NotASoundField::Convention("of unknown convention")),
        };
        Ok(Self { source })
    }

    /// One frame of the file's channels → `[W, Y, Z, X]`.
    pub fn push(&mut self, frame: &[f64]) -> [f64; 4] {
        match &mut self.source {
            Source::Fuma { has_z } => {
                let z = if *has_z { frame[3] } else { 0.0 };
                [SQRT_2 * frame[0], frame[2], z, frame[1]]
            }
            Source::Ambix => [frame[0], frame[1], frame[2], frame[3]],
            Source::Uhj(decoder) => {
                let (w, x, y) = decoder.push(frame[0], frame[1]);
                [w, y, 0.0, x]
            }
        }
    }
}

/// A recording's sound field at its own order (up to the third) as AmbiX: full-sphere
/// AmbiX of (N+1)² channels (or more: the rest are ignored) and full-sphere FuMa of 4, 9 or
/// 16 channels keep their order (FuMa converted by `convert`); every other sound field —
/// FuMa's mixed layouts, UHJ — is read at first order.
#[derive(Debug, Clone)]
pub struct Field {
    order: usize,
    source: FieldSource,
}

#[derive(Debug, Clone)]
enum FieldSource {
    Ambix,
    Fuma,
    First(FirstOrder),
}

impl Field {
    pub fn new(convention: Option<Convention>, channels: u16) -> Result<Self, NotASoundField> {
        let first = FirstOrder::new(convention, channels)?;
        let full_order = |c: u16| match c {
            16.. => Some(3),
            9..=15 => Some(2),
            _ => None,
        };
        Ok(match (convention, full_order(channels)) {
            (Some(Convention::Ambix), Some(order)) => Self {
                order,
                source: FieldSource::Ambix,
            },
            (Some(Convention::Fuma), Some(order)) if matches!(channels, 9 | 16) => Self {
                order,
                source: FieldSource::Fuma,
            },
            _ => Self {
                order: 1,
                source: FieldSource::First(first),
            },
        })
    }

    /// The order it is read at (1–3).
    pub fn order(&self) -> usize {
        self.order
    }

    /// One frame of the file's channels → `out`'s first (order + 1)² channels, ACN/SN3D.
    pub fn push(&mut self, frame: &[f64], out: &mut [f64]) {
        let n = (self.order + 1) * (self.order + 1);
        match &mut self.source {
            FieldSource::Ambix => out[..n].copy_from_slice(&frame[..n]),
            FieldSource::Fuma => {
                crate::convert::frame(
                    crate::convert::Direction::FumaToAmbix,
                    &frame[..n],
                    &mut out[..n],
                );
            }
            FieldSource::First(first) => out[..4].copy_from_slice(&first.push(frame)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::FRAC_1_SQRT_2;

    fn close(a: [f64; 4], b: [f64; 4]) -> bool {
        a.iter().zip(b).all(|(a, b)| (a - b).abs() < 1e-12)
    }

    #[test]
    fn fuma_gives_acn_order_and_sn3d_w_for_every_layout() {
        let s = 0.5;
        // A plane wave from the left and 30° up: FuMa W = s/√2, X = 0, Y = s·cos 30°, Z = s/2.
        let (c, h) = (30f64.to_radians().cos(), 0.5);
        for channels in [4u16, 6, 8, 9, 11, 16] {
            let mut frame = vec![0.3; usize::from(channels)];
            frame[..4].copy_from_slice(&[s * FRAC_1_SQRT_2, 0.0, s * c, s * h]);
            let mut f =
                FirstOrder::new(Some(Convention::Fuma), channels).unwrap_or_else(|e| panic!("{e}"));
            assert!(
                close(f.push(&frame), [s, s * c, s * h, 0.0]),
                "{channels} channels"
            );
        }
        for channels in [3u16, 5, 7] {
            let mut frame = vec![0.3; usize::from(channels)];
            frame[..3].copy_from_slice(&[s * FRAC_1_SQRT_2, 0.0, s]);
            let mut f =
                FirstOrder::new(Some(Convention::Fuma), channels).unwrap_or_else(|e| panic!("{e}"));
            assert!(
                close(f.push(&frame), [s, s, 0.0, 0.0]),
                "{channels} channels: no height"
            );
        }
    }

    #[test]
    fn ambix_of_any_order_keeps_its_first_four_channels() {
        for channels in [4u16, 9, 16] {
            let frame: Vec<f64> = (0..channels).map(|c| f64::from(c) / 20.0).collect();
            let mut f = FirstOrder::new(Some(Convention::Ambix), channels)
                .unwrap_or_else(|e| panic!("{e}"));
            assert!(close(f.push(&frame), [0.0, 0.05, 0.1, 0.15]));
        }
    }

    #[test]
    fn uhj_decodes_to_a_horizontal_field_from_the_right_side() {
        let mut enc = uhj::Encoder::new();
        let mut f = FirstOrder::new(Some(Convention::Uhj), 2).unwrap_or_else(|e| panic!("{e}"));
        let (mut wy, mut wx, mut zz) = (0.0, 0.0, 0.0);
        for n in 0..48_000 {
            let s = (2.0 * std::f64::consts::PI * 500.0 * f64::from(n) / 48_000.0).sin();
            // A source on the right (azimuth −90°), W at unity gain as UHJ expects.
            let (l, r) = enc.push(s, 0.0, -s);
            let foa = f.push(&[l, r]);
            wy += foa[W] * foa[Y];
            wx += foa[W] * foa[X];
            zz += foa[Z] * foa[Z];
        }
        let az = wy.atan2(wx).to_degrees();
        assert!((az + 90.0).abs() < 10.0, "{az}");
        assert_eq!(zz, 0.0);
    }

    #[test]
    fn what_is_not_a_sound_field_is_refused_in_words() {
        for c in [Convention::Stereo, Convention::Mono, Convention::Gformat] {
            let e = FirstOrder::new(Some(c), 2)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(e.contains("not a sound field"), "{e}");
        }
        assert!(FirstOrder::new(None, 4).is_err());
        assert!(FirstOrder::new(Some(Convention::Fuma), 10).is_err());
        assert!(FirstOrder::new(Some(Convention::Ambix), 3).is_err());
    }
}
