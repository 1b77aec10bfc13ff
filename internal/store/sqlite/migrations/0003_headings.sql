-- A revision's title and marking, sealed apart from its text under the
-- same memo key and key version, so that a list of memos opens a few
-- hundred bytes for each memo instead of its whole text. Revisions made
-- before this migration have no heading here; lists open their text, as
-- before (the server cannot write headings for them: it cannot read them).
CREATE TABLE revision_headings (
  memo_id     TEXT NOT NULL,
  revision    INTEGER NOT NULL,
  key_version INTEGER NOT NULL,
  sealed      BLOB NOT NULL,
  PRIMARY KEY (memo_id, revision),
  FOREIGN KEY (memo_id, revision) REFERENCES revisions (memo_id, revision)
) WITHOUT ROWID;
