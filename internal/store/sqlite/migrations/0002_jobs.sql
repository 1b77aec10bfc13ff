-- Background work: periodic jobs, the reminders already sent, and the
-- bookkeeping of the e-mail outbox (its rows are the notifications).
-- Nothing here names the author of a memo: reminders are keyed by memo and
-- deadline alone, and notifications that name a memo go only to the office,
-- principals and escalation contacts, whose link to a memo is not protected.
CREATE TABLE jobs (
  name        TEXT PRIMARY KEY,
  run_at      INTEGER NOT NULL DEFAULT 0,
  lease_until INTEGER NOT NULL DEFAULT 0,
  lease_owner TEXT NOT NULL DEFAULT '',
  last_run    INTEGER NOT NULL DEFAULT 0,
  last_error  TEXT NOT NULL DEFAULT ''
);
CREATE TABLE reminders (
  memo_id TEXT NOT NULL REFERENCES memos(id),
  kind    TEXT NOT NULL,
  due_at  INTEGER NOT NULL,
  sent_at INTEGER NOT NULL,
  PRIMARY KEY (memo_id, kind, due_at)
) WITHOUT ROWID;
ALTER TABLE notifications ADD COLUMN sent_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE notifications ADD COLUMN mail_error TEXT NOT NULL DEFAULT '';
