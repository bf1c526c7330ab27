//! From file bytes to a UTF-8 byte stream the CSV parser can read, and the checks that
//! reject text we must not guess at.
//!
//! See docs/campaign-file.md#text-encodings: a UTF-8 BOM (what Excel's "CSV UTF-8" writes) is
//! stripped; UTF-16 with a BOM (Excel's "Unicode text") is transcoded; anything else is
//! read as UTF-8 and a cell that is not valid UTF-8 is reported by the CSV layer. TCVN3
//! (`.VnTime`) and VNI are font mappings, not charsets, so no decoder exists for them; text
//! that looks like them is rejected instead of being converted by guesswork.
//!
//! It also owns the small stream helpers the CSV reader needs before parsing: the head of
//! the file (header line: delimiter, line ends) and a guaranteed final newline.

use std::fs::File;
use std::io::{self, Cursor, Read};
use std::path::Path;

use encoding_rs_io::DecodeReaderBytesBuilder;

use super::AudienceError;

/// A UTF-8 byte stream, with no BOM.
pub(crate) type TextReader = Box<dyn Read + Send>;

/// Opens `path` and returns its content as UTF-8 bytes, with any BOM removed.
pub(crate) fn open_text(path: &Path) -> Result<TextReader, AudienceError> {
    let open_error = |source| AudienceError::Open {
        path: path.to_path_buf(),
        source,
    };
    let mut file = File::open(path).map_err(open_error)?;
    let prefix = read_prefix(&mut file, 4).map_err(open_error)?;
    let unsupported = |detail: &str| AudienceError::UnsupportedEncoding {
        path: path.to_path_buf(),
        detail: detail.to_string(),
    };
    match prefix.as_slice() {
        [0xFF, 0xFE, 0, 0, ..] | [0, 0, 0xFE, 0xFF, ..] => {
            Err(unsupported("it is UTF-32; save it as CSV UTF-8"))
        }
        [0xEF, 0xBB, 0xBF, rest @ ..] => {
            let rest = rest.to_vec();
            Ok(Box::new(Cursor::new(rest).chain(file)))
        }
        [0xFF, 0xFE, ..] | [0xFE, 0xFF, ..] => {
            // The decoder takes the encoding from the BOM and drops the BOM itself; malformed
            // UTF-16 becomes U+FFFD, which the CSV layer reports per row.
            let stream = Cursor::new(prefix).chain(file);
            Ok(Box::new(
                DecodeReaderBytesBuilder::new()
                    .strip_bom(true)
                    .build(stream),
            ))
        }
        p if p.contains(&0) => Err(unsupported(
            "it contains NUL bytes: UTF-16 without a byte-order mark, or not a text file; \
             save it as CSV UTF-8",
        )),
        _ => Ok(Box::new(Cursor::new(prefix).chain(file))),
    }
}

/// Reads up to `n` bytes, fewer only at end of file.
fn read_prefix(file: &mut File, n: usize) -> io::Result<Vec<u8>> {
    let mut prefix = Vec::with_capacity(n);
    file.by_ref().take(n as u64).read_to_end(&mut prefix)?;
    Ok(prefix)
}

/// How much of the file start is inspected for the header line's delimiter and line ends.
const HEAD_LIMIT: usize = 64 * 1024;

/// The start of the stream, up to the first line with content (at most `HEAD_LIMIT`),
/// for the header checks; the caller reads it again before the rest.
pub(crate) fn read_head(text: &mut impl Read) -> io::Result<Vec<u8>> {
    let mut head = Vec::new();
    while head.len() < HEAD_LIMIT {
        let n = text.by_ref().take(8 * 1024).read_to_end(&mut head)?;
        // Stop once a line with content is complete: it is the header.
        let terminated = head.iter().filter(|&&b| b == b'\n').count();
        let mut lines = head.split(|&b| b == b'\n').take(terminated);
        if n == 0 || lines.any(|line| !line.iter().all(u8::is_ascii_whitespace)) {
            break;
        }
    }
    Ok(head)
}

/// Passes a stream through and adds a final `\n` when it does not end with one, so the
/// last record is terminated like every other (the CSV reader's line numbers rely on it).
pub(crate) struct TrailingNewline<R> {
    inner: R,
    last: Option<u8>,
    done: bool,
}

impl<R> TrailingNewline<R> {
    pub(crate) fn new(inner: R) -> TrailingNewline<R> {
        TrailingNewline {
            inner,
            last: None,
            done: false,
        }
    }
}

impl<R: Read> Read for TrailingNewline<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.done || buf.is_empty() {
            return Ok(0);
        }
        let n = self.inner.read(buf)?;
        if let Some(&last) = buf.get(..n).and_then(<[u8]>::last) {
            self.last = Some(last);
            return Ok(n);
        }
        self.done = true;
        match self.last {
            Some(last) if last != b'\n' => {
                buf[0] = b'\n';
                Ok(1)
            }
            _ => Ok(0),
        }
    }
}

/// The first line of `head` that is not blank, without its line end (`\n` or `\r\n`):
/// normally the header row.
pub(crate) fn first_line(head: &[u8]) -> &[u8] {
    head.split(|&b| b == b'\n')
        .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
        .find(|line| !line.iter().all(u8::is_ascii_whitespace))
        .unwrap_or_default()
}

/// Picks the field delimiter from the header line. Excel writes CSV with the Windows list
/// separator, which is `;` where the decimal separator is a comma (as in Vietnamese
/// regional settings), so a header with semicolons and no commas is read with `;`.
pub(crate) fn sniff_delimiter(header: &[u8]) -> u8 {
    let commas = header.iter().filter(|&&b| b == b',').count();
    let semicolons = header.iter().filter(|&&b| b == b';').count();
    if commas == 0 && semicolons > 0 {
        b';'
    } else {
        b','
    }
}

/// Evidence that text was typed in a TCVN3 or VNI font and saved through a Western code page.
///
/// Such text is made of Latin-1 characters that Vietnamese never uses (`Hµ Néi` for
/// "Hà Nội", `Tr­êng` for "Trường", VNI `Tröôøng`) and none of the letters only Vietnamese
/// uses (ă đ ơ ư and the U+1EA0–U+1EF9 block), which real Unicode Vietnamese is full of.
#[derive(Debug, Default)]
pub(crate) struct LegacyFontScore {
    foreign: usize,
    vietnamese: usize,
    /// A suspicious value and its line, for the error message.
    pub example: Option<(u64, String)>,
    example_is_pure: bool,
}

/// Enough foreign characters that a stray `°` or `©` in real data does not trip it.
const LEGACY_MIN_FOREIGN: usize = 4;

impl LegacyFontScore {
    pub(crate) fn add(&mut self, line: u64, text: &str) {
        let foreign = text
            .chars()
            .filter(|&c| is_foreign_to_vietnamese(c))
            .count();
        let vietnamese = text.chars().filter(|&c| is_only_vietnamese(c)).count();
        // Prefer a value with no Vietnamese letters at all: it shows the problem best.
        let better = match &self.example {
            None => foreign > 0,
            Some(_) => foreign > 0 && vietnamese == 0 && !self.example_is_pure,
        };
        if better {
            self.example_is_pure = vietnamese == 0;
            self.example = Some((line, text.chars().take(60).collect()));
        }
        self.foreign += foreign;
        self.vietnamese += vietnamese;
    }

    pub(crate) fn looks_legacy(&self) -> bool {
        self.foreign >= LEGACY_MIN_FOREIGN && self.foreign > self.vietnamese
    }
}

/// Windows-1252 bytes 0x80–0x9F whose characters lie outside Latin-1.
const CP1252_HIGH: [(char, u8); 27] = [
    ('€', 0x80),
    ('‚', 0x82),
    ('ƒ', 0x83),
    ('„', 0x84),
    ('…', 0x85),
    ('†', 0x86),
    ('‡', 0x87),
    ('ˆ', 0x88),
    ('‰', 0x89),
    ('Š', 0x8A),
    ('‹', 0x8B),
    ('Œ', 0x8C),
    ('Ž', 0x8E),
    ('‘', 0x91),
    ('’', 0x92),
    ('“', 0x93),
    ('”', 0x94),
    ('•', 0x95),
    ('–', 0x96),
    ('—', 0x97),
    ('˜', 0x98),
    ('™', 0x99),
    ('š', 0x9A),
    ('›', 0x9B),
    ('œ', 0x9C),
    ('ž', 0x9E),
    ('Ÿ', 0x9F),
];

/// The other garbling that looks like a legacy font: UTF-8 text once opened as Windows-1252
/// and saved again (`TrÆ°á»ng` for "Trường"). Returns the original Vietnamese when `text`
/// is exactly that, so the error can say what happened instead of blaming TCVN3/VNI.
pub(crate) fn undo_cp1252(text: &str) -> Option<String> {
    let mut bytes = Vec::with_capacity(text.len());
    for c in text.chars() {
        let byte = match u8::try_from(u32::from(c)) {
            Ok(b) => b,
            Err(_) => CP1252_HIGH.iter().find(|(k, _)| *k == c)?.1,
        };
        bytes.push(byte);
    }
    let original = String::from_utf8(bytes).ok()?;
    original.chars().any(is_only_vietnamese).then_some(original)
}

/// The letters [`is_foreign_to_vietnamese`] looks for, besides the symbols U+00A1–U+00BF.
const FOREIGN_TO_VIETNAMESE: &str = "ÄÅÆÇËÎÏÐÑÖ×ØÛÜÞßäåæçëîïðñö÷øûüþÿƒŠšŒœŽžŸˆ˜‰†‡";

/// Latin-1 symbols and letters absent from Vietnamese, plus the Windows-1252 extras in
/// 0x80–0x9F that the legacy fonts also map letters to.
fn is_foreign_to_vietnamese(c: char) -> bool {
    ('\u{A1}'..='\u{BF}').contains(&c) || FOREIGN_TO_VIETNAMESE.contains(c)
}

/// Letters (NFC) that occur in Vietnamese and practically nowhere else.
fn is_only_vietnamese(c: char) -> bool {
    matches!(
        c,
        'Ă' | 'ă' | 'Đ' | 'đ' | 'Ĩ' | 'ĩ' | 'Ũ' | 'ũ' | 'Ơ' | 'ơ' | 'Ư' | 'ư' | '\u{1EA0}'
            ..='\u{1EF9}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn score(lines: &[&str]) -> LegacyFontScore {
        let mut s = LegacyFontScore::default();
        for (i, l) in lines.iter().enumerate() {
            s.add(i as u64 + 1, l);
        }
        s
    }

    #[test]
    fn tcvn3_text_looks_legacy() {
        // "Trường Tiểu học Hà Nội", "Nguyễn Văn An" typed in .VnTime.
        let s = score(&["Tr\u{AD}êng TiÓu häc Hµ Néi", "NguyÔn V¨n An"]);
        assert!(s.looks_legacy());
        assert_eq!(s.example.map(|(line, _)| line), Some(1));
    }

    #[test]
    fn vni_text_looks_legacy() {
        // "Trường Tiểu học", "Việt Nam" typed in VNI-Times.
        assert!(score(&["Tröôøng Tieåu hoïc", "Vieät Nam"]).looks_legacy());
    }

    #[test]
    fn real_vietnamese_with_a_few_symbols_is_not_legacy() {
        let s = score(&[
            "Trường Tiểu học Hà Nội",
            "Nhiệt độ 38°C, © Sở Giáo dục",
            "Nguyễn Văn An ½ «lớp 5»",
        ]);
        assert!(!s.looks_legacy());
        assert!(!score(&["plain ascii", "hoa@gmail.com"]).looks_legacy());
    }

    #[test]
    fn utf8_read_as_windows_1252_is_recognised_and_recovered() {
        let garbled = "TrÆ°á»\u{9d}ng Tiá»ƒu há»\u{8d}c Ä‘Ã´ng";
        assert!(score(&[garbled]).looks_legacy());
        assert_eq!(
            undo_cp1252(garbled).as_deref(),
            Some("Trường Tiểu học đông")
        );
        assert_eq!(undo_cp1252("Hµ Néi"), None);
        assert_eq!(undo_cp1252("plain"), None);
    }

    #[test]
    fn semicolon_separated_headers_are_detected() {
        assert_eq!(sniff_delimiter(b"school_id;name;phone"), b';');
        assert_eq!(sniff_delimiter(b"school_id,name;x"), b',');
        assert_eq!(sniff_delimiter(b"name"), b',');
    }

    #[test]
    fn the_first_line_skips_blank_lines_and_drops_the_line_end() {
        assert_eq!(first_line(b"\r\n \nid;name\r\n1;a"), b"id;name");
        assert_eq!(first_line(b"id,name"), b"id,name");
        assert_eq!(first_line(b"a\rb\rc"), b"a\rb\rc");
        assert_eq!(first_line(b"\n\n"), b"");
    }
}
