-- Where the ledger anchors each user's public keys: the index of the entry
-- whose content is the hash of the keys (service.keysAnchor), or -1 where
-- none does yet. The service checks a key against its anchor before it
-- wraps a memo key to it or verifies a signature with it, so a key swapped
-- in this table is refused rather than used. Existing accounts are anchored
-- by the first node that starts on the new schema.
ALTER TABLE users ADD COLUMN keys_anchor BIGINT NOT NULL DEFAULT -1;
