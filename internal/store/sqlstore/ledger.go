package sqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"slices"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/dissent-channel/dissent/internal/ledger"
	"github.com/dissent-channel/dissent/internal/store"
)

type ledgerStorage struct {
	t      *Tx
	memo   string
	action string
}

// ledgerSeen is what a transaction learned of the ledger: its size once the
// transaction holds the append lock (from LockedSize, or its own WriteLeaf),
// and stored hashes it read or wrote, which never change. A submission
// appends its leaf, checks the tree against the last checkpoint, signs the
// new root and proves its leaf in the receipt: each reads the size and
// mostly the same hashes along the tree's right edge, once now.
type ledgerSeen struct {
	size   int64
	locked bool // size is known and the append lock held
	hashes map[int64]tlog.Hash
}

// maxSeenHashes bounds the hashes a transaction keeps: a self-check that
// reads the whole ledger keeps only the first few.
const maxSeenHashes = 4096

func newLedgerSeen() *ledgerSeen { return &ledgerSeen{hashes: map[int64]tlog.Hash{}} }

func (l ledgerStorage) seen() *ledgerSeen {
	if l.t.ledger == nil {
		l.t.ledger = newLedgerSeen()
	}
	return l.t.ledger
}

// base is what the members of the transaction's group committed before it
// learned of the ledger (group.go), or nil.
func (l ledgerStorage) base() *ledgerSeen {
	if l.t.m == nil {
		return nil
	}
	return l.t.m.g.ledger
}

// lockedSize is the size known with the append lock held, by this
// transaction or its group's earlier members.
func (l ledgerStorage) lockedSize() (int64, bool) {
	if seen := l.seen(); seen.locked {
		return seen.size, true
	}
	if b := l.base(); b != nil && b.locked {
		return b.size, true
	}
	return 0, false
}

// hash is a stored hash this transaction or its group already has.
func (l ledgerStorage) hash(idx int64) (tlog.Hash, bool) {
	if h, ok := l.seen().hashes[idx]; ok {
		return h, true
	}
	if b := l.base(); b != nil {
		h, ok := b.hashes[idx]
		return h, ok
	}
	return tlog.Hash{}, false
}

func (s *ledgerSeen) keep(idx int64, h tlog.Hash) {
	if len(s.hashes) < maxSeenHashes {
		s.hashes[idx] = h
	}
}

// merge adds what a member learned to its group's, when the member commits.
func (s *ledgerSeen) merge(m *ledgerSeen) {
	if m.locked {
		s.size, s.locked = m.size, true
	}
	for idx, h := range m.hashes {
		s.keep(idx, h)
	}
}

// LedgerStorage returns the ledger's view of the transaction.
func (t *Tx) LedgerStorage(memoID, action string) store.LedgerStorage {
	return ledgerStorage{t, memoID, action}
}

// LockedSize reads the ledger size and holds the append lock: SQLite's
// single writer already serialises; PostgreSQL locks the head row.
func (l ledgerStorage) LockedSize(ctx context.Context) (int64, error) {
	if n, ok := l.lockedSize(); ok {
		return n, nil
	}
	var n int64
	if err := l.t.row(ctx, l.t.db.d.LockHead).Scan(&n); err != nil {
		return 0, scanErr(err)
	}
	seen := l.seen()
	seen.size, seen.locked = n, true
	return n, nil
}

// ReadHashes reads stored tree hashes.
func (l ledgerStorage) ReadHashes(ctx context.Context, indexes []int64) ([]tlog.Hash, error) {
	if len(indexes) == 0 {
		return nil, nil
	}
	seen := l.seen()
	byIdx := make(map[int64]tlog.Hash, len(indexes))
	var missing []int64
	for _, idx := range indexes {
		if h, ok := l.hash(idx); ok {
			byIdx[idx] = h
		} else {
			missing = append(missing, idx)
		}
	}
	if len(missing) == 0 {
		return hashesInOrder(indexes, byIdx)
	}
	in, args := inList(missing)
	rows, err := l.t.query(ctx, `SELECT idx, hash FROM ledger_hashes WHERE idx IN (`+in+`)`, args...)
	if err != nil {
		return nil, err
	}
	_, err = collect(rows, func(r Rows) (struct{}, error) {
		var idx int64
		var h []byte
		if err := r.Scan(&idx, &h); err != nil {
			return struct{}{}, err
		}
		if len(h) != tlog.HashSize {
			return struct{}{}, fmt.Errorf("stored hash %d has %d bytes", idx, len(h))
		}
		byIdx[idx] = tlog.Hash(h)
		seen.keep(idx, tlog.Hash(h))
		return struct{}{}, nil
	})
	if err != nil {
		return nil, err
	}
	return hashesInOrder(indexes, byIdx)
}

// hashesInOrder returns byIdx's hash of each index, or an error for one
// missing.
func hashesInOrder(indexes []int64, byIdx map[int64]tlog.Hash) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, idx := range indexes {
		h, ok := byIdx[idx]
		if !ok {
			return nil, fmt.Errorf("sqlstore: %w: ledger hash %d is missing", ledger.ErrRange, idx)
		}
		out[i] = h
	}
	return out, nil
}

// WriteLeaf appends leaf idx and its stored hashes, and moves the head.
// Where a WITH clause may insert (PostgreSQL), that is one statement: the
// append runs on the group's connection, one round trip after another,
// for every audited action.
func (l ledgerStorage) WriteLeaf(ctx context.Context, idx int64, leaf []byte, hashIndexes []int64, hashes []tlog.Hash) error {
	var memo, action any
	if l.memo != "" {
		if l.action == "" {
			// It would be in neither the memo's history nor its reads.
			return fmt.Errorf("sqlstore: a leaf about memo %q needs its action", l.memo)
		}
		memo, action = l.memo, l.action
	}
	// The leaf's stored hashes (one, plus one per subtree it completes: two
	// on average) in one INSERT. Its text depends only on how many, so the
	// few variants stay prepared.
	hashArgs := make([]any, 0, 2*len(hashes))
	for i, h := range hashes {
		hashArgs = append(hashArgs, hashIndexes[i], h[:])
	}
	insertLeaf := `INSERT INTO ledger_leaves (idx, memo_id, action, data) VALUES (?, ?, ?, ?)`
	var insertHashes string
	if len(hashes) > 0 {
		insertHashes = `INSERT INTO ledger_hashes (idx, hash) VALUES ` + valueRows(len(hashes), 2)
	}
	moveHead := `UPDATE ledger_head SET size = ? WHERE id = 1 AND size = ?`
	headMoved := fmt.Errorf("sqlstore: ledger head moved under the lock")
	var err error
	switch {
	case l.t.db.d.WritingCTEs && len(hashes) > 0:
		args := append(append([]any{idx, memo, action, leaf}, hashArgs...), idx+1, idx)
		err = l.t.execLater(ctx, headMoved, `WITH leaf AS (`+insertLeaf+`), hashes AS (`+insertHashes+`) `+moveHead, args...)
	default:
		if _, err = l.t.exec(ctx, insertLeaf, idx, memo, action, leaf); err != nil {
			return err
		}
		if len(hashes) > 0 {
			if _, err = l.t.exec(ctx, insertHashes, hashArgs...); err != nil {
				return err
			}
		}
		err = l.t.execOne(ctx, headMoved, moveHead, idx+1, idx)
	}
	if err != nil {
		return err
	}
	seen := l.seen()
	seen.size, seen.locked = idx+1, true
	for i, h := range hashes {
		seen.keep(hashIndexes[i], h)
	}
	return nil
}

// ReadLeaves reads leaves [from, to).
func (l ledgerStorage) ReadLeaves(ctx context.Context, from, to int64) ([][]byte, error) {
	rows, err := l.t.query(ctx, `SELECT data FROM ledger_leaves WHERE idx >= ? AND idx < ? ORDER BY idx`, from, to)
	if err != nil {
		return nil, err
	}
	out, err := collect(rows, func(r Rows) ([]byte, error) {
		var b []byte
		err := r.Scan(&b)
		return b, err
	})
	if err == nil && int64(len(out)) != to-from {
		return nil, fmt.Errorf("sqlstore: %w: ledger leaves [%d, %d): found %d", ledger.ErrRange, from, to, len(out))
	}
	return out, err
}

// PutLedgerDetail stores the sealed detail of a leaf.
func (t *Tx) PutLedgerDetail(ctx context.Context, index int64, sealed []byte) error {
	return t.execLater(ctx, nil, `INSERT INTO ledger_details (idx, sealed) VALUES (?, ?)`, index, sealed)
}

// RowPastHead returns the first index of a leaf or detail row at or past
// the ledger's head, read with the head in one statement (one snapshot on
// PostgreSQL too), or -1.
func (t *Tx) RowPastHead(ctx context.Context) (int64, error) {
	var idx int64
	err := t.row(ctx, `SELECT COALESCE(MIN(idx), -1) FROM (SELECT idx FROM ledger_leaves UNION ALL SELECT idx FROM ledger_details) r
		WHERE idx >= `+sqlHeadSize).Scan(&idx)
	return idx, err
}

// LeafIndexMismatch compares the memo_id and action columns with the
// leaves' own data: a leaf about no memo is filed under none, and a leaf
// about a memo under it and its action.
func (t *Tx) LeafIndexMismatch(ctx context.Context, from, to int64) (int64, error) {
	rows, err := t.query(ctx, `SELECT idx, memo_id, action, data FROM ledger_leaves WHERE idx >= ? AND idx < ? ORDER BY idx`, from, to)
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	for rows.Next() {
		var idx int64
		var memoV, actionV any
		var data []byte
		if err := rows.Scan(&idx, &memoV, &actionV, &data); err != nil {
			return 0, err
		}
		// Text or nothing: SQLite types values, not columns, and a memo id
		// stored as a BLOB of the same bytes matches no lookup by the id
		// (the memo's history, steps and latest entry lose the leaf)
		// while it reads back as the id.
		memo, mok := textOrNull(memoV)
		action, aok := textOrNull(actionV)
		if !mok || !aok {
			return idx, nil
		}
		// By the bytes of the canonical encoding (docs/LEDGER.md: the action,
		// then the memo), not by decoding: the self-check reads every leaf,
		// and this is its second pass.
		if memo.Valid {
			if !bytes.Contains(data, []byte(`,"action":"`+action.String+`","memo":"`+memo.String+`"`)) {
				return idx, nil
			}
		} else if action.Valid || bytes.Contains(data, []byte(`,"memo":"`)) {
			return idx, nil
		}
	}
	return -1, rows.Err()
}

// textOrNull is a column read as any that must hold text or NULL.
func textOrNull(v any) (sql.NullString, bool) {
	switch v := v.(type) {
	case nil:
		return sql.NullString{}, true
	case string:
		return sql.NullString{String: v, Valid: true}, true
	}
	return sql.NullString{}, false
}

func (t *Tx) MemoLeafFiledElsewhere(ctx context.Context, memoID string, from int64) (int64, error) {
	// The leaves' canonical encoding writes the memo's field exactly so;
	// the byte search runs in the database.
	holds := `instr(data, ?) > 0`
	if t.db.d.Numbered {
		holds = `position(?::bytea in data) > 0`
	}
	var idx int64
	err := t.row(ctx, `SELECT COALESCE(MIN(idx), -1) FROM ledger_leaves WHERE idx >= ? AND `+holds+`
		AND (memo_id IS NULL OR memo_id <> ? OR (action = '`+store.ReadAction+`') <> (`+holds+`))`,
		from, []byte(`,"memo":"`+memoID+`"`), memoID, []byte(`,"action":"`+store.ReadAction+`",`)).Scan(&idx)
	return idx, err
}

// MemoLedger returns the leaves about one memo but its reads, oldest
// first, each with the sealed detail kept beside it (if any).
func (t *Tx) MemoLedger(ctx context.Context, memoID string) ([]store.LedgerEntry, error) {
	rows, err := t.query(ctx, sqlMemoLedger, memoID)
	if err != nil {
		return nil, err
	}
	return collect(rows, scanLedgerEntry)
}

// MemoSteps returns the leaves of memoIDs filed with any of actions, or
// whose own encoding names one, oldest first, without details. The
// action column a leaf is filed under is not covered by its hash: a step
// re-filed under another action would otherwise drop out of the memo's
// steps unseen (review 57). So every leaf of the memos is read but their
// reads (unless asked for), and any leaf filed as a read that is not one;
// rows past the ledger's head, which no hash or checkpoint covers, are
// not.
func (t *Tx) MemoSteps(ctx context.Context, memoIDs, actions []string) ([]store.LedgerEntry, error) {
	if len(memoIDs) == 0 || len(actions) == 0 {
		return nil, nil
	}
	memos, args := inList(memoIDs)
	q := `SELECT idx, data, action FROM ledger_leaves WHERE memo_id IN (` + memos + `) AND idx < ` + sqlHeadSize
	if !slices.Contains(actions, store.ReadAction) {
		holds := `instr(data, ?) > 0`
		if t.db.d.Numbered {
			holds = `position(?::bytea in data) > 0`
		}
		q += ` AND (action <> '` + store.ReadAction + `' OR NOT (` + holds + `))`
		args = append(args, []byte(`,"action":"`+store.ReadAction+`",`))
	}
	rows, err := t.query(ctx, q+` ORDER BY idx`, args...)
	if err != nil {
		return nil, err
	}
	type filed struct {
		e      store.LedgerEntry
		action sql.NullString
	}
	all, err := collect(rows, func(r Rows) (filed, error) {
		var f filed
		err := r.Scan(&f.e.Index, &f.e.Data, &f.action)
		return f, err
	})
	if err != nil {
		return nil, err
	}
	var out []store.LedgerEntry
	for _, f := range all {
		if slices.Contains(actions, f.action.String) || slices.Contains(actions, leafAction(f.e.Data)) {
			out = append(out, f.e)
		}
	}
	return out, nil
}

// sqlHeadSize is the ledger's size, for a statement that reads leaves to
// stop at its head in the same snapshot.
const sqlHeadSize = `(SELECT size FROM ledger_head WHERE id = 1)`

// leafAction is the action a leaf's canonical encoding names (its third
// member, docs/LEDGER.md), or "".
func leafAction(data []byte) string {
	const member = `,"action":"`
	i := bytes.Index(data, []byte(member))
	if i < 0 {
		return ""
	}
	rest := data[i+len(member):]
	j := bytes.IndexByte(rest, '"')
	if j < 0 {
		return ""
	}
	return string(rest[:j])
}

// MemoMisfiledRead returns the index of a leaf filed as one of the memo's
// reads whose encoding is not a read's, or -1.
func (t *Tx) MemoMisfiledRead(ctx context.Context, memoID string) (int64, error) {
	holds := `instr(data, ?) > 0`
	if t.db.d.Numbered {
		holds = `position(?::bytea in data) > 0`
	}
	var idx int64
	err := t.row(ctx, `SELECT COALESCE(MIN(idx), -1) FROM ledger_leaves WHERE memo_id = ? AND action = '`+store.ReadAction+`' AND idx < `+sqlHeadSize+` AND NOT (`+holds+`)`,
		memoID, []byte(`,"action":"`+store.ReadAction+`",`)).Scan(&idx)
	return idx, err
}

// MemoLatest returns the index of the memo's latest leaf other than its
// reads, or -1: one step down the ledger_memo index.
func (t *Tx) MemoLatest(ctx context.Context, memoID string) (int64, error) {
	var idx sql.NullInt64
	err := t.row(ctx, `SELECT max(idx) FROM ledger_leaves WHERE memo_id = ? AND action <> '`+store.ReadAction+`' AND idx < `+sqlHeadSize, memoID).Scan(&idx)
	if err != nil || !idx.Valid {
		return -1, err
	}
	return idx.Int64, nil
}

// MemoReads returns a page of the memo's reads, oldest first.
func (t *Tx) MemoReads(ctx context.Context, memoID string, after int64, limit int) ([]store.LedgerEntry, error) {
	if limit <= 0 {
		return nil, nil
	}
	rows, err := t.query(ctx, `SELECT l.idx, l.data, (SELECT d.sealed FROM ledger_details d WHERE d.idx = l.idx)
		FROM ledger_leaves l WHERE l.memo_id = ? AND l.action = '`+store.ReadAction+`' AND l.idx > ? AND l.idx < `+sqlHeadSize+` ORDER BY l.idx LIMIT ?`, memoID, after, limit)
	if err != nil {
		return nil, err
	}
	return collect(rows, scanLedgerEntry)
}

func scanLedgerEntry(r Rows) (store.LedgerEntry, error) {
	var e store.LedgerEntry
	err := r.Scan(&e.Index, &e.Data, &e.Detail)
	return e, err
}

// PutCheckpoint stores a signed checkpoint; one stored at that size stays.
func (t *Tx) PutCheckpoint(ctx context.Context, size int64, note []byte, at int64) error {
	return t.execLater(ctx, nil, `INSERT INTO checkpoints (size, note, created_at) VALUES (?, ?, ?) ON CONFLICT (size) DO NOTHING`, size, note, at)
}

// LatestCheckpoint returns the checkpoint of the largest size.
func (t *Tx) LatestCheckpoint(ctx context.Context) (int64, []byte, error) {
	var size int64
	var note []byte
	err := t.row(ctx, `SELECT size, note FROM checkpoints ORDER BY size DESC LIMIT 1`).Scan(&size, &note)
	return size, note, scanErr(err)
}

// Checkpoint returns the checkpoint of one size.
func (t *Tx) Checkpoint(ctx context.Context, size int64) ([]byte, error) {
	var note []byte
	err := t.row(ctx, `SELECT note FROM checkpoints WHERE size = ?`, size).Scan(&note)
	return note, scanErr(err)
}

// CosignCheckpoint replaces the checkpoint of size with its cosigned
// form, if it is still old.
func (t *Tx) CosignCheckpoint(ctx context.Context, size int64, old, cosigned []byte) (bool, error) {
	r, err := t.exec(ctx, `UPDATE checkpoints SET note = ? WHERE size = ? AND note = ?`, cosigned, size, old)
	if err != nil {
		return false, err
	}
	n, err := r.RowsAffected()
	return n == 1, err
}

// Size reads the ledger size without the append lock (ledger.Sizer): leaves
// below it never change, so long reads need not hold up writers.
func (l ledgerStorage) Size(ctx context.Context) (int64, error) {
	if n, ok := l.lockedSize(); ok {
		return n, nil
	}
	var n int64
	err := l.t.row(ctx, `SELECT size FROM ledger_head WHERE id = 1`).Scan(&n)
	return n, scanErr(err)
}
