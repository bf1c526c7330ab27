//! Where each YAML field stands in its file.
//!
//! Semantic checks run on typed values, which carry no positions; this index maps a field
//! path such as `steps[1].send.cron` back to the line and column of its key and its value,
//! so every diagnostic can name the place to edit. It is built from the same parser that
//! `serde-saphyr` uses, so positions agree with its own syntax errors.

use std::collections::HashMap;
use std::fmt;

use serde_saphyr::granit_parser::{Event, Parser};

/// One step of a field path: a mapping key or a sequence index.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum Seg {
    Key(String),
    Index(usize),
}

/// A field path, displayed as `steps[1].send.cron`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub(crate) struct FieldPath(pub Vec<Seg>);

impl FieldPath {
    pub(crate) fn root() -> Self {
        Self(Vec::new())
    }

    pub(crate) fn key(&self, k: impl Into<String>) -> Self {
        let mut p = self.clone();
        p.0.push(Seg::Key(k.into()));
        p
    }

    pub(crate) fn index(&self, i: usize) -> Self {
        let mut p = self.clone();
        p.0.push(Seg::Index(i));
        p
    }

    /// The path one level up (the root stays the root).
    pub(crate) fn parent(&self) -> Self {
        let mut p = self.clone();
        p.0.pop();
        p
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                Seg::Key(k) if i == 0 => write!(f, "{k}")?,
                Seg::Key(k) => write!(f, ".{k}")?,
                Seg::Index(n) => write!(f, "[{n}]")?,
            }
        }
        Ok(())
    }
}

/// A 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Pos {
    pub line: usize,
    pub column: usize,
}

#[derive(Debug, Clone)]
struct Entry {
    key: Option<Pos>,
    value: Pos,
    /// The scalar as written, before `${NAME}` substitution (None for collections).
    raw: Option<String>,
}

/// Positions of every node of one YAML document.
#[derive(Debug, Default)]
pub(crate) struct Locations {
    map: HashMap<FieldPath, Entry>,
}

enum Frame {
    Map {
        path: FieldPath,
        pending_key: Option<(String, Pos)>,
    },
    Seq {
        path: FieldPath,
        next: usize,
    },
}

impl Locations {
    /// Indexes `text`; a syntax error ends the walk (serde-saphyr reports it with its place).
    pub(crate) fn index(text: &str) -> Self {
        let mut index = Self::default();
        let mut stack: Vec<Frame> = Vec::new();
        for item in Parser::new_from_str(text) {
            let Ok((event, span)) = item else { break };
            let pos = Pos {
                line: span.start.line(),
                column: span.start.col() + 1,
            };
            match event {
                Event::Scalar(value, ..) => index.scalar(&mut stack, value.into_owned(), pos),
                Event::Alias(_) => {
                    index.open_node(&mut stack, pos, None);
                }
                Event::MappingStart(..) => {
                    let path = index.open_node(&mut stack, pos, None);
                    stack.push(Frame::Map {
                        path,
                        pending_key: None,
                    });
                }
                Event::SequenceStart(..) => {
                    let path = index.open_node(&mut stack, pos, None);
                    stack.push(Frame::Seq { path, next: 0 });
                }
                Event::MappingEnd | Event::SequenceEnd => {
                    stack.pop();
                }
                _ => {}
            }
        }
        index
    }

    /// Claims the slot for a new node in the innermost container and returns its path.
    fn open_node(&mut self, stack: &mut [Frame], pos: Pos, raw: Option<String>) -> FieldPath {
        let (path, key) = match stack.last_mut() {
            None => (FieldPath::root(), None),
            Some(Frame::Seq { path, next }) => {
                *next += 1;
                (path.index(*next - 1), None)
            }
            Some(Frame::Map { path, pending_key }) => match pending_key.take() {
                Some((k, kpos)) => (path.key(k), Some(kpos)),
                // A complex (non-scalar) key: index it nowhere useful, under an empty name.
                None => (path.key(""), None),
            },
        };
        self.map.entry(path.clone()).or_insert(Entry {
            key,
            value: pos,
            raw,
        });
        path
    }

    fn scalar(&mut self, stack: &mut [Frame], value: String, pos: Pos) {
        if let Some(Frame::Map { pending_key, .. }) = stack.last_mut()
            && pending_key.is_none()
        {
            *pending_key = Some((value, pos));
            return;
        }
        self.open_node(stack, pos, Some(value));
    }

    /// Where the value at `path` starts, or the nearest ancestor that exists.
    pub(crate) fn value(&self, path: &FieldPath) -> Option<Pos> {
        self.nearest(path).map(|e| e.value)
    }

    /// Where the key of `path` stands (its value's place for sequence items).
    pub(crate) fn key(&self, path: &FieldPath) -> Option<Pos> {
        self.nearest(path).map(|e| e.key.unwrap_or(e.value))
    }

    /// The scalar at exactly `path` as written in the file, before substitution.
    pub(crate) fn raw(&self, path: &FieldPath) -> Option<&str> {
        self.map.get(path).and_then(|e| e.raw.as_deref())
    }

    fn nearest(&self, path: &FieldPath) -> Option<&Entry> {
        let mut p = path.clone();
        loop {
            if let Some(e) = self.map.get(&p) {
                return Some(e);
            }
            if p.0.is_empty() {
                return None;
            }
            p = p.parent();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "campaign: x\nsteps:\n  - id: a\n    send: { cron: \"0 8 * * MON\" }\n  - id: b\n    send:\n      at: \"2026-09-03 08:00\"\n";

    #[test]
    fn a_nested_value_is_found_by_its_path() {
        let loc = Locations::index(DOC);
        let p = FieldPath::root()
            .key("steps")
            .index(1)
            .key("send")
            .key("at");
        assert_eq!(
            loc.value(&p),
            Some(Pos {
                line: 7,
                column: 11
            })
        );
        assert_eq!(loc.key(&p), Some(Pos { line: 7, column: 7 }));
        assert_eq!(p.to_string(), "steps[1].send.at");
    }

    #[test]
    fn flow_mappings_are_indexed_too() {
        let loc = Locations::index(DOC);
        let p = FieldPath::root()
            .key("steps")
            .index(0)
            .key("send")
            .key("cron");
        assert_eq!(
            loc.key(&p),
            Some(Pos {
                line: 4,
                column: 13
            })
        );
    }

    #[test]
    fn a_missing_field_falls_back_to_its_parent() {
        let loc = Locations::index(DOC);
        let p = FieldPath::root().key("steps").index(0).key("template");
        assert_eq!(loc.value(&p), Some(Pos { line: 3, column: 5 }));
    }
}
