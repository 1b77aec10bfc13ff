package service_test

import (
	"testing"

	"github.com/dissent-channel/dissent/internal/channel"
	"github.com/dissent-channel/dissent/internal/service"
	"github.com/dissent-channel/dissent/internal/service/servicetest"
	"github.com/dissent-channel/dissent/internal/store"
	"github.com/dissent-channel/dissent/internal/store/storetest"
)

// TestReview62PrincipalStartedAfreshKeepsAWorkingReadingRoom: a principal
// read a memo; their password is reset and they start afresh with new
// keys (which, by design, open no memo shared with the old ones), and the
// office confirms the new keys. The memo shared with the old keys must
// then be, to them, a memo they may not see: 404 like any other, left out
// of their reading room. Today the old wrap, which their new keys cannot
// open, is taken for a way in: opening the memo is an internal error
// (500), and so is their whole reading room, even the memos shared with
// their new keys since.
func TestReview62PrincipalStartedAfreshKeepsAWorkingReadingRoom(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		d := servicetest.NewDeployment(t, st)
		alice := d.Member("alice")
		old, _ := d.Submitted(alice, "read by p1 under the old keys")
		if _, err := d.Svc.GetMemo(d.Ctx, d.Principals[0], old.ID); err != nil {
			t.Fatalf("p1 reads the memo: %v", err)
		}
		p1 := takeOver(t, d, "p1")
		d.Confirm(d.Office, p1)
		p1 = d.SignInOn(d.Svc, "p1", "p1's new phrase")
		fresh, _ := d.Submitted(alice, "shared with p1's new keys")

		if _, err := d.Svc.GetMemo(d.Ctx, p1, old.ID); channel.ErrorCode(err) != channel.ENOTFOUND {
			t.Errorf("p1, with new keys, opening the memo shared with the old ones: %v (code %q), want not found, as for a memo that does not exist", err, channel.ErrorCode(err))
		}
		if _, err := d.Svc.GetMemo(d.Ctx, p1, fresh.ID); err != nil {
			t.Errorf("p1 opening the memo shared with the new keys: %v", err)
		}
		page, err := d.Svc.ListMemos(d.Ctx, p1, service.BoxDistribution, nil, "", 50)
		if err != nil {
			t.Fatalf("p1's reading room after starting afresh: %v, want it listed (with the memo shared with the new keys)", err)
		}
		found := false
		for _, it := range page.Items {
			found = found || it.ID == fresh.ID
		}
		if !found {
			t.Errorf("p1's reading room does not list the memo shared with the new keys: %+v", page.Items)
		}
		// "until someone entitled shares them again" (OPERATIONS.md):
		// the office can, and p1 then reads it with the new keys.
		if _, err := d.Svc.AddReaders(d.Ctx, d.Office, old.ID, service.ReadersInput{Usernames: []string{"p1"}, Reason: "p1 started afresh"}); err != nil {
			t.Fatalf("the office sharing the memo with p1's new keys: %v", err)
		}
		if _, err := d.Svc.GetMemo(d.Ctx, p1, old.ID); err != nil {
			t.Errorf("p1 opening the memo shared again with the new keys: %v", err)
		}
	})
}

// TestReview62OfficeMemberStartedAfreshIsToldToAwaitAGrant: an office
// member's password is reset and they start afresh; the office confirms
// their new keys. The office's key was wrapped to their old keys, which
// are gone: until a current member lets them in again, the office's pages
// must tell them that their access awaits a grant (403), as for a member
// never let in. Today the old wrap is taken for their access, and the
// office's inbox fails as an internal error (500).
func TestReview62OfficeMemberStartedAfreshIsToldToAwaitAGrant(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		d := servicetest.NewDeployment(t, st)
		letIn(t, d, "olga", false, "office")
		alice := d.Member("alice")
		d.Submitted(alice, "in the office's inbox")
		olga := takeOver(t, d, "olga")
		d.Confirm(d.Office, olga)
		olga = d.SignInOn(d.Svc, "olga", "olga's new phrase")
		_, err := d.Svc.ListMemos(d.Ctx, olga, service.BoxOffice, nil, "", 50)
		if code := channel.ErrorCode(err); code != channel.EFORBIDDEN {
			t.Errorf("olga's office inbox after starting afresh: %v (code %q), want forbidden: her office access awaits a grant", err, code)
		}
		if err := d.Svc.GrantOffice(d.Ctx, d.Office, "olga"); err != nil {
			t.Fatalf("letting olga in again: %v", err)
		}
		olga = d.SignInOn(d.Svc, "olga", "olga's new phrase")
		if page, err := d.Svc.ListMemos(d.Ctx, olga, service.BoxOffice, nil, "", 50); err != nil || len(page.Items) == 0 {
			t.Errorf("olga's office inbox once let in again: %v, %d memos", err, len(page.Items))
		}
	})
}
