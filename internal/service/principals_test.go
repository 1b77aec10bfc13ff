package service_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/dissent-channel/dissent/internal/channel"
	"github.com/dissent-channel/dissent/internal/service"
	"github.com/dissent-channel/dissent/internal/service/servicetest"
	"github.com/dissent-channel/dissent/internal/store"
	"github.com/dissent-channel/dissent/internal/store/sqlstore"
	"github.com/dissent-channel/dissent/internal/store/storetest"
)

// A principal's keys, their first ones included, are wrapped to by the
// standing distribution only once a member of the office who is not an
// administrator has confirmed them with the person (keysconfirm.go,
// principalHeld). The administrator manages the distribution and can make
// a principal's first keys, by signing in to a new account before its
// person does, or put their own account on it.

// TestPrincipalsAwaitTheOffice: a principal the administrator made and
// signed in to first gets no memo until the office confirms its keys;
// then it gets the memos submitted meanwhile.
func TestPrincipalsAwaitTheOffice(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		d := servicetest.NewDeployment(t, st)
		r := anchorRig{Deployment: d, t: t, db: st.(*sqlstore.DB)}
		alice := d.Member("alice")
		p3 := d.Create("p3", false, "principal") // whoever signed in first chose its keys
		unread := bellUnread(t, d, d.Office)
		got, err := d.Svc.SetDistribution(d.Ctx, d.Admin, service.Distribution{Usernames: []string{"p1", "p2", "p3"}})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got.AwaitingConfirmation, []string{"p3"}) {
			t.Errorf("the administrator is told %v await the office, want [p3]", got.AwaitingConfirmation)
		}
		if again, err := d.Svc.GetDistribution(d.Ctx, d.Admin); err != nil || !slices.Equal(again.AwaitingConfirmation, []string{"p3"}) {
			t.Errorf("the distribution read back: %+v, %v", again, err)
		}
		if n := bellUnread(t, d, d.Office); n != unread+1 {
			t.Errorf("the office's unread notices went from %d to %d, want one more (keys.awaiting)", unread, n)
		}
		if waiting, err := d.Svc.KeysAwaitingConfirmation(d.Ctx, d.Office); err != nil || len(waiting) != 1 || waiting[0].Username != "p3" {
			t.Errorf("the office's list: %+v, %v; want p3", waiting, err)
		}
		if me, err := d.Svc.Me(d.Ctx, p3); err != nil || me.KeysAwaitingConfirmation || !me.DistributionAwaitsConfirmation {
			t.Errorf("p3's account: %+v, %v; want free to act, the distribution waiting for the office", me, err)
		}

		m, _ := d.Submitted(alice, "while p3 waits")
		if n := r.count(`SELECT COUNT(*) FROM access WHERE memo_id = ? AND grantee = ?`, m.ID, p3.User.ID); n != 0 {
			t.Fatalf("the memo was wrapped to a principal the office has not confirmed (%d)", n)
		}
		if _, err := d.Svc.GetMemo(d.Ctx, p3, m.ID); channel.ErrorCode(err) != channel.ENOTFOUND {
			t.Fatalf("p3 reading the memo before the confirmation: %v, want not found", err)
		}
		if _, err := d.Svc.GetMemo(d.Ctx, d.Principals[0], m.ID); err != nil {
			t.Fatalf("p1, confirmed, reading the memo: %v", err)
		}

		if err := d.Svc.ConfirmKeys(d.Ctx, d.Admin, "p3", fingerprint(t, d.Svc, p3)); channel.ErrorCode(err) != channel.EFORBIDDEN {
			t.Errorf("the administrator confirming p3: %v, want forbidden", err)
		}
		d.Confirm(d.Office, p3)
		full, err := d.Svc.GetMemo(d.Ctx, p3, m.ID)
		if err != nil {
			t.Fatalf("p3 reading the memo after the confirmation: %v", err)
		}
		if full.Title != "while p3 waits" {
			t.Errorf("p3 reads %q", full.Title)
		}
		if me, err := d.Svc.Me(d.Ctx, d.SignIn("p3")); err != nil || me.DistributionAwaitsConfirmation {
			t.Errorf("p3's account after the confirmation: %+v, %v", me, err)
		}
		if got, err := d.Svc.GetDistribution(d.Ctx, d.Admin); err != nil || len(got.AwaitingConfirmation) != 0 {
			t.Errorf("the distribution after the confirmation: %+v, %v", got, err)
		}
		if err := d.Svc.ConfirmKeys(d.Ctx, d.Office, "p3", fingerprint(t, d.Svc, p3)); channel.ErrorCode(err) != channel.EINVALID {
			t.Errorf("confirming p3 twice: %v, want refused", err)
		}
		next, _ := d.Submitted(alice, "after the confirmation")
		if _, err := d.Svc.GetMemo(d.Ctx, p3, next.ID); err != nil {
			t.Errorf("p3 reading a memo submitted after the confirmation: %v", err)
		}
	})
}

// TestAdministratorOnTheDistribution: an administrator who gives their
// own account the principal role and puts it on the distribution reads
// nothing by it, and cannot confirm their own keys.
func TestAdministratorOnTheDistribution(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		d := servicetest.NewDeployment(t, st)
		alice := d.Member("alice")
		roles := []string{"admin", "principal"}
		if _, err := d.Svc.UpdateUser(d.Ctx, d.Admin, d.Admin.User.Username, service.UserUpdate{Roles: &roles}); err != nil {
			t.Fatal(err)
		}
		admin := d.SignIn(d.Admin.User.Username)
		got, err := d.Svc.SetDistribution(d.Ctx, admin, service.Distribution{Usernames: []string{"p1", "p2", admin.User.Username}})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got.AwaitingConfirmation, []string{admin.User.Username}) {
			t.Errorf("awaiting the office: %v, want the administrator", got.AwaitingConfirmation)
		}
		m, _ := d.Submitted(alice, "not for the administrator")
		if _, err := d.Svc.GetMemo(d.Ctx, admin, m.ID); channel.ErrorCode(err) != channel.ENOTFOUND {
			t.Errorf("the administrator reading a memo by the distribution: %v, want not found", err)
		}
		if err := d.Svc.ConfirmKeys(d.Ctx, admin, admin.User.Username, fingerprint(t, d.Svc, admin)); channel.ErrorCode(err) != channel.EFORBIDDEN {
			t.Errorf("the administrator confirming their own keys: %v, want forbidden", err)
		}
	})
}

// TestPrincipalConfirmationFromTheLedger: the confirmation that lets the
// distribution reach a principal is read from the ledger. A row pointed
// at another entry, or at a confirmation of the same keys made before they
// were anchored again, does not count.
func TestPrincipalConfirmationFromTheLedger(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		d := servicetest.NewDeployment(t, st)
		r := anchorRig{Deployment: d, t: t, db: st.(*sqlstore.DB)}
		alice := d.Member("alice")
		p3 := d.Create("p3", false, "principal")
		if _, err := d.Svc.SetDistribution(d.Ctx, d.Admin, service.Distribution{Usernames: []string{"p1", "p2", "p3"}}); err != nil {
			t.Fatal(err)
		}
		// An entry after p3's keys were anchored that confirms nothing: the
		// submission is refused rather than wrapped to p3.
		draft := signedMemo(t, d.Harness, d.Svc, alice)
		r.exec(`UPDATE users SET keys_confirmed = (SELECT MAX(idx) FROM ledger_leaves) WHERE id = ?`, p3.User.ID)
		if _, err := d.Svc.Submit(d.Ctx, alice, draft, 1); !errors.Is(err, service.ErrNotAnchored) {
			t.Errorf("submitting with a forged confirmation in p3's row: %v, want refused", err)
		}
		// An entry before they were anchored does not count, forged or not.
		r.exec(`UPDATE users SET keys_confirmed = 0 WHERE id = ?`, p3.User.ID)
		m, err := d.Svc.Submit(d.Ctx, alice, draft, 1)
		if err != nil {
			t.Fatal(err)
		}
		if n := r.count(`SELECT COUNT(*) FROM access WHERE memo_id = ? AND grantee = ?`, m.MemoID, p3.User.ID); n != 0 {
			t.Errorf("a memo was wrapped to p3 on an entry from before its keys (%d)", n)
		}
		r.exec(`UPDATE users SET keys_confirmed = -1 WHERE id = ?`, p3.User.ID)

		// p1's keys were confirmed; the custodians recover the same keys
		// for whoever attends the ceremony. The old confirmation names
		// them, but came before the recovery anchored them again.
		node := d.WithConfig(d.Svc.Config()) // proves afresh, from the ledger
		p1 := d.Principals[0]
		before := r.count(`SELECT keys_confirmed FROM users WHERE id = ?`, p1.User.ID)
		recovered(t, d, "p1")
		r.exec(`UPDATE users SET keys_confirmed = ? WHERE id = ?`, before, p1.User.ID)
		m, err = node.Submit(d.Ctx, alice, signedMemo(t, d.Harness, node, alice), 1)
		if err != nil {
			t.Fatal(err)
		}
		if n := r.count(`SELECT COUNT(*) FROM access WHERE memo_id = ? AND grantee = ?`, m.MemoID, p1.User.ID); n != 0 {
			t.Errorf("recovered keys were wrapped to on a confirmation from before the recovery (%d)", n)
		}
	})
}

// bellUnread counts a's unread notices.
func bellUnread(t *testing.T, d *servicetest.Deployment, a *service.Actor) int {
	t.Helper()
	b, err := d.Svc.Notifications(d.Ctx, a, 0)
	if err != nil {
		t.Fatal(err)
	}
	return b.Unread
}
