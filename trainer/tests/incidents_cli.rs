//! The incidents route through the real `needle-train` binary: bad incidents
//! files, incidents that cannot train, options that cannot train, and the
//! `incidents` subcommand's bad input. Each failure exits 1 (2 for a usage
//! error) with a message naming the file (and row or line), never a panic;
//! what can still be used trains with a warning.

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
        .join("incidents_cli")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

/// The first `n` lines of a bundled file, newline-terminated.
fn head(rel: &str, n: usize) -> String {
    std::fs::read_to_string(data(rel))
        .unwrap()
        .lines()
        .take(n)
        .map(|l| format!("{l}\n"))
        .collect()
}

/// Lines of the training and test logs.
const LINES: usize = 300;

/// `dir/train.log`: the first 300 raw BGL lines (no labels; epoch-second
/// timestamps); `dir/test.log`: the same lines with their BGL labels.
fn logs(dir: &Path) -> (PathBuf, PathBuf) {
    (
        write(dir, "train.log", &head("bgl-raw/BGL_2k.log", LINES)),
        write(dir, "test.log", &head("bgl/BGL_2k.log", LINES)),
    )
}

/// The raw BGL lines without their first four tokens (epoch seconds, date,
/// node, time): no timestamp any detector reads.
fn untimed_log(dir: &Path) -> PathBuf {
    let text: String = head("bgl-raw/BGL_2k.log", LINES)
        .lines()
        .map(|l| {
            let rest: Vec<&str> = l.split_whitespace().skip(4).collect();
            format!("{}\n", rest.join(" "))
        })
        .collect();
    write(dir, "untimed.log", &text)
}

/// Two incidents inside the training part (the first 80%, lines 1-240).
const GOOD_INCIDENTS: &str = "file,first_line,last_line\ntrain.log,100,175\ntrain.log,200,230\n";

/// `needle-train train --quiet --epochs 1 --train TRAIN --test TEST --out
/// DIR/out` plus `--incidents INC` when given, then `extra`.
fn train(
    dir: &Path,
    train: &Path,
    incidents: Option<&Path>,
    test: &Path,
    extra: &[&str],
) -> Output {
    let mut cmd = bin();
    cmd.args(["train", "--quiet", "--epochs", "1", "--train"])
        .arg(train)
        .arg("--test")
        .arg(test)
        .arg("--out")
        .arg(dir.join("out"));
    if let Some(inc) = incidents {
        cmd.arg("--incidents").arg(inc);
    }
    cmd.args(extra).output().unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
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

/// A command-line mistake: clap's exit code 2 and its message.
fn assert_usage_error(o: &Output, needle: &str) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(2), "stderr: {err}");
    assert!(!err.contains("panicked"), "panic: {err}");
    assert!(err.contains(needle), "stderr lacks {needle:?}: {err}");
}

/// Stopped before training: no checkpoint, no report.
fn assert_nothing_trained(dir: &Path) {
    let out = dir.join("out");
    assert!(!out.join("report.json").exists());
    assert!(!out.join("model.mpk").exists());
}

fn assert_trained(o: &Output, dir: &Path) -> serde_json::Value {
    let err = stderr(o);
    assert!(o.status.success(), "stderr: {err}");
    assert!(!err.contains("panicked"), "panic: {err}");
    let report = std::fs::read_to_string(dir.join("out/report.json")).unwrap();
    serde_json::from_str(&report).unwrap()
}

/// The warnings in report.json.
fn report_warnings(report: &serde_json::Value) -> Vec<String> {
    report["data"]["warnings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn missing_incidents_file_is_named() {
    let dir = scratch("missing_incidents");
    let (train_log, test_log) = logs(&dir);
    let o = train(
        &dir,
        &train_log,
        Some(&dir.join("nope.csv")),
        &test_log,
        &[],
    );
    assert_clean_failure(&o, "nope.csv: No such file");
    // The OS error once, not again as the error's source.
    assert_eq!(
        stderr(&o).matches("No such file").count(),
        1,
        "{}",
        stderr(&o)
    );
    assert_nothing_trained(&dir);
}

#[test]
fn empty_incidents_file_is_named_as_empty() {
    let dir = scratch("empty_incidents");
    let (train_log, test_log) = logs(&dir);
    for (name, text) in [
        ("empty.csv", ""),
        ("header_only.csv", "file,first_line,last_line\n"),
    ] {
        let inc = write(&dir, name, text);
        let o = train(&dir, &train_log, Some(&inc), &test_log, &[]);
        assert_clean_failure(&o, &format!("{name}: no incidents"));
        assert_nothing_trained(&dir);
    }
}

#[test]
fn malformed_incident_row_names_file_and_row() {
    let dir = scratch("malformed_row");
    let (train_log, test_log) = logs(&dir);
    let inc = write(
        &dir,
        "bad.csv",
        "file,first_line,last_line\ntrain.log,100,175\ntrain.log,ten,230\n",
    );
    let o = train(&dir, &train_log, Some(&inc), &test_log, &[]);
    assert_clean_failure(&o, "bad.csv:3: first_line \"ten\" is not a line number");
    assert_nothing_trained(&dir);
}

#[test]
fn incident_ending_before_it_starts_names_file_and_row() {
    let dir = scratch("end_before_start");
    let (train_log, test_log) = logs(&dir);
    let times = write(
        &dir,
        "times.csv",
        "start,end\n2005-06-03T23:00:00Z,2005-06-03T22:00:00Z\n",
    );
    let o = train(&dir, &train_log, Some(&times), &test_log, &[]);
    assert_clean_failure(
        &o,
        "times.csv:2: end \"2005-06-03T22:00:00Z\" is before start \"2005-06-03T23:00:00Z\"",
    );
    let lines = write(
        &dir,
        "lines.csv",
        "file,first_line,last_line\ntrain.log,100,175\ntrain.log,230,200\n",
    );
    let o = train(&dir, &train_log, Some(&lines), &test_log, &[]);
    assert_clean_failure(&o, "lines.csv:3: last_line 200 is before first_line 230");
    assert_nothing_trained(&dir);
}

/// Warnings of a run go to the summary on stdout ("  warning: ...") and to
/// report.json's `data.warnings`.
#[test]
fn overlapping_incidents_are_merged_with_a_warning_and_training_proceeds() {
    let dir = scratch("overlap");
    let (train_log, test_log) = logs(&dir);
    let inc = write(
        &dir,
        "overlap.csv",
        "file,first_line,last_line\ntrain.log,100,175\ntrain.log,150,190\ntrain.log,200,230\n",
    );
    let o = train(&dir, &train_log, Some(&inc), &test_log, &[]);
    let report = assert_trained(&o, &dir);
    let warning =
        "overlap.csv: rows 2 and 3 overlap in train.log; they are merged into one incident";
    let summary = stdout(&o);
    assert!(
        summary
            .lines()
            .any(|l| l.trim_start().starts_with("warning: ") && l.ends_with(warning)),
        "{summary}"
    );
    assert!(
        report_warnings(&report).iter().any(|w| w.contains(warning)),
        "{report:#}"
    );
    // Rows 2 and 3 are one incident; row 4 is another.
    assert_eq!(report["data"]["train_incidents"], 2, "{report:#}");
    // The warning was also on stderr, before training.
    assert!(stderr(&o).contains(warning), "{}", stderr(&o));
}

/// validation.jsonl: one row per validation window with its role and score,
/// the rows the threshold is chosen from.
#[test]
fn validation_windows_are_written_with_their_roles() {
    let dir = scratch("validation_rows");
    let (train_log, test_log) = logs(&dir);
    let inc = write(
        &dir,
        "inc.csv",
        "file,first_line,last_line\ntrain.log,60,120\ntrain.log,290,300\n",
    );
    let o = train(&dir, &train_log, Some(&inc), &test_log, &[]);
    let report = assert_trained(&o, &dir);
    let text = std::fs::read_to_string(dir.join("out/validation.jsonl")).unwrap();
    let rows: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(
        rows.len() as u64,
        report["data"]["val_bags"].as_u64().unwrap()
    );
    assert!(rows.iter().any(|r| r["role"] == "Normal"), "{text}");
    assert!(
        rows.iter().any(|r| r["role"]["Incident"].is_u64()),
        "{text}"
    );
    assert!(rows
        .iter()
        .all(|r| (0.0..=1.0).contains(&r["score"].as_f64().unwrap())));
}

#[test]
fn incident_outside_the_logs_time_span_is_warned_and_ignored() {
    let dir = scratch("outside_span");
    let (train_log, test_log) = logs(&dir);
    let inc = write(
        &dir,
        "outside.csv",
        "start,end,file,first_line,last_line\n\
         ,,train.log,100,175\n\
         2001-01-01T00:00:00Z,2001-01-01T01:00:00Z,,,\n",
    );
    let o = train(&dir, &train_log, Some(&inc), &test_log, &[]);
    let report = assert_trained(&o, &dir);
    let warning = "outside.csv:3: the incident 2001-01-01T00:00:00Z to 2001-01-01T01:00:00Z covers no line of train.log (their times span 2005-06-03T22:42:50Z to ";
    assert!(stdout(&o).contains(warning), "{}", stdout(&o));
    assert!(
        report_warnings(&report)
            .iter()
            .any(|w| w.contains(warning) && w.ends_with("; ignored")),
        "{report:#}"
    );
    assert_eq!(report["data"]["train_incidents"], 1, "{report:#}");
}

#[test]
fn incidents_covering_every_line_leave_no_normal_window() {
    let dir = scratch("no_normal");
    let (train_log, test_log) = logs(&dir);
    let inc = write(
        &dir,
        "all.csv",
        "file,first_line,last_line\ntrain.log,1,300\n",
    );
    let o = train(&dir, &train_log, Some(&inc), &test_log, &[]);
    assert_clean_failure(&o, "no normal window is left");
    assert_nothing_trained(&dir);
}

#[test]
fn no_incident_inside_the_training_lines_is_an_error() {
    let dir = scratch("none_in_training");
    let (train_log, test_log) = logs(&dir);
    // Lines 241-300 are validation (the last 20%): nothing to train on.
    let inc = write(
        &dir,
        "late.csv",
        "file,first_line,last_line\ntrain.log,260,280\n",
    );
    let o = train(&dir, &train_log, Some(&inc), &test_log, &[]);
    assert_clean_failure(&o, "no incident lies inside the training lines (");
    assert!(stderr(&o).contains("train.log"), "{}", stderr(&o));
    assert_nothing_trained(&dir);
}

#[test]
fn time_form_incidents_on_logs_without_timestamps_are_an_error() {
    let dir = scratch("time_form_untimed");
    let (_, test_log) = logs(&dir);
    let untimed = untimed_log(&dir);
    let inc = write(
        &dir,
        "times.csv",
        "start,end\n2005-06-03T22:00:00Z,2005-06-03T23:00:00Z\n",
    );
    let o = train(&dir, &untimed, Some(&inc), &test_log, &[]);
    assert_clean_failure(
        &o,
        "untimed.log: no timestamps could be read in this log, so the time-form incident (",
    );
    assert!(
        stderr(&o).contains(
            "times.csv:2) cannot be placed on its lines; give the layout with --timestamp-format"
        ),
        "{}",
        stderr(&o)
    );
    assert_nothing_trained(&dir);
}

#[test]
fn level_and_number_lines_without_incidents_are_not_bgl_labels() {
    let dir = scratch("level_number");
    let (_, test_log) = logs(&dir);
    let text: String = (0..LINES)
        .map(|i| format!("INFO 1234 worker {i} started\n"))
        .collect();
    let levels = write(&dir, "levels.log", &text);
    let o = train(&dir, &levels, None, &test_log, &[]);
    assert_clean_failure(
        &o,
        "levels.log: has no labels (read as raw lines, no labels (line 1 starts 'INFO 1234', not a BGL label + epoch seconds))",
    );
    assert!(stderr(&o).contains("--incidents"), "{}", stderr(&o));
    assert_nothing_trained(&dir);
}

#[test]
fn learning_rate_that_cannot_train_is_refused_before_reading() {
    let dir = scratch("lr");
    let (train_log, test_log) = logs(&dir);
    let inc = write(&dir, "inc.csv", GOOD_INCIDENTS);
    for (lr, shown) in [("nan", "NaN"), ("0", "0"), ("inf", "inf")] {
        let o = train(&dir, &train_log, Some(&inc), &test_log, &["--lr", lr]);
        assert_clean_failure(
            &o,
            &format!("the learning rate {shown} is not a positive finite number (--lr)"),
        );
        // Refused before anything is read or created.
        assert!(!dir.join("out").exists());
    }
}

#[test]
fn window_above_the_runtime_maximum_is_refused_before_training() {
    let dir = scratch("window_300");
    let (train_log, test_log) = logs(&dir);
    let inc = write(&dir, "inc.csv", GOOD_INCIDENTS);
    let o = train(
        &dir,
        &train_log,
        Some(&inc),
        &test_log,
        &["--window", "300", "--stride", "16"],
    );
    assert_clean_failure(
        &o,
        "--window 300 is more than the device runtime scores (256 lines)",
    );
    // Refused before anything is read or created.
    assert!(!dir.join("out").exists());
}

#[test]
fn window_seconds_on_logs_without_timestamps_is_an_error_not_a_fallback() {
    let dir = scratch("window_seconds_untimed");
    let (_, test_log) = logs(&dir);
    let untimed = untimed_log(&dir);
    let inc = write(
        &dir,
        "inc.csv",
        "file,first_line,last_line\nuntimed.log,100,175\n",
    );
    let o = train(
        &dir,
        &untimed,
        Some(&inc),
        &test_log,
        &["--window-seconds", "60"],
    );
    assert_clean_failure(
        &o,
        "untimed.log: --window-seconds needs timestamps, and none could be read in this file",
    );
    assert_nothing_trained(&dir);
}

#[test]
fn bad_margin_is_a_usage_error_naming_the_value() {
    let dir = scratch("margin");
    let (train_log, test_log) = logs(&dir);
    let inc = write(&dir, "inc.csv", GOOD_INCIDENTS);
    let o = train(
        &dir,
        &train_log,
        Some(&inc),
        &test_log,
        &["--margin", "abc"],
    );
    assert_usage_error(&o, "invalid value 'abc' for '--margin <MARGIN>'");
    assert!(
        stderr(&o).contains("give a number of lines ('50' or '50lines') or a duration"),
        "{}",
        stderr(&o)
    );
    assert!(!dir.join("out").exists());
}

/// `needle-train incidents --from-labels INPUT ... --out DIR/inc.csv`.
fn simulate(dir: &Path, input: &Path, extra: &[&str]) -> Output {
    bin()
        .args(["incidents", "--from-labels"])
        .arg(input)
        .arg("--out")
        .arg(dir.join("inc.csv"))
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn incidents_subcommand_names_a_missing_input() {
    let dir = scratch("simulate_missing");
    let o = simulate(&dir, &dir.join("nope.log"), &["--lines", "100"]);
    assert_clean_failure(&o, "nope.log: No such file");
    assert_eq!(
        stderr(&o).matches("No such file").count(),
        1,
        "{}",
        stderr(&o)
    );
    assert!(!dir.join("inc.csv").exists());
}

#[test]
fn incidents_subcommand_needs_exactly_one_of_lines_and_seconds() {
    let dir = scratch("simulate_block");
    let (_, labelled) = logs(&dir);
    let o = simulate(&dir, &labelled, &[]);
    assert_usage_error(&o, "the following required arguments were not provided");
    assert!(
        stderr(&o).contains("--lines <N>|--seconds <S>"),
        "{}",
        stderr(&o)
    );
    let o = simulate(&dir, &labelled, &["--lines", "100", "--seconds", "3600"]);
    assert_usage_error(
        &o,
        "the argument '--lines <N>' cannot be used with '--seconds <S>'",
    );
    assert!(!dir.join("inc.csv").exists());
}

#[test]
fn incidents_subcommand_refuses_blocks_too_long_to_write_back() {
    let dir = scratch("simulate_huge_block");
    let (_, labelled) = logs(&dir);
    let o = simulate(&dir, &labelled, &["--seconds", "9223372036854775807"]);
    assert_clean_failure(&o, "--seconds 9223372036854775807 is longer than a century");
    assert!(!dir.join("inc.csv").exists());
}

#[test]
fn incidents_subcommand_refuses_a_file_without_line_labels() {
    let dir = scratch("simulate_unlabelled");
    let (raw, _) = logs(&dir);
    let o = simulate(&dir, &raw, &["--lines", "100"]);
    assert_clean_failure(
        &o,
        "train.log: has no labels (read as raw lines, no labels (line 1 starts '1117838570 2005.06.03', not a BGL label + epoch seconds)); the simulator needs line-labelled logs",
    );
    assert!(!dir.join("inc.csv").exists());
}
