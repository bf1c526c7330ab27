-- Retention (reliability-security R21, data protection: delete personal data once its
-- purpose is served). `loa prune` clears the personal data of messages that ended long
-- ago (address, the row snapshot in `context`, the last error) and stamps them here, so
-- nothing retries or renders them again; the rows stay, so every count stays the same.
-- Never edit this file once applied: add a new migration instead.
ALTER TABLE message ADD COLUMN pruned_at INTEGER;
