//! Simple baselines reported beside the model in the same run, so its value
//! is visible: a bag-of-tokens logistic regression for detection and a
//! token-rarity score for localization.

use std::collections::HashMap;

use crate::bags::{Bag, BagSet, Role};

/// Logistic regression on a bag's set of token buckets (binary presence),
/// trained with class-balanced SGD.
#[derive(Debug, Clone)]
pub struct BagOfTokens {
    weights: Vec<f64>,
    bias: f64,
}

fn bag_features(set: &BagSet, bag: &Bag) -> Vec<usize> {
    let mut f: Vec<usize> = set.lines[bag.lines.clone()]
        .iter()
        .flat_map(|l| l.tokens.iter().map(|&t| usize::from(t)))
        .collect();
    f.sort_unstable();
    f.dedup();
    f
}

impl BagOfTokens {
    /// Fits on the training bags' roles (deterministic order). On the
    /// incidents route every window of an incident is a positive: the naive
    /// reading of coarse labels that nested MIL is measured against.
    pub fn fit(train: &BagSet, buckets: usize, epochs: usize) -> Self {
        let labelled: Vec<(&Bag, bool)> = train
            .bags
            .iter()
            .filter_map(|b| match b.role {
                Role::Window(y) => Some((b, y)),
                Role::Incident(_) => Some((b, true)),
                Role::Normal => Some((b, false)),
                Role::Ambiguous | Role::Unlabelled => None,
            })
            .collect();
        let feats: Vec<Vec<usize>> = labelled
            .iter()
            .map(|(b, _)| bag_features(train, b))
            .collect();
        let n_pos_count = labelled.iter().filter(|(_, y)| *y).count();
        let n_pos = n_pos_count.max(1) as f64;
        let n_neg = (labelled.len() - n_pos_count).max(1) as f64;
        let mut model = Self {
            weights: vec![0.0; buckets],
            bias: 0.0,
        };
        let lr = 0.1;
        let l2 = 1e-4;
        for epoch in 0..epochs {
            let step = lr / (1.0 + epoch as f64 * 0.1);
            for (f, &(_, positive)) in feats.iter().zip(&labelled) {
                let y = if positive { 1.0 } else { 0.0 };
                // Balance classes: each contributes half the gradient mass.
                let w = if positive { 0.5 / n_pos } else { 0.5 / n_neg } * labelled.len() as f64;
                let g = (model.score_features(f) - y) * w;
                for &i in f {
                    if let Some(wi) = model.weights.get_mut(i) {
                        *wi -= step * (g + l2 * *wi);
                    }
                }
                model.bias -= step * g;
            }
        }
        model
    }

    fn score_features(&self, f: &[usize]) -> f64 {
        let z: f64 = self.bias + f.iter().filter_map(|&i| self.weights.get(i)).sum::<f64>();
        1.0 / (1.0 + (-z).exp())
    }

    /// Probability that each bag of `set` is anomalous.
    pub fn score(&self, set: &BagSet) -> Vec<f64> {
        set.bags
            .iter()
            .map(|b| self.score_features(&bag_features(set, b)))
            .collect()
    }
}

/// Token rarity: a line's score is the mean surprisal `−ln p(token)` of its
/// tokens under the training lines' token frequencies (add-one smoothing).
#[derive(Debug, Clone)]
pub struct TokenRarity {
    counts: HashMap<u16, u64>,
    total: u64,
    vocabulary: u64,
}

impl TokenRarity {
    /// Counts tokens in the training lines (no labels used).
    pub fn fit(train: &BagSet) -> Self {
        let mut counts = HashMap::new();
        let mut total = 0;
        for line in &train.lines {
            for &t in &line.tokens {
                *counts.entry(t).or_insert(0u64) += 1;
                total += 1;
            }
        }
        let vocabulary = counts.len() as u64 + 1;
        Self {
            counts,
            total,
            vocabulary,
        }
    }

    /// Rarity of one line's tokens (0 for a line without tokens).
    pub fn line_score(&self, tokens: &[u16]) -> f32 {
        if tokens.is_empty() {
            return 0.0;
        }
        let denom = (self.total + self.vocabulary) as f64;
        let s: f64 = tokens
            .iter()
            .map(|t| -(((self.counts.get(t).copied().unwrap_or(0) + 1) as f64) / denom).ln())
            .sum();
        (s / tokens.len() as f64) as f32
    }

    /// Rarity of every line of `bag`, in order.
    pub fn bag_scores(&self, set: &BagSet, bag: &Bag) -> Vec<f32> {
        set.lines[bag.lines.clone()]
            .iter()
            .map(|l| self.line_score(&l.tokens))
            .collect()
    }
}
