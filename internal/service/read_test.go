package service_test

import (
	"context"
	"slices"
	"testing"

	"github.com/dissent-channel/dissent/internal/channel"
	"github.com/dissent-channel/dissent/internal/service"
	"github.com/dissent-channel/dissent/internal/service/servicetest"
	"github.com/dissent-channel/dissent/internal/store"
	"github.com/dissent-channel/dissent/internal/store/storetest"
)

// TestReadShowsItsOwnEvent checks that a read returns the memo with its own
// read event last, for a principal, the office and an author; that the
// memo's history leaves the other reads out (the next read shows only its
// own), and that the access log lists the read exactly as the read itself
// showed it; and that others get "not found".
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
			for i, ev := range again.Events {
				if ev.Action == "memo.read" && i != len(again.Events)-1 {
					t.Errorf("the next read's history shows an earlier read: %+v", ev)
				}
			}
			// The author's read in the author's own log; the others in the
			// office's.
			viewer := d.Office
			if c.reader == author {
				viewer = author
			}
			log, err := d.Svc.AccessLog(d.Ctx, viewer, m.ID, "", 200)
			if err != nil {
				t.Fatal(err)
			}
			var listed *service.AccessEntry
			for i := range log.Items {
				if log.Items[i].Index == last.Index {
					listed = &log.Items[i]
				}
			}
			want := service.AccessEntry{Action: "read", Username: last.Actor, Role: last.Role, At: last.At, Index: last.Index}
			if listed == nil || *listed != want {
				t.Errorf("the access log lists it as %+v, the read itself showed %+v", listed, last)
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

// changingStore runs change once, just before the next write transaction
// begins: between a read's assembling the memo and its recording the read.
type changingStore struct {
	store.Store
	change func()
}

func (s *changingStore) Begin(ctx context.Context, write bool) (store.Tx, error) {
	if f := s.change; write && f != nil {
		s.change = nil
		f()
	}
	return s.Store.Begin(ctx, write)
}

// TestReadOfAMemoThatChangesMeanwhile checks that a memo the office
// acknowledges while a principal's read of it is under way is shown as it
// stands when the read is recorded, not as the read first found it: the
// read is done again under the write lock.
func TestReadOfAMemoThatChangesMeanwhile(t *testing.T) {
	st := &changingStore{Store: storetest.OpenSQLite(t)}
	d := servicetest.NewDeployment(t, st)
	m := submitted(t, d, d.Member("author"), "A memo acknowledged mid-read")
	st.change = func() {
		if _, err := d.Svc.Acknowledge(d.Ctx, d.Office, m.ID); err != nil {
			t.Error(err)
		}
	}
	got, err := d.Svc.GetMemo(d.Ctx, d.Principals[0], m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if st.change != nil {
		t.Fatal("the read began no write transaction")
	}
	actions := make([]string, len(got.Events))
	for i, e := range got.Events {
		actions[i] = e.Action
	}
	if got.State != "acknowledged" || !slices.Contains(actions, "memo.acknowledge") || actions[len(actions)-1] != "memo.read" {
		t.Errorf("read shows state %q and events %v; want the acknowledgement, then the read", got.State, actions)
	}
}

// TestAccessLogPages reads a memo many times and checks that its view stays
// the same size while the access log lists every read once, in ledger
// order, after the grants, across pages of every size; and that a cursor
// this server did not give out is refused.
func TestAccessLogPages(t *testing.T) {
	d := servicetest.NewDeployment(t, storetest.OpenSQLite(t))
	author := d.Member("author")
	m := submitted(t, d, author, "A memo read often")
	var reads []int64
	var size int
	for i := range 12 {
		reader := d.Principals[i%len(d.Principals)]
		if i%3 == 0 {
			reader = d.Office
		}
		got, err := d.Svc.GetMemo(d.Ctx, reader, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		if i > 0 && len(got.Events) != size {
			t.Errorf("read %d shows %d events, the first showed %d", i, len(got.Events), size)
		}
		size = len(got.Events)
		reads = append(reads, got.Events[len(got.Events)-1].Index)
	}
	whole, err := d.Svc.AccessLog(d.Ctx, author, m.ID, "", 200)
	if err != nil {
		t.Fatal(err)
	}
	if whole.NextCursor != "" {
		t.Errorf("one page of 200 has a next cursor %q", whole.NextCursor)
	}
	var grants int
	var listed []int64
	for i, e := range whole.Items {
		switch {
		case e.Action == "granted" && len(listed) == 0:
			grants++
		case e.Action == "read":
			listed = append(listed, e.Index)
		default:
			t.Errorf("entry %d: %+v, after %d reads", i, e, len(listed))
		}
	}
	if grants == 0 || !slices.Equal(listed, reads) {
		t.Fatalf("the log lists %d grants and reads %v, want grants then reads %v", grants, listed, reads)
	}
	for _, limit := range []int{1, 2, grants, grants + 1, 5, len(whole.Items) - 1, len(whole.Items)} {
		var got []service.AccessEntry
		cursor, pages := "", 0
		for {
			p, err := d.Svc.AccessLog(d.Ctx, author, m.ID, cursor, limit)
			if err != nil {
				t.Fatal(err)
			}
			pages++
			if len(p.Items) > limit || len(p.Items) == 0 {
				t.Fatalf("limit %d: page %d has %d entries", limit, pages, len(p.Items))
			}
			got = append(got, p.Items...)
			if cursor = p.NextCursor; cursor == "" {
				break
			}
		}
		if !slices.Equal(got, whole.Items) {
			t.Errorf("limit %d: %d pages list %d entries, one page %d, or in another order", limit, pages, len(got), len(whole.Items))
		}
	}
	for _, cursor := range []string{"not-a-cursor", "eyJpIjoieCJ9", "eyJrIjotMiwiaSI6ImcifQ"} {
		_, err := d.Svc.AccessLog(d.Ctx, author, m.ID, cursor, 10)
		wantCode(t, err, channel.EINVALID)
	}
}

// TestAFormerPrincipalReadsNothing: a principal whose role is taken away
// (they left the post) can no longer open, comment on or export the memos
// they were given, though the wraps to them stay, as the distribution box
// already refused them; given the role back, they can again.
func TestAFormerPrincipalReadsNothing(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		d := servicetest.NewDeployment(t, st)
		m := submitted(t, d, d.Member("alice"), "for the distribution")
		if _, err := d.Svc.GetMemo(d.Ctx, d.Principals[0], m.ID); err != nil {
			t.Fatalf("a principal on the distribution: %v", err)
		}
		setRoles := func(roles ...string) *service.Actor {
			t.Helper()
			if _, err := d.Svc.UpdateUser(d.Ctx, d.Admin, "p1", service.UserUpdate{Roles: &roles}); err != nil {
				t.Fatal(err)
			}
			return d.SignIn("p1")
		}
		former := setRoles("member")
		_, err := d.Svc.GetMemo(d.Ctx, former, m.ID)
		wantCode(t, err, channel.ENOTFOUND)
		_, err = d.Svc.Comment(d.Ctx, former, m.ID, "still here")
		wantCode(t, err, channel.ENOTFOUND)
		_, err = d.Svc.ExportMemo(d.Ctx, former, m.ID)
		wantCode(t, err, channel.ENOTFOUND)

		again := setRoles("principal")
		if _, err := d.Svc.GetMemo(d.Ctx, again, m.ID); err != nil {
			t.Fatalf("given the role back: %v", err)
		}
	})
}

// TestNoLongerAllowedToFile: a drafter made ineligible after starting a
// draft can no longer edit, invite or submit it; a signer who has since
// lost the member role is dropped at submission like one who did not
// sign, and is not shown as an author.
func TestNoLongerAllowedToFile(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		d := servicetest.NewDeployment(t, st)
		drafter, signer := d.Member("drafter"), d.Member("signer")
		setUser := func(name string, u service.UserUpdate) *service.Actor {
			t.Helper()
			if _, err := d.Svc.UpdateUser(d.Ctx, d.Admin, name, u); err != nil {
				t.Fatal(err)
			}
			return d.SignIn(name)
		}
		m, err := d.Svc.CreateMemo(d.Ctx, drafter, service.MemoInput{Title: "co-signed", Body: "a body", Marking: "UNCLASSIFIED"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.Svc.InviteSigners(d.Ctx, drafter, m.ID, []string{"signer"}); err != nil {
			t.Fatal(err)
		}
		for _, a := range []*service.Actor{drafter, signer} {
			if _, err := d.Svc.Sign(d.Ctx, a, m.ID, 1); err != nil {
				t.Fatalf("%s signs: %v", a.Username(), err)
			}
		}
		roles := []string{"principal"}
		setUser("signer", service.UserUpdate{Roles: &roles})
		receipt, err := d.Svc.Submit(d.Ctx, drafter, m.ID, 1)
		if err != nil {
			t.Fatal(err)
		}
		if receipt.AuthorsCount != 1 || receipt.Dropped != 1 {
			t.Errorf("receipt: %d authors, %d dropped; want the signer dropped", receipt.AuthorsCount, receipt.Dropped)
		}
		got, err := d.Svc.GetMemo(d.Ctx, drafter, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, au := range got.Authors {
			if au.Username == "signer" {
				t.Errorf("the signer who lost the member role is shown as an author: %+v", got.Authors)
			}
		}

		m2, err := d.Svc.CreateMemo(d.Ctx, drafter, service.MemoInput{Title: "second", Body: "a body", Marking: "UNCLASSIFIED"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.Svc.Sign(d.Ctx, drafter, m2.ID, 1); err != nil {
			t.Fatal(err)
		}
		no := false
		drafter = setUser("drafter", service.UserUpdate{Eligible: &no})
		_, err = d.Svc.Submit(d.Ctx, drafter, m2.ID, 1)
		wantCode(t, err, channel.EFORBIDDEN)
		_, err = d.Svc.EditMemo(d.Ctx, drafter, m2.ID, service.EditInput{Title: "second", Body: "changed", Marking: "UNCLASSIFIED", ExpectedRevision: 1})
		wantCode(t, err, channel.EFORBIDDEN)
		_, err = d.Svc.InviteSigners(d.Ctx, drafter, m2.ID, []string{"signer"})
		wantCode(t, err, channel.EFORBIDDEN)
	})
}

// TestDroppedSignersAreNamedToAuthorsOnly: a colleague asked to co-sign
// who did not is named to the memo's authors, and to no one else; the
// office and the distribution see only the count, in the receipt.
func TestDroppedSignersAreNamedToAuthorsOnly(t *testing.T) {
	d := servicetest.NewDeployment(t, storetest.OpenSQLite(t))
	drafter := d.Member("drafter")
	d.Member("declined")
	m, err := d.Svc.CreateMemo(d.Ctx, drafter, service.MemoInput{Title: "asked", Body: "a body", Marking: "UNCLASSIFIED"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Svc.InviteSigners(d.Ctx, drafter, m.ID, []string{"declined"}); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Svc.Sign(d.Ctx, drafter, m.ID, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Svc.Submit(d.Ctx, drafter, m.ID, 1); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		who   *service.Actor
		names int
	}{{drafter, 1}, {d.Office, 0}, {d.Principals[0], 0}} {
		got, err := d.Svc.GetMemo(d.Ctx, c.who, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Dropped) != c.names || got.Receipt == nil || got.Receipt.Dropped != 1 {
			t.Errorf("%s sees dropped signers %+v and a receipt counting %v; want %d named, 1 counted", c.who.Username(), got.Dropped, got.Receipt, c.names)
		}
	}
}
