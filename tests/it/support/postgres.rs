//! A fresh PostgreSQL database per test on the local server (127.0.0.1:5432, trust auth;
//! `LOA_TEST_POSTGRES_URL` names another server's maintenance database), dropped when the
//! test ends, passed or failed.
//!
//! Without a reachable server a test prints why and skips, except under `CI=true`, where
//! a missing server fails the run: CI must not go green by skipping the PostgreSQL tests.

use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgConnection};
use sqlx::{AssertSqlSafe, ConnectOptions, Connection};

/// The server's maintenance database, where databases are created and dropped.
const SERVER: &str = "postgres://postgres@127.0.0.1:5432/test";

/// One database of its own, `loa_it_<random>`; dropped (connections and all) on drop.
pub struct Database {
    name: String,
    admin: PgConnectOptions,
}

impl Database {
    /// Connection settings for this database.
    pub fn options(&self) -> PgConnectOptions {
        self.admin.clone().database(&self.name)
    }

    pub async fn connect(&self) -> PgConnection {
        self.options()
            .connect()
            .await
            .unwrap_or_else(|e| panic!("connecting to {}: {e}", self.name))
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        // Drop runs inside the test's runtime; the drop needs one of its own.
        let admin = self.admin.clone();
        let drop = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name);
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime for the drop");
            runtime.block_on(async {
                let mut conn = admin.connect().await?;
                sqlx::query(AssertSqlSafe(drop)).execute(&mut conn).await?;
                conn.close().await
            })
        })
        .join();
        if let Ok(Err(e)) = dropped {
            eprintln!("leaving database {} behind: {e}", self.name);
        }
    }
}

/// A new, empty database; `None` (with the reason printed) when there is no server to
/// create it on and `CI` is not `true`.
pub async fn database() -> Option<Database> {
    let url = std::env::var("LOA_TEST_POSTGRES_URL").unwrap_or_else(|_| SERVER.into());
    let admin: PgConnectOptions = url.parse().expect("a PostgreSQL URL");
    let reached = tokio::time::timeout(Duration::from_secs(5), admin.connect()).await;
    let mut conn = match reached {
        Ok(Ok(conn)) => conn,
        Ok(Err(e)) => return unreachable(&e.to_string()),
        Err(_) => return unreachable("no answer within 5 s"),
    };
    let mut rng = super::Rng::new(super::seed() ^ u64::from(std::process::id()));
    let name = format!("loa_it_{:016x}", rng.next_u64());
    sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("creating database {name}: {e}"));
    conn.close().await.ok();
    Some(Database { name, admin })
}

fn unreachable(why: &str) -> Option<Database> {
    let why = format!("no PostgreSQL server at 127.0.0.1:5432 (or LOA_TEST_POSTGRES_URL): {why}");
    if std::env::var("CI").is_ok_and(|ci| ci == "true") {
        panic!("{why}; under CI=true the PostgreSQL tests must run");
    }
    eprintln!("skipped: {why}");
    None
}
