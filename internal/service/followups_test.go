package service_test

// Each test here proves a finding of the review (helper-48) of edd86c8 and
// 2b6ae16 (vouching for memo keys), 4a5b57c (the author's bell) and
// 014a529 (figures for returned and withdrawn memos), fixed since: a
// removal re-filed as a read is found (MemoMisfiledRead) and a version a
// node saw made stands (vouchCache.floor); the count on every page opens
// no submitted memo; a share is of the memos its table judged.

import (
	"strconv"
	"testing"
	"time"

	"github.com/dissent-channel/dissent/internal/service"
	"github.com/dissent-channel/dissent/internal/service/servicetest"
	"github.com/dissent-channel/dissent/internal/store/storetest"
)

// TestRollbackByRefilingTheRemovalLeafIsRefused: 2b6ae16 took out the scan for
// a memo leaf filed elsewhere, so madeKeys finds the newest key version
// from the memo_id and action COLUMNS of ledger_leaves, which no hash
// covers. A database writer undoes the office's removal of p2 exactly as
// in TestKeyVersionRolledBackIsRefused, and in addition relabels the
// memo.revoke leaf's action column as a read (one UPDATE) and drops the
// office's version-2 wraps. keysVouched then sees a memo whose ledger
// "made" version 1 last: the office's reply is sealed under version 1,
// which p2 holds, and p2 reads it. The ledger self-check, which would
// notice the relabelled leaf, runs only at start or when an auditor asks;
// the cache's comment ("moving one of its entries elsewhere ... is caught
// on the next reading (madeKeys)") no longer holds.
func TestRollbackByRefilingTheRemovalLeafIsRefused(t *testing.T) {
	d, db, r := removedReader(t)
	m := r.memo
	// The office opens the memo once after the removal: the node's cache
	// holds version 2 as the newest.
	if _, err := d.Svc.GetMemo(d.Ctx, d.Office, m.ID); err != nil {
		t.Fatal(err)
	}

	// Rolled back, the removal hidden by its action column.
	execSQL(t, db, `UPDATE ledger_leaves SET action = 'memo.read' WHERE memo_id = ? AND action = 'memo.revoke'`, m.ID)
	execSQL(t, db, `DELETE FROM access WHERE memo_id = ? AND key_version = 2`, m.ID)
	r.rollBack(t, db)

	r.noReplyReachesP2(t, d, db)
}

// TestRollbackByRefilingTheRemovalUnderAnotherMemoIsRefused: as above, but
// the memo.revoke leaf is re-filed under another memo's id, which
// MemoMisfiledRead does not look for (it would take a scan of the ledger
// at every opening). The node that saw version 2 made keeps it as the
// memo's floor: it refuses the rollback, and tells its operator (Ready
// fails), since the entry is within its view of the ledger.
func TestRollbackByRefilingTheRemovalUnderAnotherMemoIsRefused(t *testing.T) {
	d, db, r := removedReader(t)
	m := r.memo
	other, _ := d.Submitted(d.Member("carol"), "another memo")
	if _, err := d.Svc.GetMemo(d.Ctx, d.Office, m.ID); err != nil {
		t.Fatal(err)
	}

	execSQL(t, db, `UPDATE ledger_leaves SET memo_id = ? WHERE memo_id = ? AND action = 'memo.revoke'`, other.ID, m.ID)
	execSQL(t, db, `DELETE FROM access WHERE memo_id = ? AND key_version = 2`, m.ID)
	r.rollBack(t, db)

	r.noReplyReachesP2(t, d, db)
	if err := d.Svc.Ready(d.Ctx); err == nil {
		t.Error("the node is still ready after finding a removal hidden from the memo's history")
	}
}

// TestBellCountOpensNoSubmittedMemo: every web page renders the bell's
// count (web/view.go fill -> UnreadCount -> waiting), and UnreadCount uses
// only the signatures asked (KindSignPending). Since 4a5b57c, waiting
// lists EVERY memo in the author's index, of every state and age, and
// opens each one (roster unsealed, keysVouched: a MemoLatest query each,
// and on a cache miss -- every node start, every memo whose history grew
// -- the memo's whole ledger), to work out answered-notices that
// UnreadCount throws away. An author with 20 memos behind them pays 20
// openings on every page they load; before, submitted memos were filtered
// out in SQL.
func TestBellCountOpensNoSubmittedMemo(t *testing.T) {
	st := &hookStore{Store: storetest.OpenSQLite(t)}
	d := servicetest.NewDeployment(t, st)
	alice := d.Member("alice")
	const n = 20
	for i := range n {
		m := circulate(t, d, alice, "old memo "+strconv.Itoa(i), true)
		if _, err := d.Svc.Submit(d.Ctx, alice, m.ID, 1); err != nil {
			t.Fatal(err)
		}
	}
	d.Clock.Advance(60 * 24 * time.Hour) // long past the bell's 30 days
	before := st.latest.Load()
	if _, err := d.Svc.UnreadCount(d.Ctx, alice); err != nil {
		t.Fatal(err)
	}
	if got := st.latest.Load() - before; got > 0 {
		t.Errorf("one page's bell count (UnreadCount) vouched for %d memo keys (MemoLatest calls) for an author with %d submitted memos and nothing to sign: O(memos) on every page", got, n)
	}
}

// TestAcknowledgedShareAtMostOne: 014a529 counts returned and withdrawn
// memos in the "acknowledged" table (on_time/late), but the share of
// acknowledgements on time still divides by the memos acknowledged,
// replied or closed only (stats.go computeStats). Five memos acknowledged
// on time and kept, five acknowledged on time and then returned: the
// figures say 200% of acknowledgements were on time.
func TestAcknowledgedShareAtMostOne(t *testing.T) {
	st := storetest.OpenSQLite(t)
	d := noticeDeployment(t, st)
	auditor := d.Create("auditor", false, "auditor")
	alice := d.Member("alice")
	var ids []string
	for i := range 10 {
		m := circulate(t, d, alice, "memo "+strconv.Itoa(i), true)
		if _, err := d.Svc.Submit(d.Ctx, alice, m.ID, 1); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, m.ID)
	}
	d.Clock.Advance(time.Hour)
	for _, id := range ids {
		if _, err := d.Svc.Acknowledge(d.Ctx, d.Office, id); err != nil {
			t.Fatal(err)
		}
	}
	for _, id := range ids[5:] {
		if _, err := d.Svc.Return(d.Ctx, d.Office, id, "Not a policy matter."); err != nil {
			t.Fatal(err)
		}
	}
	stats, err := d.Svc.YearStats(d.Ctx, auditor, 2026)
	if err != nil {
		t.Fatal(err)
	}
	if s := stats.AcknowledgedOnTimeShare; s != nil && *s > 1 {
		t.Errorf("the share of acknowledgements on time is %v (more than all of them): the numerator counts the returned memos, the denominator does not", *s)
	}
}

var _ = service.BoxMine
