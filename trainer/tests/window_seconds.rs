//! `--window-seconds` makes time windows, not count windows, on a log in
//! each timestamp format needle-timestamps reads.
//!
//! Every log here has 200 lines 6 s apart (20 minutes), so 60-second
//! windows are 20 bags of 10 lines each, where count windows (W 32, stride
//! 16) would be 12 bags of up to 32. Formats without line labels go the
//! incidents route (raw lines plus an incidents file); BGL and HDFS carry
//! their labels. Each format is checked through the library (the same
//! read, incident labelling and bagging the CLI runs), and through the
//! `needle-train` binary's report.json.

use std::path::{Path, PathBuf};
use std::process::Command;

use jiff::tz::TimeZone;
use jiff::Timestamp;
use needle_trainer::bags::{time_windows, BagSet, Windowing};
use needle_trainer::experiment::{coarse_labels, load, split, Request};
use needle_trainer::incidents::Margin;
use needle_trainer::read::{LogFormat, TimeOptions};
use needle_trainer::train::TrainOptions;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_needle-train"))
}

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("window_seconds")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Lines per log.
const LINES: usize = 200;
/// Seconds between lines.
const STEP: i64 = 6;
/// `--window-seconds`.
const WINDOW_SECONDS: i64 = 60;
/// 2024-03-01T10:00:00Z.
const T0: i64 = 1_709_287_200;
/// Lines per time window.
const PER_WINDOW: usize = (WINDOW_SECONDS / STEP) as usize;
/// Lines (1-based) of the training incidents and of the labelled anomalies:
/// inside the training part (the first 80%: lines 1-160) and in the test log.
const ANOMALOUS: [std::ops::RangeInclusive<usize>; 2] = [51..=60, 101..=110];

/// How a format writes line `i` (0-based) at epoch second `t`.
type LineFn = fn(Timestamp, usize) -> String;

struct Case {
    /// Scratch directory and file stem.
    name: &'static str,
    /// `TimestampInfo::format` the reader must detect.
    format: &'static str,
    /// Whether the lines carry BGL/HDFS labels (else: incidents route).
    labelled: bool,
    line: LineFn,
}

fn utc(t: Timestamp, layout: &str) -> String {
    t.to_zoned(TimeZone::UTC).strftime(layout).to_string()
}

fn anomalous(i: usize) -> bool {
    ANOMALOUS.iter().any(|r| r.contains(&(i + 1)))
}

/// `dir/<name>_train.log` and `dir/<name>_test.log` (the same lines), plus
/// line-form incidents files over each when the format has no labels.
struct Fixture {
    train: PathBuf,
    test: PathBuf,
    incidents: Option<PathBuf>,
    test_incidents: Option<PathBuf>,
}

fn fixture(dir: &Path, case: &Case) -> Fixture {
    let text: String = (0..LINES)
        .map(|i| {
            let t = Timestamp::from_second(T0 + STEP * i as i64).unwrap();
            format!("{}\n", (case.line)(t, i))
        })
        .collect();
    let train = dir.join(format!("{}_train.log", case.name));
    let test = dir.join(format!("{}_test.log", case.name));
    std::fs::write(&train, &text).unwrap();
    std::fs::write(&test, &text).unwrap();
    let incidents_over = |log: &Path, csv: &str| {
        let name = log.file_name().unwrap().to_str().unwrap();
        let rows: String = ANOMALOUS
            .iter()
            .map(|r| format!("{name},{},{}\n", r.start(), r.end()))
            .collect();
        let path = dir.join(csv);
        std::fs::write(&path, format!("file,first_line,last_line\n{rows}")).unwrap();
        path
    };
    let (incidents, test_incidents) = if case.labelled {
        (None, None)
    } else {
        (
            Some(incidents_over(&train, "incidents.csv")),
            Some(incidents_over(&test, "test_incidents.csv")),
        )
    };
    Fixture {
        train,
        test,
        incidents,
        test_incidents,
    }
}

/// Each bag is one whole 60-second window: `PER_WINDOW` lines, consecutive
/// windows `WINDOW_SECONDS` apart, lines `STEP` apart inside.
fn assert_time_windows(set: &BagSet, windows: usize, what: &str) {
    assert_eq!(set.bags.len(), windows, "{what}: bags");
    let first = set.lines[0].timestamp.expect("timestamp");
    for (k, bag) in set.bags.iter().enumerate() {
        assert_eq!(bag.lines.len(), PER_WINDOW, "{what}: bag {k}");
        for (j, line) in set.lines[bag.lines.clone()].iter().enumerate() {
            let offset = (k as i64 * WINDOW_SECONDS + j as i64 * STEP) * 1000;
            assert_eq!(
                line.timestamp,
                Some(first + offset),
                "{what}: bag {k}, line {}",
                line.line_no
            );
        }
    }
}

fn check(case: &Case) {
    let dir = scratch(case.name);
    let fx = fixture(&dir, case);
    let windowing = Windowing::Time {
        seconds: WINDOW_SECONDS,
        max_lines: 32,
    };

    // Library: what `needle-train train` does before training.
    let mut options = TrainOptions::default();
    options.epochs = 1;
    options.progress = false;
    let request = Request {
        train: vec![fx.train.clone()],
        val: Vec::new(),
        test: vec![fx.test.clone()],
        out: dir.join("out"),
        format: LogFormat::Auto,
        incidents: fx.incidents.clone(),
        test_incidents: fx.test_incidents.clone(),
        margin: Margin::Lines(0),
        time: TimeOptions::default(),
        windowing,
        options,
    };
    let (train, val, test) = load(&request).unwrap();
    for f in train.iter().chain(&test) {
        assert_eq!(f.is_labelled(), case.labelled, "{}", f.detected);
        let info = f.timestamps.as_ref().expect("timestamps read");
        assert_eq!(info.format, case.format, "{}", f.path.display());
        assert_eq!((info.filled, info.leading_missing), (0, 0));
        assert_eq!(info.last - info.first, (LINES as i64 - 1) * STEP * 1000);
    }
    let (coarse, warnings) = coarse_labels(&request, &train, &val, &test).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    let splits = split(&train, &val, &test, &coarse, windowing, &options.config).unwrap();
    // 160 training lines, 40 validation lines, 200 test lines.
    assert_time_windows(&splits.train, 16, "train");
    assert_time_windows(&splits.val, 4, "validation");
    assert_time_windows(&splits.test, 20, "test");
    assert_eq!(
        splits.test.incident_groups().len(),
        usize::from(!case.labelled) * 2
    );
    assert_eq!(splits.test.positives(), usize::from(case.labelled) * 2);

    // CLI: the same counts in report.json.
    let mut cmd = bin();
    cmd.args(["train", "--quiet", "--epochs", "1", "--train"])
        .arg(&fx.train)
        .arg("--test")
        .arg(&fx.test)
        .arg("--out")
        .arg(dir.join("out"))
        .args(["--window-seconds", &WINDOW_SECONDS.to_string()]);
    if let (Some(inc), Some(test_inc)) = (&fx.incidents, &fx.test_incidents) {
        cmd.arg("--incidents")
            .arg(inc)
            .arg("--test-incidents")
            .arg(test_inc);
    }
    let o = cmd.output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{}: {err}", case.name);
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("out/report.json")).unwrap())
            .unwrap();
    let data = &report["data"];
    assert_eq!(data["windowing"]["kind"], "time", "{data:#}");
    assert_eq!(data["windowing"]["seconds"], WINDOW_SECONDS, "{data:#}");
    assert_eq!(data["train_bags"], 16, "{data:#}");
    assert_eq!(data["val_bags"], 4, "{data:#}");
    assert_eq!(data["test_bags"], 20, "{data:#}");
    let formats = data["formats"].as_array().unwrap();
    assert!(
        formats.iter().all(|f| f
            .as_str()
            .unwrap()
            .ends_with(&format!("timestamps: {}", case.format))),
        "{formats:?}"
    );
}

/// An ISO 8601 line with a `T` and a `Z`.
fn iso8601_t_line(t: Timestamp, i: usize) -> String {
    format!(
        "{} web01 app[12]: request {i} served",
        utc(t, "%Y-%m-%dT%H:%M:%SZ")
    )
}

#[test]
fn iso8601_with_t() {
    check(&Case {
        name: "iso8601_t",
        format: "ISO 8601",
        labelled: false,
        line: iso8601_t_line,
    });
}

#[test]
fn iso8601_with_space() {
    check(&Case {
        name: "iso8601_space",
        format: "ISO 8601",
        labelled: false,
        line: |t, i| format!("{} INFO worker {i} done", utc(t, "%Y-%m-%d %H:%M:%S")),
    });
}

#[test]
fn iso8601_log4j_comma() {
    check(&Case {
        name: "iso8601_log4j",
        format: "ISO 8601",
        labelled: false,
        line: |t, i| {
            format!(
                "{},747 - INFO  [main:QuorumPeer@{i}] - snapshot taken",
                utc(t, "%Y-%m-%d %H:%M:%S")
            )
        },
    });
}

#[test]
fn rfc3164_syslog() {
    check(&Case {
        name: "rfc3164",
        format: "syslog RFC 3164",
        labelled: false,
        line: |t, i| {
            format!(
                "<34>{} web01 sshd[{i}]: session opened",
                utc(t, "%b %e %H:%M:%S")
            )
        },
    });
}

#[test]
fn rfc5424_syslog() {
    check(&Case {
        name: "rfc5424",
        format: "syslog RFC 5424",
        labelled: false,
        line: |t, i| {
            format!(
                "<165>1 {} web01 app {i} ID47 - request served",
                utc(t, "%Y-%m-%dT%H:%M:%S.003Z")
            )
        },
    });
}

#[test]
fn apache_nginx_common_log() {
    check(&Case {
        name: "common_log",
        format: "Apache/nginx common log",
        labelled: false,
        line: |t, i| {
            format!(
                "10.0.0.{} - - [{}] \"GET /item/{i} HTTP/1.1\" 200 512",
                i % 250,
                utc(t, "%d/%b/%Y:%H:%M:%S +0000")
            )
        },
    });
}

#[test]
fn epoch_seconds() {
    check(&Case {
        name: "epoch_s",
        format: "epoch seconds",
        labelled: false,
        line: |t, i| format!("{} node7 agent: heartbeat {i}", t.as_second()),
    });
}

#[test]
fn epoch_milliseconds() {
    check(&Case {
        name: "epoch_ms",
        format: "epoch milliseconds",
        labelled: false,
        line: |t, i| format!("{} node7 agent: heartbeat {i}", t.as_millisecond() + 250),
    });
}

#[test]
fn hdfs_labelled() {
    check(&Case {
        name: "hdfs",
        format: "HDFS yymmdd hhmmss",
        labelled: true,
        line: |t, i| {
            format!(
                "{}\t{} 143 INFO dfs.DataNode$PacketResponder: PacketResponder {i} for block blk_{i} terminating",
                if anomalous(i) { "ANOMALY" } else { "-" },
                utc(t, "%y%m%d %H%M%S")
            )
        },
    });
}

#[test]
fn bgl_labelled() {
    check(&Case {
        name: "bgl",
        format: "epoch seconds",
        labelled: true,
        line: |t, i| {
            format!(
                "{} {} {} R02-M1-N0-C:J12-U11 {} R02-M1-N0-C:J12-U11 RAS KERNEL INFO {}",
                if anomalous(i) { "KERNDTLB" } else { "-" },
                t.as_second(),
                utc(t, "%Y.%m.%d"),
                utc(t, "%Y-%m-%d-%H.%M.%S.000000"),
                if anomalous(i) {
                    "data TLB error interrupt"
                } else {
                    "instruction cache parity error corrected"
                }
            )
        },
    });
}

/// A window longer than any log (`--window-seconds 9223372036854775807`)
/// is one time window, cut into bags of at most `max_lines`; its end does
/// not overflow.
#[test]
fn window_longer_than_any_log_is_one_window_cut_by_size() {
    let ts: Vec<Option<i64>> = (0..10).map(|i| Some(T0 * 1000 + i * 1000)).collect();
    assert_eq!(time_windows(&ts, i64::MAX, 4), vec![0..4, 4..8, 8..10]);
}

/// `--timestamp-format` takes the names `needle score` takes, not only
/// strftime layouts, and report.json names the format as `needle` does.
#[test]
fn timestamp_format_takes_the_names_needle_score_takes() {
    let case = Case {
        name: "named_format",
        format: "ISO 8601",
        labelled: false,
        line: iso8601_t_line,
    };
    let dir = scratch(case.name);
    let fx = fixture(&dir, &case);
    let o = bin()
        .args([
            "train",
            "--quiet",
            "--epochs",
            "1",
            "--timestamp-format",
            "iso8601",
            "--train",
        ])
        .arg(&fx.train)
        .arg("--test")
        .arg(&fx.test)
        .arg("--out")
        .arg(dir.join("out"))
        .args(["--window-seconds", &WINDOW_SECONDS.to_string()])
        .arg("--incidents")
        .arg(fx.incidents.as_ref().unwrap())
        .arg("--test-incidents")
        .arg(fx.test_incidents.as_ref().unwrap())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("out/report.json")).unwrap())
            .unwrap();
    let formats = report["data"]["formats"].as_array().unwrap();
    assert!(
        formats
            .iter()
            .all(|f| f.as_str().unwrap().ends_with("timestamps: ISO 8601")),
        "{formats:?}"
    );
}
