package service_test

import (
	"testing"

	"github.com/dissent-channel/dissent/internal/channel"
	"github.com/dissent-channel/dissent/internal/ledger"
	"github.com/dissent-channel/dissent/internal/service"
	"github.com/dissent-channel/dissent/internal/service/servicetest"
	"github.com/dissent-channel/dissent/internal/store/storetest"
)

// review67Leaves returns the ledger's leaves about memoID ("" for all).
func review67Leaves(t *testing.T, d *servicetest.Deployment, memoID string) []ledger.Leaf {
	t.Helper()
	all, _ := allLeaves(t, d.Store)
	if memoID == "" {
		return all
	}
	var out []ledger.Leaf
	for _, l := range all {
		if l.Memo == memoID {
			out = append(out, l)
		}
	}
	return out
}

// TestReview67WrongCurrentPasswordIsNotAudited: whoever holds a session
// (a token left behind, or taken) can guess the account's password
// through the password change, which checks the current password and
// counts a wrong one against the account's sign-in limit. A wrong guess at
// the sign-in page is an audit event (session.fail); the same guess made
// through the password change leaves nothing in the ledger, even once
// the node has written every failure it counted.
func TestReview67WrongCurrentPasswordIsNotAudited(t *testing.T) {
	d := servicetest.NewDeployment(t, storetest.OpenSQLite(t))
	alice := d.Member("alice")
	if err := d.Svc.FlushSignInFailures(d.Ctx, true); err != nil {
		t.Fatal(err)
	}

	// The sign-in page: a wrong password is in the ledger.
	before := len(review67Leaves(t, d, ""))
	if _, _, err := d.Svc.SignIn(d.Ctx, "alice", "a wrong guess at it"); channel.ErrorCode(err) != channel.EUNAUTHORIZED {
		t.Fatalf("sign-in with a wrong password: %v", err)
	}
	if err := d.Svc.FlushSignInFailures(d.Ctx, true); err != nil {
		t.Fatal(err)
	}
	if got := len(review67Leaves(t, d, "")); got != before+1 {
		t.Fatalf("a failed sign-in wrote %d entries, want 1", got-before)
	}

	// The password change: the same wrong guess.
	before = len(review67Leaves(t, d, ""))
	err := d.Svc.ChangePassword(d.Ctx, alice, "another wrong guess", "a new password of mine")
	if channel.ErrorCode(err) != channel.EINVALID {
		t.Fatalf("password change with a wrong current password: %v", err)
	}
	if err := d.Svc.FlushSignInFailures(d.Ctx, true); err != nil {
		t.Fatal(err)
	}
	if got := len(review67Leaves(t, d, "")); got == before {
		t.Errorf("a wrong current password at a password change (a guess at the account's password) left no audit event; a wrong one at the sign-in page is recorded as session.fail")
	}
}

// TestReview67WithheldReadersIsNotAudited: the office's list of the
// principals a memo was withheld from opens the memo with the office's key
// and reads its sealed ledger details (who the submission withheld it
// from), yet records nothing. Who was meant to read a memo is the memo's
// distribution; the office's other looks at it (the memo, its access log,
// its revisions, an export, a proof) are each a ledger event under the
// memo, which its authors see.
func TestReview67WithheldReadersIsNotAudited(t *testing.T) {
	d := servicetest.NewDeployment(t, storetest.OpenSQLite(t))
	alice := d.Member("alice")
	d.Create("p3", false, "principal") // keys the office has not confirmed
	if _, err := d.Svc.SetDistribution(d.Ctx, d.Admin, service.Distribution{Usernames: []string{"p1", "p2", "p3"}}); err != nil {
		t.Fatal(err)
	}
	m, _ := d.Submitted(alice, "withheld from p3")

	// For comparison: the access log, a list of who reads the memo, is
	// recorded.
	before := len(review67Leaves(t, d, m.ID))
	if _, err := d.Svc.AccessLog(d.Ctx, d.Office, m.ID, "", 50); err != nil {
		t.Fatal(err)
	}
	if got := len(review67Leaves(t, d, m.ID)); got != before+1 {
		t.Fatalf("the office's look at the access log wrote %d entries under the memo, want 1", got-before)
	}

	before = len(review67Leaves(t, d, m.ID))
	w, err := d.Svc.WithheldReaders(d.Ctx, d.Office, m.ID)
	if err != nil || len(w) != 1 || w[0].Username != "p3" {
		t.Fatalf("withheld readers: %+v, %v", w, err)
	}
	if got := len(review67Leaves(t, d, m.ID)); got == before {
		t.Errorf("the office opened the memo and read whom it was withheld from (%s) and no audit event records it", w[0].Username)
	}
}

// TestReview67AccessLogNamesTheAuditorsCapacity: an account may be both
// an administrator and an auditor. It sees a memo's access log only as an
// auditor (administrators may not), but the memo.access_log entry records
// it in the capacity of an administrator (primaryRole), so the memo's
// authors read that an administrator looked at who reads their memo. The
// ledger must show the capacity the actor acted in (recordLeaf); a
// cosignature by the same account is recorded as the auditor's.
func TestReview67AccessLogNamesTheAuditorsCapacity(t *testing.T) {
	d := servicetest.NewDeployment(t, storetest.OpenSQLite(t))
	alice := d.Member("alice")
	m, _ := d.Submitted(alice, "looked at by an auditor")
	both := d.Create("inspector", false, "admin", "auditor")
	if _, err := d.Svc.AccessLog(d.Ctx, both, m.ID, "", 50); err != nil {
		t.Fatal(err)
	}
	var found bool
	for _, l := range review67Leaves(t, d, m.ID) {
		if l.Action != "memo.access_log" || l.Actor != both.User.ID {
			continue
		}
		found = true
		if l.Role != string(channel.RoleAuditor) {
			t.Errorf("the access log, which only an auditor may see, was looked at as %q: the authors read that an administrator looked at who reads their memo", l.Role)
		}
	}
	if !found {
		t.Fatalf("no memo.access_log entry names the inspector")
	}
}
