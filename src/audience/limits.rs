//! Size limits for audience rows, so a hostile or broken file cannot make loa hold a huge
//! value in memory (one 300 MB cell used to be read whole).
//!
//! Two limits: one cell ([`MAX_FIELD_BYTES`]) and one row ([`MAX_ROW_BYTES`], every cell and
//! every line of a quoted multi-line value together). A row over either limit is a
//! [`super::RowError`] and reading goes on. The CSV parser would still grow its record
//! buffer without end while reading a giant row, so [`RowBudget`] stands between the file
//! and the parser and refuses to hand over more than the row limit (plus a little slack for
//! the parser's read-ahead) for one row: the file's reading then stops with an error naming
//! the row's line and the limit, having read only that much.

use std::io::{self, Read};

/// The largest cell, in bytes (UTF-8), an audience file may hold.
pub(crate) const MAX_FIELD_BYTES: usize = 64 * 1024;

/// The largest row, in bytes, an audience file may hold.
pub(crate) const MAX_ROW_BYTES: usize = 1024 * 1024;

/// Bytes handed to the parser beyond [`MAX_ROW_BYTES`] before reading stops: the parser
/// reads ahead (8 KiB), so a row just over the limit is still read whole and reported as a
/// row error, and only rows far over it stop the file.
const SLACK_BYTES: u64 = 64 * 1024;

/// Why the reading of a file stopped: one row is far larger than [`MAX_ROW_BYTES`].
#[derive(Debug, thiserror::Error)]
#[error(
    "the row starting on line {line} holds more than {limit} bytes, the limit for one row \
     ({max_field} per cell); the rest of the file is not read (hint: check that every \
     double quote is closed, and keep long texts out of the audience data)",
    limit = MAX_ROW_BYTES,
    max_field = MAX_FIELD_BYTES
)]
pub(crate) struct RowTooLarge {
    pub line: u64,
}

/// A reader that gives the CSV parser at most [`MAX_ROW_BYTES`] (plus slack) between two
/// calls of [`RowBudget::start_row`], then fails with an [`io::Error`] until the next.
pub(crate) struct RowBudget<R> {
    inner: R,
    /// Bytes handed over since the current row started.
    used: u64,
    /// The line the current row starts on, for the error.
    line: u64,
}

impl<R> RowBudget<R> {
    pub(crate) fn new(inner: R) -> RowBudget<R> {
        RowBudget {
            inner,
            used: 0,
            line: 1,
        }
    }

    /// A new row starts on `line`: its budget is full again.
    pub(crate) fn start_row(&mut self, line: u64) {
        self.used = 0;
        self.line = line;
    }
}

/// The bytes one row may pull from the file before its reading stops.
fn budget() -> u64 {
    MAX_ROW_BYTES as u64 + SLACK_BYTES
}

impl<R: Read> Read for RowBudget<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let left = budget().saturating_sub(self.used);
        if left == 0 && !buf.is_empty() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                RowTooLarge { line: self.line },
            ));
        }
        let take = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..take])?;
        self.used += n as u64;
        Ok(n)
    }
}

/// The [`RowTooLarge`] inside a CSV error, if that is what stopped the reading.
pub(crate) fn row_too_large(e: &csv::Error) -> Option<&RowTooLarge> {
    match e.kind() {
        csv::ErrorKind::Io(io) => io.get_ref()?.downcast_ref::<RowTooLarge>(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Counts the bytes the wrapped reader handed out.
    struct Counting<R> {
        inner: R,
        read: u64,
    }

    impl<R: Read> Read for Counting<R> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.inner.read(buf)?;
            self.read += n as u64;
            Ok(n)
        }
    }

    #[test]
    fn a_row_without_end_is_refused_after_the_row_budget_not_read_whole() {
        // 256 MiB of one unquoted cell with no line end: the parser would buffer all of it.
        let endless = Counting {
            inner: io::repeat(b'x').take(256 << 20),
            read: 0,
        };
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(RowBudget::new(endless));
        reader.get_mut().start_row(7);
        let mut record = csv::ByteRecord::new();
        let e = reader
            .read_byte_record(&mut record)
            .expect_err("the row is refused");
        let too_large = row_too_large(&e).expect("the error says the row is too large");
        assert_eq!(too_large.line, 7);
        assert!(e.to_string().contains("line 7"), "{e}");
        assert!(e.to_string().contains(&MAX_ROW_BYTES.to_string()), "{e}");
        assert!(
            reader.get_ref().inner.read <= budget(),
            "read {} bytes",
            reader.get_ref().inner.read
        );
        assert!(record.as_slice().len() as u64 <= budget());
    }

    #[test]
    fn every_row_gets_the_whole_budget_again() {
        let row = vec![b'y'; MAX_ROW_BYTES - 10];
        let mut text = Vec::new();
        for _ in 0..5 {
            text.extend_from_slice(&row);
            text.push(b'\n');
        }
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(RowBudget::new(text.as_slice()));
        let mut record = csv::ByteRecord::new();
        for line in 1..=5 {
            reader.get_mut().start_row(line);
            assert!(reader.read_byte_record(&mut record).expect("row fits"));
            assert_eq!(record.as_slice().len(), row.len());
        }
    }
}
