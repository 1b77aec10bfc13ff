-- Dissent schema, PostgreSQL dialect. Times are unix microseconds (BIGINT).
-- Nothing here names which person wrote, signed or was invited to a memo:
-- that link lives only in sealed columns (memos.roster, author_index, mailbox).
CREATE TABLE users (
  id            TEXT PRIMARY KEY,
  username      TEXT NOT NULL UNIQUE,
  display_name  TEXT NOT NULL,
  email         TEXT NOT NULL,
  roles         TEXT NOT NULL,
  eligible      BIGINT NOT NULL,
  disabled      BIGINT NOT NULL DEFAULT 0,
  created_at    BIGINT NOT NULL,
  password      TEXT NOT NULL,
  box_public    TEXT NOT NULL,
  sign_public   BYTEA NOT NULL,
  keys_sealed   BYTEA NOT NULL,
  keys_recovery BYTEA NOT NULL,
  key_state     TEXT NOT NULL,
  session_epoch BIGINT NOT NULL DEFAULT 0,
  mail_since    BIGINT NOT NULL DEFAULT 0,
  version       BIGINT NOT NULL DEFAULT 1
);
CREATE TABLE sessions (
  id         BYTEA PRIMARY KEY,
  sealed     BYTEA NOT NULL,
  expires_at BIGINT NOT NULL,
  idle_until BIGINT NOT NULL
);
CREATE TABLE settings (
  name  TEXT PRIMARY KEY,
  value BYTEA NOT NULL
);
CREATE TABLE group_keys (
  grp        TEXT NOT NULL,
  user_id    TEXT NOT NULL REFERENCES users(id),
  wrapped    BYTEA NOT NULL,
  granted_by TEXT NOT NULL,
  granted_at BIGINT NOT NULL,
  PRIMARY KEY (grp, user_id)
);
CREATE TABLE memos (
  id              TEXT PRIMARY KEY,
  state           TEXT NOT NULL,
  profile         TEXT NOT NULL,
  revision        BIGINT NOT NULL,
  key_version     BIGINT NOT NULL,
  created_at      BIGINT NOT NULL,
  updated_at      BIGINT NOT NULL,
  submitted_at    BIGINT NOT NULL DEFAULT 0,
  acknowledged_at BIGINT NOT NULL DEFAULT 0,
  replied_at      BIGINT NOT NULL DEFAULT 0,
  ended_at        BIGINT NOT NULL DEFAULT 0,
  acknowledge_by  BIGINT NOT NULL DEFAULT 0,
  reply_by        BIGINT NOT NULL DEFAULT 0,
  reply_latest    BIGINT NOT NULL DEFAULT 0,
  due_at          BIGINT NOT NULL DEFAULT 0,
  authors_count   BIGINT NOT NULL DEFAULT 0,
  roster          BYTEA NOT NULL,
  receipt         BYTEA,
  version         BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX memos_due ON memos (due_at, id) WHERE due_at > 0;
CREATE INDEX memos_submitted ON memos (submitted_at) WHERE submitted_at > 0;
CREATE TABLE revisions (
  memo_id      TEXT NOT NULL REFERENCES memos(id),
  revision     BIGINT NOT NULL,
  key_version  BIGINT NOT NULL,
  sealed       BYTEA NOT NULL,
  content_hash BYTEA NOT NULL,
  created_at   BIGINT NOT NULL,
  PRIMARY KEY (memo_id, revision)
);
CREATE TABLE items (
  id          TEXT PRIMARY KEY,
  memo_id     TEXT NOT NULL REFERENCES memos(id),
  kind        TEXT NOT NULL,
  key_version BIGINT NOT NULL,
  sealed      BYTEA NOT NULL,
  created_at  BIGINT NOT NULL
);
CREATE INDEX items_memo ON items (memo_id, created_at);
CREATE TABLE access (
  memo_id     TEXT NOT NULL REFERENCES memos(id),
  grantee     TEXT NOT NULL,
  key_version BIGINT NOT NULL,
  wrapped     BYTEA NOT NULL,
  added_by    TEXT NOT NULL,
  reason      BYTEA,
  standing    BIGINT NOT NULL,
  added_at    BIGINT NOT NULL,
  PRIMARY KEY (memo_id, grantee, key_version)
);
CREATE INDEX access_grantee ON access (grantee, memo_id);
CREATE TABLE author_index (
  owner  BYTEA NOT NULL,
  entry  BYTEA NOT NULL,
  sealed BYTEA NOT NULL,
  PRIMARY KEY (owner, entry)
);
CREATE TABLE mailbox (
  id        TEXT PRIMARY KEY,
  posted_at BIGINT NOT NULL,
  sealed    BYTEA NOT NULL
);
CREATE INDEX mailbox_posted ON mailbox (posted_at);
CREATE TABLE ledger_head (
  id   BIGINT PRIMARY KEY CHECK (id = 1),
  size BIGINT NOT NULL
);
INSERT INTO ledger_head (id, size) VALUES (1, 0);
CREATE TABLE ledger_leaves (
  idx     BIGINT PRIMARY KEY,
  memo_id TEXT,
  data    BYTEA NOT NULL
);
CREATE INDEX ledger_memo ON ledger_leaves (memo_id, idx) WHERE memo_id IS NOT NULL;
CREATE TABLE ledger_hashes (
  idx  BIGINT PRIMARY KEY,
  hash BYTEA NOT NULL
);
CREATE TABLE ledger_details (
  idx    BIGINT PRIMARY KEY,
  sealed BYTEA NOT NULL
);
CREATE TABLE checkpoints (
  size       BIGINT PRIMARY KEY,
  note       BYTEA NOT NULL,
  created_at BIGINT NOT NULL
);
CREATE TABLE notifications (
  id          TEXT PRIMARY KEY,
  seq         BIGINT NOT NULL,
  user_id     TEXT NOT NULL REFERENCES users(id),
  kind        TEXT NOT NULL,
  memo_id     TEXT NOT NULL,
  due_at      BIGINT NOT NULL,
  created_at  BIGINT NOT NULL,
  read        BIGINT NOT NULL DEFAULT 0,
  email       TEXT NOT NULL,
  email_state TEXT NOT NULL,
  attempts    BIGINT NOT NULL DEFAULT 0,
  next_try    BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX notifications_user ON notifications (user_id, seq);
CREATE INDEX notifications_outbox ON notifications (next_try) WHERE email_state = 'pending';
