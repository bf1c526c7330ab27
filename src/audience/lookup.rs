//! [`Lookup`]: a small audience (schools, classes) held in memory by its key column, so
//! rows of a large audience can be joined to it (`join: { school: schools }`).
//!
//! Keys are compared in their [`key_string`] form, so `12` in one file matches `12` in
//! another whether or not either column was typed as a number.

use std::collections::HashMap;
use std::path::Path;

use indexmap::IndexMap;

use super::{AudienceError, ColumnType, CsvSource, Record, Row, RowError, key_string};

/// A whole audience keyed by its key column, in file order.
#[derive(Debug, Clone)]
pub(crate) struct Lookup {
    #[cfg(test)]
    headers: Vec<String>,
    rows: IndexMap<String, Record>,
}

impl Lookup {
    /// Reads the file at `path`. Rows with an empty key, or a key already seen (the first
    /// row wins), are left out and returned as [`RowError`]s together with every other
    /// row-level problem, in line order.
    pub(crate) fn load(
        path: &Path,
        key: &str,
        columns: &HashMap<String, ColumnType>,
    ) -> Result<(Lookup, Vec<RowError>), AudienceError> {
        let source = CsvSource::open(path, columns)?;
        if !source.headers().iter().any(|h| h == key) {
            return Err(AudienceError::KeyColumnMissing {
                path: path.to_path_buf(),
                key: key.to_string(),
                headers: super::column_list(source.headers()),
            });
        }
        #[cfg(test)]
        let headers = source.headers().to_vec();
        let mut rows: IndexMap<String, Record> = IndexMap::new();
        let mut errors = Vec::new();
        let mut source = source;
        while let Some(item) = source.next() {
            if let Err(e) = &item
                && source.stopped()
            {
                // The rows after it are unknown: a partial table would fail joins silently.
                return Err(AudienceError::Stopped {
                    path: path.to_path_buf(),
                    error: e.clone(),
                });
            }
            match item.and_then(|record| keyed(key, record)) {
                Ok((k, record)) => {
                    if let Some(first) = rows.get(&k) {
                        errors.push(duplicate(key, first.line, record.line));
                    } else {
                        rows.insert(k, record);
                    }
                }
                Err(e) => errors.push(e),
            }
        }
        Ok((
            Lookup {
                #[cfg(test)]
                headers,
                rows,
            },
            errors,
        ))
    }

    /// The row whose key is `key` (in [`key_string`] form).
    pub(crate) fn get(&self, key: &str) -> Option<&Row> {
        self.rows.get(key).map(|r| &r.row)
    }

    /// The line the row with `key` was read from, for messages about it.
    #[cfg(test)]
    pub(crate) fn line(&self, key: &str) -> Option<u64> {
        self.rows.get(key).map(|r| r.line)
    }

    /// Number of rows kept (bad and duplicate rows are not counted).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.rows.len()
    }

    #[cfg(test)]
    pub(crate) fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    #[cfg(test)]
    pub(crate) fn headers(&self) -> &[String] {
        &self.headers
    }

    /// Every kept row with its key, in file order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &Record)> {
        self.rows.iter().map(|(k, r)| (k.as_str(), r))
    }
}

fn keyed(key: &str, record: Record) -> Result<(String, Record), RowError> {
    let k = record.row.get(key).map(key_string).unwrap_or_default();
    if k.is_empty() {
        return Err(RowError {
            line: record.line,
            column: Some(key.to_string()),
            message: "the key is empty".into(),
            hint: Some(format!("every row needs a unique `{key}`")),
        });
    }
    Ok((k, record))
}

fn duplicate(key: &str, first: u64, line: u64) -> RowError {
    RowError {
        line,
        column: Some(key.to_string()),
        message: format!("duplicate key, already used on line {first}; this row is ignored"),
        hint: Some(format!("every row needs a unique `{key}`")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn file(content: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().expect("temp file");
        f.write_all(content.as_bytes()).expect("write");
        f
    }

    fn load(content: &str, key: &str) -> (Lookup, Vec<RowError>) {
        let f = file(content);
        Lookup::load(f.path(), key, &HashMap::new()).expect("file loads")
    }

    #[test]
    fn rows_are_found_by_the_text_form_of_their_key() {
        let (schools, errors) = load(
            "school_id,name,students_total\n12,THCS Lê Lợi,312\nA07,THPT Chu Văn An,1200\n",
            "school_id",
        );
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(schools.len(), 2);
        assert!(!schools.is_empty());
        assert_eq!(schools.headers(), ["school_id", "name", "students_total"]);
        let row = schools.get("12").expect("school 12");
        assert_eq!(row["name"], "THCS Lê Lợi");
        assert_eq!(row["students_total"], 312);
        assert!(schools.get("A07").is_some());
        assert!(schools.get("12.0").is_none());
        assert_eq!(schools.line("A07"), Some(3));
        let keys: Vec<&str> = schools.iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["12", "A07"]);
    }

    #[test]
    fn duplicate_keys_are_reported_by_line_and_the_first_row_kept() {
        let (schools, errors) = load(
            "school_id,name\n1X7,first\n2,other\n1X7,second\n",
            "school_id",
        );
        assert_eq!(schools.len(), 2);
        assert_eq!(schools.get("1X7").expect("kept")["name"], "first");
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].line, 4);
        assert_eq!(errors[0].column.as_deref(), Some("school_id"));
        assert!(
            errors[0].message.contains("line 2"),
            "{}",
            errors[0].message
        );
        assert!(!errors[0].message.contains("1X7"), "the key is not quoted");
    }

    #[test]
    fn empty_keys_and_bad_rows_are_reported_in_line_order() {
        let (schools, errors) = load("school_id,name\n,nameless\n5\n6,ok\n", "school_id");
        assert_eq!(schools.len(), 1);
        let lines: Vec<u64> = errors.iter().map(|e| e.line).collect();
        assert_eq!(lines, [2, 3]);
        assert!(errors[0].message.contains("empty"));
        assert!(errors[1].message.contains("fields"));
    }

    #[test]
    fn a_joined_file_whose_reading_stops_is_a_file_error_not_a_partial_table() {
        let mut text = String::from("school_id,name\n");
        for i in 0..150 {
            text.push_str(&format!("{i},school {i}\n"));
        }
        text.push_str("big,\"");
        text.push_str(&"x".repeat(2 * crate::audience::limits::MAX_ROW_BYTES));
        text.push_str("\"\n999,last\n");
        let f = file(&text);
        let e = Lookup::load(f.path(), "school_id", &HashMap::new()).expect_err("stopped");
        let message = e.to_string();
        assert!(matches!(e, AudienceError::Stopped { .. }), "{message}");
        assert!(
            message.contains(&f.path().display().to_string()) && message.contains("line 152"),
            "{message}"
        );
    }

    #[test]
    fn a_missing_key_column_is_a_file_error_naming_the_file() {
        let f = file("id,name\n1,a\n");
        let e = Lookup::load(f.path(), "school_id", &HashMap::new()).expect_err("no key column");
        assert!(matches!(e, AudienceError::KeyColumnMissing { .. }));
        let message = e.to_string();
        assert!(
            message.contains("school_id") && message.contains("id, name"),
            "{message}"
        );
        assert!(
            message.contains(&f.path().display().to_string()),
            "{message}"
        );
    }
}
