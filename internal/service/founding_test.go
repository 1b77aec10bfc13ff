package service_test

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dissent-channel/dissent/internal/channel"
	"github.com/dissent-channel/dissent/internal/ledger"
	"github.com/dissent-channel/dissent/internal/service"
	"github.com/dissent-channel/dissent/internal/service/servicetest"
	"github.com/dissent-channel/dissent/internal/store"
	"github.com/dissent-channel/dissent/internal/store/sqlstore"
	"github.com/dissent-channel/dissent/internal/store/storetest"
	"github.com/dissent-channel/dissent/internal/vault"
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
			if _, err := h.Svc.FoundOffice(h.Ctx, shares, c.user, c.fingerprint); channel.ErrorCode(err) != c.code {
				t.Errorf("%s: %v, want %s", c.what, err, c.code)
			}
			if me, err := h.Svc.Me(h.Ctx, h.SignIn("ruth")); err != nil || me.OfficeAccess != "unfounded" {
				t.Fatalf("after %s: ruth's office access %q (%v), want unfounded", c.what, me.OfficeAccess, err)
			}
		}

		// Spaces and case as typed do not matter.
		if _, err := h.Svc.FoundOffice(h.Ctx, h.Shares[1:1+k], "ruth", "  "+strings.ToUpper(ruth)); err != nil {
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
		_, err = h.Svc.FoundOffice(h.Ctx, h.Shares, "ruth", ruth)
		wantCode(t, err, channel.ECONFLICT)

		// Later members wait for the founder to let them in.
		h.Enrol("omar")
		if me, err := h.Svc.Me(h.Ctx, h.SignIn("omar")); err != nil || me.OfficeAccess != "pending" {
			t.Errorf("a second office member: %q (%v), want pending", me.OfficeAccess, err)
		}
		if _, err := h.Svc.FoundOffice(h.Ctx, h.Shares, "omar", fp("omar")); channel.ErrorCode(err) != channel.ECONFLICT {
			t.Errorf("founding the office again with another member: %v, want a conflict", err)
		}
		if err := h.Svc.GrantOffice(h.Ctx, d.Office, "omar"); err != nil {
			t.Errorf("the founder lets omar in: %v", err)
		}
	})
}

// officeMember makes an office member who signs in and chooses their own
// password (keys made), without founding anything.
func officeMember(t *testing.T, h *servicetest.Harness, name string) {
	t.Helper()
	if _, err := h.Svc.CreateUser(h.Ctx, h.Admin, service.NewUser{Username: name, DisplayName: name, Email: name + "@example.test",
		Password: servicetest.InitialPassword(name), Roles: []string{"office"}}); err != nil {
		t.Fatal(err)
	}
	h.Enrol(name)
}

// TestFoundingsTakeTurns: two ceremonies at once on two nodes of one
// PostgreSQL database (or one run twice) found one office, not two, the
// second overwriting the first's key. (Review: helper-25.)
func TestFoundingsTakeTurns(t *testing.T) {
	for round := range 8 {
		nodes := storetest.OpenPostgresNodes(t, 2)
		h := servicetest.New(t, nodes[0])
		h2 := servicetest.Reopen(t, h, nodes[1])
		officeMember(t, h, "ruth")
		officeMember(t, h, "omar")
		fps := []string{fingerprint(t, h.Svc, h.SignIn("ruth")), fingerprint(t, h.Svc, h.SignIn("omar"))}
		// Warm both nodes' caches, as nodes that have been serving are.
		for _, n := range []*service.Service{h.Svc, h2.Svc} {
			if _, err := n.FoundOffice(h.Ctx, h.Shares, "ruth", "0000 0000 0000 0000 0000"); err == nil {
				t.Fatal("founded with a wrong fingerprint")
			}
		}
		var wg sync.WaitGroup
		errs := make([]error, 2)
		start := make(chan struct{})
		for i, n := range []*service.Service{h.Svc, h2.Svc} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				_, errs[i] = n.FoundOffice(h.Ctx, h.Shares, []string{"ruth", "omar"}[i], fps[i])
			}()
		}
		close(start)
		wg.Wait()
		if (errs[0] == nil) == (errs[1] == nil) {
			t.Fatalf("round %d: two ceremonies at once: %v and %v, want one founding and one conflict", round, errs[0], errs[1])
		}
		for _, err := range errs {
			if err != nil && channel.ErrorCode(err) != channel.ECONFLICT {
				t.Fatalf("round %d: the second ceremony: %v, want a conflict", round, err)
			}
		}
		founder := "ruth"
		if errs[0] != nil {
			founder = "omar"
		}
		if _, err := h.Svc.OfficeMembers(h.Ctx, h.SignIn(founder)); err != nil {
			t.Fatalf("round %d: the founder opens the office: %v", round, err)
		}
	}
}

// TestCustodiansGiveTheOfficeKey: when no member can let anyone in — the
// only one's keys were recovered and await the office's confirmation, or
// an administrator took the role away, deleting their copy of the key —
// the custodians give the office's key, which they open with their
// shares, to a member whose keys were made at the ceremony, and the office
// reads what was submitted before. (Review: helper-25.)
func TestCustodiansGiveTheOfficeKey(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		h := servicetest.New(t, st)
		officeMember(t, h, "ruth")
		h.Found("ruth")
		alice := h.Member("alice")
		m, _ := h.Submitted(alice, "before ruth forgot her password")
		if _, err := h.Svc.GrantOfficeByCustodians(h.Ctx, h.Shares, "ruth", fingerprint(t, h.Svc, h.SignIn("ruth"))); channel.ErrorCode(err) != channel.ECONFLICT {
			t.Errorf("the custodians give the key to a member who holds it: %v, want a conflict", err)
		}
		// Ruth forgets her password; the custodians recover her keys,
		// which then wait for an office that only she makes up.
		if err := h.Svc.ResetPassword(h.Ctx, h.Admin, "ruth", "temporary-password-1"); err != nil {
			t.Fatal(err)
		}
		if err := h.Svc.RecoverKeys(h.Ctx, h.Shares, "ruth", "ruth's own new phrase"); err != nil {
			t.Fatal(err)
		}
		ruth := h.SignInOn(h.Svc, "ruth", "ruth's own new phrase")
		if _, err := h.Svc.GrantOfficeByCustodians(h.Ctx, h.Shares, "ruth", fingerprint(t, h.Svc, ruth)); channel.ErrorCode(err) != channel.EINVALID {
			t.Errorf("the custodians give the key to keys awaiting confirmation: %v, want refused", err)
		}
		h.Clock.Advance(2 * time.Hour)
		officeMember(t, h, "omar") // at the ceremony
		omar := fingerprint(t, h.Svc, h.SignIn("omar"))
		if _, err := h.Svc.FoundOffice(h.Ctx, h.Shares, "omar", omar); channel.ErrorCode(err) != channel.ECONFLICT {
			t.Errorf("founding an office founded already: %v, want a conflict", err)
		}
		if _, err := h.Svc.GrantOfficeByCustodians(h.Ctx, h.Shares[:1], "omar", omar); channel.ErrorCode(err) != channel.EINVALID {
			t.Errorf("one share of two: %v, want refused", err)
		}
		if _, err := h.Svc.GrantOfficeByCustodians(h.Ctx, h.Shares, "omar", omar); err != nil {
			t.Fatalf("the custodians give the office's key to omar: %v", err)
		}
		if _, err := h.Svc.GetMemo(h.Ctx, h.SignIn("omar"), m.ID); err != nil {
			t.Errorf("omar reads a memo submitted before: %v", err)
		}
		h.Confirm(h.SignIn("omar"), ruth)
		if _, err := h.Svc.OfficeMembers(h.Ctx, h.SignInOn(h.Svc, "ruth", "ruth's own new phrase")); err != nil {
			t.Errorf("ruth, her keys confirmed, acts for the office again: %v", err)
		}

		// An administrator takes the role from every member and gives it
		// back: their copies of the key are gone.
		for _, who := range []string{"ruth", "omar"} {
			for _, roles := range [][]string{{"member"}, {"office"}} {
				if _, err := h.Svc.UpdateUser(h.Ctx, h.Admin, who, service.UserUpdate{Roles: &roles}); err != nil {
					t.Fatal(err)
				}
			}
		}
		h.Clock.Advance(2 * time.Hour)
		if _, err := h.Svc.GrantOfficeByCustodians(h.Ctx, h.Shares, "omar", omar); channel.ErrorCode(err) != channel.EINVALID {
			t.Errorf("the custodians give the key to keys made hours before the ceremony: %v, want refused", err)
		}
		officeMember(t, h, "nadia")
		if _, err := h.Svc.GrantOfficeByCustodians(h.Ctx, h.Shares, "nadia", fingerprint(t, h.Svc, h.SignIn("nadia"))); err != nil {
			t.Fatalf("the custodians give the office's key to nadia: %v", err)
		}
		if _, err := h.Svc.GetMemo(h.Ctx, h.SignIn("nadia"), m.ID); err != nil {
			t.Errorf("nadia reads a memo submitted before: %v", err)
		}
	})
}

// TestKeysMadeBeforeTheCeremony: an administrator signs in to the office's
// first account with the password they gave it, chooses another, which
// makes its keys, and hands the person that one. The person can sign in
// and read a fingerprint, but the keys were made before the ceremony:
// refused. (Review: helper-25; the custodians watch the first sign-in
// within the hour, OPERATIONS.)
func TestKeysMadeBeforeTheCeremony(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		h := servicetest.New(t, st)
		officeMember(t, h, "ruth") // the administrator's first sign-in
		h.Clock.Advance(ceremonyWindowForTests + time.Minute)
		made, err := h.Svc.FoundOffice(h.Ctx, h.Shares, "ruth", fingerprint(t, h.Svc, h.SignIn("ruth")))
		if channel.ErrorCode(err) != channel.EINVALID || !strings.Contains(err.Error(), "before the ceremony") {
			t.Fatalf("founding with keys made an hour before: %v, want refused", err)
		}
		if !made.Equal(servicetest.Start) {
			t.Errorf("the keys were made at %v, reported %v", servicetest.Start, made)
		}
		if me, err := h.Svc.Me(h.Ctx, h.SignIn("ruth")); err != nil || me.OfficeAccess != "unfounded" {
			t.Errorf("after the refusal: %q, %v", me.OfficeAccess, err)
		}
	})
}

// ceremonyWindowForTests is service.ceremonyWindow.
const ceremonyWindowForTests = time.Hour

// TestOfficeKeyTamperedBeforeTheCeremony: a key planted in office.public
// without an anchor is not taken for a founded office, and settings
// deleted after the founding do not pass for an office still to found:
// both are refused as tampering. (Review: helper-25.)
func TestOfficeKeyTamperedBeforeTheCeremony(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		h := servicetest.New(t, st)
		r := anchorRig{Deployment: &servicetest.Deployment{Harness: h}, t: t, db: st.(*sqlstore.DB)}
		officeMember(t, h, "ruth")
		evil, err := vault.NewIdentity()
		if err != nil {
			t.Fatal(err)
		}
		r.exec(`INSERT INTO settings (name, value) VALUES (?, ?)`, "office.public", []byte(evil.Public().Box))
		if _, err := h.Svc.FoundOffice(h.Ctx, h.Shares, "ruth", fingerprint(t, h.Svc, h.SignIn("ruth"))); !errors.Is(err, service.ErrNotAnchored) {
			t.Errorf("a ceremony beside an office key planted in the database: %v, want refused as tampering", err)
		}
	})
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		d := servicetest.NewDeployment(t, st)
		r := anchorRig{Deployment: d, t: t, db: st.(*sqlstore.DB)}
		alice := d.Member("alice")
		d.Submitted(alice, "before")
		r.exec(`DELETE FROM settings WHERE name IN ('office.public', 'office.anchor', 'office.public.recovery')`)
		id := signedMemo(t, d.Harness, d.Svc, alice)
		if _, err := d.Svc.Submit(d.Ctx, alice, id, 1); !errors.Is(err, service.ErrNotAnchored) {
			t.Errorf("a submission after the office's key was deleted: %v, want refused as tampering", err)
		}
		if _, err := d.Svc.FoundOffice(d.Ctx, d.Shares, "office", "0000 0000 0000 0000 0000"); !errors.Is(err, service.ErrNotAnchored) {
			t.Errorf("a ceremony after the office's key was deleted: %v, want refused as tampering", err)
		}
	})
}

// TestKeysMadeAtOnTheAccountPage: a person's account page says when their
// keys were made, read from the ledger entry that anchors them: the moment
// they first chose their own password, or made new keys. A person who
// finds a time before their first sign-in learns that someone else chose
// a password first, and holds their keys.
func TestKeysMadeAtOnTheAccountPage(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		h := servicetest.New(t, st)
		if _, err := h.Svc.CreateUser(h.Ctx, h.Admin, service.NewUser{Username: "amy", DisplayName: "Amy", Email: "amy@example.test",
			Password: servicetest.InitialPassword("amy"), Roles: []string{"member"}, Eligible: true}); err != nil {
			t.Fatal(err)
		}
		madeAt := func(a *service.Actor) time.Time {
			t.Helper()
			me, err := h.Svc.Me(h.Ctx, a)
			if err != nil {
				t.Fatal(err)
			}
			if me.KeysMadeAt == nil {
				t.Fatal("no keys_made_at on the account page")
			}
			return *me.KeysMadeAt
		}
		if me, err := h.Svc.Me(h.Ctx, h.SignInOn(h.Svc, "amy", servicetest.InitialPassword("amy"))); err != nil || me.KeysMadeAt != nil {
			t.Errorf("before the first password of their own: keys made at %v (%v), want none", me.KeysMadeAt, err)
		}
		h.Clock.Advance(2 * time.Hour)
		first := h.Clock.Now()
		h.Enrol("amy")
		if got := madeAt(h.SignIn("amy")); !got.Equal(first) {
			t.Errorf("keys made at %v, want the first sign-in at %v", got, first)
		}
		h.Clock.Advance(24 * time.Hour)
		if err := h.Svc.ResetPassword(h.Ctx, h.Admin, "amy", "temporary-password-1"); err != nil {
			t.Fatal(err)
		}
		if err := h.Svc.NewKeys(h.Ctx, h.SignInOn(h.Svc, "amy", "temporary-password-1"), "temporary-password-1", "amy's new phrase"); err != nil {
			t.Fatal(err)
		}
		if got := madeAt(h.SignInOn(h.Svc, "amy", "amy's new phrase")); !got.Equal(h.Clock.Now()) {
			t.Errorf("new keys made at %v, want %v", got, h.Clock.Now())
		}
	})
}

// allLeaves returns the ledger's leaves as stored, oldest first, with
// their encodings.
func allLeaves(t *testing.T, st store.Store) ([]ledger.Leaf, [][]byte) {
	t.Helper()
	rows, err := st.(*sqlstore.DB).Raw().QueryContext(t.Context(), `SELECT data FROM ledger_leaves ORDER BY idx`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []ledger.Leaf
	var raw [][]byte
	for rows.Next() {
		var data []byte
		if err := rows.Scan(&data); err != nil {
			t.Fatal(err)
		}
		l, err := ledger.DecodeLeaf(data)
		if err != nil {
			t.Fatal(err)
		}
		out, raw = append(out, l), append(raw, data)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out, raw
}

// systemEntries returns the actions of the ledger's entries by the system
// that name subject, oldest first.
func systemEntries(t *testing.T, st store.Store, subject string) []string {
	t.Helper()
	var out []string
	leaves, _ := allLeaves(t, st)
	for _, l := range leaves {
		if l.Role == ledger.RoleSystem && l.Subject == subject {
			out = append(out, l.Action)
		}
	}
	return out
}

// TestCeremoniesHaveTheirOwnEntries: a founding by the custodians, and
// their giving the office's key, are recorded as such (office.found,
// office.custodians_grant), so that an auditor tells them from a founding
// at a first sign-in, which recorded an office.grant by the system.
func TestCeremoniesHaveTheirOwnEntries(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		h := servicetest.New(t, st)
		officeMember(t, h, "ruth")
		h.Found("ruth")
		if got, want := systemEntries(t, st, h.SignIn("ruth").User.ID), []string{"office.found"}; !slices.Equal(got, want) {
			t.Errorf("the founding's entries naming ruth: %q, want %q", got, want)
		}
		roles := []string{"member"}
		if _, err := h.Svc.UpdateUser(h.Ctx, h.Admin, "ruth", service.UserUpdate{Roles: &roles}); err != nil {
			t.Fatal(err)
		}
		h.Clock.Advance(2 * time.Hour)
		officeMember(t, h, "omar")
		omar := h.SignIn("omar")
		if _, err := h.Svc.GrantOfficeByCustodians(h.Ctx, h.Shares, "omar", fingerprint(t, h.Svc, omar)); err != nil {
			t.Fatal(err)
		}
		if got, want := systemEntries(t, st, omar.User.ID), []string{"office.custodians_grant"}; !slices.Equal(got, want) {
			t.Errorf("the custodians' grant's entries naming omar: %q, want %q", got, want)
		}
	})
}
