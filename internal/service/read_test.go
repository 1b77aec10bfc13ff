package service_test

import (
	"testing"

	"github.com/dissent-channel/dissent/internal/channel"
	"github.com/dissent-channel/dissent/internal/service"
	"github.com/dissent-channel/dissent/internal/service/servicetest"
	"github.com/dissent-channel/dissent/internal/store/storetest"
)

// TestReadShowsItsOwnEvent checks that a read returns the memo with its own
// read event last, exactly as the next read lists that event, for a
// principal, the office and an author; and that others get "not found".
func TestReadShowsItsOwnEvent(t *testing.T) {
	d := servicetest.NewDeployment(t, storetest.OpenSQLite(t))
	author := d.Member("author")
	m := submitted(t, d, author, "A memo to read")
	for _, c := range []struct {
		name   string
		reader *service.Actor
		role   string
	}{
		{"principal", d.Principals[0], "principal"},
		{"office", d.Office, "office"},
		{"author", author, "author"},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, err := d.Svc.GetMemo(d.Ctx, c.reader, m.ID)
			if err != nil {
				t.Fatal(err)
			}
			last := got.Events[len(got.Events)-1]
			if last.Action != "memo.read" || last.Role != c.role || last.Actor != c.reader.Username() {
				t.Fatalf("last event %+v, want %s's read", last, c.reader.Username())
			}
			again, err := d.Svc.GetMemo(d.Ctx, c.reader, m.ID)
			if err != nil {
				t.Fatal(err)
			}
			var listed *service.Event
			for i := range again.Events {
				if again.Events[i].Index == last.Index {
					listed = &again.Events[i]
				}
			}
			if listed == nil || *listed != last {
				t.Errorf("the next read lists it as %+v, the read itself showed %+v", listed, last)
			}
		})
	}
	t.Run("strangers and missing memos", func(t *testing.T) {
		stranger := d.Member("stranger")
		_, err := d.Svc.GetMemo(d.Ctx, stranger, m.ID)
		wantCode(t, err, channel.ENOTFOUND)
		_, err = d.Svc.GetMemo(d.Ctx, stranger, "aaaaaaaaaaaaaaaaaaaaaaaaaa")
		wantCode(t, err, channel.ENOTFOUND)
	})
}

// TestReadOfAnInvitationNotCollectedYet checks that a signer whose
// invitation still waits in the mailbox can read the memo: that way in
// takes a write.
func TestReadOfAnInvitationNotCollectedYet(t *testing.T) {
	d := servicetest.NewDeployment(t, storetest.OpenSQLite(t))
	drafter, signer := d.Member("drafter"), d.Member("signer")
	m, err := d.Svc.CreateMemo(d.Ctx, drafter, service.MemoInput{Title: "Invitation", Body: "Please sign.", Marking: "UNCLASSIFIED"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Svc.InviteSigners(d.Ctx, drafter, m.ID, []string{"signer"}); err != nil {
		t.Fatal(err)
	}
	got, err := d.Svc.GetMemo(d.Ctx, signer, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Viewer != "signer" || got.Events[len(got.Events)-1].Action != "memo.read" {
		t.Errorf("viewer %q, events %+v", got.Viewer, got.Events)
	}
}
