-- Messages between the office and a memo's authors: when the office last
-- wrote to them, for the authors' bell, which is worked out when they look
-- (nothing stored names an author). In the clear like the memo's other
-- dates; the messages themselves are items, sealed under the memo's key.
ALTER TABLE memos ADD COLUMN office_message_at BIGINT NOT NULL DEFAULT 0;
