-- Memos a principal on the standing distribution did not receive because
-- their keys awaited the channel office's confirmation: the office member
-- who confirms the keys shares each of them then (service/keysconfirm.go).
-- A principal is a reader, whom the threat model does not hide: like an
-- access row, a row here says that the memo was meant for them. The
-- service shares a memo named here only if it was delivered and the
-- principal is on the standing distribution when the keys are confirmed.
CREATE TABLE withheld (
  user_id TEXT NOT NULL REFERENCES users(id),
  memo_id TEXT NOT NULL REFERENCES memos(id),
  PRIMARY KEY (user_id, memo_id)
);
