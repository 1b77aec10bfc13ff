package service_test

import (
	"strconv"
	"testing"

	"github.com/dissent-channel/dissent/internal/service"
	"github.com/dissent-channel/dissent/internal/service/servicetest"
	"github.com/dissent-channel/dissent/internal/store/storetest"
)

// TestReview82RevisionsPastTheCapPage: a memo made before the caps with
// more than channel.MaxRevisions revisions "keeps what it has"
// (OPERATIONS.md), but the revisions API refuses the cursor it gave out
// itself once that cursor points past revision 1000, so such a memo's
// later revisions cannot be listed. (The memo is made here with the cap
// raised, as a memo from before the change was.)
func TestReview82RevisionsPastTheCapPage(t *testing.T) {
	if testing.Short() {
		t.Skip("1,002 edits")
	}
	d := servicetest.NewDeployment(t, storetest.OpenSQLite(t))
	service.SetMemoCaps(d.Svc, 2000, 2000, 1000) // as before the caps
	alice := d.Member("alice")
	m, err := d.Svc.CreateMemo(d.Ctx, alice, service.MemoInput{Title: "Long", Body: "1", Marking: "UNCLASSIFIED"})
	if err != nil {
		t.Fatal(err)
	}
	const total = 1003
	for rev := 1; rev < total; rev++ {
		in := service.EditInput{Title: "Long", Body: strconv.Itoa(rev + 1), Marking: "UNCLASSIFIED", ExpectedRevision: rev}
		if _, err := d.Svc.EditMemo(d.Ctx, alice, m.ID, in); err != nil {
			t.Fatalf("edit %d: %v", rev, err)
		}
	}
	service.SetMemoCaps(d.Svc, 2000, 1000, 1000) // the caps arrive
	var walked int
	cursor := ""
	for range 5 {
		page, err := d.Svc.Revisions(d.Ctx, alice, m.ID, cursor, 501)
		if err != nil {
			t.Fatalf("after %d revisions, the next page (cursor %q, which the server gave out): %v", walked, cursor, err)
		}
		walked += len(page.Items)
		if cursor = page.NextCursor; cursor == "" {
			break
		}
	}
	if walked != total {
		t.Fatalf("walked %d revisions, want %d", walked, total)
	}
}

// TestReview82HistoryAfterRotation: after a reader is revoked (the memo's
// key rotated), its authors and the office still open the history of the
// revisions sealed under the first key. (Checked sound.)
func TestReview82HistoryAfterRotation(t *testing.T) {
	d := servicetest.NewDeployment(t, storetest.OpenSQLite(t))
	alice, bob := d.Member("alice"), d.Member("bob")
	m := d.Cosigned(alice, bob, "Rotated")
	if _, err := d.Svc.RevokeReader(d.Ctx, d.Office, m.ID, d.Principals[0].User.Username, "no longer needs it"); err != nil {
		t.Fatal(err)
	}
	for _, a := range []*service.Actor{alice, bob, d.Office} {
		if _, err := d.Svc.History(d.Ctx, a, m.ID, 1, 1); err != nil {
			t.Errorf("%s: %v", a.User.Username, err)
		}
		if _, err := d.Svc.Revisions(d.Ctx, a, m.ID, "", 10); err != nil {
			t.Errorf("%s: %v", a.User.Username, err)
		}
	}
}

// TestReview82ConcurrentCommentsAtTheCap: on PostgreSQL, two readers
// commenting at once on a memo one comment short of the cap: one is
// taken, the other refused (each counts under the cap, but the memo's
// version check makes the loser count again). (Checked sound.)
func TestReview82ConcurrentCommentsAtTheCap(t *testing.T) {
	d := servicetest.NewDeployment(t, storetest.OpenPostgres(t))
	service.SetMemoCaps(d.Svc, 10, 10, 2)
	alice, bob := d.Member("alice"), d.Member("bob")
	m := d.Cosigned(alice, bob, "Race")
	if _, err := d.Svc.Comment(d.Ctx, d.Principals[0], m.ID, "first"); err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 4)
	for range 4 {
		go func() {
			_, err := d.Svc.Comment(d.Ctx, d.Principals[0], m.ID, "racing")
			errs <- err
		}()
	}
	ok := 0
	for range 4 {
		if <-errs == nil {
			ok++
		}
	}
	got, err := d.Svc.GetMemo(d.Ctx, d.Office, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	if ok != 1 || len(got.Comments) != 2 {
		t.Fatalf("%d racing comments taken, %d comments held; want 1 and 2", ok, len(got.Comments))
	}
}
