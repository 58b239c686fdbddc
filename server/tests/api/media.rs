//! `server media inspect` on files made by an independent tool (SoX), as an uploader would
//! run it before sending a recording.

use std::process::Command;

fn sox(args: &[&str]) {
    let out = Command::new("sox")
        .args(args)
        .output()
        .expect("sox runs (apt-get install sox)");
    assert!(
        out.status.success(),
        "sox {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn inspect(file: &std::path::Path, json: bool) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_server"));
    cmd.args(["media", "inspect"]).arg(file);
    if json {
        cmd.arg("--json");
    }
    cmd.output().expect("server runs")
}

#[test]
fn inspect_reads_what_sox_wrote_and_refuses_what_is_not_a_recording() {
    let dir = std::env::temp_dir().join(format!("ambisonia-inspect-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let amb = dir.join("noise.amb");
    let amb_s = amb.to_string_lossy().into_owned();
    sox(&[
        "-n",
        "-r",
        "48000",
        "-b",
        "24",
        "-c",
        "4",
        &amb_s,
        "synth",
        "1.5",
        "pinknoise",
    ]);
    let w64 = dir.join("noise.w64");
    let w64_s = w64.to_string_lossy().into_owned();
    sox(&[
        "-n",
        "-r",
        "96000",
        "-b",
        "16",
        "-c",
        "9",
        "-t",
        "w64",
        &w64_s,
        "synth",
        "0.5",
        "whitenoise",
    ]);

    let out = inspect(&amb, true);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(v["container"], "wav");
    assert_eq!(v["convention"], "fuma");
    assert_eq!(v["order"], 1);
    assert_eq!(v["layout"], "f");
    assert_eq!(v["channels"], 4);
    assert_eq!(v["sample_rate"], 48000);
    assert_eq!(v["bits"], 24);
    assert_eq!(v["float"], false);
    assert_eq!(v["duration_s"], 1.5);
    assert_eq!(
        v["size_bytes"],
        std::fs::metadata(&amb).map(|m| m.len()).unwrap_or(0)
    );
    assert_eq!(v["sha256"].as_str().map(str::len), Some(64));

    let out = inspect(&w64, true);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(
        (
            v["container"].as_str(),
            v["convention"].as_str(),
            v["order"].as_u64()
        ),
        (Some("w64"), Some("unknown"), Some(2))
    );

    let readable = inspect(&amb, false);
    assert!(String::from_utf8_lossy(&readable.stdout).contains("FuMa B-format, order 1, layout f"));

    let bytes = std::fs::read(&amb).expect("read");
    let cut = dir.join("cut.amb");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).expect("write");
    let out = inspect(&cut, true);
    assert!(!out.status.success());
    assert!(out.stdout.is_empty());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("ends early"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = dir.join("notes.txt");
    std::fs::write(&text, "not audio").expect("write");
    let out = inspect(&text, false);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a WAVE file"));
    let _ = std::fs::remove_dir_all(&dir);
}
