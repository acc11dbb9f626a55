//! `report.html` beside report.json: the test windows' precision-recall
//! curve (inline SVG) with the operating point at the threshold, and the
//! metrics. Same page machinery and CSS as `needle report`
//! ([`needle_host::html`]); self-contained, no network.

use std::fmt::Write as _;
use std::path::Path;

use needle_host::html::{self, Chart, PROBABILITY_TICKS};

use crate::experiment::Report;

/// Points of the PR curve at most (one per distinct score otherwise).
const CURVE_POINTS: usize = 2000;

/// (recall, precision) at every distinct score, highest score first, and
/// the (recall, precision) at `threshold`. `None` without a positive.
pub fn pr_curve(
    scores: &[f64],
    labels: &[bool],
    threshold: f64,
) -> Option<(Vec<(f64, f64)>, (f64, f64))> {
    let positives = labels.iter().filter(|&&l| l).count();
    if positives == 0 || scores.len() != labels.len() {
        return None;
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let (mut tp, mut fp) = (0usize, 0usize);
    let mut curve = Vec::new();
    let mut at = (0.0, 1.0);
    let point = |tp: usize, fp: usize| {
        (
            tp as f64 / positives as f64,
            if tp + fp == 0 {
                1.0
            } else {
                tp as f64 / (tp + fp) as f64
            },
        )
    };
    for (k, &i) in order.iter().enumerate() {
        if labels[i] {
            tp += 1;
        } else {
            fp += 1;
        }
        // A point after the last of a run of equal scores.
        if order.get(k + 1).is_none_or(|&j| scores[j] != scores[i]) {
            curve.push(point(tp, fp));
            if scores[i] >= threshold {
                at = point(tp, fp);
            }
        }
    }
    if curve.len() > CURVE_POINTS {
        let step = curve.len().div_ceil(CURVE_POINTS);
        let last = *curve.last().expect("not empty");
        curve = curve.into_iter().step_by(step).collect();
        curve.push(last);
    }
    Some((curve, at))
}

fn f3(v: f64) -> String {
    format!("{v:.3}")
}

/// The page for `report`, with the test windows' `scores` and, when the
/// test data has line labels, their `labels`.
pub fn render(report: &Report, scores: &[f64], labels: Option<&[bool]>, threshold: f64) -> String {
    let nonce = html::nonce();
    let mut out = String::with_capacity(64 * 1024);
    let d = &report.data;
    let title = format!("needle-train report: {}", d.test_files.join(", "));
    html::page_start(&mut out, &title, &nonce);
    let _ = writeln!(
        out,
        "<h1>{}</h1>\n<p class=\"muted\">labels: {} &middot; best epoch {} of {} &middot; {} \
         &middot; {:.1} s</p>",
        html::text(&title),
        html::text(&report.labels),
        report.training.best_epoch,
        report.training.history.len(),
        html::text(&report.training.backend),
        report.training.seconds
    );

    out.push_str("<h2 id=\"pr\">Precision-recall on the test windows</h2>\n");
    match labels.and_then(|l| pr_curve(scores, l, threshold)) {
        Some((curve, at)) => {
            let chart = Chart {
                width: 620.0,
                height: 420.0,
                x_min: 0.0,
                x_max: 1.0,
                y_min: 0.0,
                y_max: 1.0,
            };
            let ticks: Vec<(f64, String)> = PROBABILITY_TICKS
                .iter()
                .map(|&t| (t, t.to_string()))
                .collect();
            chart.begin(
                &mut out,
                "precision-recall curve of the test windows",
                "recall",
                "precision",
                &ticks,
                &PROBABILITY_TICKS,
            );
            let mut points = vec![(0.0, curve.first().map_or(1.0, |p| p.1))];
            points.extend(curve);
            chart.polyline(&mut out, &points, "series");
            chart.dot(
                &mut out,
                at.0,
                at.1,
                5.0,
                "operating",
                &format!(
                    "threshold {threshold:.3}: recall {:.3}, precision {:.3}",
                    at.0, at.1
                ),
            );
            chart.end(&mut out);
            let _ = writeln!(
                out,
                "<p class=\"legend muted\"><span><i style=\"background:#1f5fbf\"></i>PR curve \
                 ({} test windows, {} anomalous)</span><span><i style=\"background:#c0392b\"></i>\
                 at the threshold {threshold:.3} (chosen on validation): recall {:.3}, precision {:.3}</span></p>",
                scores.len(),
                labels.map_or(0, |l| l.iter().filter(|&&x| x).count()),
                at.0,
                at.1
            );
        }
        None => out.push_str(
            "<p>The test data has no line labels (or no anomalous window): no curve. \
             Incident figures are below.</p>\n",
        ),
    }

    out.push_str("<h2 id=\"metrics\">Metrics</h2>\n");
    let mut rows: Vec<(&str, String)> = vec![("threshold", f3(threshold))];
    if let Some(b) = &report.bag {
        rows.push(("AUC-PR", f3(b.auc_pr)));
        rows.push(("AUC-ROC", f3(b.auc_roc)));
        rows.push(("precision", f3(b.precision)));
        rows.push(("recall", f3(b.recall)));
        rows.push(("F1", f3(b.f1)));
    }
    if let Some(i) = &report.instance {
        rows.push(("Loc@1", f3(i.loc_at_1)));
        rows.push(("Loc@3", f3(i.loc_at_3)));
        if let Some(sr) = i.sr {
            rows.push((
                "success rate",
                format!("{sr:.3} (drop &ge; {})", i.delta_sr),
            ));
        }
    }
    if let Some(i) = &report.incident {
        rows.push((
            "incidents detected",
            format!(
                "{} of {} ({:.3})",
                i.detected, i.incidents, i.detection_rate
            ),
        ));
        rows.push((
            "false alarms",
            format!(
                "{} of {} normal windows ({:.2} per 1,000){}",
                i.false_alarms,
                i.normal_windows,
                i.false_alarms_per_1000_windows,
                i.false_alarms_per_day
                    .map_or(String::new(), |d| format!(", {d:.2} per day"))
            ),
        ));
    }
    rows.push(("threshold rule", html::text(&report.threshold_rule)));
    if let Some(b) = &report.bag {
        rows.push((
            "best F1 at any test threshold",
            format!("{:.3} (an oracle, for comparison)", b.best_f1),
        ));
    }
    // The peers a user would try, on the same windows (trained on the
    // same labels in the same run).
    for peer in &report.baselines {
        let (Some(b), Some(i)) = (&peer.bag, &peer.instance) else {
            continue;
        };
        rows.push((
            if peer.name == "naive" {
                "peer: naive"
            } else {
                "peer: witnesses"
            },
            format!(
                "{}: AUC-PR {:.3}, F1 {:.3} (best {:.3}), Loc@3 {:.3}",
                html::text(&peer.method),
                b.auc_pr,
                b.f1,
                b.best_f1,
                i.loc_at_3
            ),
        ));
    }
    html::kv_table(&mut out, &rows);

    out.push_str("<h2 id=\"data\">Data</h2>\n");
    let mut rows: Vec<(&str, String)> = vec![
        (
            "train",
            format!(
                "{} lines, {} windows, {} positive &middot; {}",
                d.train_lines,
                d.train_bags,
                d.train_positive,
                html::text(&d.train_files.join(", "))
            ),
        ),
        (
            "validation",
            format!(
                "{} lines, {} windows, {} positive &middot; {}",
                d.val_lines,
                d.val_bags,
                d.val_positive,
                html::text(&d.val_files.join(", "))
            ),
        ),
        (
            "test",
            format!(
                "{} lines, {} windows, {} positive, {} incidents &middot; {}",
                d.test_lines,
                d.test_bags,
                d.test_positive,
                d.test_incidents,
                html::text(&d.test_files.join(", "))
            ),
        ),
    ];
    for f in &d.formats {
        rows.push(("file", html::text(f)));
    }
    for w in &d.warnings {
        rows.push(("warning", html::text(w)));
    }
    html::kv_table(&mut out, &rows);
    html::page_end(&mut out, &nonce, "");
    out
}

/// Writes [`render`] to `path`.
pub fn write(
    path: &Path,
    report: &Report,
    scores: &[f64],
    labels: Option<&[bool]>,
    threshold: f64,
) -> std::io::Result<()> {
    std::fs::write(path, render(report, scores, labels, threshold))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pr_curve_steps_through_the_ranking() {
        let scores = [0.9, 0.8, 0.7, 0.6];
        let labels = [true, false, true, false];
        let (curve, at) = pr_curve(&scores, &labels, 0.75).unwrap();
        assert_eq!(
            curve,
            vec![(0.5, 1.0), (0.5, 0.5), (1.0, 2.0 / 3.0), (1.0, 0.5)]
        );
        assert_eq!(at, (0.5, 0.5));
        assert!(pr_curve(&scores, &[false; 4], 0.5).is_none());
    }
}
