package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"github.com/dissent-channel/dissent/internal/store"
)

// Reading ahead, for PostgreSQL (Dialect.ReadBatch, Dialect.Pipeline).
//
// Opening a memo is a chain of reads that each wait for the database: to
// show it, the memo, the reader's author-index entry, the memo's key wraps,
// its items and its ledger entries; to submit it, the memo, the author's
// entry, its revision, where it goes and who is told. None needs another's
// answer, so on PostgreSQL ReadAhead sends them together, in one round
// trip, and keeps the result sets; the method calls that follow find their
// rows there, each once, as if they had asked. A write transaction's batch
// goes on its group's connection with the writes queued there (pipe.go),
// and its first write drops what was not taken: a call after it must see
// the transaction's own writes. SQLite has no round trip to save (a read
// is a call into the library), so there it does nothing.

// The statements ReadAhead sends, shared with the methods that run them.
const (
	sqlMemoByID   = `SELECT ` + memoColumns + ` FROM memos WHERE id = ?`
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
	// predicate, which a parameter would not. Rows past the ledger's head,
	// which no hash or checkpoint covers, are no part of its history
	// (review 57).
	sqlMemoLedger = `SELECT l.idx, l.data, (SELECT d.sealed FROM ledger_details d WHERE d.idx = l.idx)
		FROM ledger_leaves l WHERE l.memo_id = ? AND l.action <> '` + store.ReadAction + `'
		AND l.idx < (SELECT h.size FROM ledger_head h WHERE h.id = 1) ORDER BY l.idx`
)

// sqlGroupMembers is GroupMembers' statement.
var sqlGroupMembers = `SELECT ` + prefixed("u.", userColumns) + ` FROM group_keys g JOIN users u ON u.id = g.user_id
	WHERE g.grp = ? ORDER BY g.granted_at, g.user_id`

// ReadBatch runs read-only stmts on conn in one round trip and returns each
// one's rows, read in full.
type ReadBatch func(ctx context.Context, conn *sql.Conn, stmts []Stmt) ([]Rows, error)

// ReadAhead fetches the reads a names; see store.Tx.
func (t *Tx) ReadAhead(ctx context.Context, a store.Ahead) error {
	if !t.batches() {
		return nil
	}
	var stmts []Stmt
	if a.Memo != "" {
		stmts = append(stmts, Stmt{sqlMemoByID, []any{a.Memo}}, Stmt{sqlCurrentRevision, []any{a.Memo, a.Memo}})
		if a.View {
			stmts = append(stmts, Stmt{sqlAccessList, []any{a.Memo}}, Stmt{sqlItems, []any{a.Memo}}, Stmt{sqlMemoLedger, []any{a.Memo}})
		}
	}
	if len(a.Owners) > 0 {
		stmts = append(stmts, indexEntryStmt(a.Owners, a.Entry))
	}
	if len(a.Settings) > 0 {
		stmts = append(stmts, settingsStmt(a.Settings))
	}
	if a.Group != "" {
		stmts = append(stmts, Stmt{sqlGroupMembers, []any{a.Group}})
	}
	return t.readAhead(ctx, stmts)
}

// ReadPageAhead fetches what listing a page of memos will read: their
// headings, the author-index entries among them of the holder of owners
// (none: none) and their wraps to grantees; see store.Tx. A page longer
// than one IN list is left to read as it comes.
func (t *Tx) ReadPageAhead(ctx context.Context, memoIDs []string, owners [][]byte, entries [][]byte, grantees []string) error {
	if !t.batches() || len(memoIDs) == 0 || len(memoIDs) > inBatch || len(entries) > inBatch {
		return nil
	}
	stmts := []Stmt{headingsStmt(slices.Sorted(slices.Values(memoIDs)))}
	if len(owners) > 0 && len(entries) > 0 {
		stmts = append(stmts, indexEntriesStmt(owners, entries))
	}
	for _, g := range slices.Compact(slices.Sorted(slices.Values(grantees))) {
		stmts = append(stmts, accessForStmt(g, memoIDs))
	}
	return t.readAhead(ctx, stmts)
}

// batches reports whether this transaction can read ahead: a read on a
// dialect that batches, or a pipelined member of a group; elsewhere the
// statements are not even built.
func (t *Tx) batches() bool {
	return t.conn != nil && t.db.d.ReadBatch != nil || t.pipe() != nil
}

// readAhead sends stmts in one batch (see batches) and keeps their rows for
// the calls that will ask for them.
func (t *Tx) readAhead(ctx context.Context, stmts []Stmt) error {
	if len(stmts) == 0 {
		return nil
	}
	sent := make([]Stmt, len(stmts))
	for i, s := range stmts {
		sent[i] = Stmt{t.db.q(s.Query), notNullBlobs(s.Args)}
	}
	var rows []Rows
	var err error
	if pc := t.pipe(); pc != nil {
		if t.broken != nil {
			return t.broken
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if _, rows, err = pc.send(ctx, sent, true); err != nil {
			t.breaks(err)
			return fmt.Errorf("sqlstore: read ahead: %w", err)
		}
	} else if rows, err = t.db.d.ReadBatch(t.stmtCtx(ctx), t.conn, sent); err != nil {
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
