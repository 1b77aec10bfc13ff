-- When the reminders job next has something to do about a memo: the first
-- reminder or escalation of a deadline still owed that it has not handled
-- (0: none). The service computes it from the reminder policy and the
-- calendar whenever a memo's deadlines change and after each run looks at
-- the memo, so a run reads only the memos it must act on. Rows migrated
-- here start at 0; the first run after the upgrade finds no schedule
-- recorded for the current policy and computes every open memo's.
ALTER TABLE memos ADD COLUMN check_at BIGINT NOT NULL DEFAULT 0;
CREATE INDEX memos_check ON memos (check_at, id) WHERE check_at > 0;
