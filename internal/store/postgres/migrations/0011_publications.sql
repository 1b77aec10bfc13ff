-- Closed cases published under a profile that publishes them (the NRC's),
-- with the consent of every drafter, by the channel office: the text as
-- submitted, the office's reply and any appeal and its decision, and no
-- name. What is here is public to everyone signed in, and so is in the
-- clear by design: the memo's own rows stay sealed.
CREATE TABLE publications (
  memo_id      TEXT PRIMARY KEY REFERENCES memos(id),
  title        TEXT NOT NULL,
  marking      TEXT NOT NULL,
  published_at BIGINT NOT NULL,
  doc          BYTEA NOT NULL
);
CREATE INDEX publications_newest ON publications (published_at, memo_id);
