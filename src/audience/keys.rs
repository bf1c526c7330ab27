//! [`FirstLines`]: the line of the first row of each key met in a file, so that a later
//! row with the same key is found exactly and named with the line it repeats.
//!
//! An audience of 2,000,000 rows has 2,000,000 keys, and this is the only thing a pass over
//! it holds for every row. A `HashMap<String, u64>` spent about 80 bytes a key on it (a
//! string's 24 bytes and its own allocation, the line, and a table kept at most 7/8 full
//! that copies itself whole to grow): 165 MB of the 241 MiB `loa plan` peaked at over
//! 2,000,000 students. Here the keys' text sits end to end in one buffer and the table holds
//! 4-byte entry numbers: about 30 bytes a key (issue 19).
//!
//! The table is written here rather than taken from hashbrown's `HashTable<u32>`, which
//! was tried with the same buffer: `loa plan` over 2,000,000 students took 18.5–20.6 s and
//! peaked at 88 MB with it, against 15.6–16.6 s and 82 MB with this one (release builds,
//! alternated, two runs each, 2026-12-07). Likely why, not measured: at most half full, a
//! probe here mostly reads one slot and the key; hashbrown, up to 7/8 full, reads control
//! bytes as well.

use std::hash::{BuildHasher, RandomState};

/// The keys met so far, each with the line of its first row.
pub(crate) struct FirstLines<S = RandomState> {
    hasher: S,
    /// Open addressing with linear probing: the number of an entry plus one, 0 for a free
    /// slot. Never more than half full, so a probe for a new key ends after a slot or two.
    slots: Vec<u32>,
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
    /// Slots of a new table: a power of two, as the probe masks the hash.
    const FIRST_SLOTS: usize = 1024;

    pub(crate) fn with_hasher(hasher: S) -> Self {
        FirstLines {
            hasher,
            slots: vec![0; Self::FIRST_SLOTS],
            text: String::new(),
            ends: Vec::new(),
            lines: Vec::new(),
        }
    }

    /// The line of the first row with `key`: `line` itself when no row before had it (it is
    /// then noted as the key's first row). Keys are compared by their text, whatever their
    /// hashes: two keys with the same hash are still two keys.
    pub(crate) fn first(&mut self, key: &str, line: u64) -> u64 {
        let mask = self.slots.len() - 1;
        let mut at = self.hasher.hash_one(key) as usize & mask;
        loop {
            match self.slots[at] {
                0 => break,
                n if self.key(n as usize - 1) == key => return self.lines[n as usize - 1],
                _ => at = (at + 1) & mask,
            }
        }
        self.text.push_str(key);
        self.ends.push(offset(self.text.len()));
        self.lines.push(line);
        self.slots[at] = offset(self.lines.len());
        if 2 * self.lines.len() > self.slots.len() {
            self.grow();
        }
        line
    }

    /// The number of keys met.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lines.len()
    }

    fn key(&self, entry: usize) -> &str {
        let start = match entry {
            0 => 0,
            i => self.ends[i - 1] as usize,
        };
        &self.text[start..self.ends[entry] as usize]
    }

    /// Twice the slots, every entry placed again by its key's hash.
    fn grow(&mut self) {
        let mut slots = vec![0u32; 2 * self.slots.len()];
        let mask = slots.len() - 1;
        for entry in 0..self.lines.len() {
            let mut at = self.hasher.hash_one(self.key(entry)) as usize & mask;
            while slots[at] != 0 {
                at = (at + 1) & mask;
            }
            slots[at] = offset(entry + 1);
        }
        self.slots = slots;
    }
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

    /// Past the first table's size it grows several times; every key keeps its first line.
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
