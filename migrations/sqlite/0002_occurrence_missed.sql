-- An occurrence first seen by the daemon long after its time is recorded as missed and
-- sends nothing until an operator decides (reliability-security R9).
ALTER TABLE occurrence ADD COLUMN missed_at INTEGER;
