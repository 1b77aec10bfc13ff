package service_test

import (
	"strings"
	"testing"

	"github.com/dissent-channel/dissent/internal/channel"
	"github.com/dissent-channel/dissent/internal/service"
	"github.com/dissent-channel/dissent/internal/service/servicetest"
	"github.com/dissent-channel/dissent/internal/store"
	"github.com/dissent-channel/dissent/internal/store/sqlstore"
	"github.com/dissent-channel/dissent/internal/store/storetest"
)

// Keys made again await the office's confirmation (keysconfirm.go). These
// tests come from a review of what such an account may still do, and of
// what the confirmation shares (helper-22).

// takeOver: an administrator resets username's password, signs in with it
// and starts afresh under a phrase of their own; the keys are held.
func takeOver(t *testing.T, d *servicetest.Deployment, username string) *service.Actor {
	t.Helper()
	if err := d.Svc.ResetPassword(d.Ctx, d.Admin, username, "temporary-password-1"); err != nil {
		t.Fatal(err)
	}
	if err := d.Svc.NewKeys(d.Ctx, d.SignInOn(d.Svc, username, "temporary-password-1"), "temporary-password-1", username+"'s new phrase"); err != nil {
		t.Fatal(err)
	}
	return d.SignInOn(d.Svc, username, username+"'s new phrase")
}

// recovered: username's password is reset and the custodians recover the
// same keys; they are held too.
func recovered(t *testing.T, d *servicetest.Deployment, username string) *service.Actor {
	t.Helper()
	if err := d.Svc.ResetPassword(d.Ctx, d.Admin, username, "temporary-password-1"); err != nil {
		t.Fatal(err)
	}
	if err := d.Svc.RecoverKeys(d.Ctx, d.Shares[:2], username, username+"'s recovered phrase"); err != nil {
		t.Fatal(err)
	}
	a := d.SignInOn(d.Svc, username, username+"'s recovered phrase")
	if me, err := d.Svc.Me(d.Ctx, a); err != nil || !me.KeysAwaitingConfirmation {
		t.Fatalf("%s's recovered keys are not held: %+v, %v", username, me, err)
	}
	return a
}

// letIn creates an account in the office and has d.Office let it in.
func letIn(t *testing.T, d *servicetest.Deployment, username string, eligible bool, roles ...string) *service.Actor {
	t.Helper()
	d.Create(username, eligible, roles...)
	if err := d.Svc.GrantOffice(d.Ctx, d.Office, username); err != nil {
		t.Fatal(err)
	}
	return d.SignIn(username)
}

// refusedWhileHeld checks that err refuses an act in the account's name
// because its keys await the office.
func refusedWhileHeld(t *testing.T, what string, err error) {
	t.Helper()
	if channel.ErrorCode(err) != channel.ECONFLICT || !strings.Contains(err.Error(), "not confirmed them yet") {
		t.Errorf("%s with keys that await the office: %v, want refused with the reason", what, err)
	}
}

// TestHeldAccountsActInNoOnesName: whatever an account with held keys
// would do in others' sight in its name is refused — asking colleagues to
// co-draft, commenting, withdrawing, the office's steps, confirming
// someone else's keys, letting someone into the office — and a memo with
// a held drafter, who goes out as an author even unsigned, is not
// submitted.
func TestHeldAccountsActInNoOnesName(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		d := servicetest.NewDeployment(t, st)
		alice := d.Member("alice")
		d.Member("bob")
		letIn(t, d, "office2", false, "office")
		d.Create("office3", false, "office")
		m, _ := d.Submitted(alice, "read by p1")
		w, _ := d.Submitted(alice, "to withdraw")
		co, err := d.Svc.CreateMemo(d.Ctx, alice, service.MemoInput{Title: "co-drafted with bob", Body: "b", Marking: "UNCLASSIFIED", Codrafters: []string{"bob"}})
		if err != nil {
			t.Fatal(err)
		}

		bob := takeOver(t, d, "bob")
		_, err = d.Svc.CreateMemo(d.Ctx, bob, service.MemoInput{Title: "in bob's name", Body: "b", Marking: "UNCLASSIFIED", Codrafters: []string{"alice"}})
		refusedWhileHeld(t, "asking alice to co-draft", err)
		if _, err := d.Svc.Sign(d.Ctx, alice, co.ID, co.Revision); err != nil {
			t.Fatal(err)
		}
		_, err = d.Svc.Submit(d.Ctx, alice, co.ID, co.Revision)
		if channel.ErrorCode(err) != channel.ECONFLICT || !strings.Contains(err.Error(), `"bob", a drafter, has new keys`) {
			t.Errorf("submitting with bob, whose keys await the office, as a drafter: %v, want refused naming bob", err)
		}

		p1 := recovered(t, d, "p1")
		_, err = d.Svc.Comment(d.Ctx, p1, m.ID, "a comment in p1's name")
		refusedWhileHeld(t, "p1 commenting", err)
		alice = recovered(t, d, "alice")
		_, err = d.Svc.Withdraw(d.Ctx, alice, w.ID, "withdrawn in alice's name")
		refusedWhileHeld(t, "alice withdrawing", err)
		office2 := recovered(t, d, "office2")
		_, err = d.Svc.Reply(d.Ctx, office2, m.ID, "a reply in office2's name")
		refusedWhileHeld(t, "office2 replying", err)
		_, err = d.Svc.AddReaders(d.Ctx, office2, m.ID, service.ReadersInput{Usernames: []string{"p2"}, Reason: "r"})
		if channel.ErrorCode(err) == "" {
			t.Error("office2 added a reader with keys that await the office")
		}
		refusedWhileHeld(t, "office2 letting office3 in", d.Svc.GrantOffice(d.Ctx, office2, "office3"))
		p2 := takeOver(t, d, "p2")
		refusedWhileHeld(t, "office2 confirming p2's keys", d.Svc.ConfirmKeys(d.Ctx, office2, "p2", service.KeyConfirmation{Fingerprint: fingerprint(t, d.Svc, p2), Principal: true}))
	})
}

// TestWithheldIsWhatTheLedgerSays: the confirmation shares only what the
// memo's own ledger entries withheld from the principal — rows written
// into the withheld table for an older memo, a draft, or a memo the office
// had taken the principal off, share nothing — and the office may decide
// that a principal is not to read a memo withheld from them. A principal
// taken off the standing distribution after a submission keeps what it
// brought them, as if their keys had not been held.
func TestWithheldIsWhatTheLedgerSays(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		r, alice, _ := principalRig(t, st)
		d := r.Deployment
		older, _ := d.Submitted(alice, "submitted before the hold")
		revoked, _ := d.Submitted(alice, "about p1")
		if _, err := d.Svc.RevokeReader(d.Ctx, d.Office, revoked.ID, "p1", "it is about p1"); err != nil {
			t.Fatal(err)
		}
		d.Create("p3", false, "principal")
		if _, err := d.Svc.SetDistribution(d.Ctx, d.Admin, service.Distribution{Usernames: []string{"p1", "p2", "p3"}}); err != nil {
			t.Fatal(err)
		}
		held := map[string]*service.Actor{}
		for _, p := range []string{"p1", "p2", "p3"} {
			held[p] = takeOver(t, d, p)
		}
		missed, _ := d.Submitted(alice, "submitted while they waited")
		if n := r.count(`SELECT COUNT(*) FROM withheld WHERE memo_id = ?`, missed.ID); n != 3 {
			t.Fatalf("%d principals listed as withheld from the memo, want 3", n)
		}
		draft, err := d.Svc.CreateMemo(d.Ctx, alice, service.MemoInput{Title: "a draft", Body: "b", Marking: "UNCLASSIFIED"})
		if err != nil {
			t.Fatal(err)
		}
		// p3 joined the distribution after the older memo; the office took
		// p1 off the memo about them; nobody reads a draft.
		r.exec(`INSERT INTO withheld (user_id, memo_id) VALUES (?, ?)`, held["p3"].User.ID, older.ID)
		for _, id := range []string{revoked.ID, draft.ID} {
			r.exec(`INSERT INTO withheld (user_id, memo_id) VALUES (?, ?)`, held["p1"].User.ID, id)
		}
		if _, err := d.Svc.RevokeReader(d.Ctx, d.Office, missed.ID, "p2", "not for p2"); err != nil {
			t.Fatalf("the office taking p2 off a memo withheld from them: %v", err)
		}
		if _, err := d.Svc.SetDistribution(d.Ctx, d.Admin, service.Distribution{Usernames: []string{"p1", "p2"}}); err != nil {
			t.Fatal(err)
		}
		for _, p := range []string{"p1", "p2", "p3"} {
			if err := d.Svc.ConfirmKeys(d.Ctx, d.Office, p, service.KeyConfirmation{Fingerprint: fingerprint(t, d.Svc, held[p]), Principal: true}); err != nil {
				t.Fatal(err)
			}
		}
		reads := func(p string, m *service.Memo, want bool) {
			t.Helper()
			_, err := d.Svc.GetMemo(d.Ctx, d.SignInOn(d.Svc, p, p+"'s new phrase"), m.ID)
			if want && err != nil || !want && channel.ErrorCode(err) != channel.ENOTFOUND {
				t.Errorf("%s reading %q: %v, want it readable: %v", p, m.Title, err, want)
			}
		}
		reads("p1", missed, true)
		reads("p3", missed, true) // taken off the distribution after the submission
		reads("p2", missed, false)
		reads("p3", older, false)
		reads("p1", revoked, false)
		reads("p1", draft, false)
		if n := r.count(`SELECT COUNT(*) FROM withheld`); n != 0 {
			t.Errorf("%d rows still listed as withheld", n)
		}
	})
}

// TestRotationWhileHeldIsGivenBack: the office removes a reader while
// another's keys await it; the new key version is withheld from the held
// reader and given with the confirmation, which shares with an author
// among the principals as with anyone: the database cannot tell them
// apart by it.
func TestRotationWhileHeldIsGivenBack(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		d := servicetest.NewDeployment(t, st)
		r := anchorRig{Deployment: d, t: t, db: st.(*sqlstore.DB)}
		alice := d.Member("alice")
		d.Create("pm", true, "principal", "member")
		if _, err := d.Svc.SetDistribution(d.Ctx, d.Admin, service.Distribution{Usernames: []string{"p1", "p2", "pm"}}); err != nil {
			t.Fatal(err)
		}
		plain, _ := d.Submitted(alice, "read by p1, p2 and pm")
		co := d.Cosigned(alice, d.SignIn("pm"), "co-signed by pm")
		p1, pm := recovered(t, d, "p1"), recovered(t, d, "pm")
		for _, m := range []*service.Memo{plain, co} {
			if _, err := d.Svc.RevokeReader(d.Ctx, d.Office, m.ID, "p2", "not for p2"); err != nil {
				t.Fatal(err)
			}
		}
		for _, a := range []*service.Actor{p1, pm} {
			if err := d.Svc.ConfirmKeys(d.Ctx, d.Office, a.User.Username, service.KeyConfirmation{Fingerprint: fingerprint(t, d.Svc, a), Principal: true}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := d.Svc.GetMemo(d.Ctx, d.SignInOn(d.Svc, "p1", "p1's recovered phrase"), plain.ID); err != nil {
			t.Errorf("p1, on the memo's distribution, cannot read it after the confirmation: %v", err)
		}
		wraps := func(id string) int {
			return r.wraps(id, pm.User.ID)
		}
		if a, b := wraps(co.ID), wraps(plain.ID); a != b {
			t.Errorf("pm has %d wraps of the memo they co-signed and %d of the other: the database tells which pm wrote", a, b)
		}
	})
}

// TestConfirmingCollectsMailFirst: an office member who is also a member
// confirms while mail waits in the shared mailbox (anyone's invitation).
func TestConfirmingCollectsMailFirst(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		d := servicetest.NewDeployment(t, st)
		alice := d.Member("alice")
		d.Member("bob")
		olga := letIn(t, d, "olga", true, "member", "office")
		p1 := takeOver(t, d, "p1")
		d.Submitted(alice, "while p1 waited")
		if _, err := d.Svc.CreateMemo(d.Ctx, alice, service.MemoInput{Title: "with bob", Body: "b", Marking: "UNCLASSIFIED", Codrafters: []string{"bob"}}); err != nil {
			t.Fatal(err)
		}
		if err := d.Svc.ConfirmKeys(d.Ctx, olga, "p1", service.KeyConfirmation{Fingerprint: fingerprint(t, d.Svc, p1), Principal: true}); err != nil {
			t.Errorf("olga confirming p1's keys while mail waits: %v", err)
		}
	})
}

// TestFailedConfirmationSharesNothing: a memo that does not open half way
// through the sharing fails the confirmation whole: no entry, no wrap, no
// notice, the withheld list kept; once the memo is put back it succeeds.
func TestFailedConfirmationSharesNothing(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		d := servicetest.NewDeployment(t, st)
		r := anchorRig{Deployment: d, t: t, db: st.(*sqlstore.DB)}
		alice := d.Member("alice")
		p1 := takeOver(t, d, "p1")
		a, _ := d.Submitted(alice, "one")
		b, _ := d.Submitted(alice, "two")
		second := max(a.ID, b.ID) // shared in id order
		var roster []byte
		if err := r.db.Raw().QueryRowContext(d.Ctx, r.db.Rebind(`SELECT roster FROM memos WHERE id = ?`), second).Scan(&roster); err != nil {
			t.Fatal(err)
		}
		broken := append([]byte(nil), roster...)
		broken[len(broken)-1] ^= 1
		r.exec(`UPDATE memos SET roster = ? WHERE id = ?`, broken, second)
		leaves := r.count(`SELECT COUNT(*) FROM ledger_leaves`)
		told := r.count(`SELECT COUNT(*) FROM notifications WHERE user_id = ? AND kind = ?`, p1.User.ID, service.KindKeysConfirmed)
		if err := d.Svc.ConfirmKeys(d.Ctx, d.Office, "p1", service.KeyConfirmation{Fingerprint: fingerprint(t, d.Svc, p1), Principal: true}); err == nil {
			t.Fatal("confirmed over a memo that does not open")
		}
		if n := r.count(`SELECT COUNT(*) FROM ledger_leaves`); n != leaves {
			t.Errorf("the failed confirmation wrote %d ledger entries", n-leaves)
		}
		if n := r.count(`SELECT COUNT(*) FROM withheld WHERE user_id = ?`, p1.User.ID); n != 2 {
			t.Errorf("withheld rows after the failed confirmation: %d, want 2", n)
		}
		if n := r.count(`SELECT COUNT(*) FROM access WHERE grantee = ?`, p1.User.ID); n != 0 {
			t.Errorf("wraps to p1 after the failed confirmation: %d", n)
		}
		if n := r.count(`SELECT COUNT(*) FROM notifications WHERE user_id = ? AND kind = ?`, p1.User.ID, service.KindKeysConfirmed); n != told {
			t.Errorf("p1 told of a confirmation that failed: %d notices", n-told)
		}
		r.exec(`UPDATE memos SET roster = ? WHERE id = ?`, roster, second)
		if err := d.Svc.ConfirmKeys(d.Ctx, d.Office, "p1", service.KeyConfirmation{Fingerprint: fingerprint(t, d.Svc, p1), Principal: true}); err != nil {
			t.Fatalf("confirming once the memo is put back: %v", err)
		}
	})
}
