-- Dissent schema, SQLite dialect. Times are unix microseconds (INTEGER).
-- Nothing here names which person wrote, signed or was invited to a memo:
-- that link lives only in sealed columns (memos.roster, author_index, mailbox).
CREATE TABLE users (
  id            TEXT PRIMARY KEY,
  username      TEXT NOT NULL UNIQUE,
  display_name  TEXT NOT NULL,
  email         TEXT NOT NULL,
  roles         TEXT NOT NULL,
  eligible      INTEGER NOT NULL,
  disabled      INTEGER NOT NULL DEFAULT 0,
  created_at    INTEGER NOT NULL,
  password      TEXT NOT NULL,
  box_public    TEXT NOT NULL,
  sign_public   BLOB NOT NULL,
  keys_sealed   BLOB NOT NULL,
  keys_recovery BLOB NOT NULL,
  key_state     TEXT NOT NULL,
  session_epoch INTEGER NOT NULL DEFAULT 0,
  mail_since    INTEGER NOT NULL DEFAULT 0,
  version       INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE sessions (
  id         BLOB PRIMARY KEY,
  sealed     BLOB NOT NULL,
  expires_at INTEGER NOT NULL,
  idle_until INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE settings (
  name  TEXT PRIMARY KEY,
  value BLOB NOT NULL
);
CREATE TABLE group_keys (
  grp        TEXT NOT NULL,
  user_id    TEXT NOT NULL REFERENCES users(id),
  wrapped    BLOB NOT NULL,
  granted_by TEXT NOT NULL,
  granted_at INTEGER NOT NULL,
  PRIMARY KEY (grp, user_id)
);
CREATE TABLE memos (
  id              TEXT PRIMARY KEY,
  state           TEXT NOT NULL,
  profile         TEXT NOT NULL,
  revision        INTEGER NOT NULL,
  key_version     INTEGER NOT NULL,
  created_at      INTEGER NOT NULL,
  updated_at      INTEGER NOT NULL,
  submitted_at    INTEGER NOT NULL DEFAULT 0,
  acknowledged_at INTEGER NOT NULL DEFAULT 0,
  replied_at      INTEGER NOT NULL DEFAULT 0,
  ended_at        INTEGER NOT NULL DEFAULT 0,
  acknowledge_by  INTEGER NOT NULL DEFAULT 0,
  reply_by        INTEGER NOT NULL DEFAULT 0,
  reply_latest    INTEGER NOT NULL DEFAULT 0,
  due_at          INTEGER NOT NULL DEFAULT 0,
  authors_count   INTEGER NOT NULL DEFAULT 0,
  roster          BLOB NOT NULL,
  receipt         BLOB,
  version         INTEGER NOT NULL DEFAULT 1
);
CREATE INDEX memos_due ON memos (due_at, id) WHERE due_at > 0;
CREATE INDEX memos_submitted ON memos (submitted_at) WHERE submitted_at > 0;
CREATE TABLE revisions (
  memo_id      TEXT NOT NULL REFERENCES memos(id),
  revision     INTEGER NOT NULL,
  key_version  INTEGER NOT NULL,
  sealed       BLOB NOT NULL,
  content_hash BLOB NOT NULL,
  created_at   INTEGER NOT NULL,
  PRIMARY KEY (memo_id, revision)
) WITHOUT ROWID;
CREATE TABLE items (
  id          TEXT PRIMARY KEY,
  memo_id     TEXT NOT NULL REFERENCES memos(id),
  kind        TEXT NOT NULL,
  key_version INTEGER NOT NULL,
  sealed      BLOB NOT NULL,
  created_at  INTEGER NOT NULL
) WITHOUT ROWID;
CREATE INDEX items_memo ON items (memo_id, created_at);
CREATE TABLE access (
  memo_id     TEXT NOT NULL REFERENCES memos(id),
  grantee     TEXT NOT NULL,
  key_version INTEGER NOT NULL,
  wrapped     BLOB NOT NULL,
  added_by    TEXT NOT NULL,
  reason      BLOB,
  standing    INTEGER NOT NULL,
  added_at    INTEGER NOT NULL,
  PRIMARY KEY (memo_id, grantee, key_version)
) WITHOUT ROWID;
CREATE INDEX access_grantee ON access (grantee, memo_id);
CREATE TABLE author_index (
  owner  BLOB NOT NULL,
  entry  BLOB NOT NULL,
  sealed BLOB NOT NULL,
  PRIMARY KEY (owner, entry)
) WITHOUT ROWID;
CREATE TABLE mailbox (
  id        TEXT PRIMARY KEY,
  posted_at INTEGER NOT NULL,
  sealed    BLOB NOT NULL
) WITHOUT ROWID;
CREATE INDEX mailbox_posted ON mailbox (posted_at);
CREATE TABLE ledger_head (
  id   INTEGER PRIMARY KEY CHECK (id = 1),
  size INTEGER NOT NULL
);
INSERT INTO ledger_head (id, size) VALUES (1, 0);
CREATE TABLE ledger_leaves (
  idx     INTEGER PRIMARY KEY,
  memo_id TEXT,
  data    BLOB NOT NULL
);
CREATE INDEX ledger_memo ON ledger_leaves (memo_id, idx) WHERE memo_id IS NOT NULL;
CREATE TABLE ledger_hashes (
  idx  INTEGER PRIMARY KEY,
  hash BLOB NOT NULL
);
CREATE TABLE ledger_details (
  idx    INTEGER PRIMARY KEY,
  sealed BLOB NOT NULL
);
CREATE TABLE checkpoints (
  size       INTEGER PRIMARY KEY,
  note       BLOB NOT NULL,
  created_at INTEGER NOT NULL
);
CREATE TABLE notifications (
  id          TEXT PRIMARY KEY,
  seq         INTEGER NOT NULL,
  user_id     TEXT NOT NULL REFERENCES users(id),
  kind        TEXT NOT NULL,
  memo_id     TEXT NOT NULL,
  due_at      INTEGER NOT NULL,
  created_at  INTEGER NOT NULL,
  read        INTEGER NOT NULL DEFAULT 0,
  email       TEXT NOT NULL,
  email_state TEXT NOT NULL,
  attempts    INTEGER NOT NULL DEFAULT 0,
  next_try    INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX notifications_user ON notifications (user_id, seq);
CREATE INDEX notifications_outbox ON notifications (next_try) WHERE email_state = 'pending';
