//! [`FirstLines`]: the line of the first row of each key met in a file, so that a later
//! row with the same key is found exactly and named with the line it repeats.
//!
//! An audience of 2,000,000 rows has 2,000,000 keys, and this is the only thing a pass over
//! it holds for every row. A `HashMap<String, u64>` spent about 80 bytes a key on it (a
//! string's 24 bytes and its own allocation, the line, and a table kept at most 7/8 full
//! that copies itself whole to grow): 165 MB of the 241 MiB `loa plan` peaked at over
//! 2,000,000 students. Here the keys' text sits end to end in buffers of 1 MiB, each
//! allocated once at its full size, and the table, the ends and the lines take 4 bytes
//! each: about 26 bytes a key of 10 characters, with no buffer ever copied to grow. One
//! buffer growing by doubling (the first version) held up to twice the text and, while it
//! copied itself, three times: 72–88 MB at 2,000,000 keys against about 52 MB now.
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
    /// The text of every key, one after the other in chunks of [`CHUNK`] bytes; a key never
    /// spans two chunks. Position `p` is byte `p % CHUNK` of chunk `p / CHUNK`.
    chunks: Vec<String>,
    /// Where each entry's key ends (a position); it starts where the one before ended, or at
    /// the start of its own chunk when it did not fit in the one before's ([`Self::key`]).
    ends: Vec<u32>,
    /// The line of each entry's first row.
    lines: Vec<u32>,
}

/// Bytes of key text per chunk. A key is one cell, at most 64 KiB
/// (docs/data-files.md#size-limits), so it always fits in one.
const CHUNK: usize = 1 << 20;

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
            chunks: vec![String::new()],
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
                n if self.key(n as usize - 1) == key => {
                    return u64::from(self.lines[n as usize - 1]);
                }
                _ => at = (at + 1) & mask,
            }
        }
        self.push_text(key);
        self.lines.push(offset(line as usize));
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

    /// Appends `key` to the last chunk, or to a new one when it does not fit, and notes
    /// where it ends. The first chunk grows as small audiences need; later ones are
    /// allocated whole.
    fn push_text(&mut self, key: &str) {
        let last = self.chunks.len() - 1;
        if self.chunks[last].len() + key.len() > CHUNK && !self.chunks[last].is_empty() {
            self.chunks
                .push(String::with_capacity(CHUNK.max(key.len())));
        }
        let last = self.chunks.len() - 1;
        self.chunks[last].push_str(key);
        self.ends
            .push(offset(last * CHUNK + self.chunks[last].len()));
    }

    fn key(&self, entry: usize) -> &str {
        let end = self.ends[entry] as usize;
        let before = match entry {
            0 => 0,
            i => self.ends[i - 1] as usize,
        };
        if end == before {
            return "";
        }
        // The chunk of its last byte.
        let chunk = (end - 1) / CHUNK;
        let start = before.max(chunk * CHUNK);
        &self.chunks[chunk][start - chunk * CHUNK..end - chunk * CHUNK]
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

/// A count, a position or a line as stored: 4 bytes, as no audience holds 4 GiB of key text
/// or 4 billion rows (the memory for them would have run out long before).
fn offset(n: usize) -> u32 {
    u32::try_from(n).expect("an audience file's keys and lines fit in 4 bytes")
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

    /// Keys of every length from 0 to 3,000 bytes fill several chunks, so many keys meet a
    /// chunk's end: each is still found whole, and an empty key after a chunk's last key too.
    #[test]
    fn keys_that_meet_the_end_of_a_chunk_start_the_next_and_are_read_whole() {
        let mut seen = FirstLines::new();
        let key = |i: u64| format!("{i}:{}", "đ".repeat((i % 1_500) as usize));
        let n = 3_000u64;
        for i in 0..n {
            assert_eq!(seen.first(&key(i), i + 2), i + 2);
        }
        assert_eq!(seen.first("", 10_000), 10_000);
        assert!(seen.chunks.len() > 3, "{} chunks", seen.chunks.len());
        for i in 0..n {
            assert_eq!(seen.first(&key(i), 20_000 + i), i + 2, "key {i}");
        }
        assert_eq!(seen.first("", 10_001), 10_000);
        assert!(seen.chunks.iter().all(|c| c.len() <= CHUNK));
    }

    /// A chunk filled to its last byte, then an empty key: it ends where the chunk ends,
    /// with no chunk after it yet.
    #[test]
    fn an_empty_key_after_a_full_chunk_is_found() {
        let mut seen = FirstLines::new();
        let half = "x".repeat(CHUNK / 2);
        assert_eq!(seen.first(&half, 2), 2);
        assert_eq!(seen.first(&"y".repeat(CHUNK / 2), 3), 3);
        assert_eq!(seen.chunks.len(), 1);
        assert_eq!(seen.first("", 4), 4);
        assert_eq!(seen.first("", 5), 4);
        assert_eq!(seen.first("z", 6), 6);
        assert_eq!(seen.chunks.len(), 2);
        assert_eq!((seen.first("z", 7), seen.first(&half, 8)), (6, 2));
    }
}
