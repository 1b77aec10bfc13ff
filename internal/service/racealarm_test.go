package service_test

// A race between two app nodes is not tampering. On PostgreSQL each
// statement of a transaction sees the latest commit (READ COMMITTED): a
// memo's row read before another node's change, and its ledger read
// after, disagree, as they would if someone had written the database. The
// checks that compare the two (keysVouched, signaturesStand) must not
// mark the node as tampered with, which fails its /readyz and takes it out
// of service, for a change made the normal way.

import (
	"errors"
	"slices"
	"testing"

	"github.com/dissent-channel/dissent/internal/channel"
	"github.com/dissent-channel/dissent/internal/service"
	"github.com/dissent-channel/dissent/internal/service/servicetest"
	"github.com/dissent-channel/dissent/internal/store"
	"github.com/dissent-channel/dissent/internal/store/storetest"
)

// raceNodes is a deployment on node A (d) and a second app node B (h2)
// over the same PostgreSQL database, whose store is hooked.
func raceNodes(t *testing.T) (*servicetest.Deployment, *servicetest.Harness, *hookStore) {
	t.Helper()
	nodes := storetest.OpenPostgresNodes(t, 2)
	d := servicetest.NewDeployment(t, nodes[0])
	hooked := &hookStore{Store: nodes[1]}
	return d, servicetest.Reopen(t, d.Harness, hooked), hooked
}

// retryableOrNil reports whether err is what an ordinary race may give a
// caller: nothing, or a conflict to try again.
func retryableOrNil(err error) bool {
	return err == nil || channel.ErrorCode(err) == channel.ECONFLICT || store.Retryable(err)
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
	err := removeP2While(t, d, h2.Svc, hooked, m.ID, false, func() error {
		_, err := h2.Svc.Acknowledge(d.Ctx, office2, m.ID)
		return err
	})
	if err != nil {
		t.Errorf("the office's acknowledgement of a memo rotated meanwhile fails: %v", err)
	}
}

// TestASignatureTakenBackDuringASubmissionIsNoTampering: alice submits on
// node B; between its write transaction's reading the memo's row (bob
// signed) and its ledger, bob takes his signature back on node A. The
// ledger then says bob's latest step is memo.unsign while the roster read
// says he signed.
func TestASignatureTakenBackDuringASubmissionIsNoTampering(t *testing.T) {
	d, h2, hooked := raceNodes(t)
	alice, bob := d.Member("alice"), d.Member("bob")
	m := signedByBoth(t, d, alice, bob, "taken back while submitted")
	alice2 := h2.SignIn("alice")
	fired := false
	hooked.onMemoLatest = func(memoID string, write bool) bool {
		if !write { // presubmit's, in its read transaction
			return false
		}
		fired = true
		if _, err := d.Svc.Unsign(d.Ctx, bob, m.ID); err != nil {
			t.Errorf("bob taking his signature back: %v", err)
		}
		return true
	}
	rc, err := h2.Svc.Submit(d.Ctx, alice2, m.ID, 1)
	if !fired {
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

// TestKeysRecoveredDuringARotationIsNoTampering (anchor.go, anchoredAgain):
// bob, a co-author of a submitted memo, forgot his password; an
// administrator reset it. The office removes p2 from the memo on node B,
// which rotates its key and mails the new version to every author: rotate
// reads the authors' rows (bob's: reset, anchored by entry E1), then
// proves each one's keys (keysHeld). In between, the custodians restore
// bob's keys on node A (RecoverKeys), which anchors them again in entry E2
// with a checkpoint over it. Node B's proof of E1 then finds E2, a newer
// anchor of bob's within its view of the ledger, and takes the row for
// one pointed back at replaced keys: tampering.
func TestKeysRecoveredDuringARotationIsNoTampering(t *testing.T) {
	d, h2, hooked := raceNodes(t)
	alice, bob := d.Member("alice"), d.Member("bob")
	m := d.Cosigned(alice, bob, "bob's keys restored while the key rotates")
	if err := d.Svc.ResetPassword(d.Ctx, d.Admin, "bob", "temporary-password-1"); err != nil {
		t.Fatal(err)
	}
	office2 := h2.SignIn("office")

	fired := false
	hooked.onUsersByIDs = func(ids []string, write bool) bool {
		// rotate's read of the memo's authors.
		if !write || !slices.Contains(ids, bob.User.ID) || !slices.Contains(ids, alice.User.ID) {
			return false
		}
		fired = true
		if err := d.Svc.RecoverKeys(d.Ctx, d.Shares[:2], "bob", "bob's recovered phrase"); err != nil {
			t.Errorf("the custodians restoring bob's keys on node A: %v", err)
		}
		return true
	}
	_, err := h2.Svc.RevokeReader(d.Ctx, office2, m.ID, "p2", "not for p2")
	if !fired {
		t.Fatal("the interleaving did not happen")
	}
	if !retryableOrNil(err) {
		t.Errorf("removing p2 while bob's keys were restored fails: %v", err)
	}
	if err := h2.Svc.Ready(d.Ctx); err != nil {
		t.Errorf("node B is no longer ready after a rotation raced the custodians restoring an author's keys: %v", err)
	}
}

// TestARecoveryRacingNewKeysIsNoTampering (anchor.go, anchoredAgain, from
// RecoverKeys' checkUserKeys): bob's password was reset. The custodians
// restore his keys at a ceremony on node B while bob, signed in with the
// password the administrator gave him, starts afresh with new keys on node
// A. The ceremony's write transaction reads bob's row (reset, keys
// anchored by E1); node A's NewKeys commits (new keys, anchored by E2,
// and a checkpoint); the ceremony then proves E1 and finds E2. One of the
// two must lose with a conflict ("the account changed meanwhile"), but
// node B instead marks itself tampered with.
func TestARecoveryRacingNewKeysIsNoTampering(t *testing.T) {
	d, h2, hooked := raceNodes(t)
	bob := d.Member("bob")
	if err := d.Svc.ResetPassword(d.Ctx, d.Admin, "bob", "temporary-password-1"); err != nil {
		t.Fatal(err)
	}
	bobReset := d.SignInOn(d.Svc, "bob", "temporary-password-1")

	fired := false
	hooked.onUserByID = func(id string, write bool) bool {
		// RecoverKeys' write transaction reading the account afresh.
		if !write || id != bob.User.ID {
			return false
		}
		fired = true
		if err := d.Svc.NewKeys(d.Ctx, bobReset, "temporary-password-1", "bob's own fresh phrase"); err != nil {
			t.Errorf("bob starting afresh on node A: %v", err)
		}
		return true
	}
	err := h2.Svc.RecoverKeys(d.Ctx, h2.Shares[:2], "bob", "bob's recovered phrase")
	if !fired {
		t.Fatal("the interleaving did not happen")
	}
	if !retryableOrNil(err) {
		t.Errorf("the ceremony that lost the race to bob's new keys fails otherwise than with a conflict: %v", err)
	}
	if err := h2.Svc.Ready(d.Ctx); err != nil {
		t.Errorf("node B is no longer ready after a ceremony raced the account's new keys: %v", err)
	}
}

// TestAReadOverlappingARotationOnSQLiteIsNoTampering (vouch.go,
// keysVouched; rowStill is not enough): one node on SQLite, whose read
// transactions hold one snapshot. p1 opens a submitted memo; its read
// transaction reads the memo's row (key version 1). Meanwhile, on the
// same node, the office removes p2 (key version 2, committed) and opens
// the memo, which vouches version 2 and raises the node's floor for the
// memo (vouchCache.floor) to 2. p1's transaction then reads the memo's
// history in its snapshot, where version 1 is the newest made, but
// madeKeys starts from the floor, 2: "the memo's ledger made version 2
// last" while the row says 1. rowStill reads the version in the same
// snapshot, finds it unchanged, and the node marks itself tampered with.
// (On PostgreSQL rowStill reads the latest commit and says ErrConflict.)
// Found by review 50 (helper-49), as were the two anchor races above.
func TestAReadOverlappingARotationOnSQLiteIsNoTampering(t *testing.T) {
	hooked := &hookStore{Store: storetest.OpenSQLite(t)}
	d := servicetest.NewDeployment(t, hooked)
	alice := d.Member("alice")
	m := submitted(t, d, alice, "rotated while read")
	p1 := d.Principals[0]

	fired := false
	hooked.onMemoLatest = func(memoID string, write bool) bool {
		if write || memoID != m.ID {
			return false
		}
		fired = true
		if _, err := d.Svc.RevokeReader(d.Ctx, d.Office, m.ID, "p2", "not for p2"); err != nil {
			t.Errorf("removing p2: %v", err)
		}
		// Another request on the node opens the memo at version 2.
		if _, err := d.Svc.GetMemo(d.Ctx, d.Office, m.ID); err != nil {
			t.Errorf("the office opening the memo after the rotation: %v", err)
		}
		return true
	}
	_, err := d.Svc.GetMemo(d.Ctx, p1, m.ID)
	if !fired {
		t.Fatal("the interleaving did not happen")
	}
	if !retryableOrNil(err) {
		t.Errorf("p1's read of a memo rotated meanwhile fails: %v", err)
	}
	if err := d.Svc.Ready(d.Ctx); err != nil {
		t.Errorf("the node is no longer ready after a read overlapped a rotation: %v", err)
	}
}

// TestAnAccessLogRacingARotationRunsAgain (review 52): the office opens a
// memo's access log on node B while, between its reading the memo's row
// and its history, the office removes p2 on node A. The node is not marked
// tampered with, and the request runs again (it answered 409 "reload and
// try again" for a page that only reads).
func TestAnAccessLogRacingARotationRunsAgain(t *testing.T) {
	d, h2, hooked := raceNodes(t)
	m := submitted(t, d, d.Member("alice"), "access log while rotated")
	office2 := h2.SignIn("office")
	err := removeP2While(t, d, h2.Svc, hooked, m.ID, false, func() error {
		_, err := h2.Svc.AccessLog(d.Ctx, office2, m.ID, "", 50)
		return err
	})
	if err != nil {
		t.Errorf("the access log, read while another node removed a reader, does not run again: %v", err)
	}
}

// TestTheBellDuringARotationStillRings: alice's bell works out that the
// office acknowledged her memo (Notifications opens each memo answered
// lately). Between node B's reading the memo's row and its history, the
// office removes p2 on node A. The memo changing as the bell looks is
// left for its next look: alice's notifications page still answers.
func TestTheBellDuringARotationStillRings(t *testing.T) {
	d, h2, hooked := raceNodes(t)
	alice := d.Member("alice")
	m := submitted(t, d, alice, "acknowledged, then rotated while alice looks")
	if _, err := d.Svc.Acknowledge(d.Ctx, d.Office, m.ID); err != nil {
		t.Fatal(err)
	}
	alice2 := h2.SignIn("alice")
	err := removeP2While(t, d, h2.Svc, hooked, m.ID, true, func() error {
		_, err := h2.Svc.Notifications(d.Ctx, alice2, 50)
		return err
	})
	if err != nil {
		t.Errorf("alice's notifications, while another node removed a reader of her memo: %v", err)
	}
}

// TestAProofDuringARotationRunsAgain: alice asks node B for the proof of
// her memo's submission entry; between B's reading the memo's row and its
// history (who may have the entry is decided by opening the memo), the
// office removes p2 on node A. The request runs again and alice gets her
// entry, as before the race.
func TestAProofDuringARotationRunsAgain(t *testing.T) {
	d, h2, hooked := raceNodes(t)
	alice := d.Member("alice")
	m := submitted(t, d, alice, "proved while rotated")
	seen, err := d.Svc.GetMemo(d.Ctx, alice, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	idx := d.EntryIndex(seen, "memo.submit", "alice")
	alice2 := h2.SignIn("alice")
	var p *service.Proof
	err = removeP2While(t, d, h2.Svc, hooked, m.ID, true, func() (err error) {
		p, err = h2.Svc.InclusionProof(d.Ctx, alice2, idx, 0)
		return err
	})
	if err != nil || p.Leaf == "" {
		t.Errorf("alice's proof of her submission, asked while another node removed a reader: %+v, %v", p, err)
	}
}

// removeP2While runs request, on node (served by hooked), with the office
// removing p2 from memoID on d's node between node's reading the memo's
// row and its history (in a read transaction only, if onlyReads), and
// fails unless the interleaving happened and node is still ready. It
// returns request's error.
func removeP2While(t *testing.T, d *servicetest.Deployment, node *service.Service, hooked *hookStore, memoID string, onlyReads bool, request func() error) error {
	t.Helper()
	fired := false
	hooked.onMemoLatest = func(id string, write bool) bool {
		if id != memoID || onlyReads && write {
			return false
		}
		fired = true
		if _, err := d.Svc.RevokeReader(d.Ctx, d.Office, memoID, "p2", "not for p2"); err != nil {
			t.Errorf("removing p2: %v", err)
		}
		return true
	}
	err := request()
	if !fired {
		t.Fatal("the interleaving did not happen")
	}
	if err := node.Ready(d.Ctx); err != nil {
		t.Errorf("the node is no longer ready after another node removed a reader as it looked: %v", err)
	}
	return err
}

// TestAnOfficeGrantRacingARoleChange (users.go, GrantOffice against
// UpdateUser; review 61): on node B a member of the office lets carol in,
// and between its reading carol's account (in the office, not an
// administrator) and its writing the office's key wrapped to her, an
// administrator on node A makes carol an administrator instead. The grant
// must then lose with a conflict: otherwise an administrator holds the
// office's key, which the product promises never happens (they could open
// it with their own password and read every memo).
func TestAnOfficeGrantRacingARoleChange(t *testing.T) {
	d, h2, hooked := raceNodes(t)
	d.Create("carol", false, "office")
	office2 := h2.SignIn("office")

	fired := false
	hooked.onUserByUsername = func(username string, write bool) bool {
		if !write || username != "carol" {
			return false
		}
		fired = true
		roles := []string{"admin"}
		if _, err := d.Svc.UpdateUser(d.Ctx, d.Admin, "carol", service.UserUpdate{Roles: &roles}); err != nil {
			t.Errorf("making carol an administrator on node A: %v", err)
		}
		return true
	}
	err := h2.Svc.GrantOffice(d.Ctx, office2, "carol")
	if !fired {
		t.Fatal("the interleaving did not happen")
	}
	if channel.ErrorCode(err) != channel.ECONFLICT && !store.Retryable(err) {
		t.Errorf("the grant that raced carol's becoming an administrator: %v, want a conflict", err)
	}
	carol, err := d.Store.Begin(d.Ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	defer carol.Rollback()
	u, err := carol.UserByUsername(d.Ctx, "carol")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := carol.GroupKey(d.Ctx, "group:office", u.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("carol, now an administrator (roles %v), holds the office's key: %v", u.Roles, err)
	}
}
