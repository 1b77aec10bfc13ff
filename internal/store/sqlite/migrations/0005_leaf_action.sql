-- The action of each leaf about a memo ("memo.read", "memo.submit", ...),
-- beside the leaf that holds it, so that a memo's history can be read
-- without its reads and its reads a page at a time: a memo read a thousand
-- times would otherwise decode a thousand leaves every time it is opened.
-- Leaves about no memo keep NULL. Rows migrated here take the action from
-- the leaf itself (canonical JSON; a BLOB given to SQLite's JSON functions
-- is taken as JSONB, hence the cast). A leaf that is not JSON (tampered
-- with: the ledger self-check reports it) keeps NULL rather than stopping
-- the upgrade.
ALTER TABLE ledger_leaves ADD COLUMN action TEXT;
UPDATE ledger_leaves SET action = json_extract(CAST(data AS TEXT), '$.action')
  WHERE memo_id IS NOT NULL AND json_valid(CAST(data AS TEXT));
DROP INDEX ledger_memo;
CREATE INDEX ledger_memo ON ledger_leaves (memo_id, idx) WHERE memo_id IS NOT NULL AND action <> 'memo.read';
CREATE INDEX ledger_memo_reads ON ledger_leaves (memo_id, idx) WHERE action = 'memo.read';
