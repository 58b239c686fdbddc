//! Real spherical harmonics up to the third order, in AmbiX's convention (ACN channel
//! order, SN3D normalisation, no Condon–Shortley phase), and their rotation.
//!
//! Directions are unit vectors `[x, y, z]`: x to the front, y to the left, z up. The
//! harmonics are written as polynomials in x, y, z (docs/ambisonics.md):
//!
//! | ACN | n, m | SN3D |
//! |---|---|---|
//! | 0 | 0, 0 | 1 |
//! | 1–3 | 1, −1…1 | y, z, x |
//! | 4–8 | 2, −2…2 | √3·xy, √3·yz, ½(3z² − 1), √3·xz, ½√3(x² − y²) |
//! | 9–15 | 3, −3…3 | √⅝·y(3x² − y²), √15·xyz, √⅜·y(5z² − 1), ½z(5z² − 3), √⅜·x(5z² − 1), ½√15·z(x² − y²), √⅝·x(x² − 3y²) |
//!
//! **Rotation.** Turning the sound field by a rotation `R` maps the harmonics of each order
//! onto harmonics of that order: `Y_n(R·d) = M_n · Y_n(d)` for every direction `d`, with
//! `M_n` a (2n+1)² matrix. Instead of Ivanic and Ruedenberg's recursion, `M_n` is solved
//! from that identity itself at a fixed set of directions `D` — `M_n = Y_n(R·D) · Y_n(D)⁺` —
//! which is exact (to rounding) because the identity is linear in `M_n` and `Y_n(D)` has full
//! rank; `Y_n(D)⁺` is computed once. `public/spatial.js` does the same with the same
//! directions, so page and download turn the field alike.

/// The highest order handled.
pub const MAX_ORDER: usize = 3;

/// Channels of an order-`n` signal: (n + 1)².
pub const fn channels(order: usize) -> usize {
    (order + 1) * (order + 1)
}

/// The order of ACN channel `acn`.
pub fn order_of(acn: usize) -> usize {
    (acn as f64).sqrt().floor() as usize
}

/// The degree `m` of ACN channel `acn` (−n…n).
pub fn degree_of(acn: usize) -> i64 {
    let n = order_of(acn);
    acn as i64 - (n * n + n) as i64
}

/// The SN3D harmonics of direction `d` up to the third order, in ACN order.
pub fn sn3d(d: [f64; 3]) -> [f64; 16] {
    let [x, y, z] = d;
    let s3 = 3f64.sqrt();
    let s15 = 15f64.sqrt();
    let s5_8 = (5.0f64 / 8.0).sqrt();
    let s3_8 = (3.0f64 / 8.0).sqrt();
    [
        1.0,
        y,
        z,
        x,
        s3 * x * y,
        s3 * y * z,
        0.5 * (3.0 * z * z - 1.0),
        s3 * x * z,
        0.5 * s3 * (x * x - y * y),
        s5_8 * y * (3.0 * x * x - y * y),
        s15 * x * y * z,
        s3_8 * y * (5.0 * z * z - 1.0),
        0.5 * z * (5.0 * z * z - 3.0),
        s3_8 * x * (5.0 * z * z - 1.0),
        0.5 * s15 * z * (x * x - y * y),
        s5_8 * x * (x * x - 3.0 * y * y),
    ]
}

/// The SN3D harmonics of direction `d` of every order up to `order`, in ACN order — of any
/// order, for judging other decoders' filters and heads (the site's own work stops at
/// [`MAX_ORDER`] and uses [`sn3d`]): `√((2 − δ_m)·(n − |m|)! / (n + |m|)!) · P_n^|m|(z)`
/// (no Condon–Shortley phase) times `cos(mφ)` for m ≥ 0 and `sin(|m|φ)` for m < 0.
pub fn harmonics(order: usize, d: [f64; 3]) -> Vec<f64> {
    let [x, y, z] = d;
    let rho = (x * x + y * y).sqrt();
    let phi = y.atan2(x);
    // p[n][m] = P_n^m(z) by the standard recursions, without the (−1)^m.
    let mut p = vec![vec![0.0; order + 1]; order + 1];
    p[0][0] = 1.0;
    for m in 1..=order {
        p[m][m] = p[m - 1][m - 1] * (2 * m - 1) as f64 * rho;
    }
    for m in 0..order {
        p[m + 1][m] = z * (2 * m + 1) as f64 * p[m][m];
        for n in m + 2..=order {
            p[n][m] = ((2 * n - 1) as f64 * z * p[n - 1][m] - (n + m - 1) as f64 * p[n - 2][m])
                / (n - m) as f64;
        }
    }
    let factorial = |k: usize| (1..=k).map(|i| i as f64).product::<f64>();
    let mut out = Vec::with_capacity(channels(order));
    for (n, p_n) in p.iter().enumerate() {
        for m in -(n as i64)..=n as i64 {
            let a = m.unsigned_abs() as usize;
            let norm =
                ((if a == 0 { 1.0 } else { 2.0 }) * factorial(n - a) / factorial(n + a)).sqrt();
            let turn = if m >= 0 {
                (a as f64 * phi).cos()
            } else {
                (a as f64 * phi).sin()
            };
            out.push(norm * p_n[a] * turn);
        }
    }
    out
}

/// N3D over SN3D for ACN channel `acn`: √(2n + 1).
pub fn n3d_gain(acn: usize) -> f64 {
    ((2 * order_of(acn) + 1) as f64).sqrt()
}

/// A direction from azimuth (anticlockwise from the front) and elevation, in degrees.
pub fn direction(azimuth_deg: f64, elevation_deg: f64) -> [f64; 3] {
    let (a, e) = (azimuth_deg.to_radians(), elevation_deg.to_radians());
    [a.cos() * e.cos(), a.sin() * e.cos(), e.sin()]
}

/// `count` directions spread evenly over the sphere (a Fibonacci lattice).
pub fn fibonacci_sphere(count: usize) -> Vec<[f64; 3]> {
    let golden = std::f64::consts::PI * (3.0 - 5f64.sqrt());
    (0..count)
        .map(|k| {
            let z = 1.0 - 2.0 * (k as f64 + 0.5) / count as f64;
            let r = (1.0 - z * z).sqrt();
            [
                r * (golden * k as f64).cos(),
                r * (golden * k as f64).sin(),
                z,
            ]
        })
        .collect()
}

/// A 3×3 rotation from yaw (about z, turning left), pitch (about y, nose down) and roll
/// (about x, left ear up), in degrees, applied in that order: `R = Rz(yaw)·Ry(pitch)·Rx(roll)`.
pub fn rotation(yaw_deg: f64, pitch_deg: f64, roll_deg: f64) -> [[f64; 3]; 3] {
    let (a, b, c) = (
        yaw_deg.to_radians(),
        pitch_deg.to_radians(),
        roll_deg.to_radians(),
    );
    let (sa, ca, sb, cb, sc, cc) = (a.sin(), a.cos(), b.sin(), b.cos(), c.sin(), c.cos());
    [
        [ca * cb, ca * sb * sc - sa * cc, ca * sb * cc + sa * sc],
        [sa * cb, sa * sb * sc + ca * cc, sa * sb * cc - ca * sc],
        [-sb, cb * sc, cb * cc],
    ]
}

fn apply(r: &[[f64; 3]; 3], d: [f64; 3]) -> [f64; 3] {
    std::array::from_fn(|i| r[i][0] * d[0] + r[i][1] * d[1] + r[i][2] * d[2])
}

/// The fixed directions the rotation is solved at: 32 of a Fibonacci lattice, enough for
/// every order up to the third (at least 2·3 + 1 independent ones per order).
const ROTATION_POINTS: usize = 32;

/// Turns sound fields of up to the third order: built once, then a matrix per rotation.
#[derive(Debug, Clone)]
pub struct Rotator {
    points: Vec<[f64; 3]>,
    /// Per order n ≥ 1: the pseudo-inverse of Y_n at the points, (2n+1) × points.
    pinv: Vec<Vec<Vec<f64>>>,
}

impl Default for Rotator {
    fn default() -> Self {
        Self::new()
    }
}

impl Rotator {
    pub fn new() -> Self {
        let points = fibonacci_sphere(ROTATION_POINTS);
        let pinv = (1..=MAX_ORDER)
            .map(|n| {
                let rows: Vec<Vec<f64>> = points
                    .iter()
                    .map(|d| sn3d(*d)[n * n..(n + 1) * (n + 1)].to_vec())
                    .collect();
                pseudo_inverse(&rows)
            })
            .collect();
        Self { points, pinv }
    }

    /// The (order+1)² × (order+1)² matrix that turns an order-`order` field by `r`: channel
    /// vector `b` becomes `M·b`, so that a source encoded from `d` ends where one encoded
    /// from `r·d` would be.
    pub fn matrix(&self, r: &[[f64; 3]; 3], order: usize) -> Vec<Vec<f64>> {
        let order = order.min(MAX_ORDER);
        let size = channels(order);
        let mut m = vec![vec![0.0; size]; size];
        m[0][0] = 1.0;
        let turned: Vec<[f64; 16]> = self.points.iter().map(|d| sn3d(apply(r, *d))).collect();
        for n in 1..=order {
            let (lo, width) = (n * n, 2 * n + 1);
            let pinv = &self.pinv[n - 1];
            for i in 0..width {
                for j in 0..width {
                    m[lo + i][lo + j] = turned
                        .iter()
                        .zip(&pinv[j])
                        .map(|(y, p)| y[lo + i] * p)
                        .sum();
                }
            }
        }
        m
    }
}

/// The Moore–Penrose pseudo-inverse of a tall matrix `a` (rows × cols, full column rank):
/// (AᵀA)⁻¹Aᵀ, as cols × rows.
pub fn pseudo_inverse(a: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let cols = a.first().map_or(0, Vec::len);
    let ata: Vec<Vec<f64>> = (0..cols)
        .map(|i| {
            (0..cols)
                .map(|j| a.iter().map(|r| r[i] * r[j]).sum())
                .collect()
        })
        .collect();
    let inv = invert(&ata);
    (0..cols)
        .map(|i| {
            a.iter()
                .map(|r| (0..cols).map(|k| inv[i][k] * r[k]).sum())
                .collect()
        })
        .collect()
}

/// The inverse of a square matrix by Gauss–Jordan elimination with partial pivoting.
fn invert(m: &[Vec<f64>]) -> Vec<Vec<f64>> {
    let n = m.len();
    let mut a: Vec<Vec<f64>> = m
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let mut row = r.clone();
            row.extend((0..n).map(|j| if i == j { 1.0 } else { 0.0 }));
            row
        })
        .collect();
    for col in 0..n {
        let pivot = (col..n)
            .max_by(|&i, &j| a[i][col].abs().total_cmp(&a[j][col].abs()))
            .unwrap_or(col);
        a.swap(col, pivot);
        let p = a[col][col];
        if p.abs() < 1e-300 {
            continue;
        }
        for v in &mut a[col] {
            *v /= p;
        }
        let pivot_row = a[col].clone();
        for (row, r) in a.iter_mut().enumerate() {
            let f = r[col];
            if row != col && f != 0.0 {
                for (v, p) in r.iter_mut().zip(&pivot_row) {
                    *v -= f * p;
                }
            }
        }
    }
    a.into_iter().map(|r| r[n..].to_vec()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn harmonics_of_any_order_agree_with_the_written_out_ones() {
        for d in fibonacci_sphere(50) {
            let any = harmonics(MAX_ORDER, d);
            for (c, (a, b)) in any.iter().zip(sn3d(d)).enumerate() {
                assert!((a - b).abs() < 1e-12, "ACN {c} at {d:?}: {a} against {b}");
            }
        }
        // SN3D: the power of each order over the sphere is the same, 1/(2n + 1) per channel on average.
        let dirs = fibonacci_sphere(4000);
        for n in 0..=7 {
            let mean: f64 = dirs
                .iter()
                .map(|d| {
                    harmonics(7, *d)[n * n..(n + 1) * (n + 1)]
                        .iter()
                        .map(|v| v * v)
                        .sum::<f64>()
                })
                .sum::<f64>()
                / dirs.len() as f64;
            assert!((mean - 1.0).abs() < 1e-3, "order {n}: {mean}");
        }
    }

    /// A small deterministic generator for the property tests.
    struct Lcg(u64);

    impl Lcg {
        fn next(&mut self) -> f64 {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            (self.0 >> 11) as f64 / (1u64 << 53) as f64
        }

        fn direction(&mut self) -> [f64; 3] {
            direction(
                360.0 * self.next(),
                (2.0 * self.next() - 1.0).asin().to_degrees(),
            )
        }
    }

    /// SN3D: each order's harmonics have mean square 1/(2n+1) over the sphere.
    #[test]
    fn sn3d_harmonics_have_the_normalisation_ambix_specifies() {
        let points = fibonacci_sphere(20_000);
        for acn in 0..16 {
            let mean: f64 =
                points.iter().map(|d| sn3d(*d)[acn].powi(2)).sum::<f64>() / points.len() as f64;
            let want = 1.0 / (2 * order_of(acn) + 1) as f64;
            assert!((mean - want).abs() < 1e-3, "ACN {acn}: {mean} vs {want}");
        }
        // Known values: the front, the left, straight up.
        let front = sn3d([1.0, 0.0, 0.0]);
        assert!((front[8] - 0.5 * 3f64.sqrt()).abs() < 1e-12);
        assert!((front[15] - (5.0f64 / 8.0).sqrt()).abs() < 1e-12);
        let up = sn3d([0.0, 0.0, 1.0]);
        assert!((up[6] - 1.0).abs() < 1e-12 && (up[12] - 1.0).abs() < 1e-12);
        assert_eq!((order_of(15), degree_of(15), degree_of(9)), (3, 3, -3));
    }

    /// Encoding a direction then rotating equals encoding the rotated direction, for random
    /// directions and rotations, every order.
    #[test]
    fn rotating_an_encoded_direction_is_encoding_the_rotated_direction() {
        let rotator = Rotator::new();
        let mut rng = Lcg(7);
        for _ in 0..200 {
            let r = rotation(
                360.0 * rng.next() - 180.0,
                180.0 * rng.next() - 90.0,
                360.0 * rng.next() - 180.0,
            );
            let d = rng.direction();
            for order in 1..=MAX_ORDER {
                let m = rotator.matrix(&r, order);
                let size = channels(order);
                let b = sn3d(d);
                let want = sn3d(apply(&r, d));
                for i in 0..size {
                    let got: f64 = (0..size).map(|j| m[i][j] * b[j]).sum();
                    assert!(
                        (got - want[i]).abs() < 1e-9,
                        "order {order}, ACN {i}: {got} vs {}",
                        want[i]
                    );
                }
            }
        }
    }

    /// Known answer, shared with `public/spatial.js`'s browser test (computed by an
    /// independent implementation): a direction at 40° left, 25° up, turned by yaw 30°,
    /// pitch 20°, roll 10°, encoded at third order.
    pub const KNOWN_TURNED: [f64; 16] = [
        1.000000000,
        0.847969820,
        0.248703238,
        0.468074656,
        0.687473797,
        0.365277114,
        -0.407220049,
        0.201630949,
        -0.432977136,
        -0.041410092,
        0.382316104,
        -0.358679493,
        -0.334597067,
        -0.197989099,
        -0.240786096,
        -0.717172084,
    ];

    #[test]
    fn the_known_answer_the_page_checks_too() {
        let m = Rotator::new().matrix(&rotation(30.0, 20.0, 10.0), 3);
        let b = sn3d(direction(40.0, 25.0));
        for (i, want) in KNOWN_TURNED.iter().enumerate() {
            let got: f64 = (0..16).map(|j| m[i][j] * b[j]).sum();
            assert!((got - want).abs() < 1e-8, "ACN {i}: {got} vs {want}");
        }
    }

    /// A yaw of 90° brings the front to the left, and first order turns as X, Y do.
    #[test]
    fn a_quarter_turn_left_brings_the_front_to_the_left() {
        let r = rotation(90.0, 0.0, 0.0);
        let d = apply(&r, [1.0, 0.0, 0.0]);
        assert!((d[1] - 1.0).abs() < 1e-12, "{d:?}");
        let m = Rotator::new().matrix(&r, 1);
        // [W, Y, Z, X] → Y' = X, X' = −Y.
        assert!(
            (m[1][3] - 1.0).abs() < 1e-9 && (m[3][1] + 1.0).abs() < 1e-9,
            "{m:?}"
        );
    }
}
