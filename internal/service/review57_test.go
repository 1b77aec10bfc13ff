package service_test

// Review 57: failing tests for faults found in the changes of the day
// (coalesced failed sign-ins, lifecycle checks, many organisations on one
// PostgreSQL server).

import (
	"context"
	"math"
	"testing"
	"time"

	"github.com/dissent-channel/dissent/internal/channel"
	"github.com/dissent-channel/dissent/internal/ledger"
	"github.com/dissent-channel/dissent/internal/service"
	"github.com/dissent-channel/dissent/internal/service/servicetest"
	"github.com/dissent-channel/dissent/internal/store"
	"github.com/dissent-channel/dissent/internal/store/sqlstore"
	"github.com/dissent-channel/dissent/internal/store/storetest"
)

// TestReview57StepTimeShiftedBy2To63IsRefused: lifecycle.go compares a
// row's step time with its entry's as abs(row-ledger) > slack, where abs
// is max(d, -d). For d = row-ledger = math.MinInt64, -d overflows back to
// MinInt64, abs is negative, and the row passes. So someone who writes the
// database sets replied_at (or acknowledged_at) to ledger + MinInt64, a
// time far before the deadline: the reply counts as on time in the year's
// figures (RepliedAt <= ReplyBy), and neither the opening of the memo nor
// the hourly CheckLifecycles says anything.
func TestReview57StepTimeShiftedBy2To63IsRefused(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		d := servicetest.NewDeployment(t, st)
		alice := d.Member("alice")
		m := submitted(t, d, alice, "answered late")
		d.Clock.Advance(90 * 24 * time.Hour) // long after every deadline
		if _, err := d.Svc.Reply(d.Ctx, d.Office, m.ID, "Late answer."); err != nil {
			t.Fatal(err)
		}
		db := st.(*sqlstore.DB)
		var replied int64
		if err := db.Raw().QueryRowContext(d.Ctx, db.Rebind(`SELECT replied_at FROM memos WHERE id = ?`), m.ID).Scan(&replied); err != nil {
			t.Fatal(err)
		}
		forged := replied + math.MinInt64 // no overflow: replied > 0
		if _, err := db.Raw().ExecContext(d.Ctx, db.Rebind(`UPDATE memos SET replied_at = ?, acknowledged_at = ? WHERE id = ?`), forged, forged, m.ID); err != nil {
			t.Fatal(err)
		}
		node := d.WithConfig(d.Svc.Config())
		if got, err := node.GetMemo(d.Ctx, d.Office, m.ID); channel.ErrorCode(err) != channel.EINTERNAL {
			t.Errorf("the office opens a memo whose reply is dated %d µs: state %v, %v; want it refused as tampering", forged, stateOf(got), err)
		}
		fresh := d.WithConfig(d.Svc.Config())
		if checked, bad, err := fresh.CheckLifecycles(d.Ctx); err != nil || bad != 1 {
			t.Errorf("CheckLifecycles: checked %d, %d disagree, %v; want the forged reply time found", checked, bad, err)
		}
	})
}

// TestReview57HourlyCheckTrustsTheActionColumn: CheckLifecycles reads a
// memo's steps by the action each leaf is *filed* under (MemoSteps: WHERE
// action IN (...)), a column the leaf's hash does not cover. Someone who
// writes the database takes a submitted memo back to a draft (out of the
// office's inbox, its reminders stop) and re-files its memo.submit leaf
// under another action: the hourly check, whose purpose is to find rows
// nobody opens, finds nothing. (The memo's opening would: MemoLedger
// reads every action but reads; and the ledger self-check, run only at a
// node's start or by an auditor, would too.)
func TestReview57HourlyCheckTrustsTheActionColumn(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		d := servicetest.NewDeployment(t, st)
		alice := d.Member("alice")
		m := submitted(t, d, alice, "taken out of the inbox")
		db := st.(*sqlstore.DB)
		for _, q := range []string{
			`UPDATE memos SET state = 'draft', submitted_at = 0, acknowledge_by = 0, reply_by = 0, reply_latest = 0, due_at = 0, check_at = 0 WHERE id = ?`,
			`UPDATE ledger_leaves SET action = 'memo.edit' WHERE memo_id = ? AND action = 'memo.submit'`,
		} {
			if _, err := db.Raw().ExecContext(d.Ctx, db.Rebind(q), m.ID); err != nil {
				t.Fatal(err)
			}
		}
		node := d.WithConfig(d.Svc.Config())
		checked, bad, err := node.CheckLifecycles(d.Ctx)
		if err != nil || bad != 1 {
			t.Errorf("CheckLifecycles after a submitted memo was set back to a draft and its submission re-filed: checked %d, %d disagree, %v; want it found", checked, bad, err)
		}
		if err := node.Ready(d.Ctx); err == nil {
			t.Error("the node still reports ready")
		}
	})
}

// r57BumpStore calls bump before each MemoSteps of a read transaction,
// as a process of whoever writes the database, bumping a memo's version
// over and over, would run between CheckLifecycles' reads.
type r57BumpStore struct {
	store.Store
	bump func()
}

type r57BumpTx struct {
	store.Tx
	s *r57BumpStore
}

func (s *r57BumpStore) Begin(ctx context.Context, write bool) (store.Tx, error) {
	tx, err := s.Store.Begin(ctx, write)
	if err != nil {
		return tx, err
	}
	return &r57BumpTx{Tx: tx, s: s}, nil
}

func (t *r57BumpTx) MemoSteps(ctx context.Context, memoIDs, actions []string) ([]store.LedgerEntry, error) {
	if t.s.bump != nil {
		t.s.bump()
	}
	return t.Tx.MemoSteps(ctx, memoIDs, actions)
}

// TestReview57VersionBumpsHideARewrittenRow: on PostgreSQL,
// CheckLifecycles passes over a memo that disagrees with its ledger when
// the row's version moved while it read (a race with another node's
// step). The version is a column like any other: whoever rewrites a
// memo's row (here: a submitted memo back to a draft, out of the office's
// inbox) and keeps bumping its version (UPDATE memos SET version =
// version + 1, in a loop) is never reported, by the hourly check or by an
// opening (rowStill turns every disagreement into a conflict to retry).
// A step on another node always adds an entry to the memo's ledger; a
// version that moves without one is no race.
func TestReview57VersionBumpsHideARewrittenRow(t *testing.T) {
	nodes := storetest.OpenPostgresNodes(t, 2)
	d := servicetest.NewDeployment(t, nodes[0])
	alice := d.Member("alice")
	m := submitted(t, d, alice, "set back to a draft")
	db := nodes[0].(*sqlstore.DB)
	if _, err := db.Raw().ExecContext(d.Ctx, db.Rebind(`UPDATE memos SET state = 'draft', submitted_at = 0, due_at = 0, check_at = 0 WHERE id = ?`), m.ID); err != nil {
		t.Fatal(err)
	}
	hooked := &r57BumpStore{Store: nodes[1]}
	hooked.bump = func() {
		if _, err := db.Raw().ExecContext(d.Ctx, db.Rebind(`UPDATE memos SET version = version + 1 WHERE id = ?`), m.ID); err != nil {
			t.Error(err)
		}
	}
	h2 := servicetest.Reopen(t, d.Harness, hooked)
	checked, bad, err := h2.Svc.CheckLifecycles(d.Ctx)
	if err != nil || bad != 1 {
		t.Errorf("CheckLifecycles with the rewritten row's version moving as it reads: checked %d, %d disagree, %v; want it found", checked, bad, err)
	}
	if err := h2.Svc.Ready(d.Ctx); err == nil {
		t.Error("the node still reports ready")
	}
}

// TestReview57StepForgedPastTheLedgerHead: the checks replay a memo's
// leaves as the ledger_leaves rows filed under it (MemoLedger, MemoSteps),
// with no bound at the ledger's head. A row past the head is covered by
// no hash and no checkpoint, and nothing but a backup's restore looks
// there (backup.pastHead): the ledger self-check stops at the head. So
// someone who writes the database closes a replied memo the office never
// closed (it leaves the inbox, its appeal window and reminders with it)
// by setting its row to closed and adding a memo.close leaf of the same
// time at an index far past the head. The opening of the memo, on a node
// that never saw it, the hourly check and the ledger self-check all
// accept it.
func TestReview57StepForgedPastTheLedgerHead(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		d := servicetest.NewDeployment(t, st)
		alice := d.Member("alice")
		m := submitted(t, d, alice, "closed by the database")
		if _, err := d.Svc.Reply(d.Ctx, d.Office, m.ID, "Answered."); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Svc.SignCheckpoint(d.Ctx); err != nil {
			t.Fatal(err)
		}
		at := d.Clock.Now().Add(time.Hour)
		forged, err := ledger.Leaf{Version: 1, Time: at, Action: "memo.close", Memo: m.ID, Role: "system"}.Encode()
		if err != nil {
			t.Fatal(err)
		}
		db := st.(*sqlstore.DB)
		for _, q := range []struct {
			sql  string
			args []any
		}{
			{`UPDATE memos SET state = 'closed', ended_at = ?, due_at = 0, check_at = 0 WHERE id = ?`, []any{at.UnixMicro(), m.ID}},
			{`INSERT INTO ledger_leaves (idx, memo_id, action, data) VALUES (?, ?, 'memo.close', ?)`, []any{int64(1) << 40, m.ID, forged}},
		} {
			if _, err := db.Raw().ExecContext(d.Ctx, db.Rebind(q.sql), q.args...); err != nil {
				t.Fatal(err)
			}
		}
		node := d.WithConfig(d.Svc.Config())
		if got, err := node.GetMemo(d.Ctx, d.Office, m.ID); channel.ErrorCode(err) != channel.EINTERNAL {
			t.Errorf("the office opens the memo closed by a leaf past the ledger's head: state %v, %v; want it refused", stateOf(got), err)
		}
		if checked, bad, err := d.WithConfig(d.Svc.Config()).CheckLifecycles(d.Ctx); err != nil || bad != 1 {
			t.Errorf("CheckLifecycles: checked %d, %d disagree, %v; want the forged close found", checked, bad, err)
		}
		if res, err := d.WithConfig(d.Svc.Config()).CheckLedger(d.Ctx, nil); err != nil || res.OK {
			t.Errorf("the ledger self-check with a leaf row past the head: %+v, %v; want it to fail", res, err)
		}
	})
}

var _ = service.BoxMine
