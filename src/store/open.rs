//! Opening the ledger: the backend chosen by the URL's scheme, and what every backend
//! answers alike — closing, and why the last write failed.

use super::postgres::PgLedger;
use super::sqlite::SqliteLedger;
use super::{Millis, Store};

/// The backend behind a [`Store`].
#[derive(Clone, Debug)]
pub(super) enum Ledger {
    Sqlite(SqliteLedger),
    // Built only by `Store::open_postgres` (tests) until `Store::open` takes it.
    #[cfg_attr(not(test), allow(dead_code))]
    Postgres(PgLedger),
}

/// Whether `url` names a PostgreSQL database (`postgres://` or `postgresql://`).
#[cfg(test)]
fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

impl Store {
    /// Opens (creating the file on first use) and migrates the ledger at `url`,
    /// e.g. `sqlite://loa.db`. Any other scheme is refused by name, its password masked;
    /// PostgreSQL among them, until its backend keeps the whole contract.
    pub async fn open(url: &str) -> anyhow::Result<Store> {
        if !url.starts_with("sqlite:") {
            anyhow::bail!(
                "cannot open the database URL {:?}: the ledger is SQLite for now \
                 (--database-url sqlite://loa.db); PostgreSQL is not supported yet",
                crate::mask::mask_url(url)
            );
        }
        Ok(Store {
            ledger: Ledger::Sqlite(SqliteLedger::open(url).await?),
        })
    }

    /// Opens and migrates the PostgreSQL ledger at `url`, which [`Store::open`] still
    /// refuses: for the store's own tests while the backend is being written.
    #[cfg(test)]
    pub(crate) async fn open_postgres(url: &str) -> anyhow::Result<Store> {
        anyhow::ensure!(is_postgres(url), "not a PostgreSQL URL: {url:?}");
        Ok(Store {
            ledger: Ledger::Postgres(PgLedger::open(url).await?),
        })
    }

    /// Opens a ledger that must exist already, for the commands that read or repair one
    /// (`status`, `report`, `retry`): opening creates the file, which left an empty
    /// `loa.db` wherever they were run and then reported zero messages.
    pub async fn open_existing(url: &str) -> anyhow::Result<Store> {
        if url.starts_with("sqlite:") {
            SqliteLedger::check_exists(url)?;
        }
        Self::open(url).await
    }

    /// Closes every connection, waiting for those in use (SQLite checkpoints the WAL when
    /// the last one closes). Later calls on any clone fail.
    pub async fn close(&self) {
        match &self.ledger {
            Ledger::Sqlite(l) => l.close().await,
            Ledger::Postgres(l) => l.close().await,
        }
    }

    /// Why the last write to the ledger failed to begin or to commit (e.g. "database or
    /// disk is full (SQLite code 13)"), until a write that changed rows commits.
    pub fn write_failure(&self) -> Option<String> {
        match &self.ledger {
            Ledger::Sqlite(l) => l.write_failure(),
            Ledger::Postgres(l) => l.write_failure(),
        }
    }

    /// While a failed write is on record, tries a write of one row (`loa.write_check` in
    /// `kv`, the time): its success clears the record. The daemon calls it every round,
    /// so that a daemon with nothing else to write does not stay unhealthy once the
    /// ledger takes writes again. Does nothing otherwise.
    pub async fn check_writable(&self, now: Millis) {
        if self.write_failure().is_some() {
            // A failure is recorded by the write itself.
            let _ = self.kv_put("loa.write_check", &now.to_string(), now).await;
        }
    }

    /// The SQLite ledger's connections for reading, for tests that look at the tables.
    #[cfg(test)]
    pub(crate) fn pool(&self) -> &sqlx::SqlitePool {
        self.sqlite().pool()
    }

    /// The SQLite ledger itself, for tests of its writer.
    #[cfg(test)]
    pub(crate) fn sqlite(&self) -> &SqliteLedger {
        match &self.ledger {
            Ledger::Sqlite(l) => l,
            Ledger::Postgres(_) => panic!("a SQLite ledger was expected"),
        }
    }

    /// Whether this store is on PostgreSQL.
    #[cfg(test)]
    pub(crate) fn is_postgres(&self) -> bool {
        matches!(self.ledger, Ledger::Postgres(_))
    }

    /// The PostgreSQL ledger's pool, for tests that look at the tables.
    #[cfg(test)]
    pub(crate) fn pg_pool(&self) -> &sqlx::PgPool {
        match &self.ledger {
            Ledger::Postgres(l) => l.pool(),
            Ledger::Sqlite(_) => panic!("a PostgreSQL ledger was expected"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_bad_url_is_an_error_naming_it() {
        let err = Store::open("mysql://nowhere").await.unwrap_err();
        assert!(format!("{err:#}").contains("mysql://nowhere"));
    }

    #[tokio::test]
    async fn a_url_that_is_not_sqlite_is_refused_by_name_without_its_password() {
        let err = Store::open("postgres://loa:hunter2@127.0.0.1/loa")
            .await
            .expect_err("refused");
        let text = format!("{err:#}");
        assert!(
            text.contains("postgres://loa:%5BREDACTED%5D@127.0.0.1/loa")
                && text.contains("sqlite://loa.db"),
            "{text}"
        );
        assert!(!text.contains("hunter2"), "{text}");
        let err = Store::open("postgres://127.0.0.1/loa?password=hunter2")
            .await
            .expect_err("refused");
        assert!(!format!("{err:#}").contains("hunter2"), "{err:#}");
        assert!(is_postgres("postgresql://h/db") && !is_postgres("sqlite://loa.db"));
    }
}
