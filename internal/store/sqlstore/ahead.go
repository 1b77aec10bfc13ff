package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"github.com/dissent-channel/dissent/internal/store"
)

// Reading ahead, for PostgreSQL (Dialect.ReadBatch).
//
// Opening a memo to show it is a chain of reads that each wait for the
// database: the memo, the reader's author-index entry, the memo's key
// wraps, its items and its ledger entries. None needs another's answer, so
// on a dialect that can batch, ReadAhead sends them together, in one round
// trip, and keeps the result sets; the method calls that follow find their
// rows there, each once, as if they had asked. SQLite has no round trip to
// save (a read is a call into the library), so there it does nothing.

// The statements ReadAhead sends, shared with the methods that run them.
const (
	sqlMemoByID   = `SELECT ` + memoColumns + ` FROM memos WHERE id = ?`
	sqlIndexEntry = `SELECT sealed FROM author_index WHERE owner = ? AND entry = ?`
	sqlAccessList = `SELECT ` + accessColumns + ` FROM access WHERE memo_id = ? ORDER BY added_at, grantee, key_version`
	sqlItems      = `SELECT id, memo_id, kind, key_version, sealed, created_at FROM items WHERE memo_id = ? ORDER BY created_at, id`
	// The revision a view shows is the memo's current one, which the batch
	// has not read yet when it is sent: Revision takes it from here when it
	// is the one asked for.
	sqlCurrentRevision = `SELECT ` + revisionColumns + ` FROM revisions WHERE memo_id = ? AND revision = (SELECT m.revision FROM memos m WHERE m.id = ?)`
	// A scalar subquery, not a LEFT JOIN: PostgreSQL hash-joined the whole
	// of ledger_details (a sequential scan that grows with every author
	// event ever recorded) where one index lookup per leaf does.
	// The literal action matches the partial index ledger_memo's
	// predicate, which a parameter would not.
	sqlMemoLedger = `SELECT l.idx, l.data, (SELECT d.sealed FROM ledger_details d WHERE d.idx = l.idx)
		FROM ledger_leaves l WHERE l.memo_id = ? AND l.action <> '` + store.ReadAction + `' ORDER BY l.idx`
)

// ReadBatch runs read-only stmts on conn in one round trip and returns each
// one's rows, read in full.
type ReadBatch func(ctx context.Context, conn *sql.Conn, stmts []Stmt) ([]Rows, error)

// ReadAhead fetches what showing memoID to the holder of the author-index
// tags owner and entry (nil: none) will read; see store.Tx.
func (t *Tx) ReadAhead(ctx context.Context, memoID string, owner, entry []byte) error {
	if !t.batches() {
		return nil
	}
	stmts := []Stmt{{sqlMemoByID, []any{memoID}}, {sqlAccessList, []any{memoID}}, {sqlItems, []any{memoID}}, {sqlMemoLedger, []any{memoID}},
		{sqlCurrentRevision, []any{memoID, memoID}}}
	if owner != nil {
		stmts = append(stmts, Stmt{sqlIndexEntry, []any{owner, entry}})
	}
	return t.readAhead(ctx, stmts)
}

// ReadPageAhead fetches what listing a page of memos will read: their
// headings, the author-index entries among them of the holder of owner
// (nil: none) and their wraps to grantees; see store.Tx. A page longer than
// one IN list is left to read as it comes.
func (t *Tx) ReadPageAhead(ctx context.Context, memoIDs []string, owner []byte, entries [][]byte, grantees []string) error {
	if !t.batches() || len(memoIDs) == 0 || len(memoIDs) > inBatch || len(entries) > inBatch {
		return nil
	}
	stmts := []Stmt{headingsStmt(slices.Sorted(slices.Values(memoIDs)))}
	if owner != nil && len(entries) > 0 {
		stmts = append(stmts, indexEntriesStmt(owner, entries))
	}
	for _, g := range slices.Compact(slices.Sorted(slices.Values(grantees))) {
		stmts = append(stmts, accessForStmt(g, memoIDs))
	}
	return t.readAhead(ctx, stmts)
}

// batches reports whether this transaction can read ahead: only a read on
// a dialect that batches; elsewhere the statements are not even built.
func (t *Tx) batches() bool { return t.conn != nil && t.db.d.ReadBatch != nil }

// readAhead sends stmts in one batch (see batches) and keeps their rows for
// the calls that will ask for them.
func (t *Tx) readAhead(ctx context.Context, stmts []Stmt) error {
	sent := make([]Stmt, len(stmts))
	for i, s := range stmts {
		sent[i] = Stmt{t.db.q(s.Query), notNullBlobs(s.Args)}
	}
	rows, err := t.db.d.ReadBatch(t.stmtCtx(ctx), t.conn, sent)
	if err != nil {
		return fmt.Errorf("sqlstore: read ahead: %w", err)
	}
	t.ahead = make(map[string]Rows, len(stmts))
	for i, s := range stmts {
		t.ahead[aheadKey(s.Query, s.Args)] = rows[i]
	}
	return nil
}

// takeAhead returns, once, the rows read ahead for query and args.
func (t *Tx) takeAhead(query string, args []any) (Rows, bool) {
	if len(t.ahead) == 0 {
		return nil, false
	}
	k := aheadKey(query, args)
	r, ok := t.ahead[k]
	if ok {
		delete(t.ahead, k)
	}
	return r, ok
}

// aheadKey names a statement with its arguments, each prefixed with its
// length so that no two argument lists name the same key.
func aheadKey(query string, args []any) string {
	var b strings.Builder
	b.WriteString(query)
	for _, a := range args {
		var v string
		switch a := a.(type) {
		case string:
			v = a
		case []byte:
			v = string(a)
		default:
			v = fmt.Sprint(a)
		}
		fmt.Fprintf(&b, "\x00%d:%s", len(v), v)
	}
	return b.String()
}
