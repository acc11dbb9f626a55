//! Detection and localization metrics (paper section III-F), computed on
//! held-out bags only.

use serde::Serialize;

/// Bag-level detection metrics at a fixed threshold.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct BagMetrics {
    /// Area under the ROC curve (ties count one half).
    pub auc_roc: f64,
    /// Area under the precision-recall curve (average precision).
    pub auc_pr: f64,
    /// Precision at `threshold`.
    pub precision: f64,
    /// Recall at `threshold`.
    pub recall: f64,
    /// F1 at `threshold`.
    pub f1: f64,
    /// Scores at or above this are flagged anomalous (chosen on validation).
    pub threshold: f64,
    /// The best F1 at any threshold on these same scores: not a usable
    /// rule (it looks at the answers), but it shows how much of the gap to
    /// a perfect F1 is the threshold's and how much the ranking's.
    pub best_f1: f64,
}

/// AUC-ROC by the rank-sum (Mann–Whitney U) formula. 0.5 when one class is
/// missing.
pub fn auc_roc(scores: &[f64], labels: &[bool]) -> f64 {
    let pos = labels.iter().filter(|&&l| l).count();
    let neg = labels.len() - pos;
    if pos == 0 || neg == 0 {
        return 0.5;
    }
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    // Average ranks over ties.
    let mut rank_sum_pos = 0.0;
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && scores[idx[j + 1]] == scores[idx[i]] {
            j += 1;
        }
        let avg_rank = (i + j) as f64 / 2.0 + 1.0;
        rank_sum_pos += idx[i..=j].iter().filter(|&&k| labels[k]).count() as f64 * avg_rank;
        i = j + 1;
    }
    let (p, n) = (pos as f64, neg as f64);
    (rank_sum_pos - p * (p + 1.0) / 2.0) / (p * n)
}

/// Average precision (area under the precision-recall curve, step-wise, tied
/// scores taken together). 0 when there is no positive.
pub fn auc_pr(scores: &[f64], labels: &[bool]) -> f64 {
    let pos = labels.iter().filter(|&&l| l).count();
    if pos == 0 {
        return 0.0;
    }
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let (mut tp, mut fp, mut ap, mut prev_recall) = (0usize, 0usize, 0.0, 0.0);
    let mut i = 0;
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && scores[idx[j + 1]] == scores[idx[i]] {
            j += 1;
        }
        for &k in &idx[i..=j] {
            if labels[k] {
                tp += 1;
            } else {
                fp += 1;
            }
        }
        let recall = tp as f64 / pos as f64;
        let precision = tp as f64 / (tp + fp) as f64;
        ap += (recall - prev_recall) * precision;
        prev_recall = recall;
        i = j + 1;
    }
    ap
}

/// Precision, recall and F1 of `score >= threshold`.
pub fn prf(scores: &[f64], labels: &[bool], threshold: f64) -> (f64, f64, f64) {
    let (mut tp, mut fp, mut fn_) = (0usize, 0usize, 0usize);
    for (&s, &l) in scores.iter().zip(labels) {
        match (s >= threshold, l) {
            (true, true) => tp += 1,
            (true, false) => fp += 1,
            (false, true) => fn_ += 1,
            (false, false) => {}
        }
    }
    let precision = if tp + fp == 0 {
        0.0
    } else {
        tp as f64 / (tp + fp) as f64
    };
    let recall = if tp + fn_ == 0 {
        0.0
    } else {
        tp as f64 / (tp + fn_) as f64
    };
    let f1 = if precision + recall == 0.0 {
        0.0
    } else {
        2.0 * precision * recall / (precision + recall)
    };
    (precision, recall, f1)
}

/// The threshold that maximises F1 on (validation) scores: a midpoint
/// between adjacent distinct scores, so it does not sit on a validation
/// score. `None` without a positive.
pub fn best_f1_threshold(scores: &[f64], labels: &[bool]) -> Option<f64> {
    if !labels.iter().any(|&l| l) {
        return None;
    }
    let mut sorted: Vec<f64> = scores.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted.dedup();
    let mut best = (f64::NEG_INFINITY, 0.5);
    for (i, &s) in sorted.iter().enumerate() {
        let t = if i == 0 { s } else { (sorted[i - 1] + s) / 2.0 };
        let (_, _, f1) = prf(scores, labels, t);
        if f1 > best.0 {
            best = (f1, t);
        }
    }
    Some(best.1)
}

/// The largest F1 over all thresholds (one sort and a sweep; ties taken
/// together). 0 without a positive.
pub fn best_f1(scores: &[f64], labels: &[bool]) -> f64 {
    let pos = labels.iter().filter(|&&l| l).count();
    if pos == 0 {
        return 0.0;
    }
    let mut idx: Vec<usize> = (0..scores.len()).collect();
    idx.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let (mut tp, mut flagged, mut best, mut i) = (0usize, 0usize, 0.0f64, 0usize);
    while i < idx.len() {
        let mut j = i;
        while j + 1 < idx.len() && scores[idx[j + 1]] == scores[idx[i]] {
            j += 1;
        }
        tp += idx[i..=j].iter().filter(|&&k| labels[k]).count();
        flagged += j + 1 - i;
        best = best.max(2.0 * tp as f64 / (flagged + pos) as f64);
        i = j + 1;
    }
    best
}

/// All bag metrics at `threshold`.
pub fn bag_metrics(scores: &[f64], labels: &[bool], threshold: f64) -> BagMetrics {
    let (precision, recall, f1) = prf(scores, labels, threshold);
    BagMetrics {
        auc_roc: auc_roc(scores, labels),
        auc_pr: auc_pr(scores, labels),
        precision,
        recall,
        f1,
        threshold,
        best_f1: best_f1(scores, labels),
    }
}

/// Accumulates Loc@k (paper eq. 5) over positive bags.
#[derive(Debug, Clone, Copy, Default)]
pub struct LocAtK {
    hits: usize,
    possible: usize,
}

impl LocAtK {
    /// Adds one positive bag: `ranked` are its lines' indices from most to
    /// least attended, `anomalous` tells which lines are truly anomalous.
    pub fn add(&mut self, k: usize, ranked: &[usize], anomalous: &[bool]) {
        let truth = anomalous.iter().filter(|&&a| a).count();
        self.hits += ranked
            .iter()
            .take(k)
            .filter(|&&i| anomalous.get(i).copied().unwrap_or(false))
            .count();
        self.possible += k.min(truth);
    }

    /// The hit rate; 0 when no bag had an anomalous line.
    pub fn value(&self) -> f64 {
        if self.possible == 0 {
            0.0
        } else {
            self.hits as f64 / self.possible as f64
        }
    }
}

/// Success Rate (paper eq. 6): share of positive bags whose probability drops
/// by more than `delta` when the key line is zeroed.
pub fn success_rate(orig: &[f64], pert: &[f64], delta: f64) -> f64 {
    if orig.is_empty() {
        return 0.0;
    }
    let ok = orig
        .iter()
        .zip(pert)
        .filter(|(o, p)| *o - *p > delta)
        .count();
    ok as f64 / orig.len() as f64
}

/// Indices of `weights` from largest to smallest (stable for ties).
pub fn ranked(weights: &[f32]) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..weights.len()).collect();
    idx.sort_by(|&a, &b| weights[b].total_cmp(&weights[a]));
    idx
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_roc_of_perfect_reversed_and_tied_scores() {
        let labels = [false, false, true, true];
        assert_eq!(auc_roc(&[0.1, 0.2, 0.8, 0.9], &labels), 1.0);
        assert_eq!(auc_roc(&[0.9, 0.8, 0.2, 0.1], &labels), 0.0);
        assert_eq!(auc_roc(&[0.5, 0.5, 0.5, 0.5], &labels), 0.5);
    }

    #[test]
    fn auc_pr_matches_hand_computed_average_precision() {
        // Ranked: P, N, P → AP = 1/2 * 1 + 1/2 * 2/3.
        let ap = auc_pr(&[0.9, 0.8, 0.7], &[true, false, true]);
        assert!((ap - (0.5 + 1.0 / 3.0)).abs() < 1e-12);
    }

    #[test]
    fn best_threshold_separates_separable_scores() {
        let scores = [0.1, 0.2, 0.3, 0.7, 0.8];
        let labels = [false, false, false, true, true];
        let t = best_f1_threshold(&scores, &labels).unwrap();
        assert_eq!(prf(&scores, &labels, t), (1.0, 1.0, 1.0));
        assert!(t > 0.3 && t < 0.7);
    }

    #[test]
    fn loc_at_k_follows_eq_5() {
        let mut loc = LocAtK::default();
        // 2 anomalous lines, top-3 hits one → 1 / min(3, 2).
        loc.add(3, &[0, 1, 2, 3], &[false, true, false, true]);
        assert_eq!(loc.value(), 0.5);
        loc.add(1, &[3, 0], &[false, false, false, true]);
        assert_eq!(loc.value(), 2.0 / 3.0);
    }

    #[test]
    fn success_rate_counts_strict_drops() {
        assert_eq!(
            success_rate(&[0.9, 0.9, 0.9], &[0.1, 0.85, 0.8], 0.1),
            1.0 / 3.0
        );
    }
}
