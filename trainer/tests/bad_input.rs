//! Bad input to `needle-train train` gets a clear error naming what is wrong
//! (or, for text it can still use, a warning), never a panic.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_needle-train"))
}

fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../data")
        .join(rel)
}

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("bad_input")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn train(train: &Path, test: &Path, out: &Path, extra: &[&str]) -> Output {
    bin()
        .args(["train", "--quiet", "--epochs", "1", "--train"])
        .arg(train)
        .arg("--test")
        .arg(test)
        .arg("--out")
        .arg(out)
        .args(extra)
        .output()
        .unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn assert_clean_failure(o: &Output, needle: &str) {
    let err = stderr(o);
    assert!(
        !o.status.success(),
        "expected failure, got success; stderr: {err}"
    );
    assert_eq!(o.status.code(), Some(1), "stderr: {err}");
    assert!(!err.contains("panicked"), "panic: {err}");
    assert!(err.contains(needle), "stderr lacks {needle:?}: {err}");
}

/// The first `n` lines of the bundled BGL_2k sample.
fn bgl_lines(n: usize) -> Vec<String> {
    std::fs::read_to_string(data("bgl/BGL_2k.log"))
        .unwrap()
        .lines()
        .take(n)
        .map(str::to_string)
        .collect()
}

#[test]
fn missing_training_file_is_named() {
    let dir = scratch("missing");
    let o = train(
        &dir.join("nope.log"),
        &data("bgl/BGL_2k.log"),
        &dir.join("out"),
        &[],
    );
    assert_clean_failure(&o, "nope.log");
}

#[test]
fn empty_file_is_named_as_empty() {
    let dir = scratch("empty");
    let empty = dir.join("empty.log");
    std::fs::write(&empty, "").unwrap();
    let o = train(&data("bgl/BGL_2k.log"), &empty, &dir.join("out"), &[]);
    assert_clean_failure(&o, "empty.log: the file is empty");
}

#[test]
fn window_larger_than_data_is_reported() {
    let dir = scratch("window");
    let small = dir.join("small.log");
    std::fs::write(&small, bgl_lines(40).join("\n")).unwrap();
    let o = train(
        &data("bgl/BGL_2k.log"),
        &small,
        &dir.join("out"),
        &["--window", "64", "--stride", "32"],
    );
    assert_clean_failure(&o, "window 64 is larger than the test data (40 lines");
}

#[test]
fn all_normal_training_data_is_reported() {
    let dir = scratch("all_normal");
    let normal: Vec<String> = bgl_lines(2000)
        .into_iter()
        .filter(|l| l.starts_with("- "))
        .collect();
    let path = dir.join("normal.log");
    std::fs::write(&path, normal.join("\n")).unwrap();
    let o = train(&path, &data("bgl/BGL_2k.log"), &dir.join("out"), &[]);
    assert_clean_failure(&o, "the training data has no anomalous window");
}

#[test]
fn unlabelled_training_data_is_reported() {
    let dir = scratch("unlabelled");
    let o = train(
        &data("unlabeled/Zookeeper_2k.log"),
        &data("bgl/BGL_2k.log"),
        &dir.join("out"),
        &[],
    );
    assert_clean_failure(&o, "Zookeeper_2k.log: has no labels");
}

#[test]
fn malformed_label_names_file_and_line() {
    let dir = scratch("malformed");
    let mut lines = bgl_lines(200);
    lines[56] = format!("not-a-label {}", lines[56]);
    let path = dir.join("broken.log");
    std::fs::write(&path, lines.join("\n")).unwrap();
    let o = train(
        &path,
        &data("bgl/BGL_2k.log"),
        &dir.join("out"),
        &["--format", "bgl"],
    );
    assert_clean_failure(&o, "broken.log:57: expected a BGL label");
}

#[test]
fn invalid_utf8_and_10_mb_line_are_used_with_a_warning() {
    let dir = scratch("utf8_huge");
    let mut bytes = Vec::new();
    for (i, line) in bgl_lines(1999).iter().enumerate() {
        bytes.extend_from_slice(line.as_bytes());
        if i == 10 {
            bytes.extend_from_slice(b" \xff\xfe\xc3 broken bytes");
        }
        if i == 20 {
            bytes.push(b' ');
            bytes.extend(std::iter::repeat_n(b'x', 10 * 1024 * 1024));
        }
        bytes.push(b'\n');
    }
    let path = dir.join("odd.log");
    std::fs::write(&path, &bytes).unwrap();
    let out = dir.join("out");
    let o = train(&path, &data("bgl/BGL_2k.log"), &out, &[]);
    let err = stderr(&o);
    assert!(o.status.success(), "stderr: {err}");
    let summary = String::from_utf8_lossy(&o.stdout);
    assert!(summary.contains("odd.log:21: line is"), "{summary}");
    assert!(summary.contains("not valid UTF-8 (first: 11)"), "{summary}");
    assert!(out.join("report.json").is_file());
}

#[test]
fn test_without_train_is_a_usage_error() {
    let o = bin()
        .args(["train", "--test"])
        .arg(data("bgl/BGL_2k.log"))
        .output()
        .unwrap();
    assert_clean_failure(&o, "--test was given without --train");
}

#[test]
fn time_windows_train_and_report() {
    let dir = scratch("time_windows");
    let out = dir.join("out");
    let o = train(
        &data("bgl/BGL_4k.log"),
        &data("bgl/BGL_2k.log"),
        &out,
        &["--window-seconds", "21600"],
    );
    assert!(o.status.success(), "stderr: {}", stderr(&o));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["data"]["windowing"]["kind"], "time");
    assert!(report["data"]["test_bags"].as_u64().unwrap() > 0);
}

#[test]
fn unwritable_output_directory_fails_before_training() {
    let dir = scratch("unwritable");
    let blocker = dir.join("a-file");
    std::fs::write(&blocker, "not a directory").unwrap();
    let o = train(
        &data("bgl/BGL_2k.log"),
        &data("bgl/BGL_2k.log"),
        &blocker.join("out"),
        &[],
    );
    assert_clean_failure(&o, "cannot create the output directory");
}

/// A checkpoint written before familiarity was recorded cannot be exported
/// silently without it: the error names the fix, and the fix works.
#[test]
fn export_of_a_checkpoint_without_familiar_tokens_names_the_fix() {
    let dir = scratch("old_checkpoint");
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/bgl-default");
    std::fs::copy(fixture.join("model.mpk"), dir.join("model.mpk")).unwrap();
    let mut meta: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fixture.join("checkpoint.json")).unwrap())
            .unwrap();
    meta.as_object_mut().unwrap().remove("familiar_buckets");
    std::fs::write(dir.join("checkpoint.json"), meta.to_string()).unwrap();
    let out = dir.join("model.needle");
    let o = bin()
        .args(["export", "--checkpoint"])
        .arg(&dir)
        .arg("--out")
        .arg(&out)
        .output()
        .unwrap();
    assert_clean_failure(&o, "the checkpoint records no familiar tokens");
    assert!(stderr(&o).contains("--familiar-from"));
    assert!(!out.exists());
    // Its training logs give back exactly the bundled model file.
    let o = bin()
        .args(["export", "--checkpoint"])
        .arg(&dir)
        .arg("--out")
        .arg(&out)
        .arg("--familiar-from")
        .args(["bgl/BGL_2k.log", "bgl/BGL_4k.log", "bgl/BGL_6k.log"].map(data))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(
        std::fs::read(&out).unwrap(),
        std::fs::read(fixture.with_extension("needle")).unwrap()
    );
}
