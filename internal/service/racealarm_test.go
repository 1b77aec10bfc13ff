package service_test

// A race between two app nodes is not tampering. On PostgreSQL each
// statement of a transaction sees the latest commit (READ COMMITTED): a
// memo's row read before another node's change, and its ledger read
// after, disagree, as they would if someone had written the database. The
// checks that compare the two (keysVouched, signaturesStand) must not
// mark the node as tampered with, which fails its /readyz and takes it out
// of service, for a change made the normal way.

import (
	"context"
	"sync"
	"testing"

	"github.com/dissent-channel/dissent/internal/service/servicetest"
	"github.com/dissent-channel/dissent/internal/store"
	"github.com/dissent-channel/dissent/internal/store/storetest"
)

// latestStore runs onLatest, once, as a transaction of any kind reads a
// memo's latest entry (MemoLatest): after it read the memo's row, before
// it reads the memo's history.
type latestStore struct {
	store.Store
	mu       sync.Mutex
	onLatest func(memoID string)
}

type latestTx struct {
	store.Tx
	s *latestStore
}

func (s *latestStore) Begin(ctx context.Context, write bool) (store.Tx, error) {
	tx, err := s.Store.Begin(ctx, write)
	if err != nil {
		return tx, err
	}
	return &latestTx{Tx: tx, s: s}, nil
}

func (t *latestTx) MemoLatest(ctx context.Context, memoID string) (int64, error) {
	t.s.mu.Lock()
	f := t.s.onLatest
	t.s.onLatest = nil
	t.s.mu.Unlock()
	if f != nil {
		f(memoID)
	}
	return t.Tx.MemoLatest(ctx, memoID)
}

// raceNodes is a deployment on node A (d) and a second app node B (h2)
// over the same PostgreSQL database, whose store is hooked.
func raceNodes(t *testing.T) (*servicetest.Deployment, *servicetest.Harness, *latestStore) {
	t.Helper()
	nodes := storetest.OpenPostgresNodes(t, 2)
	d := servicetest.NewDeployment(t, nodes[0])
	hooked := &latestStore{Store: nodes[1]}
	return d, servicetest.Reopen(t, d.Harness, hooked), hooked
}

// TestARotationDuringAnAcknowledgementIsNoTampering: the office
// acknowledges a memo on node B; between its reading the memo's row (key
// version 1) and its ledger, the office removes p2 on node A, which makes
// key version 2. The ledger then says version 2 is the newest while the
// row read says 1. (A read is spared: GetMemo reads the memo's history
// ahead, with its row.)
func TestARotationDuringAnAcknowledgementIsNoTampering(t *testing.T) {
	d, h2, hooked := raceNodes(t)
	m := submitted(t, d, d.Member("alice"), "rotated while acknowledged")
	office2 := h2.SignIn("office")
	fired := false
	hooked.onLatest = func(memoID string) {
		fired = true
		if _, err := d.Svc.RevokeReader(d.Ctx, d.Office, m.ID, "p2", "not for p2"); err != nil {
			t.Errorf("removing p2: %v", err)
		}
	}
	_, err := h2.Svc.Acknowledge(d.Ctx, office2, m.ID)
	if !fired {
		t.Fatal("the interleaving did not happen")
	}
	if err != nil {
		t.Errorf("the office's acknowledgement of a memo rotated meanwhile fails: %v", err)
	}
	if err := h2.Svc.Ready(d.Ctx); err != nil {
		t.Errorf("node B is no longer ready after acknowledging a memo another node rotated: %v", err)
	}
}

// TestASignatureTakenBackDuringASubmissionIsNoTampering: alice submits on
// node B; between its reading the memo's row (bob signed) and its ledger,
// bob takes his signature back on node A. The ledger then says bob's
// latest step is memo.unsign while the roster read says he signed.
func TestASignatureTakenBackDuringASubmissionIsNoTampering(t *testing.T) {
	d, h2, hooked := raceNodes(t)
	alice, bob := d.Member("alice"), d.Member("bob")
	m := signedByBoth(t, d, alice, bob, "taken back while submitted")
	alice2 := h2.SignIn("alice")
	calls := 0
	var once sync.Once
	var arm func(string)
	arm = func(string) {
		// The first MemoLatest is presubmit's, in its read transaction;
		// the second the write transaction's.
		if calls++; calls < 2 {
			hooked.mu.Lock()
			hooked.onLatest = arm
			hooked.mu.Unlock()
			return
		}
		once.Do(func() {
			if _, err := d.Svc.Unsign(d.Ctx, bob, m.ID); err != nil {
				t.Errorf("bob taking his signature back: %v", err)
			}
		})
	}
	hooked.onLatest = arm
	rc, err := h2.Svc.Submit(d.Ctx, alice2, m.ID, 1)
	if calls < 2 {
		t.Fatal("the interleaving did not happen")
	}
	if err != nil {
		t.Errorf("the submission fails: %v", err)
	} else if rc.Dropped != 1 {
		t.Errorf("the memo went out with %d signers dropped, want bob's 1: %+v", rc.Dropped, rc)
	}
	if err := h2.Svc.Ready(d.Ctx); err != nil {
		t.Errorf("node B is no longer ready after a submission raced a signature taken back: %v", err)
	}
}
