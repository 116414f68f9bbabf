//! Edit distance for "did you mean" hints, shared by the ESC evaluator, the service catalog and the provider.

/// Levenshtein distance between `a` and `b`, counted in characters (not bytes, so a typo in a non-ASCII name costs 1).
pub fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb))
                .min(row[j] + 1)
                .min(above + 1);
            prev = above;
        }
    }
    row[b.len()]
}

/// The Levenshtein distance between `a` and `b` when it is below `limit`, else `None`. Cheaper than
/// [`levenshtein`] when most candidates are far: a length difference of `limit` or more is answered without the
/// table, and the table stops at the first row whose every entry has reached `limit`.
pub fn levenshtein_below(a: &[char], b: &[char], limit: usize) -> Option<usize> {
    if limit == 0 || a.len().abs_diff(b.len()) >= limit {
        return None;
    }
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        let mut smallest = row[0];
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != cb))
                .min(row[j] + 1)
                .min(above + 1);
            prev = above;
            smallest = smallest.min(row[j + 1]);
        }
        if smallest >= limit {
            return None;
        }
    }
    Some(row[b.len()]).filter(|&d| d < limit)
}

/// How much edit-distance work "did you mean" hints may take in one run (one evaluation, one load), in table
/// cells. Hints cost the number of misses times the number of candidates; a document with thousands of unresolved
/// references would otherwise take time quadratic in its size. Once spent, further misses get no hint (their error
/// is reported all the same), so the total stays linear while any ordinary document gets every hint it would.
#[derive(Debug, Clone)]
pub struct HintBudget {
    remaining: u64,
}

impl HintBudget {
    /// About 50 ms of work: every hint of a document with a few hundred misses among a few thousand names.
    pub const PER_RUN: u64 = 1 << 25;

    /// A budget of `cells`.
    pub fn new(cells: u64) -> HintBudget {
        HintBudget { remaining: cells }
    }

    /// Takes `cells` from the budget; `false` (and the budget spent) when it has fewer left.
    pub fn spend(&mut self, cells: u64) -> bool {
        match self.remaining.checked_sub(cells) {
            Some(rest) => {
                self.remaining = rest;
                true
            }
            None => {
                self.remaining = 0;
                false
            }
        }
    }
}

impl Default for HintBudget {
    fn default() -> HintBudget {
        HintBudget::new(HintBudget::PER_RUN)
    }
}

#[cfg(test)]
mod tests {
    use super::{HintBudget, levenshtein, levenshtein_below};

    #[test]
    fn bounded_distance_agrees_below_the_limit() {
        let words = [
            "", "a", "kitten", "sitting", "imags", "image", "é", "e", "abcdefgh", "hgfedcba",
        ];
        for a in words {
            for b in words {
                let (ca, cb): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
                let d = levenshtein(a, b);
                for limit in 0..10 {
                    let want = (d < limit).then_some(d);
                    assert_eq!(
                        levenshtein_below(&ca, &cb, limit),
                        want,
                        "{a:?} {b:?} {limit}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_spent_budget_stays_spent() {
        let mut budget = HintBudget::new(10);
        assert!(budget.spend(6));
        assert!(!budget.spend(6));
        assert!(!budget.spend(1));
    }

    #[test]
    fn distances() {
        assert_eq!(levenshtein("", ""), 0);
        assert_eq!(levenshtein("kitten", "sitting"), 3);
        assert_eq!(levenshtein("imags", "image"), 1);
        assert_eq!(levenshtein("é", "e"), 1);
        assert_eq!(levenshtein("abc", ""), 3);
    }
}
