//! The `needle` CLI end to end: JSON Lines decoded back into typed values.
#![cfg(feature = "std")]

use std::io::Write;
use std::process::{Command, Stdio};

const MODEL: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../tests/fixtures/bgl-default.needle"
);

#[derive(serde::Deserialize)]
struct Row {
    #[serde(rename = "type")]
    kind: String,
    data: serde_json::Value,
}

fn input_lines() -> Vec<Vec<u8>> {
    let text = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../data/bgl/BGL_2k.log"
    ))
    .unwrap();
    let mut lines: Vec<Vec<u8>> = text
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .take(150)
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l))
        .map(|l| l.splitn(2, |&b| b == b' ').nth(1).unwrap_or(&[]).to_vec())
        .collect();
    lines[40] = b"bad \xff\xfe bytes RAS KERNEL FATAL".to_vec();
    lines
}

fn score_stdin(input: &[u8], extra: &[&str]) -> (String, bool) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_needle"))
        .args(["score", "--model", MODEL])
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input).unwrap();
    let out = child.wait_with_output().unwrap();
    (String::from_utf8(out.stdout).unwrap(), out.status.success())
}

#[test]
fn score_reports_every_line_with_its_text() {
    let lines = input_lines();
    let input: Vec<u8> = lines
        .iter()
        .flat_map(|l| l.iter().copied().chain([b'\n']))
        .collect();
    let (stdout, ok) = score_stdin(&input, &[]);
    assert!(ok);
    let rows: Vec<Row> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let (summary, bags) = rows.split_last().unwrap();
    assert_eq!(summary.kind, "summary");
    assert_eq!(summary.data["lines"], 150);
    assert_eq!(summary.data["bags"], bags.len());
    assert_eq!(summary.data["non_utf8_lines"], 1);
    let mut covered = vec![false; 150];
    for bag in bags {
        assert_eq!(bag.kind, "bag");
        let (first, last) = (
            bag.data["first_line"].as_u64().unwrap(),
            bag.data["last_line"].as_u64().unwrap(),
        );
        for l in first..=last {
            covered[(l - 1) as usize] = true;
        }
        let score = bag.data["score"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&score));
        for top in bag.data["top"].as_array().unwrap() {
            let line = top["line"].as_u64().unwrap();
            assert!((first..=last).contains(&line));
            let expected = String::from_utf8_lossy(&lines[(line - 1) as usize]);
            assert_eq!(top["text"].as_str().unwrap(), expected);
            assert_eq!(top["lossy"].as_bool().unwrap(), line == 41);
        }
    }
    assert!(covered.iter().all(|&c| c), "a line fell in no bag");
}

#[test]
fn inspect_reports_size_and_memory() {
    let out = Command::new(env!("CARGO_BIN_EXE_needle"))
        .args(["inspect", MODEL, "--json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["file_bytes"], std::fs::metadata(MODEL).unwrap().len());
    assert!(v["file_bytes"].as_u64().unwrap() <= 512 * 1024);
    assert!(v["bag_memory_bytes"].as_u64().unwrap() <= 64 * 1024);
    assert_eq!(v["config"]["window"], 32);
}

#[test]
fn corrupted_model_is_a_clear_error() {
    let mut bytes = std::fs::read(MODEL).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 1;
    let path =
        std::env::temp_dir().join(format!("needle-cli-corrupt-{}.needle", std::process::id()));
    std::fs::write(&path, &bytes).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_needle"))
        .args(["score", "--model"])
        .arg(&path)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let _ = std::fs::remove_file(&path);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("model file is corrupted: checksum"), "{err}");
    assert!(!err.contains("panicked"));
}
