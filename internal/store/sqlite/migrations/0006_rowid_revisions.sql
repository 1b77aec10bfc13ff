-- Revisions and items become ordinary (rowid) tables. They were WITHOUT
-- ROWID tables, whose rows live in the b-tree of their primary key, interior
-- pages included; a sealed revision is several kilobytes, so each page held
-- a handful of them, the tree grew deep, and every step of a lookup read a
-- whole row's overflow pages to compare its key (SQLite advises a rowid table
-- once rows pass a twentieth of a page). Now the key is a small index and the
-- row is read once, at the end. Same columns, same keys, same rows.
--
-- revision_headings refers to revisions, so it is rebuilt beside them: its
-- new table refers to the new revisions table, and renaming that table
-- carries the reference along (SQLite 3.26 and later).
CREATE TABLE revisions_new (
  memo_id      TEXT NOT NULL REFERENCES memos(id),
  revision     INTEGER NOT NULL,
  key_version  INTEGER NOT NULL,
  sealed       BLOB NOT NULL,
  content_hash BLOB NOT NULL,
  created_at   INTEGER NOT NULL,
  PRIMARY KEY (memo_id, revision)
);
INSERT INTO revisions_new (memo_id, revision, key_version, sealed, content_hash, created_at)
  SELECT memo_id, revision, key_version, sealed, content_hash, created_at FROM revisions ORDER BY memo_id, revision;
CREATE TABLE revision_headings_new (
  memo_id     TEXT NOT NULL,
  revision    INTEGER NOT NULL,
  key_version INTEGER NOT NULL,
  sealed      BLOB NOT NULL,
  PRIMARY KEY (memo_id, revision),
  FOREIGN KEY (memo_id, revision) REFERENCES revisions_new (memo_id, revision)
) WITHOUT ROWID;
INSERT INTO revision_headings_new (memo_id, revision, key_version, sealed)
  SELECT memo_id, revision, key_version, sealed FROM revision_headings;
DROP TABLE revision_headings;
DROP TABLE revisions;
ALTER TABLE revisions_new RENAME TO revisions;
ALTER TABLE revision_headings_new RENAME TO revision_headings;

CREATE TABLE items_new (
  id          TEXT PRIMARY KEY,
  memo_id     TEXT NOT NULL REFERENCES memos(id),
  kind        TEXT NOT NULL,
  key_version INTEGER NOT NULL,
  sealed      BLOB NOT NULL,
  created_at  INTEGER NOT NULL
);
INSERT INTO items_new (id, memo_id, kind, key_version, sealed, created_at)
  SELECT id, memo_id, kind, key_version, sealed, created_at FROM items ORDER BY memo_id, created_at;
DROP TABLE items;
ALTER TABLE items_new RENAME TO items;
CREATE INDEX items_memo ON items (memo_id, created_at);
