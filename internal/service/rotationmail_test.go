package service_test

import (
	"slices"
	"testing"

	"github.com/dissent-channel/dissent/internal/service"
	"github.com/dissent-channel/dissent/internal/service/servicetest"
	"github.com/dissent-channel/dissent/internal/store"
	"github.com/dissent-channel/dissent/internal/store/sqlstore"
	"github.com/dissent-channel/dissent/internal/store/storetest"
)

// mailRows returns the lengths of the mailbox's entries by id.
func mailRows(r anchorRig) map[string]int {
	r.t.Helper()
	rows, err := r.db.Raw().QueryContext(r.Ctx, `SELECT id, LENGTH(sealed) FROM mailbox`)
	if err != nil {
		r.t.Fatal(err)
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var id string
		var n int
		if err := rows.Scan(&id, &n); err != nil {
			r.t.Fatal(err)
		}
		out[id] = n
	}
	return out
}

// newMail returns the sorted lengths of the entries in after that were not
// in before.
func newMail(before, after map[string]int) []int {
	var out []int
	for id, n := range after {
		if _, ok := before[id]; !ok {
			out = append(out, n)
		}
	}
	slices.Sort(out)
	return out
}

// TestRotationWhileAnAuthorIsHeld: the office removes a reader from a memo
// while one of its authors has keys that await the office's confirmation.
// The rotation mails the new key to every author but that one; the
// confirmation must give it, or the author no longer opens their own
// memo. And the database must not learn from the confirmation which
// rotated memos the person wrote: confirming an author and confirming
// someone else post the same mail.
func TestRotationWhileAnAuthorIsHeld(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		d := servicetest.NewDeployment(t, st)
		r := anchorRig{Deployment: d, t: t, db: st.(*sqlstore.DB)}
		alice := d.Member("alice")
		d.Member("bob")
		d.Member("carol")
		co := d.Cosigned(alice, d.SignIn("bob"), "co-signed by bob")
		other, _ := d.Submitted(alice, "alice's alone")
		bob, carol := recovered(t, d, "bob"), recovered(t, d, "carol")
		if _, err := d.Svc.RevokeReader(d.Ctx, d.Office, co.ID, "p1", "not for p1 after all"); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Svc.RevokeReader(d.Ctx, d.Office, other.ID, "p2", "not for p2"); err != nil {
			t.Fatal(err)
		}
		confirm := func(a *service.Actor) []int {
			before := mailRows(r)
			if err := d.Svc.ConfirmKeys(d.Ctx, d.Office, a.User.Username, service.KeyConfirmation{Fingerprint: fingerprint(t, d.Svc, a)}); err != nil {
				t.Fatal(err)
			}
			return newMail(before, mailRows(r))
		}
		forBob, forCarol := confirm(bob), confirm(carol)
		if !slices.Equal(forBob, forCarol) {
			t.Errorf("confirming bob, an author of a rotated memo, posted mail of sizes %v; confirming carol, who wrote none, %v: the database tells which memos bob wrote", forBob, forCarol)
		}
		bob = d.SignInOn(d.Svc, "bob", "bob's recovered phrase")
		m, err := d.Svc.GetMemo(d.Ctx, bob, co.ID)
		if err != nil {
			t.Fatalf("bob, whose keys the office confirmed, cannot open the memo he co-signed after its key was rotated: %v", err)
		}
		if m.Title != "co-signed by bob" {
			t.Errorf("bob reads the title %q", m.Title)
		}
		if _, err := d.Svc.GetMemo(d.Ctx, d.SignInOn(d.Svc, "carol", "carol's recovered phrase"), co.ID); err == nil {
			t.Error("carol, who wrote neither memo, opens bob's after her confirmation")
		}
	})
}
