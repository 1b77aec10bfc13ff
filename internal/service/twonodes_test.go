package service_test

// Concurrent requests on one memo, on two app nodes. Each test proves a
// review's finding (helper-39), fixed since by checking, once the ledger's
// lock is held, what was decided before it; its comment says what went
// wrong before.
//
// Every interleaving here is forced with a store wrapper (r39Store) that
// runs another request to completion at a chosen point of a write
// transaction, never with sleeps. They need two app nodes on one
// PostgreSQL database: on SQLite, and on one PostgreSQL node (whose
// writers share one grouped transaction), write transactions take turns
// and these windows do not exist.

import (
	"context"
	"slices"
	"sync"
	"testing"

	"github.com/dissent-channel/dissent/internal/channel"
	"github.com/dissent-channel/dissent/internal/service"
	"github.com/dissent-channel/dissent/internal/service/servicetest"
	"github.com/dissent-channel/dissent/internal/store"
	"github.com/dissent-channel/dissent/internal/store/sqlstore"
	"github.com/dissent-channel/dissent/internal/store/storetest"
)

// r39Store wraps a node's store: its write transactions call the hooks
// set, each once, before the store method runs.
type r39Store struct {
	store.Store
	mu           sync.Mutex
	onWithhold   func(memoID string, ids []string) bool // returns true when it fired
	onMemoVer    func(memoID string) bool
	onMarkRemind func(memoID, kind string) bool
	onAppend     func(memoID, action string) bool // before a ledger append's first statement
}

type r39Tx struct {
	store.Tx
	s *r39Store
}

func (s *r39Store) Begin(ctx context.Context, write bool) (store.Tx, error) {
	tx, err := s.Store.Begin(ctx, write)
	if err != nil || !write {
		return tx, err
	}
	return &r39Tx{Tx: tx, s: s}, nil
}

// r39Take reads a hook under the lock.
func r39Take[F any](s *r39Store, h *F) F {
	s.mu.Lock()
	defer s.mu.Unlock()
	return *h
}

func (s *r39Store) clear(h func()) {
	s.mu.Lock()
	defer s.mu.Unlock()
	h()
}

func (t *r39Tx) Withhold(ctx context.Context, memoID string, ids ...string) error {
	if f := r39Take(t.s, &t.s.onWithhold); f != nil && f(memoID, ids) {
		t.s.clear(func() { t.s.onWithhold = nil })
	}
	return t.Tx.Withhold(ctx, memoID, ids...)
}

// LedgerStorage calls its hook before the append that takes it begins,
// so before this transaction holds the ledger's lock.
func (t *r39Tx) LedgerStorage(memoID, action string) store.LedgerStorage {
	if f := r39Take(t.s, &t.s.onAppend); f != nil && f(memoID, action) {
		t.s.clear(func() { t.s.onAppend = nil })
	}
	return t.Tx.LedgerStorage(memoID, action)
}

// MemoVersion calls its hook after the version is read.
func (t *r39Tx) MemoVersion(ctx context.Context, id string) (int64, error) {
	v, err := t.Tx.MemoVersion(ctx, id)
	if f := r39Take(t.s, &t.s.onMemoVer); f != nil && f(id) {
		t.s.clear(func() { t.s.onMemoVer = nil })
	}
	return v, err
}

func (t *r39Tx) MarkReminder(ctx context.Context, memoID, kind string, dueAt, at int64) (bool, error) {
	if f := r39Take(t.s, &t.s.onMarkRemind); f != nil && f(memoID, kind) {
		t.s.clear(func() { t.s.onMarkRemind = nil })
	}
	return t.Tx.MarkReminder(ctx, memoID, kind, dueAt, at)
}

// r39Nodes is a deployment on node A (d, over a plain store) and a second
// app node B (h2) over the same PostgreSQL database, whose store is
// hooked.
func r39Nodes(t *testing.T) (d *servicetest.Deployment, h2 *servicetest.Harness, hooked *r39Store, raw *sqlstore.DB) {
	t.Helper()
	nodes := storetest.OpenPostgresNodes(t, 2)
	d = servicetest.NewDeployment(t, nodes[0])
	hooked = &r39Store{Store: nodes[1]}
	h2 = servicetest.Reopen(t, d.Harness, hooked)
	return d, h2, hooked, nodes[0].(*sqlstore.DB)
}

func r39Count(t *testing.T, db *sqlstore.DB, q string, args ...any) int {
	t.Helper()
	var n int
	if err := db.Raw().QueryRowContext(context.Background(), db.Rebind(q), args...).Scan(&n); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return n
}

// TestRotationRacingAConfirmationKeepsTheReader: the office removes
// p2 from a memo on node B, which rotates its key. p1 also reads the memo,
// but p1's keys (recovered by the custodians) await the office, so the
// rotation withholds the new key version from p1, for the confirmation to
// give it. rotate reads p1 as held, and writes the withheld row, before
// it takes the ledger's lock; meanwhile a colleague in the office
// confirms p1's keys on node A, whose shareWithheld finds nothing
// withheld yet and commits. The rotation then commits its withheld row.
// p1, confirmed, on the distribution, never removed, no longer opens the
// memo at all (it is at key version 2 and p1 has a wrap of version 1
// only), and nothing will ever share it again: p1's keys no longer await
// anyone. Submit has stillWithheld for exactly this; rotate has nothing.
func TestRotationRacingAConfirmationKeepsTheReader(t *testing.T) {
	d, h2, hooked, raw := r39Nodes(t)
	alice := d.Member("alice")
	m := submitted(t, d, alice, "read by p1 and p2")
	p1 := recovered(t, d, "p1")
	fp := fingerprint(t, d.Svc, p1)
	office2 := h2.SignIn("office")

	fired := false
	hooked.onWithhold = func(memoID string, ids []string) bool {
		if memoID != m.ID || !slices.Contains(ids, p1.User.ID) {
			return false
		}
		fired = true
		// The confirmation, on node A, while the rotation is under way
		// on node B.
		if err := d.Svc.ConfirmKeys(d.Ctx, d.Office, "p1", service.KeyConfirmation{Fingerprint: fp, Principal: true}); err != nil {
			t.Errorf("the confirmation: %v", err)
		}
		return true
	}
	if _, err := h2.Svc.RevokeReader(d.Ctx, office2, m.ID, "p2", "not for p2"); err != nil {
		t.Fatalf("removing p2: %v", err)
	}
	if !fired {
		t.Fatal("the rotation withheld nothing from p1: the interleaving did not happen")
	}
	p1 = d.SignInOn(d.Svc, "p1", "p1's recovered phrase")
	if _, err := d.Svc.GetMemo(d.Ctx, p1, m.ID); err != nil {
		t.Errorf("p1, confirmed and still on the memo's distribution, cannot open it after the rotation: %v (wraps: %d, withheld rows: %d)",
			err, r39Count(t, raw, `SELECT COUNT(*) FROM access WHERE memo_id = ? AND grantee = ?`, m.ID, p1.User.ID),
			r39Count(t, raw, `SELECT COUNT(*) FROM withheld WHERE memo_id = ? AND user_id = ?`, m.ID, p1.User.ID))
		// Nor can the office give it back: the keys await no one now.
		err := d.Svc.ConfirmKeys(d.Ctx, d.Office, "p1", service.KeyConfirmation{Fingerprint: fp, Principal: true})
		t.Logf("confirming p1 again: %v", err)
	}
}

// TestSubmissionAfterADistributionChangeGoesToTheNewList: an
// administrator takes p2 off the standing distribution on node A while a
// submission is under way on node B. The submission read the distribution
// (and chose whom to wrap to) before it took the ledger's lock; the change
// commits in between. The submission's ledger entry and receipt come
// after the change ("a change applies to memos submitted afterwards"),
// yet the memo is wrapped to p2, who may read it.
func TestSubmissionAfterADistributionChangeGoesToTheNewList(t *testing.T) {
	d, h2, hooked, raw := r39Nodes(t)
	d.Member("alice")
	alice := d.SignIn("alice")
	m, err := d.Svc.CreateMemo(d.Ctx, alice, service.MemoInput{Title: "racing the list", Body: "body", Marking: "UNCLASSIFIED"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Svc.Sign(d.Ctx, alice, m.ID, 1); err != nil {
		t.Fatal(err)
	}
	alice2 := h2.SignIn("alice")

	var sizeAfterChange int
	hooked.onWithhold = func(memoID string, _ []string) bool {
		if memoID != m.ID {
			return false
		}
		if _, err := d.Svc.SetDistribution(d.Ctx, d.Admin, service.Distribution{Usernames: []string{"p1"}}); err != nil {
			t.Errorf("taking p2 off the distribution: %v", err)
		}
		sizeAfterChange = r39Count(t, raw, `SELECT size FROM ledger_head WHERE id = 1`)
		return true
	}
	rc, err := h2.Svc.Submit(d.Ctx, alice2, m.ID, 1)
	if err != nil {
		t.Fatalf("submit: %v", err)
	}
	if sizeAfterChange == 0 {
		t.Fatal("the interleaving did not happen")
	}
	if rc.LedgerIndex < int64(sizeAfterChange) {
		t.Fatalf("the submission (entry %d) is not after the change (ledger size %d then)", rc.LedgerIndex, sizeAfterChange)
	}
	if n := r39Count(t, raw, `SELECT COUNT(*) FROM access WHERE memo_id = ? AND grantee = ?`, m.ID, d.Principals[1].User.ID); n != 0 {
		t.Errorf("p2, taken off the standing distribution before the submission (entry %d, change before %d), has %d wraps of the memo", rc.LedgerIndex, sizeAfterChange, n)
	}
	if _, err := d.Svc.GetMemo(d.Ctx, d.SignIn("p2"), m.ID); err == nil {
		t.Errorf("p2 reads a memo submitted after p2 was taken off the distribution")
	}
}

// TestNoReadIsRecordedAfterTheReadersRemoval: p2 reads a memo on node B while
// the office removes p2 from it on node A. GetMemo's write transaction
// checks the memo's version (MemoVersion) and then records the read; the
// check takes no lock, so the removal commits between the two. p2 is
// handed the memo, and the ledger (and the office's access log) shows p2
// reading it after the office removed p2.
func TestNoReadIsRecordedAfterTheReadersRemoval(t *testing.T) {
	d, h2, hooked, _ := r39Nodes(t)
	m := submitted(t, d, d.Member("alice"), "p2 is removed")
	p2 := h2.SignIn("p2")

	fired := false
	hooked.onAppend = func(memoID, action string) bool {
		if memoID != m.ID || action != store.ReadAction {
			return false
		}
		fired = true
		if _, err := d.Svc.RevokeReader(d.Ctx, d.Office, m.ID, "p2", "conflicted"); err != nil {
			t.Errorf("removing p2: %v", err)
		}
		return true
	}
	got, err := h2.Svc.GetMemo(d.Ctx, p2, m.ID)
	if !fired {
		t.Fatal("the interleaving did not happen")
	}
	if err != nil {
		wantCode(t, err, channel.ENOTFOUND)
		return
	}
	read := got.Events[len(got.Events)-1].Index
	after, err := d.Svc.GetMemo(d.Ctx, d.Office, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	revoke := d.EntryIndex(after, "memo.revoke", "office")
	if read > revoke {
		t.Errorf("p2 was shown the memo (body %q) and the ledger records p2's read at entry %d, after the office removed p2 at entry %d", got.Body, read, revoke)
	}
}

// TestNoEscalationAfterTheAcknowledgement: the acknowledgement is
// overdue; the reminders job on node B reads the memo (not acknowledged)
// and marks the escalation, and the office acknowledges on node A in
// between. The job goes on: the office and the escalation contacts are
// told the acknowledgement is overdue, and the ledger records the
// escalation, after the acknowledgement.
func TestNoEscalationAfterTheAcknowledgement(t *testing.T) {
	d, h2, hooked, raw := r39Nodes(t)
	m := submitted(t, d, d.Member("alice"), "acknowledged late")
	d.Clock.Advance(7 * 24 * 60 * 60 * 1e9) // a week: the acknowledgement (2 working days) is overdue

	fired := false
	hooked.onMarkRemind = func(memoID, kind string) bool {
		if memoID != m.ID || kind != "overdue.acknowledge" {
			return false
		}
		fired = true
		if _, err := d.Svc.Acknowledge(d.Ctx, d.Office, m.ID); err != nil {
			t.Errorf("acknowledging: %v", err)
		}
		return true
	}
	if _, err := h2.Svc.RunReminders(d.Ctx); err != nil {
		t.Fatalf("reminders: %v", err)
	}
	if !fired {
		t.Fatal("the interleaving did not happen")
	}
	got, err := d.Svc.GetMemo(d.Ctx, d.Office, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	ack := d.EntryIndex(got, "memo.acknowledge", "office")
	if n := r39Count(t, raw, `SELECT COUNT(*) FROM notifications WHERE memo_id = ? AND kind = ?`, m.ID, "overdue.acknowledge"); n > 0 {
		t.Errorf("%d notices that the acknowledgement is overdue were written after the office acknowledged (entry %d); state %s", n, ack, got.State)
	}
	for _, ev := range got.Events {
		if ev.Action == "memo.escalate.acknowledge" && ev.Index > ack {
			t.Errorf("the ledger records the acknowledgement's escalation at entry %d, after the acknowledgement at %d", ev.Index, ack)
		}
	}
}

// TestRotationRacingAConfirmationKeepsTheAuthor: as above, for an
// author. alice's keys were recovered by the custodians and await the
// office; the office removes p2 from her memo on node B, whose rotation
// mails the new key version to the authors but not to alice (held: the
// confirmation is to mail it, mailRotatedKeys). The confirmation commits
// on node A before the rotation does, and mailRotatedKeys lists the memos
// rotated so far: not this one. alice, confirmed, no longer opens her own
// memo, nor sees the reply to it.
func TestRotationRacingAConfirmationKeepsTheAuthor(t *testing.T) {
	d, h2, hooked, _ := r39Nodes(t)
	d.Member("alice")
	m := submitted(t, d, d.SignIn("alice"), "alice's memo")
	alice := recovered(t, d, "alice")
	fp := fingerprint(t, d.Svc, alice)
	office2 := h2.SignIn("office")

	fired := false
	hooked.onWithhold = func(memoID string, _ []string) bool {
		if memoID != m.ID {
			return false
		}
		fired = true
		if err := d.Svc.ConfirmKeys(d.Ctx, d.Office, "alice", service.KeyConfirmation{Fingerprint: fp}); err != nil {
			t.Errorf("the confirmation: %v", err)
		}
		return true
	}
	if _, err := h2.Svc.RevokeReader(d.Ctx, office2, m.ID, "p2", "not for p2"); err != nil {
		t.Fatalf("removing p2: %v", err)
	}
	if !fired {
		t.Fatal("the interleaving did not happen")
	}
	if _, err := d.Svc.Reply(d.Ctx, d.Office, m.ID, "our reply"); err != nil {
		t.Fatal(err)
	}
	alice = d.SignInOn(d.Svc, "alice", "alice's recovered phrase")
	got, err := d.Svc.GetMemo(d.Ctx, alice, m.ID)
	if err != nil {
		t.Errorf("alice, confirmed, cannot open her own memo after the rotation: %v", err)
	} else if got.Reply == nil {
		t.Errorf("alice does not see the reply")
	}
}

// r39ItemsStore adds to r39Store a hook before a write transaction
// begins and one before a write transaction reads a memo's items.
type r39ItemsStore struct {
	*r39Store
	onBegin func()
	onItems func(memoID string)
}

type r39ItemsTx struct {
	store.Tx
	s *r39ItemsStore
}

func (s *r39ItemsStore) Begin(ctx context.Context, write bool) (store.Tx, error) {
	if f := s.onBegin; write && f != nil {
		s.onBegin = nil
		f()
	}
	tx, err := s.r39Store.Begin(ctx, write)
	if err != nil || !write {
		return tx, err
	}
	return &r39ItemsTx{Tx: tx, s: s}, nil
}

func (t *r39ItemsTx) Items(ctx context.Context, memoID string) ([]*store.Item, error) {
	if f := t.s.onItems; f != nil {
		t.s.onItems = nil
		f(memoID)
	}
	return t.Tx.Items(ctx, memoID)
}

// TestOfficeReadDuringARotationRunsAgain: the office opens a memo on
// node B in a write transaction (getMemoLocked: the memo changed after
// its first read) and reads the memo's row at key version 1; before it
// reads the items, the office removes p2 on node A (key version 2) and p1
// comments, sealed under version 2. The view cannot open the comment and
// the office gets an internal error (500) instead of the memo, or a
// retry: nothing in getMemoLocked checks the memo's version again.
func TestOfficeReadDuringARotationRunsAgain(t *testing.T) {
	nodes := storetest.OpenPostgresNodes(t, 2)
	d := servicetest.NewDeployment(t, nodes[0])
	hooked := &r39ItemsStore{r39Store: &r39Store{Store: nodes[1]}}
	h2 := servicetest.Reopen(t, d.Harness, hooked)
	m := submitted(t, d, d.Member("alice"), "read while rotated")
	office2 := h2.SignIn("office")
	hooked.onBegin = func() {
		// The memo changes after the office's first read: GetMemo goes on
		// in one write transaction (getMemoLocked).
		if _, err := d.Svc.Comment(d.Ctx, d.Principals[0], m.ID, "first"); err != nil {
			t.Errorf("comment: %v", err)
		}
		hooked.onItems = func(memoID string) {
			if _, err := d.Svc.RevokeReader(d.Ctx, d.Office, m.ID, "p2", "not for p2"); err != nil {
				t.Errorf("removing p2: %v", err)
			}
			if _, err := d.Svc.Comment(d.Ctx, d.SignIn("p1"), m.ID, "after the rotation"); err != nil {
				t.Errorf("comment: %v", err)
			}
		}
	}
	if _, err := h2.Svc.GetMemo(d.Ctx, office2, m.ID); err != nil {
		t.Errorf("the office's read of a memo rotated meanwhile fails (code %s, a 500 if internal): %v", channel.ErrorCode(err), err)
	}
}

// TestTwoDistributionChangesTellTheOfficeOnce: two administrators put the
// same principal, whose keys await the office, on the standing
// distribution at once, on two nodes. Each change told the office of the
// principals it added, judged against the list it read before taking the
// ledger's lock: both read the list without p3, and the office was told
// twice. Each change now reads the list it replaces under the lock.
func TestTwoDistributionChangesTellTheOfficeOnce(t *testing.T) {
	d, h2, hooked, raw := r39Nodes(t)
	d.Create("p3", false, "principal") // keys not confirmed: held
	admin2 := h2.SignIn("admin")
	if _, err := raw.Raw().ExecContext(d.Ctx, `DELETE FROM notifications`); err != nil {
		t.Fatal(err)
	}
	want := service.Distribution{Usernames: []string{"p1", "p2", "p3"}}

	fired := false
	hooked.onAppend = func(_, action string) bool {
		if action != "config.distribution" {
			return false
		}
		fired = true
		// Before the fix node B held the setting's row here, and node A
		// waited for it: the test hung (go test's time-out failed it).
		if _, err := d.Svc.SetDistribution(d.Ctx, d.Admin, want); err != nil {
			t.Errorf("node A's change: %v", err)
		}
		return true
	}
	if _, err := h2.Svc.SetDistribution(d.Ctx, admin2, want); err != nil {
		t.Fatal(err)
	}
	if !fired {
		t.Fatal("the interleaving did not happen")
	}
	if n := r39Count(t, raw, `SELECT count(*) FROM notifications WHERE kind = ?`, service.KindKeysAwaiting); n != 1 {
		t.Errorf("the office was told %d times that p3's keys await it, want once", n)
	}
}
