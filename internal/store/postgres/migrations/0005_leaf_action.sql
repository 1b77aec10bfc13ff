-- The action of each leaf about a memo ("memo.read", "memo.submit", ...),
-- beside the leaf that holds it, so that a memo's history can be read
-- without its reads and its reads a page at a time: a memo read a thousand
-- times would otherwise decode a thousand leaves every time it is opened.
-- Leaves about no memo keep NULL. Rows migrated here take the action from
-- the leaf itself: canonical JSON, whose "action" member is written without
-- escapes. A pattern, not a JSON parse, so that a leaf that is not JSON
-- (tampered with: the ledger self-check reports it) keeps NULL rather than
-- stopping the upgrade.
ALTER TABLE ledger_leaves ADD COLUMN action TEXT;
UPDATE ledger_leaves SET action = substring(encode(data, 'escape') from '"action":"([a-z._]+)"')
  WHERE memo_id IS NOT NULL;
DROP INDEX ledger_memo;
CREATE INDEX ledger_memo ON ledger_leaves (memo_id, idx) WHERE memo_id IS NOT NULL AND action <> 'memo.read';
CREATE INDEX ledger_memo_reads ON ledger_leaves (memo_id, idx) WHERE action = 'memo.read';
