//! Audience data: reading the CSV files a campaign's `audiences:` point at, and turning
//! each cell into a typed, normalised value.
//!
//! This module owns everything between the bytes on disk and a [`Row`]:
//! - the file encoding (UTF-8 with or without BOM, UTF-16 with BOM) and the rejection of
//!   legacy TCVN3/VNI font encodings ([`AudienceError::LegacyFontEncoding`]);
//! - the CSV framing and line numbers ([`CsvSource`], a streaming iterator);
//! - text normalisation (NFC, trimmed), type inference and declared column types
//!   ([`type_cell`], [`ColumnType`]);
//! - Vietnamese phone numbers ([`phone::normalize`], canonical `84` + 9 digits) and email
//!   addresses ([`check_email`]);
//! - small audiences held in memory for joins ([`Lookup`]);
//! - the line of the first row of each key of a large one, compactly ([`keys::FirstLines`]).
//!
//! It does not evaluate `where` expressions, render templates or decide who receives a
//! message: `campaign` tells it which file, key and column types to use, and the planner and
//! dispatcher consume the rows. File-level problems are an [`AudienceError`] (nothing can be
//! read); problems with one row are a [`RowError`] carrying the physical line, and reading
//! goes on, so a validation run can report every bad row at once.

mod cell;
mod email;
mod encoding;
pub(crate) mod keys;
pub(crate) mod limits;
mod lookup;
pub mod phone;
pub(crate) mod recipients;
mod record;
mod source;

use std::fmt;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub(crate) use email::check_email;
pub(crate) use lookup::Lookup;
pub use source::CsvSource;

/// One data row: column name (header, NFC, trimmed) to typed value, in file column order.
pub(crate) type Row = serde_json::Map<String, serde_json::Value>;

/// The type a campaign declares for a column (`columns: { phone: phone }`). Columns
/// without a declaration are inferred per cell (see [`type_cell`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnType {
    Text,
    Integer,
    Decimal,
    Bool,
    Date,
    Phone,
    Email,
}

/// A row that was read and typed without error.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// 1-based physical line where the CSV record starts in the file.
    pub line: u64,
    pub row: Row,
}

/// A problem confined to one row; the rest of the file is still read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    /// 1-based physical line where the CSV record starts.
    pub line: u64,
    /// The column at fault, when the problem is one cell.
    pub column: Option<String>,
    pub message: String,
    pub hint: Option<String>,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}", self.line)?;
        if let Some(column) = &self.column {
            write!(f, ", column `{column}`")?;
        }
        write!(f, ": {}", self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, " (hint: {hint})")?;
        }
        Ok(())
    }
}

impl std::error::Error for RowError {}

/// A problem with a whole file: nothing from it can be trusted.
#[derive(Debug, thiserror::Error)]
pub enum AudienceError {
    #[error("cannot open audience file {}: {source}", path.display())]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot read audience file {}: {source}", path.display())]
    Read { path: PathBuf, source: csv::Error },
    #[error("cannot read audience file {} to its end: {error}", path.display())]
    Stopped { path: PathBuf, error: RowError },
    #[error("audience file {} is empty: expected a header row naming the columns", path.display())]
    Empty { path: PathBuf },
    #[error(
        "audience file {}: header column {position} has no name (give it a name or delete the column)",
        path.display()
    )]
    EmptyHeader { path: PathBuf, position: usize },
    #[error("audience file {}: column `{name}` appears twice in the header", path.display())]
    DuplicateHeader { path: PathBuf, name: String },
    #[error(
        "audience file {}: key column `{key}` is not in the header (columns: {headers})",
        path.display()
    )]
    KeyColumnMissing {
        path: PathBuf,
        key: String,
        headers: String,
    },
    #[error(
        "audience file {}: column `{column}` has a declared type but is not in the header (columns: {headers})",
        path.display()
    )]
    DeclaredColumnMissing {
        path: PathBuf,
        column: String,
        headers: String,
    },
    #[error("audience file {} is not in a supported text format: {detail}", path.display())]
    UnsupportedEncoding { path: PathBuf, detail: String },
    #[error(
        "audience file {} looks like it uses a legacy Vietnamese font encoding (TCVN3/.VnTime or VNI), \
         e.g. line {line}; convert it to Unicode (Unikey: Công cụ chuyển mã, \
         TCVN3 or VNI → Unicode) and save as CSV UTF-8",
        path.display()
    )]
    LegacyFontEncoding { path: PathBuf, line: u64 },
    #[error(
        "audience file {} holds UTF-8 text that was opened as Windows-1252 and saved again \
         (each Vietnamese letter became two or three Latin ones), e.g. line {line}; export it \
         again from the original data as CSV UTF-8",
        path.display()
    )]
    MisdecodedUtf8 { path: PathBuf, line: u64 },
}

/// Header names for a message listing the columns. A "name" that is long or holds control
/// characters is more likely a first row of data than a column name (a file without a
/// header, or not a CSV file at all): it is shown by its position, never quoted.
pub(crate) fn column_list(headers: &[String]) -> String {
    let shown: Vec<String> = headers
        .iter()
        .enumerate()
        .map(|(i, h)| {
            if h.chars().count() <= 40 && !h.chars().any(char::is_control) {
                h.clone()
            } else {
                format!("#{} (not a column name)", i + 1)
            }
        })
        .collect();
    shown.join(", ")
}

/// The canonical text form of a key cell, used to match join keys across files: integers
/// and whole decimals print without a fraction (`12`, never `12.0`), strings as they are.
pub(crate) fn key_string(v: &serde_json::Value) -> String {
    use serde_json::Value;
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => {
            if n.is_i64() || n.is_u64() {
                return n.to_string();
            }
            match n.as_f64() {
                // Whole and within f64's exact integer range: print like the integer it is.
                Some(f) if f.fract() == 0.0 && f.abs() < 9.007_199_254_740_992e15 => {
                    format!("{}", f as i64)
                }
                Some(f) => f.to_string(),
                None => n.to_string(),
            }
        }
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn key_string_prints_whole_numbers_without_a_fraction() {
        assert_eq!(key_string(&json!(12)), "12");
        assert_eq!(key_string(&json!(-3)), "-3");
        assert_eq!(key_string(&json!(12.0)), "12");
        assert_eq!(key_string(&json!(96.55)), "96.55");
    }

    #[test]
    fn key_string_keeps_strings_as_they_are() {
        assert_eq!(key_string(&json!("007")), "007");
        assert_eq!(key_string(&json!("THPT-Lê Quý Đôn")), "THPT-Lê Quý Đôn");
        assert_eq!(key_string(&json!("")), "");
        assert_eq!(key_string(&json!(true)), "true");
    }

    #[test]
    fn row_error_display_names_line_column_and_hint() {
        let e = RowError {
            line: 7,
            column: Some("phone".into()),
            message: "`abc` is not a phone number".into(),
            hint: Some("write 10 digits".into()),
        };
        assert_eq!(
            e.to_string(),
            "line 7, column `phone`: `abc` is not a phone number (hint: write 10 digits)"
        );
    }

    #[test]
    fn column_types_are_spelled_in_lower_case_in_yaml() {
        let t: ColumnType = serde_json::from_value(json!("phone")).expect("phone parses");
        assert_eq!(t, ColumnType::Phone);
        let t: ColumnType = serde_json::from_value(json!("decimal")).expect("decimal parses");
        assert_eq!(t, ColumnType::Decimal);
    }
}
