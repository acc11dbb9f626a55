//! Linear learners over single lines, trained from coarse labels alone:
//! the two peers a user would try first (every line of an incident a
//! positive; or one witness line per incident), and, for the witness
//! learner, the teacher that tells LogMILP which windows of an incident
//! carry its anomaly (docs/model.md, "Incidents").
//!
//! A line is its set of token buckets (the featurizer's, so host and
//! device agree on what a line is); the model is a class-balanced, L2
//! regularised logistic regression over bucket presence. It is written
//! here rather than taken from a crate because it fits on a few thousand
//! distinct line kinds with their counts (a weighted, deduplicated
//! problem), in well under a second, with no BLAS.

use std::collections::{HashMap, HashSet};

use crate::bags::{BagSet, Role};
use crate::incidents::LineLabel;

/// A line's identity: its sorted, deduplicated token buckets.
pub type LineKind = Vec<u16>;

/// The kind of a line with these tokens.
pub fn line_kind(tokens: &[u16]) -> LineKind {
    let mut k = tokens.to_vec();
    k.sort_unstable();
    k.dedup();
    k
}

/// Logistic regression over the presence of token buckets in one line.
#[derive(Debug, Clone, PartialEq)]
pub struct LineModel {
    weights: Vec<f64>,
    bias: f64,
}

impl LineModel {
    /// Probability that a line of `kind` is anomalous.
    pub fn score_kind(&self, kind: &[u16]) -> f64 {
        let z = self.bias
            + kind
                .iter()
                .filter_map(|&t| self.weights.get(usize::from(t)))
                .sum::<f64>();
        1.0 / (1.0 + (-z).exp())
    }

    /// Probability that a line with these tokens is anomalous.
    pub fn score(&self, tokens: &[u16]) -> f64 {
        self.score_kind(&line_kind(tokens))
    }

    /// The weight of each token bucket.
    pub fn weights(&self) -> &[f64] {
        &self.weights
    }

    /// Every line of `set`, scored.
    pub fn score_lines(&self, set: &BagSet) -> Vec<f64> {
        let mut cache: HashMap<LineKind, f64> = HashMap::new();
        set.lines
            .iter()
            .map(|l| {
                *cache
                    .entry(line_kind(&l.tokens))
                    .or_insert_with_key(|k| self.score_kind(k))
            })
            .collect()
    }
}

/// Inverse regularisation strength, as scikit-learn's `C` (1 there too).
const C: f64 = 1.0;
/// Full-batch Adam steps; the problem is convex, and the loss stops moving
/// well before this on BGL (a few thousand kinds).
const STEPS: usize = 600;

/// Fits weights on line kinds with `(positive lines, negative lines)`
/// counts: class-balanced log-loss (each class weighs half) times [`C`] plus
/// `½‖w‖²` (the bias is not penalised).
fn fit(kinds: &[(LineKind, f64, f64)], buckets: usize) -> LineModel {
    let n_pos: f64 = kinds.iter().map(|k| k.1).sum();
    let n_neg: f64 = kinds.iter().map(|k| k.2).sum();
    let n = n_pos + n_neg;
    let (w_pos, w_neg) = (n / (2.0 * n_pos.max(1.0)), n / (2.0 * n_neg.max(1.0)));
    // Weights, then the bias as one more parameter.
    let dim = buckets + 1;
    let mut params = vec![0.0f64; dim];
    let (mut m, mut v, mut grad) = (vec![0.0f64; dim], vec![0.0f64; dim], vec![0.0f64; dim]);
    let (beta1, beta2, eps) = (0.9f64, 0.999f64, 1e-8);
    let in_range = |kind: &LineKind| -> Vec<usize> {
        kind.iter()
            .map(|&t| usize::from(t))
            .filter(|&t| t < buckets)
            .collect()
    };
    let features: Vec<Vec<usize>> = kinds.iter().map(|k| in_range(&k.0)).collect();
    for step in 1..=STEPS {
        grad.fill(0.0);
        for (f, (_, pos, neg)) in features.iter().zip(kinds) {
            let z = params[buckets] + f.iter().map(|&t| params[t]).sum::<f64>();
            let p = 1.0 / (1.0 + (-z).exp());
            let g = C * (pos * w_pos * (p - 1.0) + neg * w_neg * p);
            for &t in f {
                grad[t] += g;
            }
            grad[buckets] += g;
        }
        for j in 0..buckets {
            grad[j] += params[j];
        }
        // A smaller step for the second half, so the last steps settle.
        let lr = if step <= STEPS / 2 { 0.1 } else { 0.02 };
        let (c1, c2) = (1.0 - beta1.powi(step as i32), 1.0 - beta2.powi(step as i32));
        for j in 0..dim {
            m[j] = beta1 * m[j] + (1.0 - beta1) * grad[j];
            v[j] = beta2 * v[j] + (1.0 - beta2) * grad[j] * grad[j];
            params[j] -= lr * (m[j] / c1) / ((v[j] / c2).sqrt() + eps);
        }
    }
    let bias = params[buckets];
    params.truncate(buckets);
    LineModel {
        weights: params,
        bias,
    }
}

/// What the coarse labels say of one training line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum LineRole {
    /// Outside every incident: a negative.
    Normal,
    /// Inside this incident (or, on the line-labelled route, this run of
    /// positive windows).
    Incident(usize),
    /// Neither (an incident's margin).
    Out,
}

/// Each line's coarse role. Incidents route: the line's own incident
/// label. Line-labelled route (windows only): a line of a negative window is
/// normal, a line only in positive windows belongs to the first of them.
fn line_roles(set: &BagSet) -> Vec<LineRole> {
    if set.lines.iter().any(|l| l.coarse.is_some()) {
        return set
            .lines
            .iter()
            .map(|l| match l.coarse {
                Some(LineLabel::Normal) => LineRole::Normal,
                Some(LineLabel::Incident(id)) => LineRole::Incident(id),
                Some(LineLabel::Margin) | None => LineRole::Out,
            })
            .collect();
    }
    let mut roles = vec![LineRole::Out; set.lines.len()];
    for b in &set.bags {
        if b.role == Role::Window(false) {
            roles[b.lines.clone()].fill(LineRole::Normal);
        }
    }
    for (i, b) in set.bags.iter().enumerate() {
        if b.role == Role::Window(true) {
            for r in &mut roles[b.lines.clone()] {
                if *r == LineRole::Out {
                    *r = LineRole::Incident(i);
                }
            }
        }
    }
    roles
}

/// A line learner fitted on a training set, with the witness kinds it
/// settled on (empty for the naive learner).
#[derive(Debug, Clone)]
pub struct LineLearner {
    /// The fitted line scorer.
    pub model: LineModel,
    /// Kinds of the incidents' witness lines after the last round.
    pub witnesses: HashSet<LineKind>,
    /// Witness rounds run after the naive fit.
    pub rounds: usize,
}

impl LineLearner {
    /// Fits on `set`'s coarse labels (never its line labels). `rounds == 0`
    /// is the naive learner: every incident line a positive, every normal
    /// line a negative. Then `rounds` times: in each incident the
    /// highest-scoring line is its witness; lines of a witness's kind inside
    /// incidents are the positives, the incidents' other lines are left
    /// out, normal lines stay negatives; refit.
    ///
    /// Returns `None` when the set has no incident line or no normal line.
    pub fn fit(set: &BagSet, buckets: usize, rounds: usize) -> Option<Self> {
        let roles = line_roles(set);
        let kinds: Vec<LineKind> = set.lines.iter().map(|l| line_kind(&l.tokens)).collect();
        let mut index: HashMap<&LineKind, usize> = HashMap::new();
        let mut distinct: Vec<&LineKind> = Vec::new();
        let kind_ids: Vec<usize> = kinds
            .iter()
            .map(|k| {
                *index.entry(k).or_insert_with(|| {
                    distinct.push(k);
                    distinct.len() - 1
                })
            })
            .collect();
        let counts = |positive: &dyn Fn(usize) -> Option<bool>| -> Vec<(LineKind, f64, f64)> {
            let mut c = vec![(0.0f64, 0.0f64); distinct.len()];
            for (i, &k) in kind_ids.iter().enumerate() {
                match positive(i) {
                    Some(true) => c[k].0 += 1.0,
                    Some(false) => c[k].1 += 1.0,
                    None => {}
                }
            }
            distinct
                .iter()
                .zip(c)
                .filter(|(_, (p, n))| p + n > 0.0)
                .map(|(k, (p, n))| ((*k).clone(), p, n))
                .collect()
        };
        let naive = |i: usize| match roles[i] {
            LineRole::Normal => Some(false),
            LineRole::Incident(_) => Some(true),
            LineRole::Out => None,
        };
        let first = counts(&naive);
        if !first.iter().any(|k| k.1 > 0.0) || !first.iter().any(|k| k.2 > 0.0) {
            return None;
        }
        let mut model = fit(&first, buckets);
        let mut witnesses: HashSet<LineKind> = HashSet::new();
        for _ in 0..rounds {
            let kind_scores: Vec<f64> = distinct.iter().map(|k| model.score_kind(k)).collect();
            // Each incident's top line; ties go to the earlier line.
            let mut top: HashMap<usize, (f64, usize)> = HashMap::new();
            for (i, r) in roles.iter().enumerate() {
                if let LineRole::Incident(id) = *r {
                    let s = kind_scores[kind_ids[i]];
                    let e = top.entry(id).or_insert((s, kind_ids[i]));
                    if s > e.0 {
                        *e = (s, kind_ids[i]);
                    }
                }
            }
            let chosen: HashSet<usize> = top.values().map(|&(_, k)| k).collect();
            witnesses = chosen.iter().map(|&k| distinct[k].clone()).collect();
            let witness = |i: usize| match roles[i] {
                LineRole::Normal => Some(false),
                LineRole::Incident(_) => chosen.contains(&kind_ids[i]).then_some(true),
                LineRole::Out => None,
            };
            model = fit(&counts(&witness), buckets);
        }
        Some(Self {
            model,
            witnesses,
            rounds,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fit_separates_a_token_seen_only_in_positives() {
        let kinds = vec![
            (vec![1, 2], 0.0, 50.0),
            (vec![1, 3], 5.0, 0.0),
            (vec![2, 4], 0.0, 20.0),
        ];
        let m = fit(&kinds, 8);
        assert!(m.score_kind(&[1, 3]) > 0.8, "{}", m.score_kind(&[1, 3]));
        assert!(m.score_kind(&[1, 2]) < 0.2);
        assert!(m.score_kind(&[3]) > m.score_kind(&[4]));
    }

    /// A set of `incidents` incidents of 20 lines each, every one holding
    /// one alert line (token 9) and a companion line (token 8) that only
    /// incidents hold, among normal lines (tokens 1..4), then normal log.
    fn coarse_set(incidents: usize) -> BagSet {
        use crate::bags::{Bag, LineFeatures};
        let mut set = BagSet::default();
        let mut push = |tokens: Vec<u16>, coarse: LineLabel| {
            set.lines.push(LineFeatures {
                tokens,
                label: None,
                file: 0,
                line_no: set.lines.len() + 1,
                timestamp: None,
                coarse: Some(coarse),
            });
        };
        for id in 0..incidents {
            for i in 0..20u16 {
                let tokens = match i {
                    3 => vec![5, 9],
                    // The companion comes with most incidents, the alert with all.
                    7 if id % 4 != 0 => vec![6, 8],
                    _ => vec![1 + i % 4, 2],
                };
                push(tokens, LineLabel::Incident(id));
            }
        }
        for i in 0..400u16 {
            push(vec![1 + i % 4, 2], LineLabel::Normal);
        }
        set.bags.push(Bag {
            lines: 0..set.lines.len(),
            label: None,
            role: Role::Normal,
        });
        set
    }

    #[test]
    fn witnesses_are_the_line_every_incident_shares() {
        let set = coarse_set(12);
        let w = LineLearner::fit(&set, 16, 3).unwrap();
        assert_eq!(w.witnesses, HashSet::from([vec![5, 9]]));
        assert!(w.model.score(&[9, 5]) > w.model.score(&[6, 8]));
        assert!(w.model.score(&[1, 2]) < 0.5);
        let naive = LineLearner::fit(&set, 16, 0).unwrap();
        assert!(naive.witnesses.is_empty());
    }

    #[test]
    fn no_incident_line_fits_nothing() {
        let mut set = coarse_set(2);
        for l in &mut set.lines {
            l.coarse = Some(LineLabel::Normal);
        }
        assert!(LineLearner::fit(&set, 16, 3).is_none());
    }
}
