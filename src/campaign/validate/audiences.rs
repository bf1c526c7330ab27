//! `audiences:`: each names a CSV file next to the campaign file, its key column, the
//! audiences it joins and the types of its columns. The file's contents are checked later,
//! in `data_check`.

use std::collections::HashMap;
use std::path::Path;

use indexmap::IndexMap;

use crate::audience::ColumnType;
use crate::campaign::check::{Checker, suggest};
use crate::campaign::data_dirs;
use crate::campaign::locate::FieldPath;
use crate::campaign::model::Audience;
use crate::campaign::spec::AudienceSpec;

pub(super) fn audiences(
    specs: &IndexMap<String, AudienceSpec>,
    file: &Path,
    c: &mut Checker<'_>,
) -> IndexMap<String, Audience> {
    let dir = file.parent().unwrap_or(Path::new("."));
    let names: Vec<&str> = specs.keys().map(String::as_str).collect();
    let mut out = IndexMap::new();
    for (name, spec) in specs {
        let path = FieldPath::root().key("audiences").key(name.as_str());
        if let Some(a) = audience(name, spec, dir, &names, &path, c) {
            out.insert(name.clone(), a);
        }
    }
    out
}

fn audience(
    name: &str,
    spec: &AudienceSpec,
    dir: &Path,
    names: &[&str],
    path: &FieldPath,
    c: &mut Checker<'_>,
) -> Option<Audience> {
    // A source with an error is left out: the data checks must never open a file
    // outside the data folders (and quote what it holds).
    let source = match &spec.source {
        Some(s) => {
            let p = dir.join(s);
            if !p.is_file() {
                c.error(
                    &path.key("source"),
                    format!("data file {} does not exist", p.display()),
                    "paths are relative to the campaign file, e.g. data/schools.csv",
                );
                None
            } else if let Err(e) = data_dirs::check_inside(&p, dir) {
                c.error(&path.key("source"), e, data_dirs::HINT);
                None
            } else {
                Some(p)
            }
        }
        None => {
            c.missing(&path.key("source"), "add `source: data/<file>.csv`");
            None
        }
    };
    if spec.key.is_none() {
        c.missing(
            &path.key("key"),
            "add `key: <column>`, a column unique per row (e.g. student_id)",
        );
    }
    for (alias, target) in &spec.join {
        let p = path.key("join").key(alias.as_str());
        if !names.contains(&target.as_str()) || target == name {
            let hint = suggest(target, names.iter().copied().filter(|n| *n != name));
            c.error(&p, format!("unknown audience {target:?} to join"), hint);
        }
    }
    let columns = columns(&spec.columns, &path.key("columns"), c);
    Some(Audience {
        name: name.to_string(),
        source: source?,
        key: spec.key.clone()?,
        joins: spec.join.clone(),
        columns,
    })
}

fn columns(
    specs: &IndexMap<String, String>,
    path: &FieldPath,
    c: &mut Checker<'_>,
) -> HashMap<String, ColumnType> {
    const KNOWN: [&str; 7] = [
        "text", "integer", "decimal", "bool", "date", "phone", "email",
    ];
    let mut out = HashMap::new();
    for (col, ty) in specs {
        let t = match ty.as_str() {
            "text" => ColumnType::Text,
            "integer" => ColumnType::Integer,
            "decimal" => ColumnType::Decimal,
            "bool" => ColumnType::Bool,
            "date" => ColumnType::Date,
            "phone" => ColumnType::Phone,
            "email" => ColumnType::Email,
            other => {
                c.error(
                    &path.key(col.as_str()),
                    format!("unknown column type {other:?}"),
                    suggest(other, KNOWN),
                );
                continue;
            }
        };
        out.insert(col.clone(), t);
    }
    out
}
