//! How fast recordings are made into what listeners get, per minute of sound: processing
//! (stereo and spatial previews and pictures in one pass) and each download form, against
//! a named baseline in the same run — the FuMa → AmbiX conversion, a plain channel reorder
//! that every download form does at least as much work as. Run by `scripts/bench-renditions`.
//!
//! The recording: `BENCH_SECONDS` (default 60) of FuMa first order, 48 kHz, 24-bit, a
//! source circling the listener through pink-ish noise.

use std::{
    f64::consts::{FRAC_1_SQRT_2, PI},
    io::Cursor,
    time::Instant,
};

use media::{
    Convention,
    inspect::inspect,
    rendition::{Plan, Rendition},
    wav::{self, Container, Spec},
};

fn recording(seconds: u32) -> Vec<u8> {
    let spec = Spec {
        channels: 4,
        sample_rate: 48_000,
        bits: 24,
        float: false,
        sub_format: Some(wav::GUID_AMB_PCM),
        channel_mask: 0,
    };
    let frames = 48_000 * seconds as usize;
    let mut data = Vec::with_capacity(frames * 12);
    let (mut x, mut lp) = (12_345u64, 0.0f64);
    for n in 0..frames {
        x = x
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        let white = (x >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
        lp = 0.97 * lp + 0.03 * white;
        let s = 0.5 * white + 4.0 * lp;
        let a = 2.0 * PI * n as f64 / (48_000.0 * 6.0);
        for v in [s * FRAC_1_SQRT_2, s * a.cos(), s * a.sin(), 0.1 * s] {
            wav::put_sample(&mut data, &spec, v * 0.5);
        }
    }
    let mut f = wav::header(Container::Riff, &spec, &[], data.len() as u64);
    f.extend_from_slice(&data);
    f
}

/// Median of three runs, in seconds.
fn time(mut run: impl FnMut()) -> f64 {
    let mut t: Vec<f64> = (0..3)
        .map(|_| {
            let start = Instant::now();
            run();
            start.elapsed().as_secs_f64()
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[1]
}

fn main() {
    let seconds: u32 = std::env::var("BENCH_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60);
    let file = recording(seconds);
    let found = inspect(&file[..]).unwrap_or_else(|e| panic!("{e}"));
    let data = &file[found.data_offset as usize..(found.data_offset + found.data_len) as usize];
    let render = |r: Rendition| {
        let plan = Plan::new(&found.spec, Some(Convention::Fuma), found.data_len, r)
            .unwrap_or_else(|e| panic!("{e}"));
        let mut out = Vec::with_capacity(plan.total_len() as usize);
        plan.write(data, &mut out).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(out.len() as u64, plan.total_len());
    };
    let baseline = time(|| render(Rendition::Ambix));
    println!(
        "{seconds} s of FuMa first order, 48 kHz, 24-bit ({:.1} MB); median of 3 runs; one core",
        file.len() as f64 / 1e6
    );
    println!(
        "{:<44} {:>9} {:>14} {:>16}",
        "work", "seconds", "× real time", "÷ ambix (base)"
    );
    let row = |what: &str, t: f64| {
        println!(
            "{what:<44} {t:>9.3} {:>14.0} {:>16.2}",
            f64::from(seconds) / t,
            t / baseline
        );
    };
    row("download ?format=ambix (baseline)", baseline);
    for r in [
        Rendition::Ambix48k,
        Rendition::Binaural,
        Rendition::Uhj,
        Rendition::Surround51,
    ] {
        row(
            &format!("download ?format={}", r.as_str()),
            time(|| render(r)),
        );
    }
    // 44.1 kHz → 48 kHz: the resampler at work (the 48 kHz original above passes through).
    let mut spec44 = found.spec;
    spec44.sample_rate = 44_100;
    let resampled = time(|| {
        let plan = Plan::new(
            &spec44,
            Some(Convention::Fuma),
            found.data_len,
            Rendition::Ambix48k,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let mut out = Vec::with_capacity(plan.total_len() as usize);
        plan.write(data, &mut out).unwrap_or_else(|e| panic!("{e}"));
    });
    row("download ?format=ambix-48k from 44.1 kHz", resampled);
    // The same sound at third order (AmbiX, 16 channels, 32-bit float): its binaural
    // rendering runs that order's 16 filters instead of first order's 4.
    let third = {
        let spec = Spec {
            channels: 16,
            sample_rate: 48_000,
            bits: 32,
            float: true,
            sub_format: Some(wav::GUID_AMB_FLOAT),
            channel_mask: 0,
        };
        let frames = 48_000 * seconds as usize;
        let mut data = Vec::with_capacity(frames * 64);
        let mut x = 12_345u64;
        for n in 0..frames {
            x = x
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            let s = ((x >> 11) as f64 / (1u64 << 53) as f64 - 0.5) * 0.5;
            let a = 2.0 * PI * n as f64 / (48_000.0 * 6.0);
            for g in media::sh::sn3d([a.cos(), a.sin(), 0.0]) {
                wav::put_sample(&mut data, &spec, g * s * 0.5);
            }
        }
        (spec, data)
    };
    let third_order = time(|| {
        let plan = Plan::new(
            &third.0,
            Some(Convention::Ambix),
            third.1.len() as u64,
            Rendition::Binaural,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        let mut out = Vec::with_capacity(plan.total_len() as usize);
        plan.write(&third.1[..], &mut out)
            .unwrap_or_else(|e| panic!("{e}"));
    });
    row("download ?format=binaural of third order", third_order);
    let processing = time(|| {
        let (mut stereo, mut spatial, mut podcast) = (Vec::new(), Vec::new(), Vec::new());
        media::render::render(
            Cursor::new(&file),
            &found,
            Some(Convention::Fuma),
            &mut stereo,
            &mut spatial,
            &mut podcast,
            [Vec::new(), Vec::new()],
        )
        .unwrap_or_else(|e| panic!("{e}"));
    });
    row(
        "processing (stereo + spatial previews, pictures, podcast MP3)",
        processing,
    );
    // Its parts that feeds and peers added: the MP3 encoding alone (LAME, 192 kb/s, from the
    // binaural stereo the `binaural` row makes), and the torrent's pieces (SHA-1 of the file).
    let stereo: Vec<(f64, f64)> = {
        let mut h = media::hrtf::Renderer::new(&media::hrtf::Binaural::new(48_000));
        let mut fo = media::first_order::FirstOrder::new(Some(Convention::Fuma), 4)
            .unwrap_or_else(|e| panic!("{e}"));
        data.chunks_exact(12)
            .map(|f| {
                let s: Vec<f64> = f
                    .chunks_exact(3)
                    .map(|b| media::convert::get_sample(&found.spec, b))
                    .collect();
                h.push(&fo.push(&s))
            })
            .collect()
    };
    let mp3 = time(|| {
        let mut out = Vec::new();
        let mut w = media::mp3::Mp3Writer::new(48_000, &mut out).unwrap_or_else(|e| panic!("{e}"));
        for (l, r) in &stereo {
            w.push(*l, *r).unwrap_or_else(|e| panic!("{e}"));
        }
        w.finish().unwrap_or_else(|e| panic!("{e}"));
    });
    row("  of which: MP3 encoding (LAME, 192 kb/s)", mp3);
    let torrent = time(|| {
        media::torrent::info("bench.amb", file.len() as u64, &file[..])
            .unwrap_or_else(|e| panic!("{e}"));
    });
    row("  and after it: torrent pieces (SHA-1)", torrent);
}
