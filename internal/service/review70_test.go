package service_test

// Review 70: races between two app nodes on PostgreSQL (READ COMMITTED)
// in which a write transaction reads an account, and wraps a memo's key to
// it, while another node makes that account an administrator. The same
// class as TestAnOfficeGrantRacingARoleChange (review 61), which holdAccount
// fixed for GrantOffice only: an administrator holds the database and their
// own password, so any wrap of a memo key to their keys is a memo they can
// read (THREAT-MODEL, "A curious administrator": no key they hold unwraps
// a memo key; no account is both an administrator and a principal, or an
// administrator and a member who may file or be asked to sign). In each
// race the ledger records the account made an administrator first and the
// memo given to it after: no serial order of the two requests gives that.

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/dissent-channel/dissent/internal/service"
	"github.com/dissent-channel/dissent/internal/service/servicetest"
	"github.com/dissent-channel/dissent/internal/store"
	"github.com/dissent-channel/dissent/internal/store/storetest"
)

// review70MakeAdmin makes username an administrator (and nothing else) on
// node A, as the hook's interleaving.
func review70MakeAdmin(t *testing.T, d *servicetest.Deployment, username string) {
	t.Helper()
	roles := []string{"admin"}
	if _, err := d.Svc.UpdateUser(d.Ctx, d.Admin, username, service.UserUpdate{Roles: &roles}); err != nil {
		t.Errorf("making %s an administrator on node A: %v", username, err)
	}
}

// review70Access reports the wraps of memoID to userID now in the database,
// by key version, and the user's roles.
func review70Access(t *testing.T, d *servicetest.Deployment, memoID, username string) (versions []int, roles []string) {
	t.Helper()
	tx, err := d.Store.Begin(d.Ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	u, err := tx.UserByUsername(d.Ctx, username)
	if err != nil {
		t.Fatal(err)
	}
	list, err := tx.AccessList(d.Ctx, memoID)
	if err != nil {
		t.Fatal(err)
	}
	for _, acc := range list {
		if acc.Grantee == u.ID {
			versions = append(versions, acc.KeyVersion)
		}
	}
	return versions, u.Roles
}

// review70NoWrapToAdmin checks, after a step that raced username's being
// made an administrator on node A, that the interleaving happened and that
// the administrator holds no wrap of memoID (err is what the step said).
func review70NoWrapToAdmin(t *testing.T, d *servicetest.Deployment, fired bool, memoID, username string, err error) {
	t.Helper()
	if !fired {
		t.Fatal("the interleaving did not happen")
	}
	if versions, roles := review70Access(t, d, memoID, username); slices.Contains(roles, "admin") && len(versions) > 0 {
		t.Errorf("%s, an administrator now (roles %v), holds the memo's key (versions %v); the step answered %v, want a conflict or a refusal", username, roles, versions, err)
	}
}

func review70MailCount(t *testing.T, d *servicetest.Deployment) int {
	t.Helper()
	tx, err := d.Store.Begin(d.Ctx, false)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	ms, err := tx.MailSince(d.Ctx, 0, "", 10000)
	if err != nil {
		t.Fatal(err)
	}
	return len(ms)
}

// TestReview70AddReadersRacingARoleChange (delivery.go, AddReaders): on
// node B the office adds p3, a confirmed principal, to a memo; between its
// reading p3's account (a principal, not an administrator) and its writing
// the memo's key wrapped to p3, an administrator on node A makes p3 an
// administrator. AddReaders does not write p3's row back under its version
// (holdAccount) and the role change takes the ledger's lock only after
// B's read, so both commit: an administrator holds a wrap of a memo they
// never had, which their own password and the database open.
func TestReview70AddReadersRacingARoleChange(t *testing.T) {
	d, h2, hooked := raceNodes(t)
	d.Principal("p3")
	m := submitted(t, d, d.Member("alice"), "added to a reader made administrator")
	office2 := h2.SignIn("office")

	fired := false
	hooked.onUsersByUsernames = func(names []string, write bool) bool {
		if !write || !slices.Contains(names, "p3") {
			return false
		}
		fired = true
		review70MakeAdmin(t, d, "p3")
		return true
	}
	_, err := h2.Svc.AddReaders(context.Background(), office2, m.ID, service.ReadersInput{Usernames: []string{"p3"}, Reason: "p3 should see this"})
	review70NoWrapToAdmin(t, d, fired, m.ID, "p3", err)
}

// TestReview70SubmissionRacingARoleChange (delivery.go, Submit and
// distribution): alice submits on node B; between its reading the standing
// distribution's accounts (p1 a confirmed principal) and its wrapping the
// memo's key to them, an administrator on node A makes p1 an
// administrator. distributionUnchanged re-reads the settings only, not
// the principals' rows, so the memo goes out wrapped to an administrator.
func TestReview70SubmissionRacingARoleChange(t *testing.T) {
	d, h2, hooked := raceNodes(t)
	m := circulate(t, d, d.Member("alice"), "submitted while p1 becomes administrator", true)
	p1 := d.Principals[0]
	alice2 := h2.SignIn("alice")

	fired := false
	hooked.onUsersByIDs = func(ids []string, write bool) bool {
		// distribution's read of the standing distribution's accounts.
		if !write || !slices.Contains(ids, p1.User.ID) {
			return false
		}
		fired = true
		review70MakeAdmin(t, d, "p1")
		return true
	}
	_, err := h2.Svc.Submit(context.Background(), alice2, m.ID, m.Revision)
	review70NoWrapToAdmin(t, d, fired, m.ID, "p1", err)
}

// TestReview70RotationRacingARoleChange (delivery.go, rotate): the office
// removes p2 from a memo on node B, which rotates its key to the remaining
// readers; between rotate's reading p1's account (a principal) and its
// wrapping the new key version to p1, an administrator on node A makes p1
// an administrator. rotate's own rule ("an account that is not one now (an
// administrator...) gets no new key") is broken: the new version, which
// seals everything written from now on, is wrapped to an administrator.
func TestReview70RotationRacingARoleChange(t *testing.T) {
	d, h2, hooked := raceNodes(t)
	m := submitted(t, d, d.Member("alice"), "rotated while p1 becomes administrator")
	p1 := d.Principals[0]
	office2 := h2.SignIn("office")

	fired := false
	hooked.onUserByID = func(id string, write bool) bool {
		if !write || id != p1.User.ID {
			return false
		}
		fired = true
		review70MakeAdmin(t, d, "p1")
		return true
	}
	_, err := h2.Svc.RevokeReader(context.Background(), office2, m.ID, "p2", "not for p2")
	review70NoWrapToAdmin(t, d, fired, m.ID, "p1", err)
}

// TestReview70InvitationRacingARoleChange (memos.go, participants and
// InviteSigners): alice asks bob to co-sign on node B; between its reading
// bob's account (a member who may file) and its mailing him the memo's
// key, an administrator on node A makes bob an administrator. The
// invitation goes out: the roster names an administrator as a signer and
// the memo's key is mailed to his keys, which THREAT-MODEL says never
// happens ("a colleague asking it to co-sign would have handed it the
// memo": the text and who wrote it).
func TestReview70InvitationRacingARoleChange(t *testing.T) {
	d, h2, hooked := raceNodes(t)
	alice := d.Member("alice")
	d.Member("bob")
	m, err := d.Svc.CreateMemo(d.Ctx, alice, service.MemoInput{Title: "bob asked as he becomes administrator", Body: "b", Marking: "UNCLASSIFIED"})
	if err != nil {
		t.Fatal(err)
	}
	alice2 := h2.SignIn("alice")
	mailBefore := review70MailCount(t, d)

	fired := false
	hooked.onUsersByUsernames = func(names []string, write bool) bool {
		if !write || !slices.Contains(names, "bob") {
			return false
		}
		fired = true
		review70MakeAdmin(t, d, "bob")
		return true
	}
	_, err = h2.Svc.InviteSigners(context.Background(), alice2, m.ID, []string{"bob"})
	if !fired {
		t.Fatal("the interleaving did not happen")
	}
	seen, gerr := d.Svc.GetMemo(d.Ctx, alice, m.ID)
	if gerr != nil {
		t.Fatal(gerr)
	}
	named := slices.ContainsFunc(seen.Authors, func(a service.Author) bool { return a.Username == "bob" })
	mailed := review70MailCount(t, d) - mailBefore
	if named || mailed > 0 {
		t.Errorf("bob, an administrator now, was asked to co-sign (in the roster: %v; mails posted: %d); InviteSigners answered %v, want a conflict or a refusal", named, mailed, err)
	}
	if err != nil && !errors.Is(err, store.ErrConflict) {
		t.Logf("InviteSigners: %v", err)
	}
}

// TestReview70SubmissionRacingNewKeysLosesTheMemo (delivery.go, Submit and
// distribution; account.go, NewKeys): alice submits on node B. After its
// reading p1's account (confirmed keys K1) and finding p1 not held, p1's
// password is reset on node A and p1 starts afresh there (new keys K2,
// awaiting the office's confirmation; NewKeys deletes what was wrapped to
// K1). B's submission, which re-reads the withheld principals and the
// settings but not the principals it wraps to, then commits the memo
// wrapped to K1, keys p1 no longer has, after p1's new keys in the
// ledger. It is not recorded as withheld, so the office's confirmation of
// K2 does not share it ("Memos submitted meanwhile are named in their
// sealed ledger entries and shared at the confirmation"), and the office
// cannot add p1 either ("already reads this memo"): p1, on the standing
// distribution, never gets the memo.
func TestReview70SubmissionRacingNewKeysLosesTheMemo(t *testing.T) {
	d, h2, hooked := raceNodes(t)
	m := circulate(t, d, d.Member("alice"), "submitted while p1 starts afresh", true)
	p1 := d.Principals[0]
	alice2 := h2.SignIn("alice")

	seen, fired := false, false
	hooked.onUsersByIDs = func(ids []string, write bool) bool {
		if !write {
			return false
		}
		if !seen {
			// distribution's read of the standing distribution's accounts;
			// principalHeld follows it, then the next read (vouchAuthors).
			seen = slices.Contains(ids, p1.User.ID)
			return false
		}
		fired = true
		if err := d.Svc.ResetPassword(d.Ctx, d.Admin, "p1", "temporary-password-1"); err != nil {
			t.Errorf("resetting p1's password on node A: %v", err)
			return true
		}
		reset := d.SignInOn(d.Svc, "p1", "temporary-password-1")
		if err := d.Svc.NewKeys(d.Ctx, reset, "temporary-password-1", "p1's own fresh phrase"); err != nil {
			t.Errorf("p1 starting afresh on node A: %v", err)
		}
		return true
	}
	if _, err := h2.Svc.Submit(context.Background(), alice2, m.ID, m.Revision); err != nil {
		t.Logf("Submit: %v", err)
	}
	if !fired {
		t.Fatal("the interleaving did not happen")
	}
	// p1 reads their new fingerprint to the office, which confirms it.
	p1new := d.SignInOn(d.Svc, "p1", "p1's own fresh phrase")
	d.Confirm(d.Office, p1new)
	p1new = d.SignInOn(d.Svc, "p1", "p1's own fresh phrase")
	if _, err := d.Svc.GetMemo(d.Ctx, p1new, m.ID); err != nil {
		_, addErr := d.Svc.AddReaders(d.Ctx, d.Office, m.ID, service.ReadersInput{Usernames: []string{"p1"}, Reason: "p1 missed it"})
		t.Errorf("p1, on the standing distribution, whose new keys the office confirmed, cannot open a memo submitted as they started afresh: %v (the office adding p1: %v)", err, addErr)
	}
}

// TestAPrincipalMadeAnAdministratorKeepsNoWrap (users.go, UpdateUser;
// review 70's note): an administrator holds no key to a memo, but a
// principal made an administrator kept the wraps made to them, which
// their own password and a copy of the database open.
func TestAPrincipalMadeAnAdministratorKeepsNoWrap(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		d := servicetest.NewDeployment(t, st)
		m, _ := d.Submitted(d.Member("alice"), "read by p1")
		if versions, _ := review70Access(t, d, m.ID, "p1"); len(versions) == 0 {
			t.Fatal("the memo was not wrapped to p1")
		}
		review70MakeAdmin(t, d, "p1")
		if versions, roles := review70Access(t, d, m.ID, "p1"); len(versions) > 0 {
			t.Errorf("p1, now %v, still holds wraps of key versions %v", roles, versions)
		}
	})
}
