//! [`FirstLines`]: the line of the first row of each key met in a file, so that a later
//! row with the same key is found exactly and named with the line it repeats.
//!
//! An audience of 2,000,000 rows has 2,000,000 keys, and this is the only thing a pass over
//! it holds for every row. A `HashMap<String, u64>` spent about 80 bytes a key on it (a
//! string's 24 bytes and its own allocation, the line, and a table that copies itself whole
//! to grow): 165 MB of the 241 MiB `loa plan` peaked at over 2,000,000 students. Here the
//! keys' text sits end to end in one buffer and hashbrown's table holds 4-byte entry
//! numbers: about 30 bytes a key (issue 19).

use std::hash::{BuildHasher, RandomState};

use hashbrown::HashTable;

/// The keys met so far, each with the line of its first row.
pub(crate) struct FirstLines<S = RandomState> {
    hasher: S,
    /// Entry numbers, found by their key's hash and told apart by their key's text.
    table: HashTable<u32>,
    /// The text of every key, one after the other: entry `i` is `text[ends[i - 1]..ends[i]]`.
    text: String,
    ends: Vec<u32>,
    /// The line of each entry's first row.
    lines: Vec<u64>,
}

impl FirstLines {
    pub(crate) fn new() -> Self {
        Self::with_hasher(RandomState::new())
    }
}

impl Default for FirstLines {
    fn default() -> Self {
        Self::new()
    }
}

impl<S: BuildHasher> FirstLines<S> {
    pub(crate) fn with_hasher(hasher: S) -> Self {
        FirstLines {
            hasher,
            table: HashTable::new(),
            text: String::new(),
            ends: Vec::new(),
            lines: Vec::new(),
        }
    }

    /// The line of the first row with `key`: `line` itself when no row before had it (it is
    /// then noted as the key's first row). Keys are compared by their text, whatever their
    /// hashes: two keys with the same hash are still two keys.
    pub(crate) fn first(&mut self, key: &str, line: u64) -> u64 {
        let hash = self.hasher.hash_one(key);
        let (text, ends) = (&self.text, &self.ends);
        if let Some(&entry) = self.table.find(hash, |&e| key_of(text, ends, e) == key) {
            return self.lines[entry as usize];
        }
        self.text.push_str(key);
        self.ends.push(offset(self.text.len()));
        self.lines.push(line);
        let (hasher, text, ends) = (&self.hasher, &self.text, &self.ends);
        let entry = offset(self.lines.len() - 1);
        self.table
            .insert_unique(hash, entry, |&e| hasher.hash_one(key_of(text, ends, e)));
        line
    }

    /// The number of keys met.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lines.len()
    }
}

/// The text of `entry`'s key.
fn key_of<'a>(text: &'a str, ends: &[u32], entry: u32) -> &'a str {
    let entry = entry as usize;
    let start = match entry {
        0 => 0,
        i => ends[i - 1] as usize,
    };
    &text[start..ends[entry] as usize]
}

/// A count or an offset as stored: 4 bytes, as no audience holds 4 GiB of key text or 4
/// billion rows (the memory for them would have run out long before).
fn offset(n: usize) -> u32 {
    u32::try_from(n).expect("an audience file's keys fit in 4 GiB")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::{BuildHasherDefault, Hasher};

    /// Every key hashes alike: each probe meets every key stored before.
    #[derive(Default)]
    struct Collide;

    impl Hasher for Collide {
        fn finish(&self) -> u64 {
            7
        }
        fn write(&mut self, _: &[u8]) {}
    }

    #[test]
    fn a_repeated_key_gives_the_line_of_its_first_row() {
        let mut seen = FirstLines::new();
        assert_eq!(seen.first("HS001", 2), 2);
        assert_eq!(seen.first("HS002", 3), 3);
        assert_eq!(seen.first("HS001", 7), 2);
        assert_eq!(seen.first("HS002", 9), 3);
        assert_eq!(seen.first("HS0011", 10), 10);
        assert_eq!(seen.len(), 3);
    }

    #[test]
    fn keys_with_the_same_hash_are_told_apart_by_their_text() {
        let mut seen = FirstLines::with_hasher(BuildHasherDefault::<Collide>::default());
        for (i, key) in ["a", "b", "ab", "ba", ""].iter().enumerate() {
            assert_eq!(seen.first(key, i as u64 + 2), i as u64 + 2, "{key:?}");
        }
        assert_eq!(seen.first("ab", 20), 4);
        assert_eq!(seen.first("", 21), 6);
        assert_eq!(seen.first("b", 22), 3);
        assert_eq!(seen.len(), 5);
    }

    /// The table grows many times; every key keeps its first line.
    #[test]
    fn every_key_keeps_its_first_line_as_the_table_grows() {
        let mut seen = FirstLines::new();
        for i in 0..100_000u64 {
            assert_eq!(seen.first(&format!("HS{i:08}"), i + 2), i + 2);
        }
        for i in (0..100_000u64).step_by(997) {
            assert_eq!(seen.first(&format!("HS{i:08}"), 200_000 + i), i + 2);
        }
        assert_eq!(seen.first("Nguyễn", 300_000), 300_000);
        assert_eq!(seen.first("Nguyễn", 300_001), 300_000);
        assert_eq!(seen.len(), 100_001);
    }
}
