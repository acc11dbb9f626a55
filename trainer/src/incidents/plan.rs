//! Which windows train as what, and which validation items choose the
//! epoch and the threshold: on the line-labelled route each window's own
//! label; on the incidents route what the witness learner (the teacher,
//! [`crate::line_learner`]) says of each incident's windows. No line label
//! is read.

use std::collections::HashSet;

use crate::bags::{BagSet, Role};
use crate::incidents::LineLabel;
use crate::line_learner::{line_kind, LineKind, LineLearner};

/// One window LogMILP trains on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrainingItem {
    /// Index into the set's bags.
    pub bag: usize,
    /// Trained as anomalous.
    pub label: bool,
}

impl TrainingItem {
    fn plain(bag: usize, label: bool) -> Self {
        Self { bag, label }
    }
}

/// The windows of a set that train.
pub type TrainingItems = Vec<TrainingItem>;

/// Kinds of line seen in a normal window of `set`.
fn known_normal(set: &BagSet) -> HashSet<LineKind> {
    set.bags
        .iter()
        .filter(|b| b.role == Role::Normal)
        .flat_map(|b| set.lines[b.lines.clone()].iter())
        .map(|l| line_kind(&l.tokens))
        .collect()
}

/// The incident kinds that make a window of incident `id` a positive: the
/// teacher's witness kinds, and in each incident of `set` its own
/// highest-scoring line (so an incident whose witness kind the training
/// incidents never chose still has one).
fn witness_kinds(set: &BagSet, teacher: &LineLearner) -> HashSet<LineKind> {
    let mut kinds = teacher.witnesses.clone();
    let scores = teacher.model.score_lines(set);
    let mut top: Vec<(usize, f64, usize)> = Vec::new();
    for (i, l) in set.lines.iter().enumerate() {
        if let Some(LineLabel::Incident(id)) = l.coarse {
            match top.iter_mut().find(|t| t.0 == id) {
                Some(t) if scores[i] > t.1 => *t = (id, scores[i], i),
                Some(_) => {}
                None => top.push((id, scores[i], i)),
            }
        }
    }
    kinds.extend(top.iter().map(|t| line_kind(&set.lines[t.2].tokens)));
    kinds
}

/// How far the teacher is trusted past its witness kinds: its own
/// threshold, chosen on validation as the peer chooses it. A line of an
/// incident scoring at least `threshold` makes its window a positive; a
/// window whose every line scores below it is a negative. One threshold for
/// both, the one the teacher would alert at, so there is no second
/// constant to tune (docs/model.md, "Incidents").
#[derive(Debug, Clone, Copy)]
pub struct Trust {
    /// The teacher's window threshold (a line score).
    pub threshold: f64,
}

impl Trust {
    /// From the teacher's own threshold.
    pub fn from_threshold(threshold: f64) -> Self {
        Self { threshold }
    }
}

/// Incident windows labelled by the teacher: a window holding a line of
/// its incident of a witness kind, or one the teacher scores at least
/// `trust.threshold`, is a positive; one whose lines are all of kinds seen
/// in normal windows, or all score below the threshold, is a negative; the
/// rest (a high line that is not the incident's own) are left out.
fn incident_items(
    set: &BagSet,
    teacher: &LineLearner,
    normal: &HashSet<LineKind>,
    trust: Trust,
) -> TrainingItems {
    let kinds = witness_kinds(set, teacher);
    let scores = teacher.model.score_lines(set);
    let mut items = Vec::new();
    for (i, b) in set.bags.iter().enumerate() {
        let Role::Incident(id) = b.role else { continue };
        let best = scores[b.lines.clone()].iter().copied().fold(0.0, f64::max);
        let blamed = b.lines.clone().any(|l| {
            let line = &set.lines[l];
            line.coarse == Some(LineLabel::Incident(id))
                && (scores[l] >= trust.threshold || kinds.contains(&line_kind(&line.tokens)))
        });
        if blamed {
            items.push(TrainingItem::plain(i, true));
        } else if best < trust.threshold
            || set.lines[b.lines.clone()]
                .iter()
                .all(|l| normal.contains(&line_kind(&l.tokens)))
        {
            items.push(TrainingItem::plain(i, false));
        }
    }
    items
}

/// The teacher's threshold: best F1 of its window scores (best line) on
/// `val`'s incidents' best windows against its normal windows.
pub fn teacher_threshold(val: &BagSet, teacher: &LineLearner) -> f64 {
    let lines = teacher.model.score_lines(val);
    let windows: Vec<f64> = val
        .bags
        .iter()
        .map(|b| lines[b.lines.clone()].iter().copied().fold(0.0, f64::max))
        .collect();
    let (scores, labels) = Selection::of_incidents(val).items(&windows);
    crate::metrics::best_f1_threshold(&scores, &labels).unwrap_or(0.5)
}

/// The windows LogMILP trains on. Line-labelled route: every labelled
/// window. Incidents route: every normal window a negative, and the
/// incidents' windows as [`incident_items`] labels them with the teacher.
pub fn training_items(set: &BagSet, teacher: Option<(&LineLearner, Trust)>) -> TrainingItems {
    let mut items: TrainingItems = set
        .bags
        .iter()
        .enumerate()
        .filter_map(|(i, b)| match b.role {
            Role::Window(y) => Some(TrainingItem::plain(i, y)),
            Role::Normal => Some(TrainingItem::plain(i, false)),
            _ => None,
        })
        .collect();
    if let Some((teacher, trust)) = teacher {
        items.extend(incident_items(set, teacher, &known_normal(set), trust));
    }
    items
}

/// Validation items that choose the epoch and the threshold: groups of
/// windows, each scored by its best window, with a label.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    groups: Vec<(Vec<usize>, bool)>,
    rule: &'static str,
}

impl Selection {
    /// Line-labelled route: each labelled window. Incidents route: each
    /// normal window a negative; the windows of each incident that hold a
    /// witness line (the teacher's, with the training set's normal kinds)
    /// positives one by one, so the threshold is set on windows like those
    /// the device will flag, not on incidents' single best windows; an
    /// incident with no such window counts as one item scored by its best
    /// window.
    pub fn new(val: &BagSet, train: &BagSet, teacher: Option<(&LineLearner, Trust)>) -> Self {
        let Some((teacher, trust)) = teacher else {
            return Self::of_incidents(val);
        };
        let mut groups = Self::windows(val);
        let mut normal = known_normal(train);
        normal.extend(known_normal(val));
        let items = incident_items(val, teacher, &normal, trust);
        for group in val.incident_groups() {
            let positives: Vec<usize> = items
                .iter()
                .filter(|t| t.label && group.contains(&t.bag))
                .map(|t| t.bag)
                .collect();
            if positives.is_empty() {
                groups.push((group, true));
            } else {
                groups.extend(positives.into_iter().map(|i| (vec![i], true)));
            }
        }
        Self {
            groups,
            rule: "best F1 on validation: windows of validation incidents that hold a witness line (the witness learner's) against normal windows",
        }
    }

    /// Each labelled or normal validation window, and each validation
    /// incident scored by its best window.
    pub fn of_incidents(val: &BagSet) -> Self {
        let mut groups = Self::windows(val);
        let incidents = val.incident_groups();
        let rule = if incidents.is_empty() {
            "best F1 on the labelled validation windows"
        } else {
            "best F1 on validation: each incident's best window against normal windows"
        };
        groups.extend(incidents.into_iter().map(|g| (g, true)));
        Self { groups, rule }
    }

    /// The rule, in words (report.json's `threshold_rule`).
    pub fn rule(&self) -> &'static str {
        self.rule
    }

    fn windows(val: &BagSet) -> Vec<(Vec<usize>, bool)> {
        val.bags
            .iter()
            .enumerate()
            .filter_map(|(i, b)| match b.role {
                Role::Window(y) => Some((vec![i], y)),
                Role::Normal => Some((vec![i], false)),
                _ => None,
            })
            .collect()
    }

    /// Scores and labels of the items, from every validation window's probability.
    pub fn items(&self, probs: &[f64]) -> (Vec<f64>, Vec<bool>) {
        self.groups
            .iter()
            .map(|(g, y)| {
                let best = g
                    .iter()
                    .filter_map(|&i| probs.get(i).copied())
                    .fold(f64::NEG_INFINITY, f64::max);
                (best, *y)
            })
            .unzip()
    }

    /// What each of `n` validation windows is to the selection:
    /// `"positive"` or `"negative"` (an item of its own), `"incident"` (one
    /// of the windows of an incident scored by its best), or `null`
    /// (not used): validation.jsonl's `selection` column.
    pub fn per_window(&self, n: usize) -> Vec<Option<&'static str>> {
        let mut out = vec![None; n];
        for (g, y) in &self.groups {
            let what = match (g.len(), y) {
                (1, true) => "positive",
                (1, false) => "negative",
                _ => "incident",
            };
            for &i in g {
                if let Some(slot) = out.get_mut(i) {
                    *slot = Some(what);
                }
            }
        }
        out
    }

    /// Whether there is anything to choose on.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bags::{Bag, LineFeatures};

    /// `incidents` incidents of 20 lines, each an alert line (tokens 5, 9)
    /// in its first half and normal lines elsewhere, as two 10-line
    /// windows each; then 400 normal lines as 10-line normal windows.
    fn set(incidents: usize) -> BagSet {
        let mut set = BagSet::default();
        let push = |set: &mut BagSet, tokens: Vec<u16>, coarse: LineLabel| {
            let line_no = set.lines.len() + 1;
            set.lines.push(LineFeatures {
                tokens,
                label: None,
                file: 0,
                line_no,
                timestamp: None,
                coarse: Some(coarse),
            });
        };
        for id in 0..incidents {
            for i in 0..20u16 {
                let tokens = if i == 3 {
                    vec![5, 9]
                } else {
                    vec![1 + i % 4, 2]
                };
                push(&mut set, tokens, LineLabel::Incident(id));
            }
            let start = id * 20;
            for half in [start..start + 10, start + 10..start + 20] {
                set.bags.push(Bag {
                    lines: half,
                    label: None,
                    role: Role::Incident(id),
                });
            }
        }
        let normal_from = set.lines.len();
        for i in 0..400u16 {
            push(&mut set, vec![1 + i % 4, 2], LineLabel::Normal);
        }
        for start in (normal_from..set.lines.len()).step_by(10) {
            set.bags.push(Bag {
                lines: start..start + 10,
                label: None,
                role: Role::Normal,
            });
        }
        set
    }

    #[test]
    fn teacher_makes_the_alert_window_positive_and_the_normal_half_negative() {
        let set = set(8);
        let teacher = LineLearner::fit(&set, 16, 3).unwrap();
        let trust = Trust::from_threshold(0.5);
        let items = training_items(&set, Some((&teacher, trust)));
        for id in 0..8 {
            let (alert, rest) = (2 * id, 2 * id + 1);
            assert!(
                items.contains(&TrainingItem::plain(alert, true)),
                "incident {id}"
            );
            assert!(
                items.contains(&TrainingItem::plain(rest, false)),
                "incident {id}"
            );
        }
        let normal = set.bags.iter().filter(|b| b.role == Role::Normal).count();
        assert_eq!(items.len(), 16 + normal);
        assert!(items[..normal].iter().all(|t| !t.label));
    }

    #[test]
    fn without_a_teacher_no_incident_window_trains() {
        let set = set(4);
        let items = training_items(&set, None);
        assert!(items
            .iter()
            .all(|t| set.bags[t.bag].role == Role::Normal && !t.label));
    }

    #[test]
    fn selection_scores_each_teacher_positive_on_its_own() {
        let set = set(4);
        let teacher = LineLearner::fit(&set, 16, 3).unwrap();
        let sel = Selection::new(&set, &set, Some((&teacher, Trust::from_threshold(0.5))));
        let marks = sel.per_window(set.bags.len());
        assert_eq!(marks[0], Some("positive"));
        assert_eq!(marks[1], None);
        assert_eq!(marks[8], Some("negative"));
        assert!(sel.rule().contains("witness"));
    }
}
