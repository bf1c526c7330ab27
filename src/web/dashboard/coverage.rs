//! Coverage per school: for a campaign audience whose file has `students_total` and
//! `students_insured` columns, each row's insured share beside the messages of that
//! audience's steps that reached it (`sent` or `delivered`), least covered first.
//!
//! The audience file is read with the audience code (`Lookup`, as `loa plan` joins
//! schools), on a blocking thread; its header is read first, so a large audience without
//! those columns (the parents) is never loaded.

use std::collections::HashMap;

use anyhow::Context as _;
use serde::Serialize;

use crate::audience::{CsvSource, Lookup};
use crate::campaign::{Audience, Campaign};
use crate::store::Store;

const TOTAL: &str = "students_total";
const INSURED: &str = "students_insured";
/// Rows shown at most; the least covered come first.
const MAX_ROWS: usize = 200;

/// The coverage table of one audience.
#[derive(Debug, Serialize)]
pub(super) struct Coverage {
    pub audience: String,
    pub rows: Vec<School>,
    /// Rows in the file.
    pub total_rows: usize,
    /// Whether some are not shown.
    pub more: bool,
}

#[derive(Debug, Serialize)]
pub(super) struct School {
    pub key: String,
    pub name: String,
    pub total: u64,
    pub insured: u64,
    /// Insured share in percent (the page writes it in its language).
    pub rate: f64,
    /// The bar's width, `0.0%`…`100.0%`.
    pub width: String,
    pub reached: u64,
}

/// The coverage of the first audience of `campaign` that has both columns, if any.
pub(super) async fn build(store: &Store, campaign: &Campaign) -> anyhow::Result<Option<Coverage>> {
    let Some(audience) = campaign.audiences.values().find(|a| has_columns(a)) else {
        return Ok(None);
    };
    let steps: Vec<String> = campaign
        .steps
        .iter()
        .filter(|s| s.audience == audience.name)
        .map(|s| s.id.clone())
        .collect();
    let reached = store.reached_by_recipient(&campaign.id, &steps).await?;
    let a = audience.clone();
    let schools = tokio::task::spawn_blocking(move || read(&a, &reached))
        .await
        .context("reading the coverage audience")??;
    Ok(Some(schools))
}

/// Whether the audience's header names both columns (reads the header only).
fn has_columns(a: &Audience) -> bool {
    CsvSource::open(&a.source, &a.columns).is_ok_and(|s| {
        let h = s.headers();
        h.iter().any(|c| c == TOTAL) && h.iter().any(|c| c == INSURED)
    })
}

fn read(a: &Audience, reached: &HashMap<String, u64>) -> anyhow::Result<Coverage> {
    let (lookup, _bad_rows) = Lookup::load(&a.source, &a.key, &a.columns)
        .with_context(|| format!("reading audience {}", a.name))?;
    let mut rows: Vec<School> = lookup
        .iter()
        .map(|(key, record)| {
            let total = number(record.row.get(TOTAL));
            let insured = number(record.row.get(INSURED)).min(total);
            let share = if total == 0 {
                100.0
            } else {
                insured as f64 * 100.0 / total as f64
            };
            let name = record
                .row
                .get("name")
                .and_then(|v| v.as_str())
                .unwrap_or(key);
            School {
                key: key.to_owned(),
                name: name.to_owned(),
                total,
                insured,
                rate: share,
                width: format!("{share:.1}%"),
                reached: reached.get(key).copied().unwrap_or(0),
            }
        })
        .collect();
    rows.sort_by(|x, y| share(x).total_cmp(&share(y)).then(x.key.cmp(&y.key)));
    let total_rows = rows.len();
    rows.truncate(MAX_ROWS);
    Ok(Coverage {
        audience: a.name.clone(),
        more: total_rows > rows.len(),
        rows,
        total_rows,
    })
}

fn share(s: &School) -> f64 {
    if s.total == 0 {
        1.0
    } else {
        s.insured as f64 / s.total as f64
    }
}

/// A count cell, typed as a number or left as text by the CSV reader.
fn number(v: Option<&serde_json::Value>) -> u64 {
    match v {
        Some(serde_json::Value::Number(n)) => n.as_u64().unwrap_or(0),
        Some(serde_json::Value::String(s)) => s.trim().parse().unwrap_or(0),
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_read_from_numbers_or_text() {
        assert_eq!(number(Some(&serde_json::json!(412))), 412);
        assert_eq!(number(Some(&serde_json::json!(" 7 "))), 7);
        assert_eq!(number(Some(&serde_json::json!(-1))), 0);
        assert_eq!(number(None), 0);
    }
}
