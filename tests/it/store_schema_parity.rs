//! The two migration sets give one ledger (issue 16): `migrations/sqlite` as `Store::open`
//! applies it, `migrations/postgres` as `sqlx::migrate!` applies it to a fresh PostgreSQL
//! database (`support::postgres`), and their schemas read back from each catalogue must
//! agree on everything a query or a `loa ledger copy` can tell apart:
//!
//! - the tables, and per table its columns in order: name, type family (SQLite INTEGER =
//!   BIGINT, TEXT = TEXT, REAL = DOUBLE PRECISION, BLOB = BYTEA), nullability, default,
//!   generated or not, and whether the row id is assigned by the database (SQLite's
//!   INTEGER PRIMARY KEY, an identity column on PostgreSQL);
//! - the primary key, unique constraints and indexes, and the other indexes, by column
//!   list, collation (SQLite's NOCASE = PostgreSQL's `nocase`) and partial predicate (a
//!   PostgreSQL index ending in the row id has the key of SQLite's, which ends in it
//!   implicitly);
//! - foreign keys (columns → table.columns, and what a delete of the parent does);
//! - CHECK constraints, a list of allowed values compared as a set (`state = 'a' OR
//!   state = 'b'` on SQLite is `state IN ('a', 'b')` on PostgreSQL);
//! - triggers by name (PostgreSQL's TRUNCATE triggers aside: SQLite has no TRUNCATE).
//!
//! A difference fails the test with one line per difference naming table and column or
//! key. The rules are then tried on both: what SQLite refuses (its triggers, checks, keys),
//! PostgreSQL refuses too.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use loa::store::Store;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{Connection, PgConnection, Row};

use crate::support::postgres;

#[derive(Debug, Default, PartialEq)]
struct Schema {
    tables: BTreeMap<String, Table>,
}

#[derive(Debug, Default, PartialEq)]
struct Table {
    columns: Vec<Column>,
    primary_key: Vec<String>,
    unique: BTreeSet<Index>,
    indexes: BTreeSet<Index>,
    foreign_keys: BTreeSet<String>,
    checks: BTreeSet<String>,
    triggers: BTreeSet<String>,
}

#[derive(Debug, PartialEq)]
struct Column {
    name: String,
    family: String,
    not_null: bool,
    default: Option<String>,
    generated: bool,
    auto_id: bool,
}

/// Key columns (`name` or `name COLLATE nocase`) and the partial predicate, normalised.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Index {
    columns: Vec<String>,
    predicate: Option<String>,
}

impl std::fmt::Display for Index {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "({})", self.columns.join(", "))?;
        match &self.predicate {
            Some(p) => write!(f, " WHERE {p}"),
            None => Ok(()),
        }
    }
}

// ---- Reading SQLite's schema -------------------------------------------------------------

async fn sqlite_schema(conn: &mut SqliteConnection) -> Schema {
    let tables: Vec<(String, String)> = sqlx::query_as(
        "SELECT name, sql FROM sqlite_schema WHERE type = 'table' \
         AND name NOT LIKE 'sqlite_%' AND name <> '_sqlx_migrations' ORDER BY name",
    )
    .fetch_all(&mut *conn)
    .await
    .unwrap();
    let mut schema = Schema::default();
    for (name, sql) in tables {
        let table = sqlite_table(conn, &name, &sql).await;
        schema.tables.insert(name, table);
    }
    schema
}

async fn sqlite_table(conn: &mut SqliteConnection, name: &str, sql: &str) -> Table {
    let mut table = Table::default();
    let columns = sqlx::query("SELECT * FROM pragma_table_xinfo(?) ORDER BY cid")
        .bind(name)
        .fetch_all(&mut *conn)
        .await
        .unwrap();
    let mut pk: Vec<(i64, String)> = Vec::new();
    for c in &columns {
        let column: String = c.get("name");
        let declared: String = c.get("type");
        let position: i64 = c.get("pk");
        if position > 0 {
            pk.push((position, column.clone()));
        }
        let hidden: i64 = c.get("hidden");
        table.columns.push(Column {
            family: match declared.to_ascii_uppercase().as_str() {
                "INTEGER" => "int64".into(),
                "TEXT" => "text".into(),
                "REAL" => "float64".into(),
                "BLOB" => "bytes".into(),
                other => format!("{other} (not a ledger type)"),
            },
            not_null: c.get::<i64, _>("notnull") == 1,
            default: c
                .get::<Option<String>, _>("dflt_value")
                .map(|d| normalise(&d)),
            generated: hidden == 2 || hidden == 3,
            auto_id: false,
            name: column,
        });
    }
    pk.sort();
    let indexes = sqlx::query("SELECT * FROM pragma_index_list(?)")
        .bind(name)
        .fetch_all(&mut *conn)
        .await
        .unwrap();
    let mut pk_index = false;
    for i in &indexes {
        let index: String = i.get("name");
        let origin: String = i.get("origin");
        let key = sqlite_index(conn, &index, i.get::<i64, _>("partial") == 1).await;
        match (origin.as_str(), i.get::<i64, _>("unique") == 1) {
            ("pk", _) => {
                pk_index = true;
                table.primary_key = key.columns;
            }
            (_, true) => {
                table.unique.insert(key);
            }
            (_, false) => {
                table.indexes.insert(key);
            }
        }
    }
    let keys = sqlx::query("SELECT * FROM pragma_foreign_key_list(?)")
        .bind(name)
        .fetch_all(&mut *conn)
        .await
        .unwrap();
    let mut by_id: BTreeMap<i64, (Vec<String>, String, Vec<String>, String)> = BTreeMap::new();
    for k in &keys {
        let entry = by_id.entry(k.get("id")).or_insert_with(|| {
            (
                Vec::new(),
                k.get("table"),
                Vec::new(),
                k.get::<String, _>("on_delete").to_lowercase(),
            )
        });
        entry.0.push(k.get("from"));
        entry
            .2
            .push(k.get::<Option<String>, _>("to").unwrap_or_default());
    }
    for (from, parent, to, on_delete) in by_id.into_values() {
        table
            .foreign_keys
            .insert(foreign_key(&from, &parent, &to, &on_delete));
    }
    if !pk_index {
        // A rowid table's INTEGER PRIMARY KEY is the rowid itself: no index, and the
        // database assigns it, unless it is a foreign key (receipt_early.message), whose
        // value always comes from its parent.
        table.primary_key = pk.iter().map(|(_, c)| c.clone()).collect();
        if let [(_, only)] = pk.as_slice() {
            let referencing = format!("({only}) →");
            let is_foreign = table
                .foreign_keys
                .iter()
                .any(|k| k.starts_with(&referencing));
            let column = table.columns.iter_mut().find(|c| &c.name == only).unwrap();
            column.auto_id = column.family == "int64" && !is_foreign;
        }
    }
    table.checks = check_clauses(sql).iter().map(|c| check(c)).collect();
    table.triggers = sqlx::query_scalar(
        "SELECT name FROM sqlite_schema WHERE type = 'trigger' AND tbl_name = ?",
    )
    .bind(name)
    .fetch_all(&mut *conn)
    .await
    .unwrap()
    .into_iter()
    .collect();
    table
}

async fn sqlite_index(conn: &mut SqliteConnection, index: &str, partial: bool) -> Index {
    let columns =
        sqlx::query("SELECT name, coll FROM pragma_index_xinfo(?) WHERE key = 1 ORDER BY seqno")
            .bind(index)
            .fetch_all(&mut *conn)
            .await
            .unwrap()
            .iter()
            .map(|c| {
                let name: Option<String> = c.get("name");
                key_column(name.as_deref().unwrap_or("<expression>"), c.get("coll"))
            })
            .collect();
    let predicate = if partial {
        let sql: String = sqlx::query_scalar("SELECT sql FROM sqlite_schema WHERE name = ?")
            .bind(index)
            .fetch_one(&mut *conn)
            .await
            .unwrap();
        let at = sql
            .to_ascii_uppercase()
            .rfind(" WHERE ")
            .expect("a partial index");
        Some(normalise(&sql[at + 7..]))
    } else {
        None
    };
    Index { columns, predicate }
}

/// The text of every `CHECK (…)` in a `CREATE TABLE`, comments left out.
fn check_clauses(sql: &str) -> Vec<String> {
    let sql: String = sql
        .lines()
        .map(|line| line.split("--").next().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("\n");
    let upper = sql.to_ascii_uppercase();
    let mut clauses = Vec::new();
    let mut from = 0;
    while let Some(found) = upper[from..].find("CHECK") {
        let start = from + found + "CHECK".len();
        let open = start + upper[start..].find('(').expect("CHECK (");
        let (mut depth, mut quoted, mut end) = (0, false, open);
        for (i, ch) in sql[open..].char_indices() {
            match ch {
                '\'' => quoted = !quoted,
                '(' if !quoted => depth += 1,
                ')' if !quoted => depth -= 1,
                _ => {}
            }
            if depth == 0 {
                end = open + i;
                break;
            }
        }
        clauses.push(sql[open + 1..end].to_owned());
        from = end;
    }
    clauses
}

// ---- Reading PostgreSQL's schema ---------------------------------------------------------

async fn postgres_schema(conn: &mut PgConnection) -> Schema {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' \
         AND tablename <> '_sqlx_migrations' ORDER BY tablename",
    )
    .fetch_all(&mut *conn)
    .await
    .unwrap();
    let mut schema = Schema::default();
    for name in tables {
        let table = postgres_table(conn, &name).await;
        schema.tables.insert(name, table);
    }
    schema
}

async fn postgres_table(conn: &mut PgConnection, name: &str) -> Table {
    let mut table = Table::default();
    let columns = sqlx::query(
        "SELECT column_name::text AS name, data_type::text AS type, \
         is_nullable::text AS nullable, column_default::text AS dflt, \
         is_identity::text AS identity, is_generated::text AS generated \
         FROM information_schema.columns WHERE table_schema = 'public' AND table_name = $1 \
         ORDER BY ordinal_position",
    )
    .bind(name)
    .fetch_all(&mut *conn)
    .await
    .unwrap();
    for c in &columns {
        let declared: String = c.get("type");
        table.columns.push(Column {
            name: c.get("name"),
            family: match declared.as_str() {
                "bigint" => "int64".into(),
                "text" => "text".into(),
                "double precision" => "float64".into(),
                "bytea" => "bytes".into(),
                other => format!("{other} (not a ledger type)"),
            },
            not_null: c.get::<String, _>("nullable") == "NO",
            default: c.get::<Option<String>, _>("dflt").map(|d| normalise(&d)),
            generated: c.get::<String, _>("generated") == "ALWAYS",
            auto_id: c.get::<String, _>("identity") == "YES",
        });
    }
    let indexes = sqlx::query(
        "SELECT i.indisprimary AS primary, i.indisunique AS unique, \
         pg_get_expr(i.indpred, i.indrelid) AS predicate, \
         array(SELECT pg_get_indexdef(i.indexrelid, k, true) \
               FROM generate_series(1, i.indnkeyatts) AS k ORDER BY k) AS columns, \
         array(SELECT coalesce(co.collname::text, '') \
               FROM generate_series(1, i.indnkeyatts) AS k \
               LEFT JOIN pg_collation AS co ON co.oid = i.indcollation[k - 1] ORDER BY k) \
               AS collations \
         FROM pg_index AS i WHERE i.indrelid = $1::regclass",
    )
    .bind(name)
    .fetch_all(&mut *conn)
    .await
    .unwrap();
    for i in &indexes {
        let names: Vec<String> = i.get("columns");
        let collations: Vec<String> = i.get("collations");
        let columns: Vec<String> = names
            .iter()
            .zip(&collations)
            .map(|(n, c)| key_column(n, c))
            .collect();
        let predicate: Option<String> = i.get("predicate");
        let key = Index {
            columns,
            predicate: predicate.map(|p| normalise(&p)),
        };
        match (i.get::<bool, _>("primary"), i.get::<bool, _>("unique")) {
            (true, _) => table.primary_key = key.columns,
            (false, true) => {
                table.unique.insert(key);
            }
            (false, false) => {
                table.indexes.insert(key);
            }
        }
    }
    // Every SQLite index ends in the row id by itself; a PostgreSQL index that names it
    // last (migrations/postgres/0004) has SQLite's key.
    if let [id] = table.primary_key.as_slice() {
        let id = id.clone();
        table.indexes = std::mem::take(&mut table.indexes)
            .into_iter()
            .map(|mut index| {
                if index.columns.len() > 1 && index.columns.last() == Some(&id) {
                    index.columns.pop();
                }
                index
            })
            .collect();
    }
    let keys = sqlx::query(
        "SELECT array(SELECT a.attname::text FROM unnest(c.conkey) WITH ORDINALITY AS k(n, o) \
                      JOIN pg_attribute AS a ON a.attrelid = c.conrelid AND a.attnum = k.n \
                      ORDER BY k.o) AS columns, \
         c.confrelid::regclass::text AS parent, \
         array(SELECT a.attname::text FROM unnest(c.confkey) WITH ORDINALITY AS k(n, o) \
               JOIN pg_attribute AS a ON a.attrelid = c.confrelid AND a.attnum = k.n \
               ORDER BY k.o) AS referenced, \
         c.confdeltype::text AS on_delete \
         FROM pg_constraint AS c WHERE c.conrelid = $1::regclass AND c.contype = 'f'",
    )
    .bind(name)
    .fetch_all(&mut *conn)
    .await
    .unwrap();
    for k in &keys {
        let on_delete = match k.get::<String, _>("on_delete").as_str() {
            "a" => "no action",
            "r" => "restrict",
            "c" => "cascade",
            "n" => "set null",
            "d" => "set default",
            other => panic!("unknown confdeltype {other}"),
        };
        table.foreign_keys.insert(foreign_key(
            &k.get::<Vec<String>, _>("columns"),
            &k.get::<String, _>("parent"),
            &k.get::<Vec<String>, _>("referenced"),
            on_delete,
        ));
    }
    let checks: Vec<String> = sqlx::query_scalar(
        "SELECT pg_get_constraintdef(oid) FROM pg_constraint \
         WHERE conrelid = $1::regclass AND contype = 'c'",
    )
    .bind(name)
    .fetch_all(&mut *conn)
    .await
    .unwrap();
    table.checks = checks
        .iter()
        .map(|c| check(c.strip_prefix("CHECK ").unwrap_or(c)))
        .collect();
    // tgtype bit 5 (32) is TRUNCATE, a statement SQLite does not have.
    table.triggers = sqlx::query_scalar(
        "SELECT tgname::text FROM pg_trigger WHERE tgrelid = $1::regclass \
         AND NOT tgisinternal AND tgtype & 32 = 0",
    )
    .bind(name)
    .fetch_all(&mut *conn)
    .await
    .unwrap()
    .into_iter()
    .collect();
    table
}

// ---- Normal forms shared by both sides ---------------------------------------------------

/// A key column with its collation when it is not the binary default.
fn key_column(name: &str, collation: &str) -> String {
    match collation.to_ascii_lowercase().as_str() {
        "" | "binary" | "default" | "c" | "posix" => name.to_owned(),
        other => format!("{name} COLLATE {other}"),
    }
}

fn foreign_key(from: &[String], parent: &str, to: &[String], on_delete: &str) -> String {
    format!(
        "({}) → {parent} ({}) ON DELETE {}",
        from.join(", "),
        to.join(", "),
        on_delete.to_uppercase()
    )
}

/// An expression without casts (`'x'::text`), parentheses and case outside literals, and
/// with single spaces.
fn normalise(expression: &str) -> String {
    let mut out = String::new();
    let mut quoted = false;
    let mut chars = expression.chars().peekable();
    while let Some(ch) = chars.next() {
        match ch {
            '\'' => {
                quoted = !quoted;
                out.push(ch);
            }
            _ if quoted => out.push(ch),
            ':' if chars.peek() == Some(&':') => {
                chars.next();
                while chars.peek().is_some_and(|c| {
                    c.is_ascii_alphanumeric() || *c == '_' || *c == '[' || *c == ']'
                }) {
                    chars.next();
                }
            }
            '(' | ')' => out.push(' '),
            _ if ch.is_whitespace() => out.push(' '),
            _ => out.push(ch.to_ascii_lowercase()),
        }
    }
    out.split(' ')
        .filter(|w| !w.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
        .replace(" ,", ",")
}

/// A CHECK in normal form: `column IN {a, b, …}` when it lists the values one column may
/// take (SQLite's `=`/`OR` chain, PostgreSQL's `= ANY (ARRAY[…])`), else the normalised
/// expression.
fn check(expression: &str) -> String {
    let text = normalise(expression);
    let mut values = BTreeSet::new();
    let mut rest = String::new();
    for (i, part) in text.split('\'').enumerate() {
        if i % 2 == 1 {
            values.insert(part.to_owned());
        } else {
            rest.push_str(part);
            rest.push(' ');
        }
    }
    let words: BTreeSet<&str> = rest
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|w| !w.is_empty())
        .collect();
    let columns: Vec<&str> = words
        .iter()
        .copied()
        .filter(|w| !["=", "or", "in", "any", "array[", "]", "array"].contains(w))
        .collect();
    match columns.as_slice() {
        [column] if !values.is_empty() => {
            let values: Vec<String> = values.into_iter().collect();
            format!("{column} IN {{{}}}", values.join(", "))
        }
        _ => text,
    }
}

// ---- The comparison ----------------------------------------------------------------------

/// Every difference between the two schemas, one readable line each; empty when they agree.
fn differences(sqlite: &Schema, postgres: &Schema) -> Vec<String> {
    let mut out = Vec::new();
    let names: BTreeSet<&String> = sqlite.tables.keys().chain(postgres.tables.keys()).collect();
    for name in names {
        match (sqlite.tables.get(name), postgres.tables.get(name)) {
            (Some(s), Some(p)) => table_differences(name, s, p, &mut out),
            (Some(_), None) => out.push(format!("table {name}: on SQLite only")),
            (None, _) => out.push(format!("table {name}: on PostgreSQL only")),
        }
    }
    out
}

fn table_differences(table: &str, s: &Table, p: &Table, out: &mut Vec<String>) {
    for c in &s.columns {
        match p.columns.iter().find(|pc| pc.name == c.name) {
            None => out.push(format!("table {table}, column {}: on SQLite only", c.name)),
            Some(pc) => column_differences(table, c, pc, out),
        }
    }
    for pc in &p.columns {
        if !s.columns.iter().any(|c| c.name == pc.name) {
            out.push(format!(
                "table {table}, column {}: on PostgreSQL only",
                pc.name
            ));
        }
    }
    let order = |t: &Table| t.columns.iter().map(|c| c.name.clone()).collect::<Vec<_>>();
    let (so, po) = (order(s), order(p));
    if so != po && so.len() == po.len() {
        out.push(format!(
            "table {table}: columns in another order: SQLite {so:?}, PostgreSQL {po:?}"
        ));
    }
    if s.primary_key != p.primary_key {
        out.push(format!(
            "table {table}: primary key ({}) on SQLite, ({}) on PostgreSQL",
            s.primary_key.join(", "),
            p.primary_key.join(", ")
        ));
    }
    one_sided(table, "unique key", &s.unique, &p.unique, out);
    one_sided(table, "index", &s.indexes, &p.indexes, out);
    one_sided(table, "foreign key", &s.foreign_keys, &p.foreign_keys, out);
    one_sided(table, "check", &s.checks, &p.checks, out);
    one_sided(table, "trigger", &s.triggers, &p.triggers, out);
}

fn column_differences(table: &str, s: &Column, p: &Column, out: &mut Vec<String>) {
    let mut say = |what: String| out.push(format!("table {table}, column {}: {what}", s.name));
    if s.family != p.family {
        say(format!(
            "type {} on SQLite, {} on PostgreSQL",
            s.family, p.family
        ));
    }
    if s.not_null != p.not_null {
        let null = |n: bool| if n { "NOT NULL" } else { "nullable" };
        say(format!(
            "{} on SQLite, {} on PostgreSQL",
            null(s.not_null),
            null(p.not_null)
        ));
    }
    if s.default != p.default {
        say(format!(
            "default {:?} on SQLite, {:?} on PostgreSQL",
            s.default, p.default
        ));
    }
    if s.generated != p.generated {
        say(format!(
            "generated {} on SQLite, {} on PostgreSQL",
            s.generated, p.generated
        ));
    }
    if s.auto_id != p.auto_id {
        say(format!(
            "id assigned by the database {} on SQLite, {} on PostgreSQL",
            s.auto_id, p.auto_id
        ));
    }
}

fn one_sided<T: Ord + std::fmt::Display>(
    table: &str,
    what: &str,
    s: &BTreeSet<T>,
    p: &BTreeSet<T>,
    out: &mut Vec<String>,
) {
    for only in s.difference(p) {
        out.push(format!("table {table}: {what} {only} on SQLite only"));
    }
    for only in p.difference(s) {
        out.push(format!("table {table}: {what} {only} on PostgreSQL only"));
    }
}

// ---- The two ledgers ---------------------------------------------------------------------

/// A SQLite ledger as `loa run` creates it, and a connection of the test's own to it.
async fn sqlite_ledger(dir: &tempfile::TempDir) -> SqliteConnection {
    let path = dir.path().join("loa.db");
    let store = Store::open(&format!("sqlite://{}", path.display()))
        .await
        .expect("the SQLite ledger opens");
    store.close().await;
    let options = SqliteConnectOptions::new()
        .filename(&path)
        .foreign_keys(true);
    SqliteConnection::connect_with(&options).await.unwrap()
}

async fn postgres_ledger(db: &postgres::Database) -> PgConnection {
    let mut conn = db.connect().await;
    sqlx::migrate!("migrations/postgres")
        .run(&mut conn)
        .await
        .expect("the PostgreSQL migrations apply");
    conn
}

fn report(differences: &[String]) -> String {
    let mut text = String::from("the SQLite and PostgreSQL ledgers differ:\n");
    for d in differences {
        let _ = writeln!(text, "  {d}");
    }
    text
}

#[tokio::test]
async fn the_postgresql_ledger_has_the_tables_keys_indexes_and_checks_of_the_sqlite_one() {
    let Some(db) = postgres::database().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let sqlite = sqlite_schema(&mut sqlite_ledger(&dir).await).await;
    let postgres = postgres_schema(&mut postgres_ledger(&db).await).await;
    // The reading itself must have found something on each side to compare.
    let message = &sqlite.tables["message"];
    assert_eq!(sqlite.tables.len(), 13, "{:?}", sqlite.tables.keys());
    assert!(
        message.checks.iter().any(|c| c.contains("replaced")),
        "{:?}",
        message.checks
    );
    assert!(
        message.indexes.iter().any(|i| i.predicate.is_some()),
        "{:?}",
        message.indexes
    );
    assert_eq!(
        sqlite.tables["suppression"].primary_key,
        ["address COLLATE nocase"]
    );
    assert_eq!(sqlite.tables["audit"].triggers.len(), 2);
    let found = differences(&sqlite, &postgres);
    assert!(found.is_empty(), "{}", report(&found));
    assert_eq!(sqlite, postgres);
}

#[tokio::test]
async fn a_column_index_key_or_check_on_one_side_only_is_reported_by_table_and_name() {
    let Some(db) = postgres::database().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut lite = sqlite_ledger(&dir).await;
    let mut pg = postgres_ledger(&db).await;
    for planted in [
        "CREATE INDEX attempt_outcome ON attempt (outcome)",
        "CREATE UNIQUE INDEX kv_value ON kv (value)",
    ] {
        sqlx::query(planted).execute(&mut lite).await.unwrap();
    }
    for planted in [
        "ALTER TABLE message ADD COLUMN priority BIGINT",
        "ALTER TABLE receipt_early DROP CONSTRAINT receipt_early_status_check",
        "ALTER TABLE receipt_early ADD CHECK (status IN ('delivered', 'failed', 'read'))",
        "ALTER TABLE campaign_pause ALTER COLUMN by DROP NOT NULL",
        "ALTER TABLE message_event DROP CONSTRAINT message_event_message_fkey",
    ] {
        sqlx::query(planted).execute(&mut pg).await.unwrap();
    }
    let found = differences(
        &sqlite_schema(&mut lite).await,
        &postgres_schema(&mut pg).await,
    );
    let expected = [
        "table attempt: index (outcome) on SQLite only",
        "table kv: unique key (value) on SQLite only",
        "table message, column priority: on PostgreSQL only",
        "table receipt_early: check status IN {delivered, failed} on SQLite only",
        "table receipt_early: check status IN {delivered, failed, read} on PostgreSQL only",
        "table campaign_pause, column by: NOT NULL on SQLite, nullable on PostgreSQL",
        "table message_event: foreign key (message) → message (id) ON DELETE CASCADE on SQLite only",
    ];
    let mut want: Vec<&str> = expected.to_vec();
    want.sort();
    let mut got: Vec<&str> = found.iter().map(String::as_str).collect();
    got.sort();
    assert_eq!(got, want, "{}", report(&found));
}

/// Rows both ledgers take, then statements each must refuse, then some they must accept.
const SETUP: &[&str] = &[
    "INSERT INTO campaign (id, title, status, content_hash, file, loaded_at) \
     VALUES ('c', 't', 'active', 'h', 'c.yaml', 0)",
    "INSERT INTO occurrence (campaign, step, n, at) VALUES ('c', 's', 0, 0)",
    "INSERT INTO message (id, tag, campaign, step, occurrence_id, occurrence_at, occurrence_n, \
     recipient, channel, state, next_attempt_at, expires_at, context, queued_at, updated_at) \
     VALUES (255, '00000000000000aa', 'c', 's', 1, 0, 0, 'r1', 'email', 'pending', 0, 9, '{}', \
     0, 0)",
    "INSERT INTO audit (at, actor, action, campaign) VALUES (1, 'operator', 'launch', 'c')",
    "INSERT INTO suppression (address, reason, at) VALUES ('An@Example.vn', 'unsubscribed', 1)",
    "INSERT INTO account (name, role, password_hash, created_at, password_at) \
     VALUES ('lan', 'operator', '$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA', 1, 1)",
];

/// Each with what makes it wrong.
const REFUSED: &[(&str, &str)] = &[
    ("UPDATE audit SET actor = 'someone else'", "audit trigger"),
    ("DELETE FROM audit", "audit trigger"),
    ("UPDATE message SET state = 'lost'", "state check"),
    ("UPDATE message SET attempts = -1", "attempts check"),
    ("UPDATE message SET context = NULL", "NOT NULL"),
    ("UPDATE message SET message_id = 'm1-x'", "generated column"),
    ("UPDATE campaign SET status = 'archived'", "status check"),
    (
        "INSERT INTO attempt (message_id, attempt, started_at, finished_at, outcome, \
         duration_ms) VALUES (255, 1, 1, 3, 'maybe', 2)",
        "outcome check",
    ),
    (
        "INSERT INTO occurrence (campaign, step, n, at) VALUES ('nope', 's', 0, 0)",
        "foreign key",
    ),
    (
        "INSERT INTO occurrence (campaign, step, n, at) VALUES ('c', 's', 0, 5)",
        "unique key",
    ),
    (
        "INSERT INTO message_event (message, at, to_state) VALUES (999, 1, 'sent')",
        "foreign key",
    ),
    (
        "INSERT INTO suppression (address, reason, at) VALUES ('an@example.VN', 'bounced', 2)",
        "case-insensitive primary key",
    ),
    (
        "INSERT INTO receipt_early (message, source, status, received_at) \
         VALUES (255, 'zalo', 'read', 1)",
        "status check",
    ),
    (
        "INSERT INTO audit (at, actor, action) VALUES (1, 'op', 'erase')",
        "action check",
    ),
    (
        "INSERT INTO campaign_pause (campaign, paused_at, by) VALUES ('nope', 1, 'op')",
        "foreign key",
    ),
    (
        "INSERT INTO account (name, role, password_hash, created_at, password_at) \
         VALUES ('root', 'superuser', 'h', 1, 1)",
        "role check",
    ),
    (
        "INSERT INTO account (name, role, password_hash, created_at, password_at) \
         VALUES ('lan', 'viewer', 'h', 1, 1)",
        "primary key",
    ),
    ("UPDATE account SET password_hash = NULL", "NOT NULL"),
];

const ACCEPTED: &[&str] = &[
    "UPDATE message SET state = 'replaced' WHERE id = 255",
    "INSERT INTO audit (at, actor, action, campaign) VALUES (2, 'operator', 'pause', 'c')",
    "INSERT INTO receipt_early (message, source, status, received_at) \
     VALUES (255, 'zalo', 'delivered', 1)",
    "INSERT INTO campaign_pause (campaign, paused_at, by) VALUES ('c', 1, 'op')",
    "INSERT INTO audit (at, actor, action, detail) VALUES (3, 'cli:an', 'user_add', 'lan')",
    "UPDATE account SET disabled_at = 2 WHERE name = 'lan'",
];

/// Read back on both; the answers must be equal.
const READ: &[&str] = &[
    "SELECT message_id FROM message WHERE id = 255",
    "SELECT CAST(COUNT(*) AS TEXT) FROM suppression WHERE address = 'AN@EXAMPLE.VN'",
    "SELECT CAST(COUNT(*) AS TEXT) || ' ' || CAST(MIN(id) AS TEXT) FROM audit",
    "SELECT state FROM message",
];

/// The database's own words for why a statement was refused, or `None` if it was taken.
fn refusal<T>(result: Result<T, sqlx::Error>) -> Option<String> {
    match result {
        Ok(_) => None,
        Err(sqlx::Error::Database(e)) => Some(e.message().to_owned()),
        Err(e) => panic!("not a refusal by the database: {e}"),
    }
}

#[tokio::test]
async fn postgresql_refuses_what_the_sqlite_triggers_checks_and_keys_refuse() {
    let Some(db) = postgres::database().await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut lite = sqlite_ledger(&dir).await;
    let mut pg = postgres_ledger(&db).await;
    for &sql in SETUP {
        sqlx::query(sql).execute(&mut lite).await.unwrap();
        sqlx::query(sql).execute(&mut pg).await.unwrap();
    }
    let mut wrong = Vec::new();
    for &(sql, rule) in REFUSED {
        let on_sqlite = refusal(sqlx::query(sql).execute(&mut lite).await);
        let on_postgres = refusal(sqlx::query(sql).execute(&mut pg).await);
        match (&on_sqlite, &on_postgres) {
            (Some(s), Some(p)) if rule == "audit trigger" => {
                if s != "audit rows are append-only" || s != p {
                    wrong.push(format!("{sql}: SQLite says {s:?}, PostgreSQL {p:?}"));
                }
            }
            (Some(_), Some(_)) => {}
            _ => wrong.push(format!(
                "{sql} ({rule}): SQLite {}, PostgreSQL {}",
                on_sqlite.map_or("accepts it".into(), |e| format!("refuses it ({e})")),
                on_postgres.map_or("accepts it".into(), |e| format!("refuses it ({e})")),
            )),
        }
    }
    for &sql in ACCEPTED {
        let on_sqlite = refusal(sqlx::query(sql).execute(&mut lite).await);
        let on_postgres = refusal(sqlx::query(sql).execute(&mut pg).await);
        if on_sqlite.is_some() || on_postgres.is_some() {
            wrong.push(format!(
                "{sql}: SQLite {on_sqlite:?}, PostgreSQL {on_postgres:?}"
            ));
        }
    }
    for &sql in READ {
        let on_sqlite: String = sqlx::query_scalar(sql).fetch_one(&mut lite).await.unwrap();
        let on_postgres: String = sqlx::query_scalar(sql).fetch_one(&mut pg).await.unwrap();
        if on_sqlite != on_postgres {
            wrong.push(format!(
                "{sql}: {on_sqlite:?} on SQLite, {on_postgres:?} on PostgreSQL"
            ));
        }
    }
    // TRUNCATE, which skips row triggers, is refused too (SQLite has no TRUNCATE).
    let truncated = refusal(sqlx::query("TRUNCATE audit").execute(&mut pg).await);
    assert_eq!(truncated.as_deref(), Some("audit rows are append-only"));
    assert!(
        wrong.is_empty(),
        "the ledgers disagree:\n  {}",
        wrong.join("\n  ")
    );
}
