//! Suggesting the word a misspelt one was meant to be.

/// The candidate `word` is most likely a typo of: the closest by edit distance, or one that
/// differs by two swapped neighbours (`whne` for `when`), which edit distance counts as two
/// edits and so misses in short words.
pub fn suggest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    converge_modules::closest(word, candidates.iter().copied()).or_else(|| {
        candidates
            .iter()
            .copied()
            .find(|candidate| is_swap(word, candidate))
    })
}

fn is_swap(a: &str, b: &str) -> bool {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    if a.len() != b.len() {
        return false;
    }
    let differ: Vec<usize> = (0..a.len()).filter(|&i| a[i] != b[i]).collect();
    matches!(differ.as_slice(), [i, j] if *j == i + 1 && a[*i] == b[*j] && a[*j] == b[*i])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_catch_swapped_letters() {
        assert_eq!(suggest("whne", &["when", "name"]), Some("when"));
        assert_eq!(suggest("tgas", &["tags", "vars"]), Some("tags"));
        assert_eq!(suggest("regster", &["register"]), Some("register"));
        assert_eq!(suggest("zzzz", &["when"]), None);
    }
}
