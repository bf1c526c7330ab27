//! The module layers point one way (issue 15): a module's code names only modules in lower
//! layers, never one above it nor a sibling of its own layer.
//!
//! The test reads every `src/**/*.rs` as text, leaves out test code (`#[cfg(test)]` items
//! and the files `tests.rs`, `*_tests.rs`, `test_support.rs`), comments and string
//! literals, collects each `crate::<module>` it names, and checks them against [`LAYERS`].
//! A failure names `file:line` of every reference that points the wrong way. `src/lib.rs`
//! ("# Layout") states the same order in words.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Top to bottom; a module may name modules of later rows only. Rows with several modules
/// are siblings that must not name each other.
const LAYERS: &[&[&str]] = &[
    &["cli"],
    &["daemon"],
    &["dispatch", "web"],
    // The counters both sides of the row above share; they are about ledger outcomes.
    &["metrics"],
    &["channel", "store"],
    &["campaign"],
    // Masking recognises phone numbers the way the audience normalises them.
    &["mask"],
    &["audience", "render", "schedule"],
    // Neutral leaves, usable from every layer; they name no other module of loa.
    &[
        "account",
        "channel_kind",
        "links",
        "log_limit",
        "mail",
        "suggest",
    ],
];

/// Edges still pointing up, each with why it stays for now; the test fails when one is no
/// longer needed, so the list only shrinks. (Empty: the last one, `campaign → channel`,
/// went when the smtp settings' parsers moved to the `mail` leaf.)
const KNOWN: &[&str] = &[];

fn rank(module: &str) -> Option<usize> {
    LAYERS.iter().position(|row| row.contains(&module))
}

#[test]
fn every_module_names_only_modules_below_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let (known, wrong): (Vec<String>, Vec<String>) = back_edges(&src)
        .into_iter()
        .partition(|w| KNOWN.iter().any(|k| w.contains(&format!(" {k} ("))));
    let stale: Vec<&&str> = KNOWN
        .iter()
        .filter(|k| !known.iter().any(|w| w.contains(&format!(" {k} ("))))
        .collect();
    assert!(
        stale.is_empty(),
        "no longer needed, remove from KNOWN: {stale:?}"
    );
    assert!(
        wrong.is_empty(),
        "{} reference(s) point up or sideways in the layers (tests/it/layers.rs LAYERS):\n{}",
        wrong.len(),
        wrong.join("\n")
    );
}

#[test]
fn every_module_of_the_crate_has_a_layer() {
    let lib =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs")).unwrap();
    let modules: Vec<&str> = lib
        .lines()
        .filter_map(|l| l.strip_prefix("pub mod ")?.strip_suffix(';'))
        .collect();
    assert!(modules.len() > 5, "no `pub mod` found in src/lib.rs");
    let missing: Vec<&&str> = modules.iter().filter(|m| rank(m).is_none()).collect();
    assert!(missing.is_empty(), "modules without a layer: {missing:?}");
}

#[test]
fn the_check_sees_references_up_sideways_and_grouped_but_not_in_tests_or_comments() {
    let text = r#"
//! Mentions crate::cli in a doc comment.
use crate::web::Metrics; // up? no: a sibling
use crate::{audience, cli::Args};
fn f() { let s = "crate::daemon"; let c = '{'; crate::mask::mask_text(s, ""); }
#[cfg(test)]
mod tests {
    fn g() { let c = '}'; crate::cli::run(); }
}
#[cfg(test)]
use crate::daemon::run;
fn h() { crate::daemon::run(); }
"#;
    let found = references("dispatch", Path::new("src/dispatch/x.rs"), text);
    assert_eq!(
        found,
        [
            "src/dispatch/x.rs:3: dispatch → web (a sibling in its layer)",
            "src/dispatch/x.rs:4: dispatch → cli (a higher layer)",
            "src/dispatch/x.rs:12: dispatch → daemon (a higher layer)",
        ]
    );
}

/// The modules `src/lib.rs` declares (the binary's own, such as its allocator, are not
/// part of the layers).
fn lib_modules() -> Vec<String> {
    let lib =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("src/lib.rs")).unwrap();
    lib.lines()
        .filter_map(|l| l.strip_prefix("pub mod ")?.strip_suffix(';'))
        .map(String::from)
        .collect()
}

/// Every wrong reference in the library under `src`, as `file:line: from → to (why)`.
fn back_edges(src: &Path) -> Vec<String> {
    let modules = lib_modules();
    let mut files = Vec::new();
    collect(src, &mut files);
    files.sort();
    let mut wrong = Vec::new();
    for file in files {
        let rel = file.strip_prefix(src).unwrap();
        let Some(top) = rel.iter().next().and_then(|c| c.to_str()) else {
            continue;
        };
        let top = top.trim_end_matches(".rs");
        if !modules.iter().any(|m| m == top) {
            continue;
        }
        let text = std::fs::read_to_string(&file).unwrap();
        let shown = Path::new("src").join(rel);
        wrong.extend(references(top, &shown, &text));
    }
    wrong
}

fn collect(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_dir() {
            collect(&path, out);
        } else if name.ends_with(".rs")
            && name != "tests.rs"
            && !name.ends_with("_tests.rs")
            && name != "test_support.rs"
        {
            out.push(path);
        }
    }
}

/// The wrong `crate::` references in the non-test code of `text`, a file of module `from`.
fn references(from: &str, file: &Path, text: &str) -> Vec<String> {
    let from_rank = rank(from).unwrap_or_else(|| panic!("{from} has no layer in LAYERS"));
    let code = without_tests(&blank_comments_and_literals(text));
    let mut wrong = Vec::new();
    for (i, line) in code.lines().enumerate() {
        for to in named_modules(line) {
            let why = match rank(&to) {
                _ if to == from => continue,
                None => "a module missing from LAYERS",
                Some(r) if r < from_rank => "a higher layer",
                Some(r) if r == from_rank => "a sibling in its layer",
                Some(_) => continue,
            };
            wrong.push(format!(
                "{}:{}: {from} → {to} ({why})",
                file.display(),
                i + 1
            ));
        }
    }
    wrong
}

/// The top modules a line names: `crate::x…` and each item of `crate::{x…, y…}`.
fn named_modules(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(at) = rest.find("crate::") {
        let before = rest[..at].chars().next_back();
        rest = &rest[at + "crate::".len()..];
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '$') {
            continue;
        }
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 0;
            let mut item_start = true;
            for (j, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => item_start = true,
                    c if item_start && (c.is_alphanumeric() || c == '_') => {
                        out.push(ident(&group[j..]));
                        item_start = false;
                    }
                    _ => {}
                }
            }
        } else {
            out.push(ident(rest));
        }
    }
    out.retain(|m| !m.is_empty() && m != "self");
    out
}

fn ident(s: &str) -> String {
    s.chars()
        .take_while(|c| c.is_alphanumeric() || *c == '_')
        .collect()
}

/// `text` with every comment and string or character literal replaced by spaces; lines
/// stay where they were.
fn blank_comments_and_literals(text: &str) -> String {
    let b: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let blank = |out: &mut String, c: char| out.push(if c == '\n' { '\n' } else { ' ' });
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        if c == '/' && next == Some('/') {
            while i < b.len() && b[i] != '\n' {
                i += 1;
                out.push(' ');
            }
        } else if c == '/' && next == Some('*') {
            let mut depth = 0;
            while i < b.len() {
                if b[i] == '/' && b.get(i + 1) == Some(&'*') {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if b[i] == '*' && b.get(i + 1) == Some(&'/') {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    blank(&mut out, b[i]);
                    i += 1;
                }
            }
        } else if let Some(len) = raw_string_start(&b[i..]) {
            let hashes = len - 2 - usize::from(c == 'b');
            let close: Vec<char> = std::iter::once('"')
                .chain(std::iter::repeat_n('#', hashes))
                .collect();
            out.push_str(&" ".repeat(len));
            i += len;
            while i < b.len() && !b[i..].starts_with(&close) {
                blank(&mut out, b[i]);
                i += 1;
            }
            out.push_str(&" ".repeat(close.len()));
            i += close.len();
        } else if c == '"' {
            out.push(' ');
            i += 1;
            while i < b.len() && b[i] != '"' {
                let skip = if b[i] == '\\' { 2 } else { 1 };
                for k in 0..skip {
                    if let Some(&ch) = b.get(i + k) {
                        blank(&mut out, ch);
                    }
                }
                i += skip;
            }
            out.push(' ');
            i += 1;
        } else if c == '\'' && char_literal_len(&b[i..]).is_some() {
            let len = char_literal_len(&b[i..]).unwrap();
            out.push_str(&" ".repeat(len));
            i += len;
        } else {
            out.push(c);
            i += 1;
        }
    }
    out
}

/// The length of `r"`, `r#"`, `br##"`… when `b` starts a raw string literal.
fn raw_string_start(b: &[char]) -> Option<usize> {
    let prefix = if b.starts_with(&['b', 'r']) {
        2
    } else if b.first() == Some(&'r') {
        1
    } else {
        return None;
    };
    let hashes = b[prefix..].iter().take_while(|&&c| c == '#').count();
    (b.get(prefix + hashes) == Some(&'"')).then_some(prefix + hashes + 1)
}

/// The length of a character literal starting at `b[0] == '\''`; None for a lifetime.
fn char_literal_len(b: &[char]) -> Option<usize> {
    if b.get(1) == Some(&'\\') {
        let end = b.iter().skip(2).position(|&c| c == '\'')?;
        return Some(end + 3);
    }
    (b.get(2) == Some(&'\'')).then_some(3)
}

/// `code` (comments and literals blanked) with every `#[cfg(test)]` item blanked.
fn without_tests(code: &str) -> String {
    let lines: Vec<&str> = code.lines().collect();
    let mut out = String::new();
    let mut i = 0;
    while i < lines.len() {
        if lines[i].trim_start().starts_with("#[cfg(test)]") {
            // The attribute holds no brace or `;`, so the item's end counts from it.
            let end = item_end(&lines, i);
            for _ in i..=end.min(lines.len() - 1) {
                out.push('\n');
            }
            i = end + 1;
            continue;
        }
        let _ = writeln!(out, "{}", lines[i]);
        i += 1;
    }
    out
}

/// The last line of the item starting at line `start`: up to its `;` or its closing brace.
fn item_end(lines: &[&str], start: usize) -> usize {
    let mut depth = 0i32;
    for (n, line) in lines.iter().enumerate().skip(start) {
        for c in line.chars() {
            match c {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    if depth == 0 {
                        return n;
                    }
                }
                ';' if depth == 0 => return n,
                _ => {}
            }
        }
    }
    lines.len().saturating_sub(1)
}
