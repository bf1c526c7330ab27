//! An audience's recipients: its CSV rows, streamed, with joined rows attached.
//!
//! The main file is read as a stream, so memory does not grow with its rows; joined
//! audiences (schools, classes…) are small and held in memory as [`Lookup`]s. A row whose
//! join finds nothing, or whose address column does not hold a usable phone number, is still
//! yielded: what happens to it is the caller's choice (plan counts it, delivery skips it).

use std::collections::HashMap;
use std::path::Path;

use indexmap::IndexMap;

use super::{AudienceError, ColumnType, CsvSource, Lookup, Row, RowError, key_string, phone};

/// One recipient: the row, its key, where it stands in the file, and its joined rows.
#[derive(Debug, Clone)]
pub(crate) struct Recipient {
    pub key: String,
    pub line: u64,
    pub row: Row,
    pub joined: Vec<(String, Row)>,
    /// Problems that do not stop the row: a join that found nothing, a bad phone number.
    pub problems: Vec<RowError>,
}

/// A joined audience: `alias`, its rows, and the column of the main row that points at it.
pub(crate) struct Join {
    pub alias: String,
    pub lookup: Lookup,
    pub foreign_key: String,
}

/// Where a joined audience comes from: its file, key column and declared column types.
pub(crate) type JoinSource<'a> = (&'a Path, &'a str, &'a HashMap<String, ColumnType>);

/// Row problems of joined files, with the alias they belong to.
pub(crate) type JoinRowErrors = Vec<(String, RowError)>;

/// Opens the joined audiences, keyed by alias.
pub(crate) fn load_joins(
    joins: &IndexMap<String, JoinSource<'_>>,
) -> Result<(Vec<Join>, JoinRowErrors), AudienceError> {
    let mut out = Vec::new();
    let mut row_errors = Vec::new();
    for (alias, (file, key, columns)) in joins {
        let (lookup, errors) = Lookup::load(file, key, columns)?;
        row_errors.extend(errors.into_iter().map(|e| (alias.clone(), e)));
        out.push(Join {
            alias: alias.clone(),
            lookup,
            foreign_key: key.to_string(),
        });
    }
    Ok((out, row_errors))
}

/// The stream of recipients of one audience.
pub(crate) struct Recipients<'a> {
    source: CsvSource,
    key: String,
    joins: &'a [Join],
    phone_fields: Vec<String>,
}

impl<'a> Recipients<'a> {
    /// `phone_fields` are the columns used as phone addresses: they are normalised to
    /// `84xxxxxxxxx` in the row itself, so templates show the number that is used.
    pub(crate) fn open(
        file: &Path,
        key: &str,
        columns: &HashMap<String, ColumnType>,
        joins: &'a [Join],
        phone_fields: Vec<String>,
    ) -> Result<Self, AudienceError> {
        let source = CsvSource::open(file, columns)?;
        Ok(Self {
            source,
            key: key.to_string(),
            joins,
            phone_fields,
        })
    }

    /// Whether the file's reading stopped early ([`CsvSource::stopped`]).
    pub(crate) fn stopped(&self) -> bool {
        self.source.stopped()
    }

    fn build(&self, line: u64, mut row: Row) -> Recipient {
        let key = row.get(&self.key).map(key_string).unwrap_or_default();
        let mut problems = self.normalize_phones(line, &mut row);
        let joined = self.join(line, &row, &mut problems);
        Recipient {
            key,
            line,
            row,
            joined,
            problems,
        }
    }

    /// Rewrites each phone column of `row` as `84xxxxxxxxx`; a number that is not a
    /// Vietnamese mobile is the row's problem, at its column.
    fn normalize_phones(&self, line: u64, row: &mut Row) -> Vec<RowError> {
        let mut problems = Vec::new();
        for field in &self.phone_fields {
            let Some(raw) = row.get(field).and_then(|v| {
                v.as_str()
                    .map(str::to_string)
                    .or_else(|| Some(key_string(v)))
            }) else {
                continue;
            };
            if raw.is_empty() {
                continue;
            }
            match phone::normalize(&raw) {
                Ok(n) => {
                    row.insert(field.clone(), serde_json::Value::String(n));
                }
                Err(e) => problems.push(RowError {
                    line,
                    column: Some(field.clone()),
                    message: format!("{e}"),
                    hint: Some(
                        "write Vietnamese mobile numbers as 0912 345 678 or +84 912 345 678".into(),
                    ),
                }),
            }
        }
        problems
    }

    /// The joined audiences' rows for `row`; a key that matches none is a problem.
    fn join(&self, line: u64, row: &Row, problems: &mut Vec<RowError>) -> Vec<(String, Row)> {
        let mut joined = Vec::with_capacity(self.joins.len());
        for j in self.joins {
            let fk = row.get(&j.foreign_key).map(key_string).unwrap_or_default();
            match j.lookup.get(&fk) {
                Some(r) => joined.push((j.alias.clone(), r.clone())),
                None => problems.push(RowError {
                    line,
                    column: Some(j.foreign_key.clone()),
                    message: format!(
                        "{} matches no row of the joined audience `{}`",
                        j.foreign_key, j.alias
                    ),
                    hint: Some(format!(
                        "add the row to the `{}` data file or correct the value",
                        j.alias
                    )),
                }),
            }
        }
        joined
    }
}

impl Iterator for Recipients<'_> {
    type Item = Result<Recipient, RowError>;

    fn next(&mut self) -> Option<Self::Item> {
        let rec = self.source.next()?;
        Some(rec.map(|r| self.build(r.line, r.row)))
    }
}
