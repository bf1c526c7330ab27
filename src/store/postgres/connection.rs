//! The PostgreSQL ledger's connections: opening and migrating it, its write transactions
//! ([`Write`]) and what a failed write leaves on record.
//!
//! sqlx 0.9.0 (the version in Cargo.lock) does not set `TCP_NODELAY` on PostgreSQL
//! connections (transact-rs/sqlx#4336 fixes it, in no release yet): over TCP, a write that
//! leaves a short last segment behind unacknowledged data (a `COPY`, a large batch) waits
//! out Nagle's algorithm against the server's delayed ACK, about 40 ms. A server on this
//! machine is therefore reached through its Unix socket (`/var/run/postgresql`, Debian's
//! and the PGDG packages' directory, or `/tmp`, PostgreSQL's own default) whenever the URL
//! names `localhost`, `127.0.0.1` or `::1` and that socket exists: no TCP, no Nagle. A test
//! holds the median round trip on that path under 10 ms (about 0.05 ms measured). A remote
//! server is reached over TCP; one-statement round trips do not stall there (each waits
//! for its answer before the next write), batches may, until sqlx ships the fix.

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Postgres, Transaction};

use super::PgLedger;

/// Connections per daemon: enough for the pump's claims, the outcome writer, the sweeps
/// and the dashboard's reads at once; several daemons share the server's
/// `max_connections` (100 by default).
const CONNECTIONS: u32 = 8;

/// Where PostgreSQL's packages put the server's socket, in the order tried.
const SOCKET_DIRS: [&str; 2] = ["/var/run/postgresql", "/tmp"];

/// A write transaction; dropping it rolls back.
pub(crate) struct Write<'a> {
    pub(crate) tx: Transaction<'static, Postgres>,
    ledger: &'a PgLedger,
    /// Set while a failed write is on record: only a commit that wrote clears it.
    check_wrote: bool,
}

impl Write<'_> {
    pub(crate) async fn commit(mut self) -> anyhow::Result<()> {
        // A commit that wrote nothing does not show that the ledger takes writes again.
        let wrote = !self.check_wrote
            || sqlx::query_scalar::<_, bool>("SELECT txid_current_if_assigned() IS NOT NULL")
                .fetch_one(&mut *self.tx)
                .await
                .unwrap_or(false);
        let committed = self.tx.commit().await;
        match &committed {
            Err(e) => self.ledger.note_write(Some(e)),
            Ok(()) if wrote => self.ledger.note_write(None),
            Ok(()) => {}
        }
        committed.context("committing to the message ledger")
    }
}

impl PgLedger {
    /// Opens and migrates the ledger at `url` (`postgres://…` or `postgresql://…`).
    /// Several daemons may do so at once: sqlx's migrator holds an advisory lock.
    pub(crate) async fn open(url: &str) -> anyhow::Result<PgLedger> {
        let shown = crate::mask::mask_url(url);
        let options = connect_options(url)?;
        let pool = PgPoolOptions::new()
            .max_connections(CONNECTIONS)
            .connect_with(options)
            .await
            .with_context(|| format!("opening the message ledger {shown:?}"))?;
        sqlx::migrate!("migrations/postgres")
            .run(&pool)
            .await
            .with_context(|| format!("migrating the message ledger {shown:?}"))?;
        Ok(PgLedger {
            pool,
            failure: Arc::default(),
        })
    }

    pub(crate) async fn close(&self) {
        self.pool.close().await;
    }

    /// Begins a write transaction. PostgreSQL takes concurrent writers itself: no turn
    /// to wait for.
    pub(crate) async fn write(&self) -> anyhow::Result<Write<'_>> {
        let begun = self.pool.begin().await;
        if let Err(e) = &begun {
            self.note_write(Some(e));
        }
        Ok(Write {
            tx: begun.context("beginning a write to the message ledger")?,
            ledger: self,
            check_wrote: self.write_failure().is_some(),
        })
    }

    /// See [`crate::store::Store::write_failure`].
    pub(crate) fn write_failure(&self) -> Option<String> {
        self.failure
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// Keeps the reason of a failed write when it says the ledger takes no writes now —
    /// the server gone or shutting down (SQLSTATE classes 08, 57), a read-only
    /// transaction (25006, a standby), the disk full or another resource out (53), an I/O
    /// error (58) — rather than something wrong with this one write.
    pub(crate) fn note_error(&self, error: &anyhow::Error) {
        let refused = error.chain().find_map(|cause| {
            let e = cause.downcast_ref::<sqlx::Error>()?;
            let refuses = match e {
                sqlx::Error::Database(db) => db.code().is_some_and(|code| {
                    ["08", "53", "57", "58"]
                        .iter()
                        .any(|class| code.starts_with(class))
                        || code == "25006"
                }),
                sqlx::Error::Io(_) | sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed => true,
                _ => false,
            };
            refuses.then_some(e)
        });
        if let Some(e) = refused {
            self.note_write(Some(e));
        }
    }

    fn note_write(&self, error: Option<&sqlx::Error>) {
        let reason = error.map(|e| match e {
            sqlx::Error::Database(db) => match db.code() {
                Some(code) => format!("{} (SQLSTATE {code})", db.message()),
                None => db.message().to_owned(),
            },
            other => other.to_string(),
        });
        *self
            .failure
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = reason;
    }

    /// The pool, for reads.
    pub(crate) fn pool(&self) -> &PgPool {
        &self.pool
    }
}

/// The settings of every connection to `url`: a local server through its socket (see the
/// module docs), the slow-statement log at debug for reads as on SQLite.
pub(super) fn connect_options(url: &str) -> anyhow::Result<PgConnectOptions> {
    let options = PgConnectOptions::from_str(url)
        .with_context(|| format!("bad database URL {:?}", crate::mask::mask_url(url)))?;
    let options = match local_socket(&options, SOCKET_DIRS.map(Path::new)) {
        Some(dir) => options.socket(dir),
        None => options,
    };
    Ok(sqlx::ConnectOptions::log_slow_statements(
        options,
        log::LevelFilter::Debug,
        Duration::from_secs(1),
    ))
}

/// The directory of the local server's socket when `options` name this machine over TCP
/// and the socket for its port exists in one of `dirs`.
fn local_socket<'a>(
    options: &PgConnectOptions,
    dirs: impl IntoIterator<Item = &'a Path>,
) -> Option<PathBuf> {
    let host = options.get_host();
    if options.get_socket().is_some() || !["localhost", "127.0.0.1", "::1", "[::1]"].contains(&host)
    {
        return None;
    }
    let socket = format!(".s.PGSQL.{}", options.get_port());
    dirs.into_iter()
        .find(|dir| dir.join(&socket).exists())
        .map(Path::to_path_buf)
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use sqlx::Connection as _;
    use sqlx::postgres::PgConnection;

    use super::*;
    use crate::store::test_support::*;

    /// The median of 50 round trips (`SELECT $1`, prepared once) on `conn`.
    async fn median_round_trip(conn: &mut PgConnection) -> Duration {
        let mut times = Vec::with_capacity(50);
        for i in 0..50_i64 {
            let started = Instant::now();
            let back: i64 = sqlx::query_scalar("SELECT $1::bigint")
                .bind(i)
                .fetch_one(&mut *conn)
                .await
                .unwrap();
            times.push(started.elapsed());
            assert_eq!(back, i);
        }
        times.sort();
        times[times.len() / 2]
    }

    #[tokio::test]
    async fn a_round_trip_to_the_local_server_takes_well_under_ten_milliseconds() {
        let Some(db) = pg_database().await else {
            return;
        };
        // The ledger's own settings for the URL a user would give: 127.0.0.1 over TCP.
        let options = connect_options(&db.url()).unwrap();
        let mut conn = PgConnection::connect_with(&options).await.unwrap();
        let median = median_round_trip(&mut conn).await;
        conn.close().await.unwrap();
        // Over TCP, sqlx 0.9.0's missing TCP_NODELAY costs about 40 ms here.
        let tcp: PgConnectOptions = db.url().parse().unwrap();
        let mut tcp = PgConnection::connect_with(&tcp).await.unwrap();
        let over_tcp = median_round_trip(&mut tcp).await;
        tcp.close().await.unwrap();
        eprintln!("median round trip: {median:?} through the ledger's path, {over_tcp:?} over TCP");
        assert!(median < Duration::from_millis(10), "{median:?}");
    }

    /// Makes the test database refuse writes (as a standby does) or take them again, and
    /// ends every other session so that the pool reconnects with the setting.
    async fn read_only(db: &PgDatabase, on: bool) {
        let mut admin = PgConnection::connect(&db.url()).await.unwrap();
        let setting = if on { "on" } else { "off" };
        let name = db.url().rsplit('/').next().unwrap().to_owned();
        sqlx::query("SET default_transaction_read_only = off")
            .execute(&mut admin)
            .await
            .unwrap();
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "ALTER DATABASE {name} SET default_transaction_read_only = {setting}"
        )))
        .execute(&mut admin)
        .await
        .unwrap();
        sqlx::query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
        )
        .execute(&mut admin)
        .await
        .unwrap();
        admin.close().await.unwrap();
    }

    #[tokio::test]
    async fn a_ledger_that_refuses_writes_is_reported_until_a_write_goes_through() {
        let Some(db) = pg_database().await else {
            return;
        };
        let store = crate::store::Store::open_postgres(&db.url()).await.unwrap();
        let occ = seed(&store).await;
        read_only(&db, true).await;
        let err = store
            .insert_messages(&messages(&occ, 3), T0)
            .await
            .expect_err("read-only");
        assert!(format!("{err:#}").contains("read-only"), "{err:#}");
        assert_eq!(
            store.write_failure().as_deref(),
            Some("cannot execute INSERT in a read-only transaction (SQLSTATE 25006)")
        );
        // A write refused for its own sake is no sign of the ledger's health.
        assert!(store.mark_enqueued(9999, T0).await.is_err());
        assert!(store.write_failure().is_some());
        // Reads go on meanwhile.
        store.ping().await.unwrap();
        store.check_writable(T0).await;
        assert!(store.write_failure().is_some());
        read_only(&db, false).await;
        // With nothing else to write, the check finds the ledger writable again.
        store.check_writable(T0).await;
        assert_eq!(store.write_failure(), None);
        assert_eq!(
            store.insert_messages(&messages(&occ, 3), T0).await.unwrap(),
            3
        );
        store.close().await;
    }

    #[tokio::test]
    async fn a_write_that_fails_for_its_own_sake_is_not_a_ledger_failure() {
        let Some((_db, store)) = open_pg().await else {
            return;
        };
        assert!(store.occurrence("ghost", "s", 0, T0).await.is_err());
        assert_eq!(store.write_failure(), None);
    }

    #[test]
    fn a_local_server_is_reached_through_its_socket_and_a_remote_one_over_tcp() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(".s.PGSQL.5433"), "").unwrap();
        let dirs = || [Path::new("/nonexistent"), dir.path()];
        let parse = |url: &str| PgConnectOptions::from_str(url).unwrap();
        for url in [
            "postgres://loa@localhost:5433/loa",
            "postgres://loa@127.0.0.1:5433/loa",
            "postgresql://loa@[::1]:5433/loa",
        ] {
            assert_eq!(
                local_socket(&parse(url), dirs()).as_deref(),
                Some(dir.path()),
                "{url}"
            );
        }
        for url in [
            // Another port: no socket for it here.
            "postgres://loa@localhost:5432/loa",
            "postgres://loa@db.example.vn:5433/loa",
            "postgres://loa@10.0.0.5:5433/loa",
        ] {
            assert_eq!(local_socket(&parse(url), dirs()), None, "{url}");
        }
        // A socket the URL names itself is kept.
        let named = parse("postgres://loa@localhost:5433/loa?host=/run/pg");
        assert_eq!(local_socket(&named, dirs()), None);
    }
}

#[cfg(test)]
mod reopen_tests {
    use std::time::Duration;

    use crate::store::test_support::*;
    use crate::store::{Outcome, OutcomeKind, Store};

    #[tokio::test]
    async fn reopening_the_database_keeps_everything_and_its_fences() {
        let Some(db) = pg_database().await else {
            return;
        };
        let first = Store::open_postgres(&db.url()).await.unwrap();
        let occ = seed(&first).await;
        insert(&first, &occ, 10).await;
        let claimed = first
            .claim("w", T0, Duration::from_secs(75), 4, &[])
            .await
            .unwrap();
        let sent = |c: &crate::store::Claimed| Outcome {
            id: c.id,
            attempt: c.attempt,
            owner: "w".into(),
            started_at: T0,
            duration_ms: 3,
            result: OutcomeKind::Sent { provider_id: None },
        };
        let outcomes: Vec<Outcome> = claimed.iter().map(sent).collect();
        first.record(&outcomes[..3], T0 + 5).await.unwrap();
        first
            .kv_put("zalo.refresh_token", "secret-1", T0)
            .await
            .unwrap();
        first.hold_campaign("c", "staff", T0).await.unwrap();
        let status = first.status(None).await.unwrap();
        let report = first.report("c").await.unwrap();
        first.close().await;

        // Opening again migrates nothing twice and finds every row.
        let second = Store::open_postgres(&db.url()).await.unwrap();
        assert_eq!(second.status(None).await.unwrap(), status);
        assert_eq!(second.report("c").await.unwrap(), report);
        assert_eq!(second.open_count("c").await.unwrap(), 7);
        assert_eq!(
            second
                .kv_get("zalo.refresh_token")
                .await
                .unwrap()
                .as_deref(),
            Some("secret-1")
        );
        assert!(second.held_campaigns().await.unwrap().contains("c"));
        assert_eq!(second.occurrence("c", "s", 0, T0 + 1).await.unwrap(), occ);
        assert_eq!(
            second
                .insert_messages(&messages(&occ, 10), T0)
                .await
                .unwrap(),
            0
        );
        assert_events_complete(&second).await;
        // The lease still held survives too, and its fence with it.
        assert_eq!(
            second.record(&[sent(&claimed[3])], T0 + 10).await.unwrap(),
            1
        );
        assert_eq!(
            second.record(&[sent(&claimed[3])], T0 + 11).await.unwrap(),
            0
        );
    }

    #[tokio::test]
    async fn daemons_starting_at_once_on_an_empty_database_migrate_it_once() {
        let Some(db) = pg_database().await else {
            return;
        };
        let url = db.url();
        let starts: Vec<_> = (0..6)
            .map(|_| {
                let url = url.clone();
                tokio::spawn(async move { Store::open_postgres(&url).await })
            })
            .collect();
        let mut stores = Vec::new();
        for start in starts {
            stores.push(start.await.unwrap().expect("every daemon opens the ledger"));
        }
        let applied = count(&stores[0], "SELECT COUNT(*) FROM _sqlx_migrations").await;
        let files = std::fs::read_dir("migrations/postgres").unwrap().count();
        assert_eq!(usize::try_from(applied).unwrap(), files);
        for store in stores {
            store.close().await;
        }
    }
}
