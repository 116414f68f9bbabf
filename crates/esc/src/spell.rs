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

#[cfg(test)]
mod tests {
    use super::levenshtein;

    #[test]
    fn distances() {
        assert_eq!(levenshtein("", ""), 0);
        assert_eq!(levenshtein("kitten", "sitting"), 3);
        assert_eq!(levenshtein("imags", "image"), 1);
        assert_eq!(levenshtein("é", "e"), 1);
        assert_eq!(levenshtein("abc", ""), 3);
    }
}
