//! Running the real `needle` binary on bundled data (shared by the CLI tests).
#![allow(dead_code)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::OnceLock;

pub const MODEL: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/fixtures/bgl-default.needle"
);
pub const NEEDLE: &str = env!("CARGO_BIN_EXE_needle");

/// One output row.
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Row {
    #[serde(rename = "type")]
    pub kind: String,
    pub data: serde_json::Value,
}

/// BGL_8k with its label column stripped, as an operator's raw log, and
/// whether each line is labelled anomalous.
pub fn bgl_8k() -> &'static (Vec<Vec<u8>>, Vec<bool>) {
    static LINES: OnceLock<(Vec<Vec<u8>>, Vec<bool>)> = OnceLock::new();
    LINES.get_or_init(|| {
        let text = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../data/bgl/BGL_8k.log"
        ))
        .unwrap();
        let mut lines = Vec::new();
        let mut labels = Vec::new();
        for l in text.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            let mut parts = l.splitn(2, |&b| b == b' ');
            labels.push(parts.next() != Some(b"-"));
            lines.push(parts.next().unwrap_or(&[]).to_vec());
        }
        (lines, labels)
    })
}

pub fn joined(lines: &[Vec<u8>]) -> Vec<u8> {
    lines
        .iter()
        .flat_map(|l| l.iter().copied().chain([b'\n']))
        .collect()
}

/// A file in a per-test directory under Cargo's target/tmp.
pub fn temp_file(test: &str, name: &str, bytes: &[u8]) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("needle-cli-{test}"));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

/// The stripped BGL_8k as a file.
pub fn bgl_8k_file(test: &str) -> PathBuf {
    temp_file(test, "BGL_8k.log", &joined(&bgl_8k().0))
}

/// Runs `needle score --model MODEL ARGS` on `stdin`.
pub fn score(args: &[&str], files: &[&Path], stdin: &[u8]) -> Output {
    let mut child = Command::new(NEEDLE)
        .args(["score", "--model", MODEL])
        .args(args)
        .args(files)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    let stdin = stdin.to_vec();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(&stdin);
    });
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap();
    out
}

pub fn rows(out: &Output) -> Vec<Row> {
    String::from_utf8(out.stdout.clone())
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

pub fn of_kind<'a>(rows: &'a [Row], kind: &str) -> Vec<&'a serde_json::Value> {
    rows.iter()
        .filter(|r| r.kind == kind)
        .map(|r| &r.data)
        .collect()
}

pub fn u(v: &serde_json::Value) -> u64 {
    v.as_u64().unwrap_or_else(|| panic!("not an integer: {v}"))
}
