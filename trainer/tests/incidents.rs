//! The operator's incidents: reading them (CSV and JSON Lines, time and line
//! form), turning them into coarse line labels (source restriction, margins,
//! merges), every error naming the file and row, label-format detection, and
//! the operator simulator (`needle-train incidents`).

use std::path::{Path, PathBuf};
use std::process::Command;

use jiff::tz::TimeZone;
use needle_trainer::incidents::{
    label_lines, read_incidents, IncidentError, IncidentSpan, Incidents, LineLabel, Margin,
};
use needle_trainer::read::{read_log, LogFile, LogFormat};

fn data(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../data")
        .join(rel)
}

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("incidents")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// `n` raw lines one minute apart from 2024-01-01T00:00:00Z (line i at
/// minute i-1).
fn minute_log(dir: &Path, name: &str, n: usize) -> LogFile {
    let text: String = (0..n)
        .map(|i| format!("2024-01-01T00:{i:02}:00Z host app: message {i}\n"))
        .collect();
    let f = read_log(&write(dir, name, &text), LogFormat::Auto).unwrap();
    assert_eq!(f.format, LogFormat::Raw);
    assert!(f.timestamps.is_some(), "{name}: no timestamps");
    f
}

fn utc() -> TimeZone {
    TimeZone::UTC
}

fn incidents(dir: &Path, name: &str, text: &str) -> Incidents {
    read_incidents(&write(dir, name, text), &utc()).unwrap()
}

fn read_err(dir: &Path, name: &str, text: &str) -> String {
    let e = read_incidents(&write(dir, name, text), &utc()).unwrap_err();
    e.to_string()
}

/// 1-based line numbers with each label kind.
fn lines_with(labels: &[LineLabel], f: impl Fn(LineLabel) -> bool) -> Vec<usize> {
    labels
        .iter()
        .enumerate()
        .filter(|(_, l)| f(**l))
        .map(|(i, _)| i + 1)
        .collect()
}

fn incident_lines(labels: &[LineLabel]) -> Vec<usize> {
    lines_with(labels, |l| matches!(l, LineLabel::Incident(_)))
}

fn margin_lines(labels: &[LineLabel]) -> Vec<usize> {
    lines_with(labels, |l| l == LineLabel::Margin)
}

#[test]
fn csv_time_form_labels_the_lines_inside_the_window() {
    let dir = scratch("csv_time");
    let log = minute_log(&dir, "app.log", 10);
    let inc = incidents(
        &dir,
        "inc.csv",
        "start,end,note\n2024-01-01T00:03:00Z,2024-01-01 00:05:30,disk full\n",
    );
    assert_eq!(inc.items.len(), 1);
    assert_eq!(inc.items[0].row, 2);
    assert_eq!(inc.items[0].note.as_deref(), Some("disk full"));
    let labels = label_lines(std::slice::from_ref(&log), &inc, Margin::Lines(0)).unwrap();
    assert_eq!(labels.incidents, 1);
    assert_eq!(incident_lines(&labels.per_file[0]), vec![4, 5, 6]);
    assert!(labels.per_file[0][3] == LineLabel::Incident(0));
    assert!(margin_lines(&labels.per_file[0]).is_empty());
    assert!(labels.warnings.is_empty(), "{:?}", labels.warnings);
}

#[test]
fn jsonl_time_form_reads_iso_and_epoch_values() {
    let dir = scratch("jsonl_time");
    let log = minute_log(&dir, "app.log", 10);
    // 2024-01-01T00:03:00Z = 1704067380 s; the end as epoch milliseconds.
    let inc = incidents(
        &dir,
        "inc.jsonl",
        "\n{\"start\": 1704067380, \"end\": \"1704067530000\", \"note\": \"x\"}\n\n{\"START\": \"2024-01-01T00:08:00+00:00\", \"end\": \"2024-01-01T00:08:00Z\", \"source\": null}\n",
    );
    assert_eq!(inc.items.len(), 2);
    assert_eq!(inc.items[0].row, 2);
    assert_eq!(inc.items[1].row, 4);
    assert_eq!(
        inc.items[0].span,
        IncidentSpan::Time {
            start: 1_704_067_380_000,
            end: 1_704_067_530_000
        }
    );
    let labels = label_lines(std::slice::from_ref(&log), &inc, Margin::Lines(0)).unwrap();
    assert_eq!(labels.incidents, 2);
    assert_eq!(incident_lines(&labels.per_file[0]), vec![4, 5, 6, 9]);
    assert_eq!(labels.per_file[0][8], LineLabel::Incident(1));
}

#[test]
fn line_form_uses_the_file_line_numbers_blank_lines_included() {
    let dir = scratch("line_form");
    // Line 3 is blank: the reader skips it but keeps the numbering.
    let path = write(&dir, "svc.log", "a one\nb two\n\nd four\ne five\nf six\n");
    let log = read_log(&path, LogFormat::Auto).unwrap();
    assert_eq!(log.lines[2].line_no, 4);
    let inc = incidents(&dir, "inc.csv", "file,first_line,last_line\nsvc.log,3,4\n");
    let labels = label_lines(std::slice::from_ref(&log), &inc, Margin::Lines(0)).unwrap();
    // Parallel to `lines`: index 2 is file line 4.
    assert_eq!(
        labels.per_file[0],
        vec![
            LineLabel::Normal,
            LineLabel::Normal,
            LineLabel::Incident(0),
            LineLabel::Normal,
            LineLabel::Normal
        ]
    );
}

#[test]
fn source_restricts_an_incident_to_the_named_log() {
    let dir = scratch("source");
    let a = minute_log(&dir, "node-a.log", 6);
    let b = minute_log(&dir, "node-b.log", 6);
    let inc = incidents(
        &dir,
        "inc.csv",
        "start,end,source\n\
         2024-01-01T00:01:00Z,2024-01-01T00:01:00Z,node-b.log\n\
         2024-01-01T00:04:00Z,2024-01-01T00:04:00Z,node-a\n\
         2024-01-01T00:02:00Z,2024-01-01T00:02:00Z,node-c\n",
    );
    let labels = label_lines(&[a, b], &inc, Margin::Lines(0)).unwrap();
    // Row 3 names node-a by its stem.
    assert_eq!(incident_lines(&labels.per_file[0]), vec![5]);
    assert_eq!(incident_lines(&labels.per_file[1]), vec![2]);
    assert_eq!(labels.incidents, 2);
    assert!(
        labels
            .warnings
            .iter()
            .any(|w| w.contains("inc.csv:4") && w.contains("matches none of the logs; ignored")),
        "{:?}",
        labels.warnings
    );
}

#[test]
fn line_form_file_matches_by_name_or_path_suffix_only() {
    let dir = scratch("line_file");
    let log = minute_log(&dir, "app.log", 6);
    let inc = incidents(
        &dir,
        "inc.csv",
        "file,first_line,last_line\nline_file/app.log,2,2\nother.log,3,3\n",
    );
    let labels = label_lines(std::slice::from_ref(&log), &inc, Margin::Lines(0)).unwrap();
    assert_eq!(incident_lines(&labels.per_file[0]), vec![2]);
    assert!(
        labels
            .warnings
            .iter()
            .any(|w| w.contains("inc.csv:3") && w.contains("'other.log' matches none")),
        "{:?}",
        labels.warnings
    );
}

#[test]
fn margin_in_lines_keeps_neighbours_out_of_the_negatives() {
    let dir = scratch("margin_lines");
    let log = minute_log(&dir, "app.log", 12);
    let inc = incidents(&dir, "inc.csv", "file,first_line,last_line\napp.log,5,6\n");
    let labels = label_lines(std::slice::from_ref(&log), &inc, Margin::Lines(2)).unwrap();
    assert_eq!(incident_lines(&labels.per_file[0]), vec![5, 6]);
    assert_eq!(margin_lines(&labels.per_file[0]), vec![3, 4, 7, 8]);
    // At the file's edges the margin is cut, not an error.
    let inc = incidents(
        &dir,
        "edge.csv",
        "file,first_line,last_line\napp.log,1,1\napp.log,12,12\n",
    );
    let labels = label_lines(std::slice::from_ref(&log), &inc, Margin::Lines(3)).unwrap();
    assert_eq!(margin_lines(&labels.per_file[0]), vec![2, 3, 4, 9, 10, 11]);
}

#[test]
fn margin_in_time_uses_the_line_timestamps() {
    let dir = scratch("margin_time");
    let log = minute_log(&dir, "app.log", 12);
    let inc = incidents(
        &dir,
        "inc.csv",
        "start,end\n2024-01-01T00:05:00Z,2024-01-01T00:06:00Z\n",
    );
    // 90 s: one line (a minute away) each side, not two.
    let labels = label_lines(
        std::slice::from_ref(&log),
        &inc,
        "90s".parse::<Margin>().unwrap(),
    )
    .unwrap();
    assert_eq!(incident_lines(&labels.per_file[0]), vec![6, 7]);
    assert_eq!(margin_lines(&labels.per_file[0]), vec![5, 8]);
    // A line-form incident's times are its first and last line's.
    let inc = incidents(
        &dir,
        "lines.csv",
        "file,first_line,last_line\napp.log,6,6\n",
    );
    let labels = label_lines(std::slice::from_ref(&log), &inc, Margin::Millis(120_000)).unwrap();
    assert_eq!(margin_lines(&labels.per_file[0]), vec![4, 5, 7, 8]);
}

#[test]
fn margin_parses_lines_and_durations() {
    assert_eq!("50".parse::<Margin>().unwrap(), Margin::Lines(50));
    assert_eq!("50lines".parse::<Margin>().unwrap(), Margin::Lines(50));
    assert_eq!("0".parse::<Margin>().unwrap(), Margin::Lines(0));
    assert_eq!("90s".parse::<Margin>().unwrap(), Margin::Millis(90_000));
    assert_eq!("2m".parse::<Margin>().unwrap(), Margin::Millis(120_000));
    assert_eq!("1h".parse::<Margin>().unwrap(), Margin::Millis(3_600_000));
    let e = "fifty".parse::<Margin>().unwrap_err();
    assert!(e.contains("'50lines'") && e.contains("'90s'"), "{e}");
    assert!("-5s".parse::<Margin>().is_err());
}

#[test]
fn overlapping_incidents_are_merged_and_reported_adjacent_ones_stay_apart() {
    let dir = scratch("merge");
    let log = minute_log(&dir, "app.log", 20);
    let inc = incidents(
        &dir,
        "inc.csv",
        "file,first_line,last_line\n\
         app.log,2,4\n\
         app.log,4,6\n\
         app.log,7,8\n\
         app.log,15,16\n",
    );
    let labels = label_lines(std::slice::from_ref(&log), &inc, Margin::Lines(0)).unwrap();
    let l = &labels.per_file[0];
    // Rows 2 and 3 share line 4: one incident. Row 4 only touches row 3
    // (lines 6 and 7): two reports side by side stay two incidents.
    assert_eq!(labels.incidents, 3, "{l:?} {:?}", labels.warnings);
    assert!((1..6).all(|i| l[i] == LineLabel::Incident(0)), "{l:?}");
    assert_eq!(l[6], LineLabel::Incident(1));
    assert_eq!(l[7], LineLabel::Incident(1));
    assert_eq!(l[14], LineLabel::Incident(2));
    assert_eq!(l[15], LineLabel::Incident(2));
    let merged: Vec<&String> = labels
        .warnings
        .iter()
        .filter(|w| w.contains("merged into one incident"))
        .collect();
    assert_eq!(merged.len(), 1, "{:?}", labels.warnings);
    assert!(
        merged[0].contains("inc.csv") && merged[0].contains("rows 2 and 3"),
        "{merged:?}"
    );
}

#[test]
fn incident_outside_the_logs_is_a_warning_naming_the_row() {
    let dir = scratch("outside");
    let log = minute_log(&dir, "app.log", 5);
    let inc = incidents(
        &dir,
        "inc.csv",
        "start,end\n2023-06-01T00:00:00Z,2023-06-01T01:00:00Z\n",
    );
    let labels = label_lines(std::slice::from_ref(&log), &inc, Margin::Lines(0)).unwrap();
    assert_eq!(labels.incidents, 0);
    assert!(labels.per_file[0].iter().all(|l| *l == LineLabel::Normal));
    assert!(
        labels
            .warnings
            .iter()
            .any(|w| w.contains("inc.csv:2") && w.contains("covers no line")),
        "{:?}",
        labels.warnings
    );
    let inc = incidents(
        &dir,
        "lines.csv",
        "file,first_line,last_line\napp.log,40,50\napp.log,4,9\n",
    );
    let labels = label_lines(std::slice::from_ref(&log), &inc, Margin::Lines(0)).unwrap();
    assert!(
        labels
            .warnings
            .iter()
            .any(|w| w.contains("lines.csv:2") && w.contains("outside")),
        "{:?}",
        labels.warnings
    );
    assert!(
        labels
            .warnings
            .iter()
            .any(|w| w.contains("lines.csv:3") && w.contains("past the end")),
        "{:?}",
        labels.warnings
    );
    assert_eq!(incident_lines(&labels.per_file[0]), vec![4, 5]);
}

#[test]
fn time_form_on_logs_without_timestamps_names_the_log_and_timestamp_format() {
    let dir = scratch("no_times");
    let path = write(&dir, "plain.log", "hello world\nsomething else\nbye now\n");
    let log = read_log(&path, LogFormat::Auto).unwrap();
    assert!(log.timestamps.is_none());
    let inc = incidents(
        &dir,
        "inc.csv",
        "start,end\n2024-01-01T00:00:00Z,2024-01-01T01:00:00Z\n",
    );
    let e = label_lines(std::slice::from_ref(&log), &inc, Margin::Lines(0)).unwrap_err();
    assert!(matches!(e, IncidentError::NoTimestamps { .. }));
    let msg = e.to_string();
    assert!(
        msg.contains("plain.log")
            && msg.contains("--timestamp-format")
            && msg.contains("inc.csv:2"),
        "{msg}"
    );
    // Lines still work, but not a margin in time.
    let inc = incidents(
        &dir,
        "lines.csv",
        "file,first_line,last_line\nplain.log,2,2\n",
    );
    label_lines(std::slice::from_ref(&log), &inc, Margin::Lines(1)).unwrap();
    let e = label_lines(std::slice::from_ref(&log), &inc, Margin::Millis(1000)).unwrap_err();
    assert!(e.to_string().contains("margin in time"), "{e}");
}

#[test]
fn missing_incidents_file_is_named() {
    let dir = scratch("missing");
    let e = read_incidents(&dir.join("nope.csv"), &utc()).unwrap_err();
    assert!(e.to_string().contains("nope.csv"), "{e}");
}

#[test]
fn empty_incidents_file_is_an_error() {
    let dir = scratch("empty");
    for (name, text) in [
        ("empty.csv", ""),
        ("blank.csv", "\n  \n"),
        ("header.csv", "start,end\n"),
    ] {
        let e = read_err(&dir, name, text);
        assert!(e.contains(name) && e.contains("no incidents"), "{e}");
    }
}

#[test]
fn malformed_rows_name_path_and_row() {
    let dir = scratch("malformed");
    let cases: &[(&str, &str, &str)] = &[
        (
            "bad_time.csv",
            "start,end\n2024-01-01T00:00:00Z,2024-01-01T01:00:00Z\nyesterday,2024-01-01T01:00:00Z\n",
            "bad_time.csv:3: start \"yesterday\" is not a time",
        ),
        (
            "missing_end.csv",
            "start,end\n2024-01-01T00:00:00Z\n",
            "missing_end.csv:2: missing 'end'",
        ),
        (
            "missing_col.jsonl",
            "{\"start\": \"2024-01-01T00:00:00Z\", \"end\": \"2024-01-01T01:00:00Z\"}\n{\"file\": \"a.log\", \"first_line\": 3}\n",
            "missing_col.jsonl:2: missing 'last_line'",
        ),
        (
            "not_number.csv",
            "file,first_line,last_line\na.log,ten,12\n",
            "not_number.csv:2: first_line \"ten\" is not a line number",
        ),
        (
            "zero.csv",
            "file,first_line,last_line\na.log,0,12\n",
            "zero.csv:2: first_line is 0",
        ),
        (
            "backwards_time.csv",
            "start,end\n2024-01-01T02:00:00Z,2024-01-01T01:00:00Z\n",
            "backwards_time.csv:2: end",
        ),
        (
            "backwards_lines.csv",
            "# a comment\nfile,first_line,last_line\na.log,20,12\n",
            "backwards_lines.csv:3: last_line 12 is before first_line 20",
        ),
        (
            "no_header.csv",
            "2024-01-01T00:00:00Z,2024-01-01T01:00:00Z\n",
            "no_header.csv:1: the first row must be a header",
        ),
        (
            "typo.csv",
            "strat,end\n2024-01-01T00:00:00Z,2024-01-01T01:00:00Z\n",
            "typo.csv:1: unknown column(s) 'strat'",
        ),
        (
            "typo.jsonl",
            "{\"start\": \"2024-01-01T00:00:00Z\", \"end\": \"2024-01-01T01:00:00Z\", \"sorce\": \"x\"}\n",
            "typo.jsonl:1: unknown column(s) 'sorce'",
        ),
        (
            "half_header.csv",
            "start,file\n2024-01-01T00:00:00Z,a.log\n",
            "half_header.csv:1: the header names 'start' but not 'end'",
        ),
        (
            "mixed.csv",
            "start,end,file,first_line,last_line\n2024-01-01T00:00:00Z,2024-01-01T01:00:00Z,a.log,1,2\n",
            "mixed.csv:2: the row gives both",
        ),
        (
            "too_many.csv",
            "start,end\n2024-01-01T00:00:00Z,2024-01-01T01:00:00Z,extra\n",
            "too_many.csv:2: 3 fields",
        ),
        (
            "not_object.jsonl",
            "{\"start\": \"2024-01-01T00:00:00Z\", \"end\": \"2024-01-01T01:00:00Z\"}\n[1, 2]\n",
            "not_object.jsonl:2: expected one JSON object",
        ),
        (
            "broken.jsonl",
            "{\"start\": \"2024-01-01T00:00:00Z\", \"end\": \n",
            "broken.jsonl:1: not a JSON object",
        ),
    ];
    for (name, text, expected) in cases {
        let e = read_err(&dir, name, text);
        assert!(
            e.contains(expected),
            "{name}: expected {expected:?} in {e:?}"
        );
    }
}

#[test]
fn level_then_number_lines_are_raw_not_bgl() {
    let dir = scratch("detect_raw");
    let text: String = (0..50)
        .map(|i| format!("INFO 1234 something happened {i}\n"))
        .collect();
    let f = read_log(&write(&dir, "levels.log", &text), LogFormat::Auto).unwrap();
    assert_eq!(f.format, LogFormat::Raw);
    assert!(!f.is_labelled());
    assert!(f.lines.iter().all(|l| l.label.is_none()));
    assert_eq!(f.lines[0].text, b"INFO 1234 something happened 0");
    assert!(
        f.detected.contains("raw lines") && f.detected.contains("INFO 1234"),
        "{}",
        f.detected
    );
}

#[test]
fn bundled_bgl_and_hdfs_files_are_detected() {
    let bgl = read_log(&data("bgl/BGL_2k.log"), LogFormat::Auto).unwrap();
    assert_eq!(bgl.format, LogFormat::Bgl);
    assert!(
        bgl.detected
            .starts_with("BGL labels (1000 of 1000 sampled lines"),
        "{}",
        bgl.detected
    );
    let t = bgl.timestamps.as_ref().unwrap();
    assert_eq!(t.first, 1_117_838_570_000);
    assert_eq!(bgl.lines[0].timestamp, Some(1_117_838_570_000));
    let hdfs = read_log(&data("hdfs/HDFS_1500.labeled.log"), LogFormat::Auto).unwrap();
    assert_eq!(hdfs.format, LogFormat::Hdfs);
    assert!(
        hdfs.detected.starts_with("HDFS labels"),
        "{}",
        hdfs.detected
    );
    assert!(hdfs.timestamps.is_some());
    let raw = read_log(&data("unlabeled/Zookeeper_2k.log"), LogFormat::Auto).unwrap();
    assert_eq!(raw.format, LogFormat::Raw);
    assert!(raw.timestamps.is_some());
}

#[test]
fn bgl_file_starting_with_an_alert_run_is_still_bgl() {
    let dir = scratch("detect_alerts_first");
    let text = std::fs::read_to_string(data("bgl/BGL_2k.log")).unwrap();
    let (alerts, normal): (Vec<&str>, Vec<&str>) = text.lines().partition(|l| !l.starts_with("- "));
    assert!(alerts.len() > 100);
    let reordered = [alerts, normal].concat().join("\n");
    let f = read_log(
        &write(&dir, "alerts_first.log", &reordered),
        LogFormat::Auto,
    )
    .unwrap();
    assert_eq!(f.format, LogFormat::Bgl, "{}", f.detected);
    assert_eq!(f.lines[0].label, Some(true));
}

#[test]
fn explicit_bgl_stays_strict() {
    let dir = scratch("strict");
    let text = "- 1117838570 a\nINFO 1234 b\nnot-a-label 1117838571 c\n";
    let e = read_log(&write(&dir, "strict.log", text), LogFormat::Bgl).unwrap_err();
    assert!(
        e.to_string().contains("strict.log:3: expected a BGL label"),
        "{e}"
    );
}

fn needle_train() -> Command {
    Command::new(env!("CARGO_BIN_EXE_needle-train"))
}

fn run_ok(cmd: &mut Command) -> String {
    let o = cmd.output().unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "stderr: {err}");
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// The raw copy reads back as raw lines with the labelled reader's exact
/// texts and line numbers.
fn assert_raw_copy(labelled: &LogFile, raw_path: &Path) -> LogFile {
    let raw = read_log(raw_path, LogFormat::Auto).unwrap();
    assert_eq!(raw.format, LogFormat::Raw, "{}", raw.detected);
    assert_eq!(raw.lines.len(), labelled.lines.len());
    for (r, l) in raw.lines.iter().zip(&labelled.lines) {
        assert_eq!(r.line_no, l.line_no);
        assert_eq!(r.text, l.text, "line {}", l.line_no);
        assert_eq!(r.label, None);
    }
    raw
}

/// Every anomalous line is inside an incident, and every incident holds an
/// anomalous line.
fn assert_incidents_cover_exactly_the_anomalies(labelled: &LogFile, raw: &LogFile, csv: &Path) {
    let inc = read_incidents(csv, &utc()).unwrap();
    let labels = label_lines(std::slice::from_ref(raw), &inc, Margin::Lines(0)).unwrap();
    let labels = &labels.per_file[0];
    for (line, label) in labelled.lines.iter().zip(labels) {
        if line.label == Some(true) {
            assert!(
                matches!(label, LineLabel::Incident(_)),
                "anomalous line {} is outside every incident",
                line.line_no
            );
        }
    }
    for item in &inc.items {
        let one = Incidents {
            path: inc.path.clone(),
            items: vec![item.clone()],
            warnings: Vec::new(),
        };
        let own = label_lines(std::slice::from_ref(raw), &one, Margin::Lines(0)).unwrap();
        let holds_anomaly = own.per_file[0]
            .iter()
            .zip(&labelled.lines)
            .any(|(l, line)| matches!(l, LineLabel::Incident(_)) && line.label == Some(true));
        assert!(holds_anomaly, "row {} holds no anomalous line", item.row);
    }
}

#[test]
fn simulator_line_blocks_cover_every_anomaly_and_raw_copy_is_exact() {
    let dir = scratch("simulate_lines");
    let input = data("bgl/BGL_2k.log");
    let csv = dir.join("incidents.csv");
    let raw_dir = dir.join("raw");
    let stdout = run_ok(
        needle_train()
            .args(["incidents", "--lines", "100", "--from-labels"])
            .arg(&input)
            .arg("--out")
            .arg(&csv)
            .arg("--raw-out")
            .arg(&raw_dir),
    );
    assert!(
        stdout.contains("20 blocks of 100 lines") && stdout.contains("143 anomalous line(s)"),
        "{stdout}"
    );
    let text = std::fs::read_to_string(&csv).unwrap();
    assert!(
        text.starts_with("file,first_line,last_line,note\n"),
        "{text}"
    );
    assert!(text.contains("BGL_2k.log,1,100,block 1: "), "{text}");
    let labelled = read_log(&input, LogFormat::Auto).unwrap();
    let raw = assert_raw_copy(&labelled, &raw_dir.join("BGL_2k.log"));
    assert_incidents_cover_exactly_the_anomalies(&labelled, &raw, &csv);
}

#[test]
fn simulator_time_blocks_cover_every_anomaly() {
    let dir = scratch("simulate_seconds");
    let input = data("bgl/BGL_2k.log");
    let csv = dir.join("incidents.csv");
    let raw_dir = dir.join("raw");
    run_ok(
        needle_train()
            .args(["incidents", "--seconds", "3600", "--from-labels"])
            .arg(&input)
            .arg("--out")
            .arg(&csv)
            .arg("--raw-out")
            .arg(&raw_dir),
    );
    let text = std::fs::read_to_string(&csv).unwrap();
    assert!(text.starts_with("start,end,source,note\n"), "{text}");
    let second = text.lines().nth(1).unwrap();
    assert!(
        second.contains(":00:00Z,") && second.contains(":59:59.999Z,BGL_2k.log,block "),
        "{second}"
    );
    let labelled = read_log(&input, LogFormat::Auto).unwrap();
    let raw = assert_raw_copy(&labelled, &raw_dir.join("BGL_2k.log"));
    assert_incidents_cover_exactly_the_anomalies(&labelled, &raw, &csv);
}

#[test]
fn simulator_keeps_blank_lines_and_refuses_bad_input() {
    let dir = scratch("simulate_edges");
    let input = write(
        &dir,
        "gaps.log",
        "- 1117838570 a\n\n   \nKERNDTLB 1117838571 b\n- 1117838572 c\n",
    );
    let raw_dir = dir.join("raw");
    run_ok(
        needle_train()
            .args(["incidents", "--lines", "2", "--from-labels"])
            .arg(&input)
            .arg("--out")
            .arg(dir.join("inc.csv"))
            .arg("--raw-out")
            .arg(&raw_dir),
    );
    assert_eq!(
        std::fs::read_to_string(raw_dir.join("gaps.log")).unwrap(),
        "1117838570 a\n\n\n1117838571 b\n1117838572 c\n"
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("inc.csv")).unwrap(),
        "file,first_line,last_line,note\ngaps.log,3,4,block 2: 1 anomalous line(s)\n"
    );
    // Writing the raw copy over its own input.
    let o = needle_train()
        .args(["incidents", "--lines", "2", "--from-labels"])
        .arg(&input)
        .arg("--out")
        .arg(dir.join("inc2.csv"))
        .arg("--raw-out")
        .arg(&dir)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("refusing to write over it"),
        "{err}"
    );
    assert!(!dir.join("inc2.csv").exists());
    // Unlabelled input.
    let o = needle_train()
        .args(["incidents", "--lines", "2", "--from-labels"])
        .arg(data("unlabeled/Zookeeper_2k.log"))
        .arg("--out")
        .arg(dir.join("inc3.csv"))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        !o.status.success() && err.contains("Zookeeper_2k.log: has no labels"),
        "{err}"
    );
    // Neither --lines nor --seconds.
    let o = needle_train()
        .args(["incidents", "--from-labels"])
        .arg(&input)
        .arg("--out")
        .arg(dir.join("inc4.csv"))
        .output()
        .unwrap();
    assert!(!o.status.success());
}
