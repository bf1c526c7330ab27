//! [`CsvSource`]: a streaming reader of one audience file, record by record.
//!
//! Memory does not grow with the file: the parser reuses one `ByteRecord`, and only the
//! first [`SNIFF_RECORDS`] records are held at open time, to decide whether the file as a
//! whole is in a legacy font encoding or not UTF-8 at all before any row is handed out.
//! Every other problem is confined to its row and reported as a [`RowError`] with the
//! physical line where the record starts, so callers can list every bad row in one pass.

use std::collections::{HashMap, HashSet, VecDeque};
use std::io::{Chain, Cursor, Read};
use std::path::{Path, PathBuf};

use csv::ByteRecord;

use super::cell::clean;
use super::encoding::{
    LegacyFontScore, TextReader, TrailingNewline, first_line, open_text, read_head,
    sniff_delimiter, undo_cp1252,
};
use super::limits::{MAX_ROW_BYTES, RowBudget, row_too_large};
use super::record::{UTF8_HINT, build_record};
use super::{AudienceError, ColumnType, Record, RowError};

/// How many records are inspected at open time for the file-level encoding checks.
const SNIFF_RECORDS: usize = 100;

type CsvReader = csv::Reader<RowBudget<Chain<Cursor<Vec<u8>>, TrailingNewline<TextReader>>>>;

/// Bytes of read-ahead records held at open time, at most: the sniffed rows stay small
/// even when every one is near the row limit.
const SNIFF_BYTES: usize = 4 * MAX_ROW_BYTES;

/// Reads an audience CSV file one record at a time; see the module documentation.
pub struct CsvSource {
    path: PathBuf,
    headers: Vec<String>,
    types: Vec<Option<ColumnType>>,
    reader: CsvReader,
    /// Records (with their lines) read ahead at open time, handed out first.
    sniffed: VecDeque<(u64, ByteRecord)>,
    record: ByteRecord,
    line: u64,
    finished: bool,
    /// Reading stopped before the end of the file (an I/O error, a row far over the limit).
    stopped: bool,
}

impl CsvSource {
    /// Opens `path`, reads its header and checks the encoding. `columns` declares types for
    /// some columns; each must exist in the header.
    pub fn open(
        path: &Path,
        columns: &HashMap<String, ColumnType>,
    ) -> Result<CsvSource, AudienceError> {
        let mut reader = csv_reader(path)?;
        let (header_line, headers) = read_headers(path, &mut reader)?;
        let types = column_types(path, &headers, columns)?;
        let mut source = CsvSource {
            path: path.to_path_buf(),
            headers,
            types,
            reader,
            sniffed: VecDeque::with_capacity(SNIFF_RECORDS),
            record: ByteRecord::new(),
            line: 0,
            finished: false,
            stopped: false,
        };
        source.sniff(header_line)?;
        Ok(source)
    }

    /// Column names, trimmed and NFC, in file order.
    pub fn headers(&self) -> &[String] {
        &self.headers
    }

    /// The file this source reads.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the reading stopped before the end of the file: the last row error was about
    /// the rest of the file, not one row, and the rows after it were never read.
    pub fn stopped(&self) -> bool {
        self.stopped
    }

    /// Reads the first records ahead and rejects the file when they show it is not UTF-8
    /// or is in a legacy Vietnamese font encoding (docs/campaign-file.md#text-encodings).
    fn sniff(&mut self, header_line: u64) -> Result<(), AudienceError> {
        let mut score = LegacyFontScore::default();
        for h in &self.headers {
            score.add(header_line, h);
        }
        let (mut not_utf8, mut bytes) = (0, 0);
        while self.sniffed.len() < SNIFF_RECORDS && bytes < SNIFF_BYTES {
            let mut record = ByteRecord::new();
            let read = read_record(&mut self.reader, &mut record);
            let Some(line) = read.map_err(|source| self.read_error(source))? else {
                break;
            };
            let mut valid = true;
            for field in record.iter() {
                match std::str::from_utf8(field) {
                    Ok(text) => score.add(line, &clean(text)),
                    Err(_) => valid = false,
                }
            }
            not_utf8 += usize::from(!valid);
            bytes += record.as_slice().len();
            self.sniffed.push_back((line, record));
        }
        // One bad row is that row's problem; most rows bad means the whole file is in a
        // Windows code page, and thousands of row errors would hide that.
        if not_utf8 >= 3 && not_utf8 * 2 > self.sniffed.len() {
            return Err(AudienceError::UnsupportedEncoding {
                path: self.path.clone(),
                detail: format!(
                    "{not_utf8} of the first {} rows are not UTF-8; {UTF8_HINT}",
                    self.sniffed.len()
                ),
            });
        }
        match garbled_text(&self.path, score) {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    fn read_error(&self, source: csv::Error) -> AudienceError {
        AudienceError::Read {
            path: self.path.clone(),
            source,
        }
    }

    /// Loads the next non-blank record into `self.record`; `None` at the end of the file.
    fn advance(&mut self) -> Option<Result<(), RowError>> {
        loop {
            if let Some((line, record)) = self.sniffed.pop_front() {
                (self.line, self.record) = (line, record);
            } else if self.finished {
                return None;
            } else {
                match read_record(&mut self.reader, &mut self.record) {
                    Ok(Some(line)) => self.line = line,
                    Ok(None) => {
                        self.finished = true;
                        return None;
                    }
                    Err(e) => {
                        // An I/O error does not go away by asking again: report it once, stop.
                        self.finished = true;
                        self.stopped = true;
                        let line = row_too_large(&e)
                            .map_or_else(|| self.reader.position().line(), |t| t.line);
                        return Some(Err(RowError {
                            line,
                            column: None,
                            message: format!("cannot read the rest of the file: {e}"),
                            hint: None,
                        }));
                    }
                }
            }
            // Spreadsheets often export trailing rows of empty cells (`,,,,`): not data.
            if !is_blank(&self.record) {
                return Some(Ok(()));
            }
        }
    }
}

impl Iterator for CsvSource {
    type Item = Result<Record, RowError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.advance()? {
            Ok(()) => Some(build_record(
                &self.headers,
                &self.types,
                self.line,
                &self.record,
            )),
            Err(e) => Some(Err(e)),
        }
    }
}

/// The file-level error for text garbled before it reached us, if the sample shows any.
fn garbled_text(path: &Path, score: LegacyFontScore) -> Option<AudienceError> {
    let legacy = score.looks_legacy();
    let (line, example) = score.example.filter(|_| legacy)?;
    let path = path.to_path_buf();
    Some(match undo_cp1252(&example) {
        Some(_) => AudienceError::MisdecodedUtf8 { path, line },
        None => AudienceError::LegacyFontEncoding { path, line },
    })
}

fn csv_reader(path: &Path) -> Result<CsvReader, AudienceError> {
    let mut text = TrailingNewline::new(open_text(path)?);
    let head = read_head(&mut text).map_err(|source| AudienceError::Open {
        path: path.to_path_buf(),
        source,
    })?;
    let header = first_line(&head);
    // Classic Mac OS line ends (CR only, Excel's "CSV (Macintosh)") would make the whole
    // file one record; say so instead of reporting a nonsensical header.
    if header.contains(&b'\r') {
        return Err(AudienceError::UnsupportedEncoding {
            path: path.to_path_buf(),
            detail: format!("its lines end with a lone CR (classic Mac OS); {UTF8_HINT}"),
        });
    }
    let delimiter = sniff_delimiter(header);
    Ok(csv::ReaderBuilder::new()
        .has_headers(false)
        // Field counts are checked per row so a short row is a RowError, not a stop.
        .flexible(true)
        .delimiter(delimiter)
        // Only `\n` ends a record, so line numbers can be computed (see `read_record`); the
        // `\r` of CRLF stays at the end of the last field and is trimmed with the value.
        .terminator(csv::Terminator::Any(b'\n'))
        .from_reader(RowBudget::new(Cursor::new(head).chain(text))))
}

/// Reads the header row (after any blank lines) and returns its line and column names.
fn read_headers(path: &Path, reader: &mut CsvReader) -> Result<(u64, Vec<String>), AudienceError> {
    let mut record = ByteRecord::new();
    let line = loop {
        let read = read_record(reader, &mut record).map_err(|source| AudienceError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        match read {
            Some(line) if !is_blank(&record) => break line,
            Some(_) => {}
            None => {
                return Err(AudienceError::Empty {
                    path: path.to_path_buf(),
                });
            }
        }
    };
    let mut headers = Vec::with_capacity(record.len());
    let mut seen = HashSet::new();
    for (i, field) in record.iter().enumerate() {
        let name = std::str::from_utf8(field).map(clean).map_err(|_| {
            AudienceError::UnsupportedEncoding {
                path: path.to_path_buf(),
                detail: format!("the header is not UTF-8; {UTF8_HINT}"),
            }
        })?;
        if name.is_empty() {
            return Err(AudienceError::EmptyHeader {
                path: path.to_path_buf(),
                position: i + 1,
            });
        }
        if !seen.insert(name.clone()) {
            return Err(AudienceError::DuplicateHeader {
                path: path.to_path_buf(),
                name,
            });
        }
        headers.push(name);
    }
    Ok((line, headers))
}

/// A record of empty or whitespace-only cells, such as the `,,,,` rows spreadsheets export
/// below the data, or a blank CRLF line.
fn is_blank(record: &ByteRecord) -> bool {
    record.iter().all(|f| f.iter().all(u8::is_ascii_whitespace))
}

fn column_types(
    path: &Path,
    headers: &[String],
    columns: &HashMap<String, ColumnType>,
) -> Result<Vec<Option<ColumnType>>, AudienceError> {
    // Sorted so the error names the same column on every run.
    let mut declared: Vec<&String> = columns.keys().collect();
    declared.sort();
    if let Some(missing) = declared.into_iter().find(|c| !headers.contains(c)) {
        return Err(AudienceError::DeclaredColumnMissing {
            path: path.to_path_buf(),
            column: missing.clone(),
            headers: super::column_list(headers),
        });
    }
    Ok(headers.iter().map(|h| columns.get(h).copied()).collect())
}

/// Reads the next record and returns the 1-based line where it starts.
///
/// The csv crate's record position is where the previous record ended, before any blank
/// lines, so it is not the line staff see in their editor. With `\n` as the only record
/// terminator and a final `\n` guaranteed ([`TrailingNewline`]), every record consumes its
/// own terminator, and its first line is the reader's line count after the record minus
/// the newlines inside it (quoted multi-line values) minus the terminator.
///
/// No row may pull more than the row limit from the file ([`RowBudget`]); the error then
/// names the line where the row starts, which (blank lines aside, which the parser skips)
/// is the line after the previous record.
fn read_record(reader: &mut CsvReader, record: &mut ByteRecord) -> csv::Result<Option<u64>> {
    let next = reader.position().line();
    reader.get_mut().start_row(next);
    if !reader.read_byte_record(record)? {
        return Ok(None);
    }
    let inner = record.as_slice().iter().filter(|&&b| b == b'\n').count() as u64;
    Ok(Some(
        reader.position().line().saturating_sub(inner + 1).max(1),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audience::Lookup;
    use crate::audience::limits::MAX_FIELD_BYTES;
    use serde_json::json;
    use std::io::Write;

    const STUDENTS: &str = "student_id,name,school_id,phone,insured,paid_on\r\n\
        HS001,Nguyễn Thị Hoa,12,0912 345 678,x,04/09/2026\n\
        HS002,Trần Văn Đức,12,+84 91 234 5679,không,\r\n";

    fn write_bytes(bytes: &[u8]) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().expect("temp file");
        f.write_all(bytes).expect("write");
        f
    }

    fn open(bytes: &[u8]) -> CsvSource {
        let f = write_bytes(bytes);
        CsvSource::open(f.path(), &HashMap::new()).expect("file opens")
    }

    fn open_err(bytes: &[u8], columns: &[(&str, ColumnType)]) -> AudienceError {
        let f = write_bytes(bytes);
        let columns = columns.iter().map(|(c, t)| (c.to_string(), *t)).collect();
        match CsvSource::open(f.path(), &columns) {
            Ok(_) => panic!("the file should be rejected"),
            Err(e) => e,
        }
    }

    fn records(bytes: &[u8]) -> Vec<Result<Record, RowError>> {
        open(bytes).collect()
    }

    fn utf16(text: &str, big_endian: bool) -> Vec<u8> {
        let mut out = if big_endian {
            vec![0xFE, 0xFF]
        } else {
            vec![0xFF, 0xFE]
        };
        for unit in text.encode_utf16() {
            let pair = if big_endian {
                unit.to_be_bytes()
            } else {
                unit.to_le_bytes()
            };
            out.extend_from_slice(&pair);
        }
        out
    }

    #[test]
    fn rows_are_typed_and_numbered_by_physical_line() {
        let got = records(STUDENTS.as_bytes());
        let first = got[0].as_ref().expect("row 1");
        assert_eq!(first.line, 2);
        assert_eq!(first.row["name"], "Nguyễn Thị Hoa");
        assert_eq!(first.row["school_id"], 12);
        assert_eq!(first.row["phone"], "0912 345 678");
        assert_eq!(first.row["insured"], true);
        assert_eq!(first.row["paid_on"], "2026-09-04");
        let second = got[1].as_ref().expect("row 2");
        assert_eq!((second.line, &second.row["paid_on"]), (3, &json!("")));
        assert_eq!(got.len(), 2);
    }

    #[test]
    fn bom_no_bom_and_utf16_files_give_identical_records() {
        let plain = records(STUDENTS.as_bytes());
        let with_bom = records(&[b"\xEF\xBB\xBF".as_slice(), STUDENTS.as_bytes()].concat());
        let le = records(&utf16(STUDENTS, false));
        let be = records(&utf16(&format!("\u{FEFF}{STUDENTS}")[3..], true));
        assert_eq!(plain, with_bom);
        assert_eq!(plain, le);
        assert_eq!(plain, be);
        assert_eq!(open(&utf16(STUDENTS, false)).headers()[0], "student_id");
        assert_eq!(
            open(&[b"\xEF\xBB\xBF".as_slice(), STUDENTS.as_bytes()].concat()).headers()[0],
            "student_id"
        );
    }

    #[test]
    fn nfd_input_comes_out_nfc() {
        let nfd = "te\u{302}n,ghi chu\u{301}\nNguye\u{302}\u{303}n Thi\u{323} Hoa,co\u{301}\n";
        let source = open(nfd.as_bytes());
        assert_eq!(source.headers(), ["tên", "ghi chú"]);
        let got: Vec<_> = source.collect();
        let row = &got[0].as_ref().expect("row").row;
        assert_eq!(row["tên"], "Nguyễn Thị Hoa");
        assert_eq!(row["ghi chú"], true);
    }

    #[test]
    fn blank_lines_before_the_header_are_skipped() {
        let got = records(b"\r\n\r\nid,name\r\n1,a\r\n");
        assert_eq!(got[0].as_ref().expect("row").line, 4);
    }

    #[test]
    fn headers_are_trimmed() {
        let source = open(b" school_id ,\tname \n1,a\n");
        assert_eq!(source.headers(), ["school_id", "name"]);
    }

    #[test]
    fn invalid_utf8_row_is_reported_and_the_next_row_read() {
        let got = records(b"id,name\n1,ok\n2,Nguy\xC3n\n3,also ok\n");
        assert_eq!(got.len(), 3);
        assert_eq!(got[0].as_ref().expect("row 1").row["name"], "ok");
        let e = got[1].as_ref().expect_err("row 2");
        assert_eq!((e.line, e.column.as_deref()), (3, Some("name")));
        assert!(e.message.contains("UTF-8"), "{e}");
        assert!(e.hint.as_deref().unwrap_or("").contains("CSV UTF-8"));
        assert_eq!(got[2].as_ref().expect("row 3").line, 4);
    }

    #[test]
    fn wrong_field_count_is_a_row_error() {
        let got = records(b"id,name,phone\n1,a\n2,b,c,d\n3,c,0912345678\n");
        let short = got[0].as_ref().expect_err("short row");
        assert_eq!((short.line, short.column.clone()), (2, None));
        assert!(
            short.message.contains("2 fields but the header has 3"),
            "{short}"
        );
        assert!(got[1].is_err());
        assert_eq!(got[2].as_ref().expect("good row").line, 4);
    }

    #[test]
    fn crlf_and_lf_mix_blank_lines_and_quoted_newlines_keep_line_numbers() {
        let got = records(b"id,note\r\n1,a\n\n2,\"two\nlines\"\r\n\r\n3,c\n,\n , \n");
        let lines: Vec<u64> = got.iter().map(|r| r.as_ref().expect("row").line).collect();
        assert_eq!(lines, [2, 4, 7]);
        assert_eq!(got[1].as_ref().expect("row").row["note"], "two\nlines");
    }

    #[test]
    fn declared_types_are_applied_and_misfits_reported_with_a_hint() {
        let f = write_bytes(b"id,phone,total\n1,0912 345 678,312\n2,8.49E+10,1.200\n");
        let columns = HashMap::from([
            ("phone".to_string(), ColumnType::Phone),
            ("total".to_string(), ColumnType::Integer),
        ]);
        let got: Vec<_> = CsvSource::open(f.path(), &columns)
            .expect("opens")
            .collect();
        assert_eq!(got[0].as_ref().expect("row 1").row["phone"], "84912345678");
        let e = got[1].as_ref().expect_err("row 2");
        assert_eq!((e.line, e.column.as_deref()), (3, Some("phone")));
        assert!(e.message.contains("scientific notation"), "{e}");
        assert!(!e.message.contains("8.49"), "the value is not quoted: {e}");
        assert!(e.hint.as_deref().unwrap_or("").contains("Text"), "{e}");
    }

    #[test]
    fn semicolon_separated_files_from_vietnamese_excel_are_read() {
        let source = open("\r\nschool_id;tỉ lệ\r\n1;96,55\r\n".as_bytes());
        assert_eq!(source.headers(), ["school_id", "tỉ lệ"]);
        let got: Vec<_> = source.collect();
        assert_eq!(got[0].as_ref().expect("row").row["tỉ lệ"], "96,55");
    }

    #[test]
    fn file_level_problems_name_the_file() {
        let cases: [(&[u8], &str); 8] = [
            (b"", "is empty"),
            (b"\xEF\xBB\xBF", "is empty"),
            (b"id,name,id\n1,2,3\n", "appears twice"),
            (b"id,,name\n1,2,3\n", "column 2 has no name"),
            (b"id,t\xEAn\n1,a\n", "header is not UTF-8"),
            (b"i\0d\0,\0n\0\n\0", "NUL bytes"),
            (b"id,name\r1,a\r2,b\r", "lone CR"),
            (b"\r\n \r\n,,\r\n", "is empty"),
        ];
        for (bytes, expected) in cases {
            let f = write_bytes(bytes);
            let e = CsvSource::open(f.path(), &HashMap::new())
                .err()
                .expect("rejected");
            let message = e.to_string();
            assert!(message.contains(expected), "{message}");
            assert!(
                message.contains(&f.path().display().to_string()),
                "{message}"
            );
        }
        let missing = Path::new("/nonexistent/loa/students.csv");
        let e = CsvSource::open(missing, &HashMap::new())
            .err()
            .expect("no file");
        assert!(e.to_string().contains("students.csv"), "{e}");
    }

    #[test]
    fn a_declared_column_missing_from_the_header_is_a_file_error() {
        let e = open_err(b"id,phone\n1,0912345678\n", &[("email", ColumnType::Email)]);
        assert!(
            matches!(e, AudienceError::DeclaredColumnMissing { ref column, .. } if column == "email")
        );
    }

    #[test]
    fn tcvn3_mojibake_rejects_the_file() {
        // "Trường Tiểu học Hà Nội" and "Nguyễn Văn An" typed in the .VnTime font.
        let text = "school_id,name,principal\n1,Tr\u{AD}êng TiÓu häc Hµ Néi,NguyÔn V¨n An\n";
        let e = open_err(text.as_bytes(), &[]);
        assert!(
            matches!(e, AudienceError::LegacyFontEncoding { line: 2, .. }),
            "{e:?}"
        );
        let message = e.to_string();
        assert!(
            message.contains("TCVN3") && message.contains("Unicode"),
            "{message}"
        );
    }

    #[test]
    fn vni_mojibake_rejects_the_file() {
        let text = "id,name\n1,Tröôøng Tieåu hoïc Vieät Nam\n";
        assert!(matches!(
            open_err(text.as_bytes(), &[]),
            AudienceError::LegacyFontEncoding { .. }
        ));
    }

    #[test]
    fn utf8_saved_through_windows_1252_rejects_the_file_without_quoting_it() {
        let text = "id,name\n1,TrÆ°á»\u{9d}ng Tiá»ƒu há»\u{8d}c\n";
        let e = open_err(text.as_bytes(), &[]);
        assert!(
            matches!(e, AudienceError::MisdecodedUtf8 { line: 2, .. }),
            "{e:?}"
        );
        let message = e.to_string();
        assert!(
            message.contains("Windows-1252") && message.contains("line 2"),
            "{message}"
        );
        assert!(
            !message.contains("Trường") && !message.contains("TrÆ"),
            "{message}"
        );
    }

    #[test]
    fn a_file_in_a_windows_code_page_is_rejected_as_a_whole() {
        // Windows-1258 bytes for "Hà Nội"-like text on every row.
        let text = b"id,name\n1,H\xE0 N\xF4\xF2i\n2,Tr\xFD\xF4\xECng\n3,\xD0\xF4\xF2c\n";
        assert!(matches!(
            open_err(text, &[]),
            AudienceError::UnsupportedEncoding { .. }
        ));
    }

    #[test]
    fn malformed_utf16_is_reported_by_row() {
        let mut bytes = utf16("id,name\n1,a\n2,", false);
        bytes.extend_from_slice(&[0x00, 0xD8]); // a lone high surrogate
        bytes.extend_from_slice(&utf16("b\n3,c\n", false)[2..]);
        let got = records(&bytes);
        assert!(got[0].is_ok());
        assert_eq!(got[1].as_ref().expect_err("row 2").line, 3);
        assert!(got[2].is_ok());
    }

    #[test]
    fn a_large_file_streams_through_the_iterator() {
        const ROWS: usize = 200_000;
        let mut f = tempfile::NamedTempFile::new().expect("temp file");
        {
            let mut w = std::io::BufWriter::new(&mut f);
            writeln!(w, "student_id,name,school_id,phone,insured").expect("header");
            for i in 0..ROWS {
                writeln!(
                    w,
                    "HS{i:06},Nguyễn Văn {i},{},09{:08},x",
                    i % 500,
                    i % 100_000_000
                )
                .expect("row");
            }
            w.flush().expect("flush");
        }
        let columns = HashMap::from([("phone".to_string(), ColumnType::Phone)]);
        let mut source = CsvSource::open(f.path(), &columns).expect("opens");
        let (mut count, mut last_line) = (0usize, 0u64);
        for item in source.by_ref() {
            let record = item.expect("every generated row is valid");
            count += 1;
            last_line = record.line;
        }
        assert_eq!(count, ROWS);
        assert_eq!(last_line, ROWS as u64 + 1);
        // Only the read-ahead buffer of the first records was ever held.
        assert!(source.sniffed.capacity() <= SNIFF_RECORDS.next_power_of_two());
        assert!(source.next().is_none());
    }

    #[test]
    fn a_cell_over_the_cell_limit_is_a_row_error_and_the_next_row_is_read() {
        let mut bytes = b"id,note\n1,short\n2,".to_vec();
        bytes.extend(std::iter::repeat_n(b'x', 2 * MAX_FIELD_BYTES));
        bytes.extend_from_slice(b"\n3,short\n");
        let got = records(&bytes);
        assert_eq!(got.len(), 3);
        let e = got[1].as_ref().expect_err("the long cell");
        assert_eq!((e.line, e.column.as_deref()), (3, Some("note")));
        assert!(e.message.contains(&MAX_FIELD_BYTES.to_string()), "{e}");
        assert!(!e.message.contains("xxx"), "the value is not quoted: {e}");
        assert_eq!(got[2].as_ref().expect("row after it").line, 4);
    }

    #[test]
    fn a_row_twice_the_row_limit_stops_the_reading_naming_file_line_and_limit() {
        let giant = |line_before: usize| {
            let mut bytes = b"id,note\n".to_vec();
            for i in 0..line_before {
                bytes.extend_from_slice(format!("{i},ok\n").as_bytes());
            }
            bytes.extend_from_slice(b"big,\"");
            bytes.extend(std::iter::repeat_n(b'x', 2 * MAX_ROW_BYTES));
            bytes.extend_from_slice(b"\"\nlast,ok\n");
            write_bytes(&bytes)
        };
        // Among the first rows, read at open time: the file is refused.
        let f = giant(1);
        let e = CsvSource::open(f.path(), &HashMap::new())
            .err()
            .expect("the file is refused");
        let message = e.to_string();
        assert!(
            message.contains(&f.path().display().to_string()),
            "{message}"
        );
        assert!(message.contains("line 3"), "{message}");
        assert!(message.contains(&MAX_ROW_BYTES.to_string()), "{message}");
        // Further down: the rows before it are read, then one error, then nothing.
        let f = giant(150);
        let got: Vec<_> = CsvSource::open(f.path(), &HashMap::new())
            .expect("opens")
            .collect();
        assert_eq!(got.len(), 151);
        assert!(got[..150].iter().all(Result::is_ok));
        let e = got[150].as_ref().expect_err("the giant row");
        assert_eq!(e.line, 152);
        assert!(e.message.contains(&MAX_ROW_BYTES.to_string()), "{e}");
        let mut source = CsvSource::open(f.path(), &HashMap::new()).expect("opens");
        assert!(source.by_ref().take(150).all(|r| r.is_ok()) && !source.stopped());
        assert!(source.next().is_some_and(|r| r.is_err()) && source.stopped());
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let pieces: &[&[u8]] = &[
            b"\xEF\xBB\xBF",
            b"\xFF\xFE",
            b"\xFE\xFF",
            b"\0",
            b",",
            b";",
            b"\"",
            b"\r",
            b"\n",
            b"id",
            b"x",
            b"0912345678",
            b"\xC3",
            b"\xB5",
            "ệ".as_bytes(),
            "µ".as_bytes(),
            b" ",
        ];
        let mut state: u64 = 0x2545_F491_4F6C_DD1D;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let columns = HashMap::from([("id".to_string(), ColumnType::Phone)]);
        for _ in 0..300 {
            let len = (next() % 60) as usize;
            let bytes: Vec<u8> = (0..len)
                .flat_map(|_| {
                    pieces[(next() % pieces.len() as u64) as usize]
                        .iter()
                        .copied()
                })
                .collect();
            let f = write_bytes(&bytes);
            for columns in [&HashMap::new(), &columns] {
                if let Ok(source) = CsvSource::open(f.path(), columns) {
                    for item in source {
                        let _ = item;
                    }
                }
                let _ = Lookup::load(f.path(), "id", columns);
            }
        }
    }
}
