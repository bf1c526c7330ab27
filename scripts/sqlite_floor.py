#!/usr/bin/env python3
"""How fast SQLite alone does the ledger's work on this machine: the ceiling of loa there.
The ledger's own schema (migrations/sqlite), WAL, synchronous=FULL, rows shaped like the
benchmark's, so nothing but SQLite runs: no CSV, no `where`, no binding, no HTTP.

    python3 scripts/sqlite_floor.py [ROWS]            # enqueue: inserts, 10,000 a transaction
    python3 scripts/sqlite_floor.py dispatch [ROWS]   # then claim and record every row

`dispatch` runs the dispatcher's statements (see src/store/message.rs and attempt.rs) in
batches of 256: a claim (choose the due ids, lease them, read them back, one event each)
in one transaction, then the outcome (the fence check, the `sent` update, one attempt and
one event each) in another; it prints the SQLite time per message, against which the
webhook target (20,000 a second on 2 cores = 100 µs of CPU a message) can be set.

Uses Python's own SQLite (its version is printed), not the one bundled into loa.
"""
import json
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


def main(rows: int, dispatch: bool, batch: int = 10_000) -> None:
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
        if dispatch:
            claim_and_record(db, rows)


def claim_and_record(db: sqlite3.Connection, rows: int, batch: int = 256) -> None:
    """Claims and records every pending row, `batch` at a time, as the dispatcher does."""
    now, done, cpu, start = 1, 0, time.process_time(), time.monotonic()
    while done < rows:
        db.execute("BEGIN IMMEDIATE")
        (ids,) = db.execute(
            "SELECT json_group_array(id) FROM (SELECT id FROM message WHERE state = 'pending' "
            "AND next_attempt_at <= ? AND expires_at >= ? AND campaign = 'bench' "
            "AND channel = 'email' ORDER BY next_attempt_at, id LIMIT ?)",
            (now, now, batch)).fetchone()
        db.execute("UPDATE message SET state = 'sending', attempts = attempts + 1, "
                   "lease_owner = 'bench', lease_until = ?, updated_at = ? "
                   "WHERE id IN (SELECT value FROM json_each(?)) AND +state = 'pending'",
                   (now + 60_000, now, ids))
        db.execute("SELECT json_group_array(json_array(id, message_id, campaign, step, "
                   "channel, recipient, address, attempts, occurrence_at, occurrence_n, "
                   "occurrence_id, expires_at, context, fallback_of, next_attempt_at)) "
                   "FROM message WHERE id IN (SELECT value FROM json_each(?))",
                   (ids,)).fetchone()
        db.execute("INSERT INTO message_event (message, at, from_state, to_state, detail) "
                   "SELECT m.id, ?, 'pending', m.state, 'attempt ' || m.attempts || ' by ' "
                   "|| m.lease_owner FROM json_each(?) AS j JOIN message AS m ON m.id = j.value",
                   (now, ids))
        db.execute("COMMIT")
        claimed = json.loads(ids)
        db.execute("BEGIN IMMEDIATE")
        fence = json.dumps([[i, 1, "bench"] for i in claimed])
        db.execute("SELECT json_group_array(m.id) FROM json_each(?1) AS j JOIN message AS m "
                   "ON m.id = j.value ->> 0 AND m.attempts = j.value ->> 1 "
                   "AND +m.state = 'sending' AND m.lease_owner = j.value ->> 2",
                   (fence,)).fetchone()
        values = ", ".join(["(?, ?, ?, ?, ?)"] * len(claimed))
        db.execute("UPDATE message SET state = 'sent', sent_at = o.column4, "
                   "provider_id = o.column5, lease_owner = NULL, lease_until = NULL, "
                   f"updated_at = ? FROM (VALUES {values}) AS o WHERE message.id = o.column1 "
                   "AND message.attempts = o.column2 AND +message.state = 'sending' "
                   "AND message.lease_owner = o.column3",
                   [now] + [v for i in claimed for v in (i, 1, "bench", now + 5, None)])
        db.executemany("INSERT INTO attempt (message_id, attempt, started_at, finished_at, "
                       "outcome, code, error, duration_ms) VALUES (?, 1, ?, ?, 'sent', "
                       "NULL, NULL, 5)", [(i, now, now + 5) for i in claimed])
        db.executemany("INSERT INTO message_event (message, at, from_state, to_state, detail) "
                       "VALUES (?, ?, 'sending', 'sent', NULL)", [(i, now) for i in claimed])
        db.execute("COMMIT")
        done += len(claimed)
    took, cpu = time.monotonic() - start, time.process_time() - cpu
    print(f"claimed and recorded {done} messages in {took:.2f} s = {done / took:,.0f} msgs/s "
          f"({took / done * 1e6:.0f} µs a message, {cpu / done * 1e6:.0f} µs of it on the CPU)")


if __name__ == "__main__":
    args = sys.argv[1:]
    dispatch = bool(args) and args[0] == "dispatch"
    if dispatch:
        args = args[1:]
    main(int(args[0]) if args else 500_000, dispatch)
