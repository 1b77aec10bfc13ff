package service_test

import (
	"slices"
	"testing"

	"github.com/dissent-channel/dissent/internal/channel"
	"github.com/dissent-channel/dissent/internal/service"
	"github.com/dissent-channel/dissent/internal/service/servicetest"
	"github.com/dissent-channel/dissent/internal/store"
	"github.com/dissent-channel/dissent/internal/store/sqlstore"
	"github.com/dissent-channel/dissent/internal/store/storetest"
)

// submitted makes a memo by drafter, signed and submitted.
func submitted(t *testing.T, d *servicetest.Deployment, drafter *service.Actor, title string) *service.Memo {
	t.Helper()
	m, _ := d.Submitted(drafter, title)
	return m
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := channel.ErrorCode(err); got != code {
		t.Fatalf("error %v: code %q, want %q", err, got, code)
	}
}

func TestPasswordChangeKeepsAccess(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		d := servicetest.NewDeployment(t, st)
		alice := d.Member("alice")
		m := submitted(t, d, alice, "before the change")
		if err := d.Svc.ChangePassword(d.Ctx, alice, "wrong-password-x", "a new long passphrase"); channel.ErrorCode(err) != channel.EINVALID {
			t.Fatalf("wrong current password: %v", err)
		}
		if err := d.Svc.ChangePassword(d.Ctx, alice, servicetest.Password("alice"), "a new long passphrase"); err != nil {
			t.Fatal(err)
		}
		if _, _, err := d.Svc.SignIn(d.Ctx, "alice", servicetest.Password("alice")); channel.ErrorCode(err) != channel.EUNAUTHORIZED {
			t.Fatalf("old password still signs in: %v", err)
		}
		tok, _, err := d.Svc.SignIn(d.Ctx, "alice", "a new long passphrase")
		if err != nil {
			t.Fatal(err)
		}
		again := d.Authenticate(tok)
		got, err := d.Svc.GetMemo(d.Ctx, again, m.ID)
		if err != nil || got.Title != "before the change" {
			t.Fatalf("memo after password change: %v %v", got, err)
		}
	})
}

func TestResetLocksKeysUntilRecovery(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		d := servicetest.NewDeployment(t, st)
		alice := d.Member("alice")
		m := submitted(t, d, alice, "written before the reset")
		if err := d.Svc.ResetPassword(d.Ctx, d.Admin, "alice", "temporary-password-1"); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Svc.GetMemo(d.Ctx, alice, m.ID); err == nil {
			// The old actor still holds keys in memory, but its session is gone.
			t.Log("an in-memory actor keeps its keys; its session no longer authenticates")
		}
		tok, _, err := d.Svc.SignIn(d.Ctx, "alice", "temporary-password-1")
		if err != nil {
			t.Fatal(err)
		}
		locked := d.Authenticate(tok)
		if !locked.KeysLocked() {
			t.Fatal("keys are not locked after an administrator's reset")
		}
		_, err = d.Svc.GetMemo(d.Ctx, locked, m.ID)
		wantCode(t, err, channel.ENOTFOUND)

		t.Run("one share is too few", func(t *testing.T) {
			err := d.Svc.RecoverKeys(d.Ctx, d.Shares[:1], "alice", "alice's own new phrase")
			wantCode(t, err, channel.EINVALID)
		})
		t.Run("the password the administrator set does not protect them", func(t *testing.T) {
			err := d.Svc.RecoverKeys(d.Ctx, d.Shares[1:], "alice", "temporary-password-1")
			wantCode(t, err, channel.EINVALID)
		})
		t.Run("two shares restore the keys under the user's new password", func(t *testing.T) {
			if err := d.Svc.RecoverKeys(d.Ctx, d.Shares[1:], "alice", "alice's own new phrase"); err != nil {
				t.Fatal(err)
			}
			if _, _, err := d.Svc.SignIn(d.Ctx, "alice", "temporary-password-1"); channel.ErrorCode(err) != channel.EUNAUTHORIZED {
				t.Fatalf("the administrator's password after the recovery: %v", err)
			}
			tok, _, err := d.Svc.SignIn(d.Ctx, "alice", "alice's own new phrase")
			if err != nil {
				t.Fatal(err)
			}
			restored := d.Authenticate(tok)
			got, err := d.Svc.GetMemo(d.Ctx, restored, m.ID)
			if err != nil || got.Body != "body of written before the reset" {
				t.Fatalf("memo after recovery: %v %v", got, err)
			}
		})
	})
}

func TestNewKeysAfterResetLoseOldMemos(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		d := servicetest.NewDeployment(t, st)
		alice := d.Member("alice")
		m := submitted(t, d, alice, "old")
		if err := d.Svc.ResetPassword(d.Ctx, d.Admin, "alice", "temporary-password-1"); err != nil {
			t.Fatal(err)
		}
		tok, _, _ := d.Svc.SignIn(d.Ctx, "alice", "temporary-password-1")
		locked := d.Authenticate(tok)
		err := d.Svc.NewKeys(d.Ctx, locked, "temporary-password-1", "temporary-password-1")
		wantCode(t, err, channel.EINVALID) // new keys under the administrator's password
		if err := d.Svc.NewKeys(d.Ctx, locked, "temporary-password-1", "alice's own new phrase"); err != nil {
			t.Fatal(err)
		}
		if _, _, err := d.Svc.SignIn(d.Ctx, "alice", "temporary-password-1"); channel.ErrorCode(err) != channel.EUNAUTHORIZED {
			t.Fatalf("the administrator's password after new keys: %v", err)
		}
		tok, _, err = d.Svc.SignIn(d.Ctx, "alice", "alice's own new phrase")
		if err != nil {
			t.Fatal(err)
		}
		fresh := d.Authenticate(tok)
		_, err = d.Svc.GetMemo(d.Ctx, fresh, m.ID)
		wantCode(t, err, channel.ENOTFOUND)
		if _, err := d.Svc.CreateMemo(d.Ctx, fresh, service.MemoInput{Title: "new", Body: "new body", Marking: "UNCLASSIFIED"}); err != nil {
			t.Fatalf("a user with fresh keys cannot draft: %v", err)
		}
	})
}

func TestRevokeRotatesKey(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		d := servicetest.NewDeployment(t, st)
		alice := d.Member("alice")
		bob := d.Member("bob")
		m, err := d.Svc.CreateMemo(d.Ctx, alice, service.MemoInput{Title: "t", Body: "b", Marking: "UNCLASSIFIED", Codrafters: []string{"bob"}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.Svc.Sign(d.Ctx, alice, m.ID, 1); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Svc.Submit(d.Ctx, alice, m.ID, 1); err != nil {
			t.Fatal(err)
		}
		p1, p2 := d.Principals[0], d.Principals[1]
		if _, err := d.Svc.RevokeReader(d.Ctx, d.Office, m.ID, "p2", "moved to another post"); err != nil {
			t.Fatal(err)
		}
		_, err = d.Svc.GetMemo(d.Ctx, p2, m.ID)
		wantCode(t, err, channel.ENOTFOUND)
		if _, err := d.Svc.Comment(d.Ctx, p1, m.ID, "written under the new key"); err != nil {
			t.Fatalf("remaining reader: %v", err)
		}
		for name, a := range map[string]*service.Actor{"drafter": alice, "co-drafter": bob, "office": d.Office, "remaining reader": p1} {
			got, err := d.Svc.GetMemo(d.Ctx, a, m.ID)
			if err != nil {
				t.Fatalf("%s after rotation: %v", name, err)
			}
			for _, r := range got.Distribution {
				if r.Username == "p2" {
					t.Fatalf("%s still sees p2 on the distribution", name)
				}
			}
		}
		_, err = d.Svc.RevokeReader(d.Ctx, d.Office, m.ID, "p2", "again")
		wantCode(t, err, channel.EINVALID)
	})
}

func TestOfficeMembersNeedAGrant(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		d := servicetest.NewDeployment(t, st)
		alice := d.Member("alice")
		m := submitted(t, d, alice, "for the office")
		second := d.Create("second", false, "office")
		_, err := d.Svc.GetMemo(d.Ctx, second, m.ID)
		wantCode(t, err, channel.ENOTFOUND)
		_, err = d.Svc.ListMemos(d.Ctx, second, service.BoxOffice, nil, "", 50)
		wantCode(t, err, channel.EFORBIDDEN)
		// An administrator may not give themself the office role; one who
		// holds it from before (written here into the database) gets
		// nothing, lets no one in and is let in by no one.
		roles := []string{"admin", "office"}
		_, err = d.Svc.UpdateUser(d.Ctx, d.Admin, "admin", service.UserUpdate{Roles: &roles})
		wantCode(t, err, channel.EINVALID)
		anchorRig{Deployment: d, t: t, db: st.(*sqlstore.DB)}.exec(`UPDATE users SET roles = 'admin office' WHERE username = 'admin'`)
		admin := d.SignIn("admin")
		_, err = d.Svc.GetMemo(d.Ctx, admin, m.ID)
		wantCode(t, err, channel.ENOTFOUND)
		err = d.Svc.GrantOffice(d.Ctx, admin, "second")
		wantCode(t, err, channel.EFORBIDDEN)
		err = d.Svc.GrantOffice(d.Ctx, d.Office, "admin")
		wantCode(t, err, channel.EINVALID)

		if err := d.Svc.GrantOffice(d.Ctx, d.Office, "second"); err != nil {
			t.Fatal(err)
		}
		second = d.SignIn("second")
		if _, err := d.Svc.Acknowledge(d.Ctx, second, m.ID); err != nil {
			t.Fatalf("granted office member: %v", err)
		}
	})
}

// TestResetBeforeFirstSignIn: an account whose user has not chosen a
// password yet has no keys to lock; a reset leaves it waiting for that
// password, and its user still makes their keys by choosing one.
func TestResetBeforeFirstSignIn(t *testing.T) {
	d := servicetest.NewDeployment(t, storetest.OpenSQLite(t))
	if _, err := d.Svc.CreateUser(d.Ctx, d.Admin, service.NewUser{Username: "newbie", DisplayName: "N", Email: "n@example.test",
		Password: "a-first-passphrase", Roles: []string{"member"}, Eligible: true}); err != nil {
		t.Fatal(err)
	}
	if err := d.Svc.ResetPassword(d.Ctx, d.Admin, "newbie", "temporary-password-1"); err != nil {
		t.Fatal(err)
	}
	tok, _, err := d.Svc.SignIn(d.Ctx, "newbie", "temporary-password-1")
	if err != nil {
		t.Fatal(err)
	}
	a := d.Authenticate(tok)
	if !a.KeysPending() {
		t.Fatalf("after a reset before the first sign-in: key state %q", a.User.KeyState)
	}
	if err := d.Svc.ChangePassword(d.Ctx, a, "temporary-password-1", "newbie's own phrase"); err != nil {
		t.Fatal(err)
	}
	tok, _, err = d.Svc.SignIn(d.Ctx, "newbie", "newbie's own phrase")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Svc.CreateMemo(d.Ctx, d.Authenticate(tok), service.MemoInput{Title: "t", Body: "b", Marking: "UNCLASSIFIED"}); err != nil {
		t.Errorf("a memo after choosing a password: %v", err)
	}
}

// TestOfficeRoleBeforeFirstSignIn: the office role given to an account
// whose user has not chosen a password yet founds no office, and nor does
// choosing one: the custodians found it with them.
func TestOfficeRoleBeforeFirstSignIn(t *testing.T) {
	h := servicetest.New(t, storetest.OpenSQLite(t))
	if _, err := h.Svc.CreateUser(h.Ctx, h.Admin, service.NewUser{Username: "clerk", DisplayName: "C", Email: "c@example.test",
		Password: servicetest.InitialPassword("clerk"), Roles: []string{"member"}}); err != nil {
		t.Fatal(err)
	}
	office := []string{"office"}
	if _, err := h.Svc.UpdateUser(h.Ctx, h.Admin, "clerk", service.UserUpdate{Roles: &office}); err != nil {
		t.Fatalf("the office role for an account without keys: %v", err)
	}
	h.Enrol("clerk")
	access := func() string {
		me, err := h.Svc.Me(h.Ctx, h.SignIn("clerk"))
		if err != nil {
			t.Fatal(err)
		}
		return me.OfficeAccess
	}
	if got := access(); got != "unfounded" {
		t.Errorf("the office's first member, after choosing a password: office access %q, want unfounded", got)
	}
	h.Found("clerk")
	if got := access(); got != "granted" {
		t.Errorf("the office's first member, once the custodians founded it: office access %q", got)
	}
}

// TestPendingAccountsAtTheEdges: a principal without keys yet cannot be
// put on the standing distribution (memos submitted meanwhile would pass
// them by, unseen); a choose-password form sent twice answers the second
// with a conflict, not an internal error.
func TestPendingAccountsAtTheEdges(t *testing.T) {
	d := servicetest.NewDeployment(t, storetest.OpenSQLite(t))
	if _, err := d.Svc.CreateUser(d.Ctx, d.Admin, service.NewUser{Username: "pat", DisplayName: "P", Email: "p@example.test",
		Password: servicetest.InitialPassword("pat"), Roles: []string{"principal"}}); err != nil {
		t.Fatal(err)
	}
	_, err := d.Svc.SetDistribution(d.Ctx, d.Admin, service.Distribution{Usernames: []string{"p1", "p2", "pat"}})
	wantCode(t, err, channel.EINVALID)

	var actors [2]*service.Actor
	for i := range actors {
		tok, _, err := d.Svc.SignIn(d.Ctx, "pat", servicetest.InitialPassword("pat"))
		if err != nil {
			t.Fatal(err)
		}
		actors[i] = d.Authenticate(tok)
	}
	if err := d.Svc.ChangePassword(d.Ctx, actors[0], servicetest.InitialPassword("pat"), "pat's first choice"); err != nil {
		t.Fatal(err)
	}
	err = d.Svc.ChangePassword(d.Ctx, actors[1], servicetest.InitialPassword("pat"), "pat's second choice")
	wantCode(t, err, channel.ECONFLICT)
	if _, err := d.Svc.SetDistribution(d.Ctx, d.Admin, service.Distribution{Usernames: []string{"p1", "p2", "pat"}}); err != nil {
		t.Errorf("the distribution once pat has keys: %v", err)
	}
}

// TestAccountNoticesReachTheUser: a password reset, new keys after it and a
// changed e-mail address are told to the account's own user, in the app
// and by e-mail when the deployment sends e-mail (the address change to
// the old address), so that someone taking the account over is seen by the
// person it belongs to. A user's first password of their own is not: they
// have just chosen it.
func TestAccountNoticesReachTheUser(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		d := servicetest.NewDeployment(t, st)
		cfg := d.Svc.Config()
		policy := service.DefaultReminders()
		policy.Email = true
		cfg.Reminders = &policy
		svc := d.WithConfig(cfg)
		db := st.(*sqlstore.DB)
		mailed := func(user, kind, to string) int {
			t.Helper()
			var n int
			if err := db.Raw().QueryRowContext(d.Ctx, db.Rebind(`SELECT COUNT(*) FROM notifications WHERE user_id = ? AND kind = ? AND email = ? AND email_state = 'pending'`), user, kind, to).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		p1 := d.Principals[0].User
		if n := mailed(p1.ID, service.KindNewKeys, p1.Email); n != 0 {
			t.Errorf("p1 was told of the keys of their own first password (%d)", n)
		}
		if err := svc.ResetPassword(d.Ctx, d.Admin, "p1", "temporary-password-1"); err != nil {
			t.Fatal(err)
		}
		if n := mailed(p1.ID, service.KindPasswordReset, p1.Email); n != 1 {
			t.Errorf("%d e-mails of the reset to p1, want 1", n)
		}
		locked := d.SignInOn(svc, "p1", "temporary-password-1")
		if err := svc.NewKeys(d.Ctx, locked, "temporary-password-1", "p1's own new phrase"); err != nil {
			t.Fatal(err)
		}
		if n := mailed(p1.ID, service.KindNewKeys, p1.Email); n != 1 {
			t.Errorf("%d e-mails of the new keys to p1, want 1", n)
		}
		other := "someone-else@example.test"
		if _, err := svc.UpdateUser(d.Ctx, d.Admin, "p1", service.UserUpdate{Email: &other}); err != nil {
			t.Fatal(err)
		}
		if n := mailed(p1.ID, service.KindEmailChanged, p1.Email); n != 1 {
			t.Errorf("%d e-mails of the address change to p1's old address, want 1", n)
		}
		bell, err := svc.Notifications(d.Ctx, d.SignInOn(svc, "p1", "p1's own new phrase"), 0)
		if err != nil {
			t.Fatal(err)
		}
		var kinds []string
		for _, n := range bell.Items {
			kinds = append(kinds, n.Kind)
		}
		for _, k := range []string{service.KindPasswordReset, service.KindNewKeys, service.KindEmailChanged} {
			if !slices.Contains(kinds, k) {
				t.Errorf("p1's bell %v lacks %s", kinds, k)
			}
		}
	})
}
