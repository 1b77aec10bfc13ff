-- Appeals (profiles that have them, the NRC's): until when the authors
-- may appeal the reply, when they did, when the decision on appeal falls
-- due and when it was given. Like the memo's other dates these are in the
-- clear, for the deadlines, the office's box and the figures; the appeal's
-- reason and the decision are items, sealed under the memo's key.
ALTER TABLE memos ADD COLUMN appeal_by INTEGER NOT NULL DEFAULT 0;
ALTER TABLE memos ADD COLUMN appealed_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE memos ADD COLUMN appeal_reply_by INTEGER NOT NULL DEFAULT 0;
ALTER TABLE memos ADD COLUMN appeal_replied_at INTEGER NOT NULL DEFAULT 0;
