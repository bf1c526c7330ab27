#!/usr/bin/env python3
"""How fast SQLite alone inserts loa's message rows on this machine: the ceiling of any
enqueue through the ledger. The ledger's own schema (migrations/sqlite), WAL,
synchronous=FULL, 10,000-row transactions, rows shaped like the benchmark's, copied from a
temporary table so nothing but SQLite runs: no CSV, no `where`, no binding.

    python3 scripts/sqlite_floor.py [ROWS]

Uses Python's own SQLite (its version is printed), not the one bundled into loa.
"""
import os
import sqlite3
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
MIGRATIONS = os.path.join(HERE, "..", "migrations", "sqlite")
COLUMNS = ("tag, campaign, step, occurrence_id, occurrence_at, occurrence_n, recipient, "
           "channel, fallback_of, address, state, attempts, next_attempt_at, expires_at, "
           "context, last_error, queued_at, updated_at")
CONTEXT = ('{"row":{"id":"HS%08d","name":"Nguyễn Văn %d","school":"Trường THCS Nguyễn Du",'
           '"email":"r%d@example.test","phone":"0912%06d","total":100,"insured":%d}}')


def main(rows: int, batch: int = 10_000) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        db = sqlite3.connect(os.path.join(tmp, "floor.db"), isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute("PRAGMA cache_size=-8192")
        db.execute("PRAGMA wal_autocheckpoint=10000")
        for name in sorted(os.listdir(MIGRATIONS)):
            with open(os.path.join(MIGRATIONS, name), encoding="utf-8") as f:
                db.executescript(f.read())
        db.execute("INSERT INTO campaign VALUES ('bench', 't', 'active', 'h', 'f', 0)")
        db.execute("INSERT INTO occurrence (id, campaign, step, n, at) "
                   "VALUES (1, 'bench', 'all', 0, 0)")
        db.execute("CREATE TEMP TABLE src AS SELECT * FROM message WHERE 0")
        db.executemany(
            f"INSERT INTO src (id, {COLUMNS}) VALUES (NULL, {', '.join('?' * 18)})",
            ([f"{i:016x}", "bench", "all", 1, 0, 0, f"HS{i:08}", "email", None,
              f"r{i}@example.test", "pending", 0, 0, 9e12,
              CONTEXT % (i, i, i, i % 1_000_000, i % 100), None, 0, 0]
             for i in range(rows)))
        start = time.monotonic()
        for low in range(0, rows, batch):
            db.execute("BEGIN IMMEDIATE")
            db.execute(f"INSERT INTO message ({COLUMNS}) SELECT {COLUMNS} FROM temp.src "
                       f"WHERE rowid > {low} AND rowid <= {low + batch} "
                       "ON CONFLICT DO NOTHING")
            db.execute("COMMIT")
        took = time.monotonic() - start
        print(f"SQLite {sqlite3.sqlite_version}: {rows} rows in {took:.2f} s = "
              f"{rows / took:,.0f} rows/s")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 500_000)
