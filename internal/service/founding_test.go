package service_test

import (
	"strings"
	"testing"

	"github.com/dissent-channel/dissent/internal/channel"
	"github.com/dissent-channel/dissent/internal/service"
	"github.com/dissent-channel/dissent/internal/service/servicetest"
	"github.com/dissent-channel/dissent/internal/store"
	"github.com/dissent-channel/dissent/internal/store/storetest"
)

// TestNoSignInFoundsTheOffice: an administrator who signs in to the
// office's first account with the password they gave it, before its person
// does, and chooses a password of their own, makes that account's keys.
// Before, that founded the office to them, and every memo after with it.
// Now no sign-in founds it: the office waits for the custodians, and
// nothing is submitted meanwhile.
func TestNoSignInFoundsTheOffice(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		h := servicetest.New(t, st)
		if _, err := h.Svc.CreateUser(h.Ctx, h.Admin, service.NewUser{Username: "ruth", DisplayName: "Ruth", Email: "ruth@example.test",
			Password: servicetest.InitialPassword("ruth"), Roles: []string{"office"}}); err != nil {
			t.Fatal(err)
		}
		h.Enrol("ruth") // whoever knew the first password: here, the administrator
		taken := h.SignIn("ruth")
		if me, err := h.Svc.Me(h.Ctx, taken); err != nil {
			t.Fatal(err)
		} else if me.OfficeAccess != "unfounded" {
			t.Errorf("the office's first account after its first sign-in: office access %q, want unfounded", me.OfficeAccess)
		}
		if _, err := h.Svc.OfficeMembers(h.Ctx, taken); channel.ErrorCode(err) != channel.EFORBIDDEN {
			t.Errorf("the office's list before the founding: %v, want forbidden", err)
		}
		alice := h.Member("alice")
		m, err := h.Svc.CreateMemo(h.Ctx, alice, service.MemoInput{Title: "early", Body: "a view", Marking: "UNCLASSIFIED"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h.Svc.Sign(h.Ctx, alice, m.ID, m.Revision); err != nil {
			t.Fatal(err)
		}
		_, err = h.Svc.Submit(h.Ctx, alice, m.ID, m.Revision)
		wantCode(t, err, channel.ECONFLICT)
		if got, err := h.Svc.GetMemo(h.Ctx, alice, m.ID); err != nil || got.State != "draft" || got.Receipt != nil {
			t.Errorf("the memo after a submission refused for want of an office: %+v, %v", got, err)
		}
	})
}

// TestCustodiansFoundTheOffice: k custodians' shares and the fingerprint
// that the first member reads from their own account page found the
// office; anything less, or anyone else, is refused and founds nothing.
func TestCustodiansFoundTheOffice(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		h := servicetest.New(t, st)
		for _, u := range []struct {
			name  string
			roles []string
		}{{"ruth", []string{"office"}}, {"omar", []string{"office"}}, {"alice", []string{"member"}}, {"held", []string{"office"}}, {"gone", []string{"office"}}} {
			if _, err := h.Svc.CreateUser(h.Ctx, h.Admin, service.NewUser{Username: u.name, DisplayName: u.name, Email: u.name + "@example.test",
				Password: servicetest.InitialPassword(u.name), Roles: u.roles, Eligible: true}); err != nil {
				t.Fatal(err)
			}
		}
		for _, u := range []string{"ruth", "alice", "held", "gone"} {
			h.Enrol(u) // omar has not signed in yet: no keys
		}
		fp := func(u string) string {
			me, err := h.Svc.Me(h.Ctx, h.SignIn(u))
			if err != nil {
				t.Fatal(err)
			}
			return me.KeysFingerprint
		}
		ruth := fp("ruth")
		// Keys made again wait for the office's confirmation, which no one
		// can give yet.
		if err := h.Svc.ResetPassword(h.Ctx, h.Admin, "held", "temporary-password-1"); err != nil {
			t.Fatal(err)
		}
		if err := h.Svc.NewKeys(h.Ctx, h.SignInOn(h.Svc, "held", "temporary-password-1"), "temporary-password-1", "held's new phrase"); err != nil {
			t.Fatal(err)
		}
		heldMe, err := h.Svc.Me(h.Ctx, h.SignInOn(h.Svc, "held", "held's new phrase"))
		if err != nil {
			t.Fatal(err)
		}
		goneFP := fp("gone")
		if _, err := h.Svc.UpdateUser(h.Ctx, h.Admin, "gone", service.UserUpdate{Disabled: new(true)}); err != nil {
			t.Fatal(err)
		}
		other := servicetest.New(t, storetest.OpenSQLite(t)).Shares

		k := h.Shares[0].Threshold
		for _, c := range []struct {
			what, user, fingerprint, code string
			shares                        int
			foreign                       bool
		}{
			{"too few shares", "ruth", ruth, channel.EINVALID, k - 1, false},
			{"another deployment's shares", "ruth", ruth, channel.EINVALID, k, true},
			{"a fingerprint the member did not read", "ruth", fp("alice"), channel.EINVALID, k, false},
			{"a member, not of the office", "alice", fp("alice"), channel.EINVALID, k, false},
			{"an office member without keys yet", "omar", "0000 0000 0000 0000 0000", channel.EINVALID, k, false},
			{"an office member whose keys were made again", "held", heldMe.KeysFingerprint, channel.EINVALID, k, false},
			{"a disabled office member", "gone", goneFP, channel.EINVALID, k, false},
			{"no such account", "nobody", ruth, channel.ENOTFOUND, k, false},
			{"an administrator", "admin", fp("admin"), channel.EINVALID, k, false},
		} {
			shares := h.Shares[:c.shares]
			if c.foreign {
				shares = other[:c.shares]
			}
			if err := h.Svc.FoundOffice(h.Ctx, shares, c.user, c.fingerprint); channel.ErrorCode(err) != c.code {
				t.Errorf("%s: %v, want %s", c.what, err, c.code)
			}
			if me, err := h.Svc.Me(h.Ctx, h.SignIn("ruth")); err != nil || me.OfficeAccess != "unfounded" {
				t.Fatalf("after %s: ruth's office access %q (%v), want unfounded", c.what, me.OfficeAccess, err)
			}
		}

		// Spaces and case as typed do not matter.
		if err := h.Svc.FoundOffice(h.Ctx, h.Shares[1:1+k], "ruth", "  "+strings.ToUpper(ruth)); err != nil {
			t.Fatalf("the custodians found the office with ruth: %v", err)
		}
		d := &servicetest.Deployment{Harness: h, Office: h.SignIn("ruth")}
		if me, err := h.Svc.Me(h.Ctx, d.Office); err != nil || me.OfficeAccess != "granted" {
			t.Errorf("ruth once founded: %q (%v)", me.OfficeAccess, err)
		}
		m, _ := d.Submitted(h.SignIn("alice"), "after the founding")
		if _, err := h.Svc.Acknowledge(h.Ctx, d.Office, m.ID); err != nil {
			t.Errorf("the founder acknowledges a memo: %v", err)
		}
		err = h.Svc.FoundOffice(h.Ctx, h.Shares, "ruth", ruth)
		wantCode(t, err, channel.ECONFLICT)

		// Later members wait for the founder to let them in.
		h.Enrol("omar")
		if me, err := h.Svc.Me(h.Ctx, h.SignIn("omar")); err != nil || me.OfficeAccess != "pending" {
			t.Errorf("a second office member: %q (%v), want pending", me.OfficeAccess, err)
		}
		if err := h.Svc.FoundOffice(h.Ctx, h.Shares, "omar", fp("omar")); channel.ErrorCode(err) != channel.ECONFLICT {
			t.Errorf("founding the office again with another member: %v, want a conflict", err)
		}
		if err := h.Svc.GrantOffice(h.Ctx, d.Office, "omar"); err != nil {
			t.Errorf("the founder lets omar in: %v", err)
		}
	})
}
