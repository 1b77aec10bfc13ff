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

// TestMemoCaps: one memo holds at most so many drafters and signers,
// revisions, and messages or comments from its authors and readers (the
// caps lowered here to 4, 3 and 2). What goes past one is refused with
// an error that says so, and the memo is as it was; the office can still
// write to a memo whose authors or readers filled their part.
func TestMemoCaps(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		d := servicetest.NewDeployment(t, st)
		service.SetMemoCaps(d.Svc, 4, 3, 2)
		alice, bob, carol, dave, eve := d.Member("alice"), d.Member("bob"), d.Member("carol"), d.Member("dave"), d.Member("eve")

		t.Run("revisions", func(t *testing.T) {
			m, err := d.Svc.CreateMemo(d.Ctx, alice, service.MemoInput{Title: "Draft", Body: "one", Marking: "UNCLASSIFIED"})
			if err != nil {
				t.Fatal(err)
			}
			for rev := 1; rev < 3; rev++ {
				if _, err := d.Svc.EditMemo(d.Ctx, alice, m.ID, service.EditInput{Title: "Draft", Body: strings.Repeat("more ", rev), Marking: "UNCLASSIFIED", ExpectedRevision: rev}); err != nil {
					t.Fatal(err)
				}
			}
			_, err = d.Svc.EditMemo(d.Ctx, alice, m.ID, service.EditInput{Title: "Draft", Body: "a fourth", Marking: "UNCLASSIFIED", ExpectedRevision: 3})
			if channel.ErrorCode(err) != channel.ECONFLICT || !strings.Contains(err.Error(), "3 revisions, the most") {
				t.Fatalf("a fourth revision: %v, want a conflict naming the cap", err)
			}
			if got, err := d.Svc.GetMemo(d.Ctx, alice, m.ID); err != nil || got.Revision != 3 || got.Body != "more more " {
				t.Fatalf("after the refused edit: %v, %+v", err, got)
			}
		})

		t.Run("drafters and signers", func(t *testing.T) {
			m, err := d.Svc.CreateMemo(d.Ctx, alice, service.MemoInput{Title: "Signed", Body: "B", Marking: "UNCLASSIFIED", Codrafters: []string{"bob"}})
			if err != nil {
				t.Fatal(err)
			}
			_, err = d.Svc.InviteSigners(d.Ctx, alice, m.ID, []string{"carol", "dave", "eve"})
			if channel.ErrorCode(err) != channel.EINVALID || !strings.Contains(err.Error(), "at most 4 drafters and signers; this one has 2, so 2 more") {
				t.Fatalf("three more on a memo of two, capped at four: %v", err)
			}
			if _, err := d.Svc.GetMemo(d.Ctx, carol, m.ID); channel.ErrorCode(err) != channel.ENOTFOUND {
				t.Fatalf("carol after the refused invitation: %v, want not found", err)
			}
			if _, err := d.Svc.InviteSigners(d.Ctx, alice, m.ID, []string{"carol", "dave"}); err != nil {
				t.Fatalf("two more: %v", err)
			}
			if _, err := d.Svc.InviteSigners(d.Ctx, bob, m.ID, []string{"eve"}); channel.ErrorCode(err) != channel.EINVALID {
				t.Fatalf("a fifth: %v", err)
			}
			if _, err := d.Svc.GetMemo(d.Ctx, eve, m.ID); channel.ErrorCode(err) != channel.ENOTFOUND {
				t.Fatalf("eve after the refused invitation: %v, want not found", err)
			}
			_ = dave
		})

		t.Run("messages and comments", func(t *testing.T) {
			m := d.Cosigned(alice, bob, "Thread")
			reader := d.Principals[0]
			for range 2 {
				if _, err := d.Svc.Message(d.Ctx, alice, m.ID, "From the authors"); err != nil {
					t.Fatal(err)
				}
				if _, err := d.Svc.Comment(d.Ctx, reader, m.ID, "From a reader"); err != nil {
					t.Fatal(err)
				}
			}
			_, err := d.Svc.Message(d.Ctx, bob, m.ID, "One too many")
			if channel.ErrorCode(err) != channel.ECONFLICT || !strings.Contains(err.Error(), "the channel office can still write to it") {
				t.Fatalf("a third authors' message: %v", err)
			}
			if _, err := d.Svc.Comment(d.Ctx, reader, m.ID, "One too many"); channel.ErrorCode(err) != channel.ECONFLICT {
				t.Fatalf("a third reader's comment: %v", err)
			}
			for range 2 {
				if _, err := d.Svc.Message(d.Ctx, d.Office, m.ID, "From the office"); err != nil {
					t.Fatalf("the office writing to a memo its authors filled: %v", err)
				}
				if _, err := d.Svc.Comment(d.Ctx, d.Office, m.ID, "The office's note"); err != nil {
					t.Fatalf("the office commenting on a memo its readers filled: %v", err)
				}
			}
			if _, err := d.Svc.Message(d.Ctx, d.Office, m.ID, "One too many"); channel.ErrorCode(err) != channel.ECONFLICT {
				t.Fatalf("the office past twice the cap: %v", err)
			}
			got, err := d.Svc.GetMemo(d.Ctx, d.Office, m.ID)
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Messages) != 4 || len(got.Comments) != 4 {
				t.Fatalf("the office sees %d messages and %d comments, want 4 and 4", len(got.Messages), len(got.Comments))
			}
		})
	})
}
