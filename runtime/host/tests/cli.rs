//! The `needle` CLI end to end, on the bundled model and BGL data: each
//! behaviour an operator relies on (issue 9's list) pinned by a test.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::{bgl_8k, bgl_8k_file, joined, of_kind, rows, score, temp_file, u, Row, MODEL, NEEDLE};

fn input_lines() -> Vec<Vec<u8>> {
    let text = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../data/bgl/BGL_2k.log"
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

/// `--windows` output of the stripped BGL_8k: (bags, alerts, summary, exit code).
fn bgl_8k_windows() -> &'static (Vec<Row>, Option<i32>) {
    static OUT: std::sync::OnceLock<(Vec<Row>, Option<i32>)> = std::sync::OnceLock::new();
    OUT.get_or_init(|| {
        let file = bgl_8k_file("windows");
        let out = score(&["--windows"], &[&file], b"");
        (rows(&out), out.status.code())
    })
}

#[test]
fn score_reports_every_line_with_its_text() {
    let lines = input_lines();
    let out = score(&["--windows"], &[], &joined(&lines));
    assert!(matches!(out.status.code(), Some(0 | 1)), "{out:?}");
    let rows = rows(&out);
    let (summary, rest) = rows.split_last().unwrap();
    assert_eq!(summary.kind, "summary");
    assert_eq!(summary.data["lines"], 150);
    assert_eq!(summary.data["non_utf8_lines"], 1);
    let bags = of_kind(rest, "bag");
    assert_eq!(summary.data["bags"], bags.len());
    let mut covered = [false; 150];
    for bag in bags {
        let (first, last) = (u(&bag["first_line"]), u(&bag["last_line"]));
        for l in first..=last {
            covered[(l - 1) as usize] = true;
        }
        let score = bag["score"].as_f64().unwrap();
        assert!((0.0..=1.0).contains(&score));
        for top in bag["top"].as_array().unwrap() {
            let line = u(&top["line"]);
            assert!((first..=last).contains(&line));
            let expected = String::from_utf8_lossy(&lines[(line - 1) as usize]);
            assert_eq!(top["text"].as_str().unwrap(), expected);
            assert_eq!(top["lossy"].as_bool().unwrap(), line == 41);
        }
    }
    assert!(covered.iter().all(|&c| c), "a line fell in no bag");
}

#[test]
fn overlapping_flagged_windows_merge_into_one_alert() {
    let (rows, code) = bgl_8k_windows();
    assert_eq!(*code, Some(1));
    let bags = of_kind(rows, "bag");
    let alerts = of_kind(rows, "alert");
    let flagged: Vec<_> = bags.iter().filter(|b| b["anomalous"] == true).collect();
    assert!(
        alerts.len() >= 2 && alerts.len() * 3 < flagged.len(),
        "{} alerts, {} flagged",
        alerts.len(),
        flagged.len()
    );
    // Alerts neither overlap nor touch.
    for pair in alerts.windows(2) {
        assert!(
            u(&pair[0]["last_line"]) + 1 < u(&pair[1]["first_line"]),
            "{pair:?}"
        );
    }
    // Every flagged window lies in exactly one alert; each alert is exactly
    // the union of its windows.
    for a in &alerts {
        let (first, last) = (u(&a["first_line"]), u(&a["last_line"]));
        let inside: Vec<_> = flagged
            .iter()
            .filter(|b| u(&b["first_line"]) >= first && u(&b["last_line"]) <= last)
            .collect();
        assert_eq!(inside.len() as u64, u(&a["windows"]));
        assert_eq!(u(&inside[0]["first_line"]), first);
        assert_eq!(inside.iter().map(|b| u(&b["last_line"])).max(), Some(last));
        let peak = inside
            .iter()
            .max_by(|x, y| {
                x["score"]
                    .as_f64()
                    .unwrap()
                    .total_cmp(&y["score"].as_f64().unwrap())
            })
            .unwrap();
        assert_eq!(a["score"], peak["score"]);
    }
    let in_some = |b: &&serde_json::Value| {
        alerts.iter().any(|a| {
            u(&b["first_line"]) >= u(&a["first_line"]) && u(&b["last_line"]) <= u(&a["last_line"])
        })
    };
    assert!(flagged.iter().all(|b| in_some(b)));
    let summary = of_kind(rows, "summary")[0];
    assert_eq!(u(&summary["alerts"]), alerts.len() as u64);
    assert_eq!(u(&summary["anomalous_bags"]), flagged.len() as u64);
}

#[test]
fn blamed_lines_are_not_repeated() {
    let (rows, _) = bgl_8k_windows();
    let mut seen = BTreeSet::new();
    let mut total = 0;
    for a in of_kind(rows, "alert") {
        let top = a["top"].as_array().unwrap();
        assert!(!top.is_empty());
        for t in top {
            total += 1;
            assert!(
                seen.insert(u(&t["line"])),
                "line {} blamed twice",
                t["line"]
            );
        }
        let weights: Vec<f64> = top.iter().map(|t| t["weight"].as_f64().unwrap()).collect();
        assert!(
            weights.windows(2).all(|w| w[0] >= w[1]),
            "highest weight first"
        );
    }
    // The windows blame far more lines than the alerts show.
    let window_tops: usize = of_kind(rows, "bag")
        .iter()
        .filter(|b| b["anomalous"] == true)
        .map(|b| b["top"].as_array().unwrap().len())
        .sum();
    assert!(
        total * 2 < window_tops,
        "{total} blamed, {window_tops} window top lines"
    );
}

#[test]
fn negligible_attention_is_not_blamed() {
    let (rows, _) = bgl_8k_windows();
    let bags = of_kind(rows, "bag");
    let mut dropped = 0;
    for a in of_kind(rows, "alert") {
        let (first, last) = (u(&a["first_line"]), u(&a["last_line"]));
        // What the rule keeps: top lines of the alert's windows with weight
        // >= 0.25 / lines in the window, each at its highest weight.
        let mut expected: BTreeMap<u64, f64> = BTreeMap::new();
        for b in bags.iter().filter(|b| {
            b["anomalous"] == true && u(&b["first_line"]) >= first && u(&b["last_line"]) <= last
        }) {
            let n = (u(&b["last_line"]) - u(&b["first_line"]) + 1) as f32;
            for t in b["top"].as_array().unwrap() {
                let w = t["weight"].as_f64().unwrap();
                if (w as f32) < 0.25 / n {
                    dropped += 1;
                    continue;
                }
                let e = expected.entry(u(&t["line"])).or_insert(w);
                *e = e.max(w);
            }
        }
        let got: BTreeMap<u64, f64> = a["top"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| (u(&t["line"]), t["weight"].as_f64().unwrap()))
            .collect();
        assert_eq!(got, expected);
        assert!(got.values().all(|&w| w >= 0.25 / 32.0));
    }
    assert!(
        dropped > 50,
        "the bundled model attends to few lines: {dropped} dropped"
    );
}

#[test]
fn blamed_lines_are_true_anomalies() {
    let (rows, _) = bgl_8k_windows();
    let labels = &bgl_8k().1;
    for a in of_kind(rows, "alert") {
        for t in a["top"].as_array().unwrap() {
            assert!(
                labels[(u(&t["line"]) - 1) as usize],
                "line {} is labelled normal",
                t["line"]
            );
        }
    }
}

/// The RFC 3339 UTC time of a stripped BGL line (its first token is epoch seconds).
fn bgl_time(line: &[u8]) -> String {
    let secs: i64 = std::str::from_utf8(line.split(|&b| b == b' ').next().unwrap())
        .unwrap()
        .parse()
        .unwrap();
    jiff::Timestamp::from_second(secs).unwrap().to_string()
}

#[test]
fn alerts_carry_timestamps() {
    let (rows, _) = bgl_8k_windows();
    let lines = &bgl_8k().0;
    let line = |n: u64| &lines[(n - 1) as usize];
    for a in of_kind(rows, "alert") {
        assert_eq!(a["first_time"], bgl_time(line(u(&a["first_line"]))));
        assert_eq!(a["last_time"], bgl_time(line(u(&a["last_line"]))));
        for t in a["top"].as_array().unwrap() {
            assert_eq!(t["time"], bgl_time(line(u(&t["line"]))));
        }
    }
    let summary = of_kind(rows, "summary")[0];
    assert_eq!(summary["files"][0]["timestamps"], "epoch seconds");
    // A log without timestamps: alerts with line numbers and null times.
    let plain: Vec<Vec<u8>> = lines[..64]
        .iter()
        .map(|l| {
            l.splitn(2, |&b| b == b' ')
                .nth(1)
                .unwrap()
                .splitn(2, |&b| b == b' ')
                .nth(1)
                .unwrap()
                .to_vec()
        })
        .map(|l| [b"node ".as_slice(), &l].concat())
        .collect();
    let out = score(&["--threshold", "0"], &[], &joined(&plain));
    let plain_rows = common::rows(&out);
    let alert = of_kind(&plain_rows, "alert")[0];
    assert!(alert["first_time"].is_null() && alert["top"][0]["time"].is_null());
    assert!(of_kind(&plain_rows, "summary")[0]["files"][0]["timestamps"].is_null());
}

#[test]
fn alerts_carry_evidence_of_their_key_line() {
    let (rows, _) = bgl_8k_windows();
    let bags = of_kind(rows, "bag");
    let lines = &bgl_8k().0;
    let bytes = std::fs::read(MODEL).unwrap();
    let model = needle_runtime::Model::from_bytes(&bytes).unwrap();
    let mut scratch = vec![0f32; model.scratch_len()];
    let mut scorer = needle_runtime::BagScorer::new(&model, &mut scratch).unwrap();
    for a in of_kind(rows, "alert") {
        let (pf, pl) = (u(&a["peak"]["first_line"]), u(&a["peak"]["last_line"]));
        let peak = bags
            .iter()
            .find(|b| u(&b["first_line"]) == pf && u(&b["last_line"]) == pl)
            .unwrap();
        let key = u(&peak["top"][0]["line"]);
        let e = &a["evidence"];
        assert_eq!(u(&e["without_line"]), key);
        let without = e["score_without"].as_f64().unwrap();
        assert!(without < a["score"].as_f64().unwrap(), "{a}");
        // Bit for bit what the runtime API gives for the same window.
        let window = &lines[(pf - 1) as usize..pl as usize];
        let again = scorer.score_without(window, (key - pf) as usize).unwrap();
        assert_eq!(again.probability.to_bits(), (without as f32).to_bits());
    }
}

#[test]
fn exit_status_is_1_with_alerts_0_without_and_2_on_errors() {
    let (_, code) = bgl_8k_windows();
    assert_eq!(*code, Some(1));
    // Lines 60-340 of BGL_8k are all labelled normal.
    let normal = joined(&bgl_8k().0[59..340]);
    let out = score(&[], &[], &normal);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(of_kind(&rows(&out), "summary")[0]["alerts"], 0);
    // Empty input: nothing to alert on.
    assert_eq!(score(&[], &[], b"").status.code(), Some(0));
    // Errors: a missing file, an unreadable input, a bad option, a bad model.
    let missing = score(&[], &[Path::new("/nonexistent/needle.log")], b"");
    assert_eq!(missing.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&missing.stderr).contains("opening /nonexistent/needle.log"));
    assert!(missing.stdout.is_empty());
    let dir = std::env::temp_dir();
    assert_eq!(score(&[], &[&dir], b"").status.code(), Some(2));
    assert_eq!(
        score(&["--threshold", "1.5"], &[], b"").status.code(),
        Some(2)
    );
    assert_eq!(
        score(&["--flush-after", "5"], &[], b"").status.code(),
        Some(2)
    );
    assert_eq!(
        score(&["--no-such-option"], &[], b"").status.code(),
        Some(2)
    );
    assert_eq!(score(&["-", "-"], &[], b"").status.code(), Some(2));
}

#[test]
fn threshold_option_sets_what_is_flagged() {
    let file = bgl_8k_file("threshold");
    let rows_at = |t: &str| rows(&score(&["--windows", "--threshold", t], &[&file], b""));
    // Everything flagged: one alert over the whole file.
    let all = rows_at("0");
    let alerts = of_kind(&all, "alert");
    assert_eq!(alerts.len(), 1);
    assert_eq!(
        (u(&alerts[0]["first_line"]), u(&alerts[0]["last_line"])),
        (1, 8000)
    );
    let summary = of_kind(&all, "summary")[0];
    assert_eq!(summary["threshold"], 0.0);
    assert_eq!(summary["anomalous_bags"], summary["bags"]);
    // A stricter threshold flags exactly the windows scoring at least it.
    let strict = rows_at("0.95");
    for b in of_kind(&strict, "bag") {
        assert_eq!(
            b["anomalous"] == true,
            b["score"].as_f64().unwrap() as f32 >= 0.95
        );
    }
    let default = &bgl_8k_windows().0;
    let d = of_kind(default, "summary")[0];
    assert_eq!(d["threshold"], d["model_threshold"]);
    assert!(u(&of_kind(&strict, "summary")[0]["anomalous_bags"]) < u(&d["anomalous_bags"]));
}

#[test]
fn alerts_only_and_summary_only_write_only_those_rows() {
    let file = bgl_8k_file("only");
    let out = score(&["--alerts-only"], &[&file], b"");
    assert_eq!(out.status.code(), Some(1));
    let alerts = rows(&out);
    assert!(!alerts.is_empty() && alerts.iter().all(|r| r.kind == "alert"));
    let out = score(&["--summary-only"], &[&file], b"");
    assert_eq!(out.status.code(), Some(1));
    let summary = rows(&out);
    assert_eq!(summary.len(), 1);
    assert_eq!(summary[0].kind, "summary");
    assert_eq!(u(&summary[0].data["alerts"]), alerts.len() as u64);
    // Default: alerts then the summary, no window rows.
    let out = score(&[], &[&file], b"");
    let rows = rows(&out);
    assert_eq!(of_kind(&rows, "alert").len(), alerts.len());
    assert!(of_kind(&rows, "bag").is_empty());
    assert_eq!(rows.last().unwrap().kind, "summary");
    // --pretty shows alerts, not windows, by default.
    let out = score(&["--pretty"], &[&file], b"");
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.matches("ALERT ").count(), alerts.len());
    assert!(!text.contains("window "));
    assert!(text.lines().last().unwrap().contains("alert(s)"));
    assert_eq!(
        score(&["--alerts-only", "--windows"], &[&file], b"")
            .status
            .code(),
        Some(2)
    );
}

#[test]
fn several_files_are_read_in_order_with_their_own_line_numbers() {
    let lines = &bgl_8k().0;
    let a = temp_file("files", "BGL_8k.log.1", &joined(&lines[..4000]));
    let b = temp_file("files", "BGL_8k.log", &joined(&lines[4000..]));
    let out = score(&[], &[&a, &b], b"");
    assert_eq!(out.status.code(), Some(1));
    let both = rows(&out);
    let names: Vec<String> = of_kind(&both, "alert")
        .iter()
        .map(|a| a["file"].as_str().unwrap().to_owned())
        .collect();
    let (a_name, b_name) = (a.display().to_string(), b.display().to_string());
    let split = names.iter().position(|n| *n == b_name).unwrap();
    assert!(split > 0 && names[..split].iter().all(|n| *n == a_name));
    assert!(names[split..].iter().all(|n| *n == b_name));
    for alert in of_kind(&both, "alert") {
        assert!(u(&alert["last_line"]) <= 4000);
    }
    // Each file's alerts are those of the file scored alone.
    let alone = |f: &Path| {
        of_kind(&rows(&score(&[], &[f], b"")), "alert")
            .into_iter()
            .cloned()
            .collect::<Vec<_>>()
    };
    let expected: Vec<_> = [alone(&a), alone(&b)].concat();
    let got: Vec<_> = of_kind(&both, "alert").into_iter().cloned().collect();
    assert_eq!(got, expected);
    let summary = of_kind(&both, "summary")[0];
    assert_eq!(summary["lines"], 8000);
    assert_eq!(summary["files"][0]["file"], a_name.as_str());
    assert_eq!(summary["files"][0]["lines"], 4000);
    assert_eq!(summary["files"][1]["lines"], 4000);
}

/// A running `needle score` whose stdin stays open and whose stdout rows
/// arrive on a channel.
struct Live {
    child: std::process::Child,
    rows: mpsc::Receiver<Row>,
}

impl Live {
    fn start(args: &[&str]) -> Self {
        let mut child = Command::new(NEEDLE)
            .args(["score", "--model", MODEL])
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rows) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { return };
                if tx.send(serde_json::from_str(&line).unwrap()).is_err() {
                    return;
                }
            }
        });
        Self { child, rows }
    }

    fn write(&mut self, lines: &[Vec<u8>]) {
        let stdin = self.child.stdin.as_mut().unwrap();
        stdin.write_all(&joined(lines)).unwrap();
        stdin.flush().unwrap();
    }

    /// The next row, if one comes within `wait`.
    fn next(&self, wait: Duration) -> Option<Row> {
        self.rows.recv_timeout(wait).ok()
    }
}

impl Drop for Live {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const PATIENCE: Duration = Duration::from_secs(20);

#[test]
fn flush_after_scores_a_stream_that_stalls() {
    let lines = &bgl_8k().0;
    // Without --flush-after, lines 33-40 wait for line 48.
    let mut live = Live::start(&["--windows"]);
    live.write(&lines[..40]);
    let first = live.next(PATIENCE).unwrap();
    assert_eq!(
        (u(&first.data["first_line"]), u(&first.data["last_line"])),
        (1, 32)
    );
    assert!(live.next(Duration::from_millis(700)).is_none());
    drop(live);

    // With it, a stream that stalls after line 40 gets its last lines scored
    // and its alert emitted while stdin is still open.
    let mut live = Live::start(&["--windows", "--flush-after", "200ms"]);
    live.write(&lines[..40]);
    let mut got = Vec::new();
    while !got.iter().any(|r: &Row| r.kind == "alert") {
        got.push(
            live.next(PATIENCE)
                .expect("no alert while the stream stalled"),
        );
    }
    let flushed: Vec<_> = of_kind(&got, "bag")
        .into_iter()
        .filter(|b| b["flushed"] == true)
        .collect();
    assert_eq!(flushed.len(), 1);
    assert_eq!(
        (u(&flushed[0]["first_line"]), u(&flushed[0]["last_line"])),
        (9, 40)
    );
    let alert = of_kind(&got, "alert")[0];
    assert_eq!((u(&alert["first_line"]), u(&alert["last_line"])), (1, 40));
    assert_eq!(alert["continued"], false);
    // The stream resumes: the next window continues the emitted alert.
    live.write(&lines[40..48]);
    let bag = live.next(PATIENCE).unwrap();
    assert_eq!(
        (u(&bag.data["first_line"]), u(&bag.data["last_line"])),
        (17, 48)
    );
    assert_eq!(bag.data["flushed"], false);
    drop(live.child.stdin.take());
    let rest: Vec<Row> = std::iter::from_fn(|| live.next(PATIENCE)).collect();
    if bag.data["anomalous"] == true {
        let next = of_kind(&rest, "alert")[0];
        assert_eq!(next["continued"], true);
    }
    let summary = of_kind(&rest, "summary")[0];
    assert_eq!((u(&summary["lines"]), u(&summary["flushed_bags"])), (48, 1));
}

#[test]
fn sigterm_scores_what_was_read_and_prints_the_summary() {
    let lines = &bgl_8k().0;
    let mut live = Live::start(&["--windows"]);
    live.write(&lines[..40]);
    let first = live.next(PATIENCE).unwrap();
    assert_eq!(u(&first.data["last_line"]), 32);
    // Lines 33-40 came in the same write; give the reader a moment.
    std::thread::sleep(Duration::from_millis(300));
    let killed = Command::new("kill")
        .args(["-TERM", &live.child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let rest: Vec<Row> = std::iter::from_fn(|| live.next(PATIENCE)).collect();
    let status = live.child.wait().unwrap();
    let tail = of_kind(&rest, "bag");
    assert_eq!(
        (u(&tail[0]["first_line"]), u(&tail[0]["last_line"])),
        (9, 40)
    );
    assert_eq!(of_kind(&rest, "alert").len(), 1);
    let summary = of_kind(&rest, "summary")[0];
    assert_eq!(summary["interrupted"], true);
    assert_eq!(summary["lines"], 40);
    assert_eq!(status.code(), Some(1), "an alert was raised");
}

#[test]
fn pretty_neutralises_escape_sequences() {
    let evil = |i: usize| {
        format!(
            "RAS KERNEL FATAL \x1b]0;owned-{i}\x07 title \x1b[2J\x1b[31mred\x1b[0m \u{9b}1m csi \u{202e}reversed\r data TLB error interrupt"
        )
        .into_bytes()
    };
    let lines: Vec<Vec<u8>> = (0..40).map(evil).collect();
    let name = temp_file("pretty", "evil\x1b[31m.log", &joined(&lines));
    let out = score(&["--pretty", "--threshold", "0"], &[&name], b"");
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("ALERT "), "{text}");
    assert!(
        !text
            .chars()
            .any(|c| (c.is_control() && c != '\n') || c == '\u{202e}'),
        "{text:?}"
    );
    assert!(text.contains("\\x1b]0;owned-"));
    assert!(text.contains("\\x07 title \\x1b[2J\\x1b[31mred"));
    assert!(text.contains("\\u{9b}1m csi \\u{202e}reversed\\x0d data"));
    assert!(text.contains("evil\\x1b[31m.log"));
    // JSON keeps the exact text.
    let out = score(&["--threshold", "0"], &[&name], b"");
    let rows = rows(&out);
    for t in of_kind(&rows, "alert")[0]["top"].as_array().unwrap() {
        let line = u(&t["line"]) as usize;
        assert_eq!(t["text"].as_str().unwrap().as_bytes(), evil(line - 1));
        assert_eq!(t["lossy"], false);
    }
}

#[test]
fn inspect_reports_size_and_memory() {
    let out = Command::new(NEEDLE)
        .args(["inspect", MODEL, "--json"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["file_bytes"], std::fs::metadata(MODEL).unwrap().len());
    assert!(v["file_bytes"].as_u64().unwrap() <= 512 * 1024);
    assert!(v["bag_memory_bytes"].as_u64().unwrap() <= 64 * 1024);
    assert_eq!(v["config"]["window"], 32);
    // 16 shared rows (window 32, stride 16) of four 64-value parts.
    assert_eq!(v["stream_kept_rows_bytes"], 16 * 4 * 64 * 4);
}

#[test]
fn corrupted_model_is_a_clear_error() {
    let mut bytes = std::fs::read(MODEL).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 1;
    let path = temp_file("corrupt", "corrupt.needle", &bytes);
    let out = Command::new(NEEDLE)
        .args(["score", "--model"])
        .arg(&path)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("model file is corrupted: checksum"), "{err}");
    assert!(!err.contains("panicked"));
}

/// Familiarity: a foreign log (ZooKeeper) gets one warning on stderr and
/// its windows are counted as unfamiliar, without suppressing alarms.
#[test]
fn a_foreign_log_is_warned_about_once_and_counted() {
    let zk = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../data/unlabeled/Zookeeper_2k.log");
    let out = score(&["--windows"], &[&zk], b"");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        err.matches("look unlike the logs this model was trained on")
            .count(),
        1,
        "{err}"
    );
    let rows = rows(&out);
    let summary = of_kind(&rows, "summary")[0];
    let bags = of_kind(&rows, "bag");
    assert_eq!(u(&summary["unfamiliar"]), u(&summary["bags"]), "{summary}");
    assert!(bags.iter().all(|b| 2 * u(&b["unfamiliar_lines"]) >= 16));
}

/// Held-out logs of the system the model was trained on stay quiet.
#[test]
fn held_out_logs_of_the_training_system_are_familiar() {
    let (rows, _) = bgl_8k_windows();
    let summary = of_kind(rows, "summary")[0];
    assert_eq!(u(&summary["unfamiliar"]), 0, "{summary}");
    assert!(of_kind(rows, "bag")
        .iter()
        .all(|b| u(&b["unfamiliar_lines"]) <= 1));
    let file = bgl_8k_file("familiar");
    let out = score(&["--summary-only"], &[&file], b"");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("look unlike"), "{err}");
}
