//! How well a model's flags find the operator's incidents: incidents
//! detected, false alarms per 1,000 normal windows and per day.

use serde::Serialize;

use crate::bags::{BagSet, Role};

/// Detection of the operator's incidents on the test logs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct IncidentMetrics {
    /// Test incidents (after merging).
    pub incidents: usize,
    /// Incidents with at least one flagged window inside.
    pub detected: usize,
    /// `detected / incidents`.
    pub detection_rate: f64,
    /// Windows entirely outside test incidents and margins.
    pub normal_windows: usize,
    /// Of those, flagged.
    pub false_alarms: usize,
    /// False alarms per 1,000 normal windows.
    pub false_alarms_per_1000_windows: f64,
    /// False alarms per day of test log (by the lines' timestamps), when
    /// every test file's timestamps could be read.
    pub false_alarms_per_day: Option<f64>,
    /// Days of test log the rate is over.
    pub days: Option<f64>,
    /// The threshold used (chosen on validation).
    pub threshold: f64,
}

/// Incident detection on `set` (roles from the test incidents) at `threshold`.
pub fn incident_metrics(set: &BagSet, probs: &[f64], threshold: f64) -> Option<IncidentMetrics> {
    let groups = set.incident_groups();
    let normal: Vec<usize> = (0..set.bags.len())
        .filter(|&i| set.bags[i].role == Role::Normal)
        .collect();
    if groups.is_empty() && normal.is_empty() {
        return None;
    }
    let detected = groups
        .iter()
        .filter(|g| g.iter().any(|&i| probs[i] >= threshold))
        .count();
    let false_alarms = normal.iter().filter(|&&i| probs[i] >= threshold).count();
    // Days covered: per file, last minus first timestamp.
    let mut spans: Vec<(usize, i64, i64)> = Vec::new();
    let mut every_line_timed = true;
    for l in &set.lines {
        match l.timestamp {
            Some(t) => match spans.iter_mut().find(|(f, _, _)| *f == l.file) {
                Some(s) => {
                    s.1 = s.1.min(t);
                    s.2 = s.2.max(t);
                }
                None => spans.push((l.file, t, t)),
            },
            None => every_line_timed = false,
        }
    }
    let millis: i64 = spans.iter().map(|(_, a, b)| b - a).sum();
    let days = (every_line_timed && millis > 0).then(|| millis as f64 / 86_400_000.0);
    let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    Some(IncidentMetrics {
        incidents: groups.len(),
        detected,
        detection_rate: ratio(detected, groups.len()),
        normal_windows: normal.len(),
        false_alarms,
        false_alarms_per_1000_windows: 1000.0 * ratio(false_alarms, normal.len()),
        false_alarms_per_day: days.map(|d| false_alarms as f64 / d),
        days,
        threshold,
    })
}
