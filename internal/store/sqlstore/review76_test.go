package sqlstore_test

import (
	"context"
	"database/sql"
	"slices"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/dissent-channel/dissent/internal/ledger"
	"github.com/dissent-channel/dissent/internal/store"
	"github.com/dissent-channel/dissent/internal/store/sqlstore"
	"github.com/dissent-channel/dissent/internal/store/storetest"
)

// review76AppendLeaf appends leaf the way package ledger does (storetest's
// appendLeaf, which is not exported).
func review76AppendLeaf(t *testing.T, ctx context.Context, ls store.LedgerStorage, leaf []byte) int64 {
	t.Helper()
	n, err := ls.LockedSize(ctx)
	if err != nil {
		t.Fatal(err)
	}
	hashes, err := tlog.StoredHashesForRecordHash(n, tlog.RecordHash(leaf), tlog.HashReaderFunc(func(ix []int64) ([]tlog.Hash, error) {
		return ls.ReadHashes(ctx, ix)
	}))
	if err != nil {
		t.Fatal(err)
	}
	indexes := make([]int64, len(hashes))
	for i := range hashes {
		indexes[i] = tlog.StoredHashIndex(0, n) + int64(i)
	}
	if err := ls.WriteLeaf(ctx, n, leaf, indexes, hashes); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestReview76LeafRetypedOutOfItsMemoIsReported: the threat model says a
// memo's history is found "by the memo and action each leaf is filed under,
// columns its hash does not cover", and that "the ledger's self-check reports
// any leaf so filed" (LeafIndexMismatch): a lifecycle entry hidden from
// MemoLedger and MemoSteps (the openings' replay and the hourly `lifecycles`
// check) must at least fail the self-check.
//
// SQLite types values, not columns: someone who writes the database can
// rewrite a leaf's memo_id as a BLOB of the same bytes
// (CAST(memo_id AS BLOB)). `memo_id = ?` and `memo_id IN (...)` never match
// a BLOB against the TEXT memo id, so the leaf drops out of the memo's
// history, steps and latest entry; but LeafIndexMismatch scans the column
// into a string, finds the memo's own bytes, and reports nothing. A memo's
// submission (and every later step) can so be hidden and its row set back
// to a draft, out of the office's inbox, with no check noticing. The same
// rewrite on PostgreSQL (a TEXT column holds text only; CAST to BYTEA stores
// the bytes' escaped text) is reported.
func TestReview76LeafRetypedOutOfItsMemoIsReported(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, s store.Store) {
		ctx := t.Context()
		db := s.(*sqlstore.DB)
		leaf := func(action string) []byte {
			b, err := ledger.Leaf{Version: 1, Time: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC), Action: action, Memo: "m1", Role: ledger.RoleSystem}.Encode()
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
		tx, err := s.Begin(ctx, true)
		if err != nil {
			t.Fatal(err)
		}
		review76AppendLeaf(t, ctx, tx.LedgerStorage("m1", "memo.create"), leaf("memo.create"))
		submit := review76AppendLeaf(t, ctx, tx.LedgerStorage("m1", "memo.submit"), leaf("memo.submit"))
		read := review76AppendLeaf(t, ctx, tx.LedgerStorage("m1", store.ReadAction), leaf(store.ReadAction))
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}

		blob := "BLOB"
		if s.Dialect() == "postgres" {
			blob = "BYTEA"
		}
		for _, c := range []struct {
			name   string
			set    string
			idx    int64
			hidden func(tx store.Tx) bool // whether the memo's queries lose the leaf
		}{
			{"a submission's memo_id rewritten as a blob", `memo_id = CAST(memo_id AS ` + blob + `)`, submit, func(tx store.Tx) bool {
				hist, err := tx.MemoLedger(ctx, "m1")
				if err != nil {
					t.Fatal(err)
				}
				steps, err := tx.MemoSteps(ctx, []string{"m1"}, []string{"memo.create", "memo.submit"})
				if err != nil {
					t.Fatal(err)
				}
				in := func(es []store.LedgerEntry) bool {
					return slices.ContainsFunc(es, func(e store.LedgerEntry) bool { return e.Index == submit })
				}
				return !in(hist) || !in(steps)
			}},
			{"a read's action rewritten as a blob", `action = CAST(action AS ` + blob + `)`, read, func(tx store.Tx) bool {
				reads, err := tx.MemoReads(ctx, "m1", -1, 10)
				if err != nil {
					t.Fatal(err)
				}
				return !slices.ContainsFunc(reads, func(e store.LedgerEntry) bool { return e.Index == read })
			}},
		} {
			t.Run(c.name, func(t *testing.T) {
				var memo, action sql.NullString
				if err := db.Raw().QueryRowContext(ctx, db.Rebind(`SELECT memo_id, action FROM ledger_leaves WHERE idx = ?`), c.idx).Scan(&memo, &action); err != nil {
					t.Fatal(err)
				}
				defer func() {
					if _, err := db.Raw().ExecContext(ctx, db.Rebind(`UPDATE ledger_leaves SET memo_id = ?, action = ? WHERE idx = ?`), memo, action, c.idx); err != nil {
						t.Fatal(err)
					}
				}()
				if _, err := db.Raw().ExecContext(ctx, db.Rebind(`UPDATE ledger_leaves SET `+c.set+` WHERE idx = ?`), c.idx); err != nil {
					t.Fatal(err)
				}
				tx, err := s.Begin(ctx, false)
				if err != nil {
					t.Fatal(err)
				}
				defer tx.Rollback()
				if !c.hidden(tx) {
					return // the memo still finds its leaf: nothing hidden
				}
				bad, err := tx.LeafIndexMismatch(ctx, 0, read+1)
				if err != nil {
					t.Fatal(err)
				}
				if bad != c.idx {
					t.Errorf("leaf %d no longer found by the memo's queries, yet the self-check's LeafIndexMismatch = %d, want %d: the rewrite goes unreported", c.idx, bad, c.idx)
				}
			})
		}
	})
}

// TestReview76MemoRowRetypedOutOfTheFigures: the yearly figures "check the
// rows they count" against the memos' ledgers (service.factsVouched), and
// the hourly `lifecycles` check reads every memo's row the same way, so a
// submission's time moved in the database is found. On SQLite a row's
// submitted_at rewritten as a BLOB of its own digits reads back, through
// database/sql, as the very same number (so both checks find the row in
// agreement with its ledger), but MemoFacts' `submitted_at >= ? AND
// submitted_at < ?` compares storage classes (every INTEGER sorts below
// every BLOB) and leaves the memo out of its year: the figures auditors
// publish lose a memo, and no check notices. PostgreSQL's BIGINT column
// refuses the rewrite.
func TestReview76MemoRowRetypedOutOfTheFigures(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, s store.Store) {
		ctx := t.Context()
		db := s.(*sqlstore.DB)
		at := time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC).UnixMicro()
		from, to := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro(), time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC).UnixMicro()
		tx, err := s.Begin(ctx, true)
		if err != nil {
			t.Fatal(err)
		}
		if err := tx.CreateMemo(ctx, &store.Memo{ID: "m1", State: "submitted", Profile: "p", Revision: 1, KeyVersion: 1,
			CreatedAt: at, UpdatedAt: at, SubmittedAt: at, Roster: []byte("r")}); err != nil {
			t.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		blob := "BLOB"
		if s.Dialect() == "postgres" {
			blob = "BYTEA"
		}
		if _, err := db.Raw().ExecContext(ctx, `UPDATE memos SET submitted_at = CAST(CAST(submitted_at AS TEXT) AS `+blob+`)`); err != nil {
			t.Logf("the rewrite is refused: %v", err)
			return
		}
		rtx, err := s.Begin(ctx, false)
		if err != nil {
			t.Fatal(err)
		}
		defer rtx.Rollback()
		m, err := rtx.MemoByID(ctx, "m1")
		if err != nil {
			t.Fatalf("the row no longer reads: %v", err)
		}
		if m.SubmittedAt != at {
			return // the checks would see the change
		}
		facts, err := rtx.MemoFacts(ctx, from, to)
		if err != nil {
			t.Fatal(err)
		}
		if slices.ContainsFunc(facts, func(f store.MemoFacts) bool { return f.ID == "m1" }) {
			return // counted where it belongs
		}
		// Left out of its year: the store must at least say which row is
		// mistyped, for the lifecycle check and the figures to refuse it
		// (service.memosWellTyped).
		if id, err := rtx.MistypedMemo(ctx); err != nil || id != "m1" {
			t.Errorf("the row reads as submitted at %d, in [%d, %d), so the lifecycle checks pass it; yet MemoFacts for that year leaves it out (%d facts), and MistypedMemo says %q, %v", m.SubmittedAt, from, to, len(facts), id, err)
		}
	})
}
