//! "did you mean …?" hints for names that are almost right, from an edit distance.
//!
//! A leaf: campaign validation, the template lint and the renderer's call checks all
//! suggest names the same way. `loa::campaign::suggest` re-exports [`suggest`].

/// Edit distance, for "did you mean …?" hints.
pub(crate) fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// "did you mean `x`?" when a known name is close, else a list of the known names.
pub fn suggest<'a>(name: &str, known: impl IntoIterator<Item = &'a str>) -> String {
    let known: Vec<&str> = known.into_iter().collect();
    let best = known.iter().min_by_key(|k| edit_distance(name, k));
    match best {
        Some(b) if edit_distance(name, b) <= 2.max(name.len() / 4) => {
            format!("did you mean `{b}`?")
        }
        _ if known.is_empty() => "none is defined".into(),
        _ => format!("defined here: {}", known.join(", ")),
    }
}
