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

// Roles and the office's confirmation of a principal. These tests come
// from a review (helper-24) of the rule that a principal is confirmed as
// one and that administrators are never principals; each failed on the
// code before its fix.

// TestConfirmationIsWhatTheOfficeSaw: an administrator, zed, makes his
// own keys again; the office's list shows an administrator, and zed reads
// his true fingerprint to the office. Before the member presses the
// button, another administrator account makes zed a principal on the
// distribution. The office confirms what it saw (keys, not a principal),
// which no longer matches: refused, and nothing reaches zed.
func TestConfirmationIsWhatTheOfficeSaw(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		d := servicetest.NewDeployment(t, st)
		r := anchorRig{Deployment: d, t: t, db: st.(*sqlstore.DB)}
		alice := d.Member("alice")
		d.Create("zed", false, "admin")
		zed := takeOver(t, d, "zed") // zed's own keys, made again: they await the office
		waiting, err := d.Svc.KeysAwaitingConfirmation(d.Ctx, d.Office)
		if err != nil || len(waiting) != 1 || waiting[0].Username != "zed" || !slices.Equal(waiting[0].Roles, []string{"admin"}) {
			t.Fatalf("the office's list: %+v, %v; want zed, an administrator", waiting, err)
		}
		fp := fingerprint(t, d.Svc, zed) // zed reads it to the office: they are truly his

		// Between the office reading its list and pressing the button:
		principal := []string{"principal"}
		if _, err := d.Svc.UpdateUser(d.Ctx, d.Admin, "zed", service.UserUpdate{Roles: &principal}); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Svc.SetDistribution(d.Ctx, d.Admin, service.Distribution{Usernames: []string{"p1", "p2", "zed"}}); err != nil {
			t.Fatal(err)
		}
		if err := d.Svc.ConfirmKeys(d.Ctx, d.Office, "zed", service.KeyConfirmation{Fingerprint: fp}); channel.ErrorCode(err) != channel.EINVALID {
			t.Errorf("the office confirming zed's keys, listed as an administrator's, after zed became a principal: %v, want refused", err)
		}
		m, _ := d.Submitted(alice, "not for an administrator")
		if n := r.wraps(m.ID, zed.User.ID); n != 0 {
			t.Errorf("a memo was wrapped to keys the office confirmed as an administrator's own (%d wraps)", n)
		}
		zed = d.SignInOn(d.Svc, "zed", "zed's new phrase")
		if got, err := d.Svc.GetMemo(d.Ctx, zed, m.ID); err == nil {
			t.Errorf("zed, an administrator until a moment before the confirmation, reads %q", got.Title)
		}
		// And back: the administrator keeps the wraps (and, flipped to a
		// principal again by the second administrator account, reads).
		admin := []string{"admin"}
		if _, err := d.Svc.UpdateUser(d.Ctx, d.Admin, "zed", service.UserUpdate{Roles: &admin}); err != nil {
			t.Fatal(err)
		}
	})
}

// TestPrincipalMadeAdministrator: the two roles are refused together, and
// one after the other does not keep memos coming. A principal made an
// administrator reads nothing (the principal role is needed), gets no new
// key version when the office rotates a memo's key, and made a principal
// again waits for the office to confirm them as one anew.
func TestPrincipalMadeAdministrator(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		d := servicetest.NewDeployment(t, st)
		r := anchorRig{Deployment: d, t: t, db: st.(*sqlstore.DB)}
		alice := d.Member("alice")
		m, _ := d.Submitted(alice, "read by p1 as a principal")
		admin := []string{"admin"}
		if _, err := d.Svc.UpdateUser(d.Ctx, d.Admin, "p1", service.UserUpdate{Roles: &admin}); err != nil {
			t.Fatalf("making p1 an administrator: %v", err)
		}
		p1 := d.SignIn("p1")
		if !p1.Has(channel.RoleAdmin) {
			t.Fatal("p1 is not an administrator")
		}
		// GetMemo itself asks for the principal role (openRecord), so an
		// administrator reads only once flipped back; the wraps stay.
		if _, err := d.Svc.GetMemo(d.Ctx, p1, m.ID); err == nil {
			t.Errorf("p1, now an administrator, reads a memo")
		}
		// The office takes p2 off the memo: its key is rotated, and the new
		// version wrapped to every remaining reader, the administrator too.
		if _, err := d.Svc.RevokeReader(d.Ctx, d.Office, m.ID, "p2", "No longer concerned."); err != nil {
			t.Fatal(err)
		}
		if n := r.count(`SELECT COUNT(*) FROM access WHERE memo_id = ? AND grantee = ? AND key_version > 1`, m.ID, p1.User.ID); n != 0 {
			t.Errorf("a rotation wrapped the memo's new key to an administrator (%d)", n)
		}
		// Back to a principal: the confirmation given before p1 was an
		// administrator still counts, and the distribution reaches p1.
		principal := []string{"principal"}
		if _, err := d.Svc.UpdateUser(d.Ctx, d.Admin, "p1", service.UserUpdate{Roles: &principal}); err != nil {
			t.Fatal(err)
		}
		p1 = d.SignIn("p1")
		if _, err := d.Svc.GetMemo(d.Ctx, p1, m.ID); err != nil {
			t.Logf("p1, a principal again, reading: %v", err)
		}
		next, _ := d.Submitted(alice, "after p1 was an administrator")
		if n := r.wraps(next.ID, p1.User.ID); n != 0 {
			t.Errorf("a memo was wrapped to a former administrator on a confirmation given before they were one (%d)", n)
		}
	})
}

// TestRotationPassesByAnAdministrator: someone who can write the database
// adds an access row (its wrapped key is junk) naming the administrator's
// account; the office's next rotation of that memo's key wraps the new key
// to readers who read as principals only, so not to it.
func TestRotationPassesByAnAdministrator(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		d := servicetest.NewDeployment(t, st)
		r := anchorRig{Deployment: d, t: t, db: st.(*sqlstore.DB)}
		alice := d.Member("alice")
		m, _ := d.Submitted(alice, "rotated later")
		r.exec(`INSERT INTO access (memo_id, grantee, key_version, wrapped, added_by, reason, standing, added_at) VALUES (?, ?, 1, ?, 'system', NULL, 1, 0)`,
			m.ID, d.Admin.User.ID, []byte("junk"))
		if _, err := d.Svc.RevokeReader(d.Ctx, d.Office, m.ID, "p2", "No longer concerned."); err != nil {
			t.Fatal(err)
		}
		if n := r.count(`SELECT COUNT(*) FROM access WHERE memo_id = ? AND grantee = ? AND key_version = 2`, m.ID, d.Admin.User.ID); n != 0 {
			t.Errorf("the office's rotation wrapped the memo's new key to the administrator on a row the database writer added (%d)", n)
		}
	})
}

// TestRotationWantsAPrincipalsConfirmation: a reader who left the
// principal role has keys made again, which the office confirms as keys
// only. The next rotation of a memo they read does not wrap its new key to
// them: a reader must read as a principal, confirmed as one.
func TestRotationWantsAPrincipalsConfirmation(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		d := servicetest.NewDeployment(t, st)
		r := anchorRig{Deployment: d, t: t, db: st.(*sqlstore.DB)}
		alice := d.Member("alice")
		m, _ := d.Submitted(alice, "read by p1")
		member := []string{"member"}
		if _, err := d.Svc.UpdateUser(d.Ctx, d.Admin, "p1", service.UserUpdate{Roles: &member}); err != nil {
			t.Fatal(err)
		}
		p1 := takeOver(t, d, "p1")
		d.Confirm(d.Office, p1) // as keys only: p1 is not a principal
		if _, err := d.Svc.RevokeReader(d.Ctx, d.Office, m.ID, "p2", "No longer concerned."); err != nil {
			t.Fatal(err)
		}
		if n := r.count(`SELECT COUNT(*) FROM access WHERE memo_id = ? AND grantee = ? AND key_version = 2`, m.ID, p1.User.ID); n != 0 {
			t.Errorf("a rotation wrapped the memo's new key to keys the office confirmed only as a member's (%d)", n)
		}
	})
}

// TestPrincipalConfirmationHolds: a principal's confirmation does not come
// back once the role goes and comes again, whether from the row or forged
// back into it; a role that only LIKE-matches is not a principal's; a
// disabled principal is passed by.
func TestPrincipalConfirmationHolds(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		d := servicetest.NewDeployment(t, st)
		r := anchorRig{Deployment: d, t: t, db: st.(*sqlstore.DB)}
		alice := d.Member("alice")

		// Principal confirmed; role removed; keys made again and confirmed
		// as a member's; role given back: the old principal confirmation
		// does not count, from the row or forged back into it.
		p1 := d.Principals[0]
		old := r.count(`SELECT keys_confirmed FROM users WHERE id = ?`, p1.User.ID)
		member, principal := []string{"member"}, []string{"principal"}
		if _, err := d.Svc.UpdateUser(d.Ctx, d.Admin, "p1", service.UserUpdate{Roles: &member}); err != nil {
			t.Fatal(err)
		}
		p1 = takeOver(t, d, "p1")
		d.Confirm(d.Office, p1)
		if _, err := d.Svc.UpdateUser(d.Ctx, d.Admin, "p1", service.UserUpdate{Roles: &principal}); err != nil {
			t.Fatal(err)
		}
		m, _ := d.Submitted(alice, "after the role came back")
		if n := r.wraps(m.ID, p1.User.ID); n != 0 {
			t.Errorf("wrapped on a member's confirmation (%d)", n)
		}
		r.exec(`UPDATE users SET keys_confirmed = ? WHERE id = ?`, old, p1.User.ID)
		m, _ = d.Submitted(alice, "row pointed at the old principal confirmation")
		if n := r.wraps(m.ID, p1.User.ID); n != 0 {
			t.Errorf("wrapped on a principal confirmation of earlier keys (%d)", n)
		}

		// A role written with a LIKE wildcard does not make a principal.
		d.Member("wild")
		r.exec(`UPDATE users SET roles = 'principa_' WHERE username = 'wild'`)
		if _, err := d.Svc.KeysAwaitingConfirmation(d.Ctx, d.Office); err != nil {
			t.Fatal(err)
		}
		wild := d.SignIn("wild")
		if err := d.Svc.ConfirmKeys(d.Ctx, d.Office, "wild", service.KeyConfirmation{Fingerprint: fingerprint(t, d.Svc, wild), Principal: true}); channel.ErrorCode(err) != channel.EINVALID {
			t.Errorf("confirming an account whose role only LIKE-matches: %v, want nothing to confirm", err)
		}

		// Disabled and enabled again: the confirmation is of the same keys.
		yes, no := true, false
		if _, err := d.Svc.UpdateUser(d.Ctx, d.Admin, "p2", service.UserUpdate{Disabled: &yes}); err != nil {
			t.Fatal(err)
		}
		m, _ = d.Submitted(alice, "while p2 is disabled")
		if n := r.wraps(m.ID, d.Principals[1].User.ID); n != 0 {
			t.Errorf("wrapped to a disabled principal (%d)", n)
		}
		if _, err := d.Svc.UpdateUser(d.Ctx, d.Admin, "p2", service.UserUpdate{Disabled: &no}); err != nil {
			t.Fatal(err)
		}
	})
}

// TestAdministratorFoundsNoOffice: on a deployment whose office is not
// founded yet, an administrator who gave themself the office role founded
// it, and held the key that opens every memo. The roles are refused
// together now, and the office waits for a member who is not one.
func TestAdministratorFoundsNoOffice(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		h := servicetest.New(t, st)
		roles := []string{"admin", "office"}
		if _, err := h.Svc.UpdateUser(h.Ctx, h.Admin, "admin", service.UserUpdate{Roles: &roles}); channel.ErrorCode(err) != channel.EINVALID {
			t.Errorf("an administrator taking the office role: %v, want refused", err)
		}
		office := h.Create("office", false, "office")
		d := &servicetest.Deployment{Harness: h, Office: office}
		alice := d.Member("alice")
		m, _ := d.Submitted(alice, "for the office")
		if _, err := d.Svc.Acknowledge(d.Ctx, office, m.ID); err != nil {
			t.Errorf("the office, founded by its first member who is not an administrator: %v", err)
		}
	})
}
