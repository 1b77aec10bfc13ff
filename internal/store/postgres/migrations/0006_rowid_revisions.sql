-- SQLite's migration 0006 rebuilds revisions and items as rowid tables;
-- PostgreSQL keeps every table as a heap beside its indexes, so it has no
-- such change to make. Kept under the same number so that both stores'
-- schema versions name the same schema. What it does here: a sealed
-- revision or item is ciphertext, which does not compress, so large ones
-- are stored out of line without trying to (new rows; old rows stay as
-- they are).
ALTER TABLE revisions ALTER COLUMN sealed SET STORAGE EXTERNAL;
ALTER TABLE items ALTER COLUMN sealed SET STORAGE EXTERNAL;
