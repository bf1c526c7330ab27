//! One CSV record made into a typed [`Record`]: the row within the size limits and as wide
//! as the header, each cell valid UTF-8 with nothing lost in a conversion, then typed by
//! its column's declared type ([`super::cell`]). Any problem is the row's [`RowError`],
//! naming the line and, for a cell, its column.

use csv::ByteRecord;

use super::cell::type_cell_detailed;
use super::limits::{MAX_FIELD_BYTES, MAX_ROW_BYTES};
use super::{ColumnType, Record, Row, RowError};

/// The hint for bytes that are not UTF-8: the file came from a legacy code page.
pub(super) const UTF8_HINT: &str = "save the file as \"CSV UTF-8\" (Excel: Save As → CSV UTF-8)";

/// The typed record of `record`, which starts at `line` of a file with `headers`, whose
/// columns have the declared `types`.
pub(super) fn build_record(
    headers: &[String],
    types: &[Option<ColumnType>],
    line: u64,
    record: &ByteRecord,
) -> Result<Record, RowError> {
    if let Some(e) = oversized(headers, line, record) {
        return Err(e);
    }
    if record.len() != headers.len() {
        return Err(RowError {
            line,
            column: None,
            message: format!(
                "the row has {} fields but the header has {}",
                record.len(),
                headers.len()
            ),
            hint: Some("put double quotes around values that contain a comma".into()),
        });
    }
    let mut row = Row::with_capacity(headers.len());
    for ((name, declared), field) in headers.iter().zip(types).zip(record.iter()) {
        let text = cell_text(field, line, name)?;
        let value = type_cell_detailed(text, *declared)
            .map_err(|e| cell_error(line, name, e.message, &e.hint))?;
        row.insert(name.clone(), value);
    }
    Ok(Record { line, row })
}

/// The text of one cell: valid UTF-8 in which no decoder has left a U+FFFD.
fn cell_text<'a>(field: &'a [u8], line: u64, name: &str) -> Result<&'a str, RowError> {
    let text = std::str::from_utf8(field).map_err(|e| {
        let at = e.valid_up_to();
        let message = format!("the value is not valid UTF-8 (bad byte at offset {at})");
        cell_error(line, name, message, UTF8_HINT)
    })?;
    // U+FFFD is what a decoder leaves where bytes were lost (e.g. in UTF-16 input).
    if text.contains('\u{FFFD}') {
        return Err(cell_error(
            line,
            name,
            "the value contains U+FFFD: some characters were lost when the file was converted"
                .into(),
            UTF8_HINT,
        ));
    }
    Ok(text)
}

fn cell_error(line: u64, column: &str, message: String, hint: &str) -> RowError {
    RowError {
        line,
        column: Some(column.to_string()),
        message,
        hint: Some(hint.to_string()),
    }
}

/// The row error for a row or a cell over the size limits ([`super::limits`]).
fn oversized(headers: &[String], line: u64, record: &ByteRecord) -> Option<RowError> {
    let hint = Some(
        "keep long texts out of the audience data; check that every double quote is closed"
            .to_string(),
    );
    if record.as_slice().len() > MAX_ROW_BYTES {
        return Some(RowError {
            line,
            column: None,
            message: format!(
                "the row holds {} bytes, over the limit of {MAX_ROW_BYTES} bytes for one row",
                record.as_slice().len()
            ),
            hint,
        });
    }
    let (i, field) = record
        .iter()
        .enumerate()
        .find(|(_, f)| f.len() > MAX_FIELD_BYTES)?;
    Some(RowError {
        line,
        column: Some(
            headers
                .get(i)
                .cloned()
                .unwrap_or_else(|| format!("#{}", i + 1)),
        ),
        message: format!(
            "the value holds {} bytes, over the limit of {MAX_FIELD_BYTES} bytes for one cell",
            field.len()
        ),
        hint,
    })
}
