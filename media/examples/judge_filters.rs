//! Judges binaural filters made elsewhere the way `media::hrtf` judges its own (level
//! difference at the side per band, front, diffuse field, interaural delay), so that the
//! figures in docs/ambisonics.md compare like with like. Run by `scripts/judge-references`.
//!
//! ```text
//! judge_filters ours                                  the served filters, orders 1–3
//! judge_filters <order> <sn3d|n3d> <label> <wav>...   another decoder's filters
//! ```
//!
//! The WAV files' channels, file after file, are the left ear's filters per ACN channel
//! (the first (order + 1)² are used); the right ear's follow by left–right symmetry, as
//! ours do. Filters made for N3D signals are scaled to the SN3D ones the judge plays. (Our
//! design fitted to the KU100 as IEM's seventh-order filters render it is what the site
//! serves from second order on: `media::hrtf`'s tests print it.)

use std::io::Cursor;

use media::{
    convert::get_sample,
    hrtf::{Binaural, Ears, Judged},
    inspect::inspect,
    sh::{self, MAX_ORDER, channels},
};

const USAGE: &str = "usage: judge_filters ours | <order> <sn3d|n3d> <label> <wav>...";
/// Orders of other decoders' filters this reads.
const MOST_ORDER: usize = 10;

fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [ours] if ours == "ours" => {
            for order in 1..=MAX_ORDER {
                let label = format!("Ambisonia (served), order {order}");
                print(&label, &Binaural::of_order(48_000, order).judge());
            }
            Ok(())
        }
        [order, normalisation, label, files @ ..] if !files.is_empty() => {
            let (rate, left) = filters(order, normalisation, files)?;
            print(label, &Ears { rate, left: &left }.judge());
            Ok(())
        }
        _ => Err(USAGE.into()),
    }
}

/// The left ear's filters of `order` in `files`, scaled for SN3D signals, and their rate.
fn filters(
    order: &str,
    normalisation: &str,
    files: &[String],
) -> Result<(u32, Vec<Vec<f32>>), String> {
    let order: usize = order
        .parse()
        .ok()
        .filter(|o| (1..=MOST_ORDER).contains(o))
        .ok_or(USAGE)?;
    let n3d = match normalisation {
        "n3d" => true,
        "sn3d" => false,
        _ => return Err(USAGE.into()),
    };
    let (rate, mut left) = read_channels(files)?;
    if left.len() < channels(order) {
        return Err(format!(
            "{} channels, order {order} needs {}",
            left.len(),
            channels(order)
        ));
    }
    left.truncate(channels(order));
    if n3d {
        for (c, taps) in left.iter_mut().enumerate() {
            let k = sh::n3d_gain(c) as f32;
            taps.iter_mut().for_each(|v| *v *= k);
        }
    }
    Ok((rate, left))
}

/// Every channel of `files`, file after file, and their (common) sample rate.
fn read_channels(files: &[String]) -> Result<(u32, Vec<Vec<f32>>), String> {
    let mut rate = None;
    let mut out = Vec::new();
    for file in files {
        let bytes = std::fs::read(file).map_err(|e| format!("{file}: {e}"))?;
        let info = inspect(Cursor::new(&bytes)).map_err(|e| format!("{file}: {e}"))?;
        if *rate.get_or_insert(info.sample_rate) != info.sample_rate {
            return Err(format!("{file}: a different sample rate"));
        }
        let start = usize::try_from(info.data_offset).map_err(|e| e.to_string())?;
        let len = usize::try_from(info.data_len).map_err(|e| e.to_string())?;
        let data = bytes
            .get(start..start + len)
            .ok_or_else(|| format!("{file}: data past the end"))?;
        let (n, width) = (usize::from(info.channels), usize::from(info.spec.bits / 8));
        for c in 0..n {
            out.push(
                data.chunks_exact(n * width)
                    .map(|frame| get_sample(&info.spec, &frame[c * width..]) as f32)
                    .collect(),
            );
        }
    }
    Ok((rate.unwrap_or(48_000), out))
}

fn print(label: &str, j: &Judged) {
    println!("{label}: {j}");
}
