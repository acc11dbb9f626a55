//! The readers on the real (bundled) Loghub files: counts match the data's
//! README, labels are split off, and nothing of a line is lost.

use std::path::{Path, PathBuf};

use needle_trainer::read::{read_log, LogFormat};

fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../data")
        .join(rel)
}

#[test]
fn bgl_sample_has_the_documented_counts_and_no_label_in_text() {
    let f = read_log(&data("bgl/BGL_2k.log"), LogFormat::Auto).unwrap();
    assert_eq!(f.format, LogFormat::Bgl);
    // 2,000 lines; `wc -l` says 1,999 because the last one has no newline.
    assert_eq!(f.lines.len(), 2000);
    assert_eq!(
        f.lines.iter().filter(|l| l.label == Some(true)).count(),
        143
    );
    let raw = std::fs::read_to_string(data("bgl/BGL_2k.log")).unwrap();
    for (line, raw) in f.lines.iter().zip(raw.lines()) {
        let (label, rest) = raw.split_once(' ').unwrap();
        assert_eq!(line.text, rest.as_bytes(), "line {}", line.line_no);
        assert_eq!(line.label, Some(label != "-"));
        assert!(line.timestamp.is_some());
    }
}

#[test]
fn hdfs_sample_splits_at_the_tab() {
    let f = read_log(&data("hdfs/HDFS_1500.labeled.log"), LogFormat::Auto).unwrap();
    assert_eq!(f.format, LogFormat::Hdfs);
    assert_eq!(f.lines.len(), 1500);
    assert_eq!(
        f.lines.iter().filter(|l| l.label == Some(true)).count(),
        270
    );
    assert!(f.lines.iter().all(|l| l.text.starts_with(b"08")));
    assert!(f.lines.iter().all(|l| l.timestamp.is_some()));
}

#[test]
fn unlabelled_lines_are_read_whole_without_labels() {
    let f = read_log(&data("unlabeled/Zookeeper_2k.log"), LogFormat::Auto).unwrap();
    assert_eq!(f.format, LogFormat::Raw);
    assert_eq!(f.lines.len(), 2000);
    assert!(f.lines.iter().all(|l| l.label.is_none()));
    assert!(!f.is_labelled());
}
