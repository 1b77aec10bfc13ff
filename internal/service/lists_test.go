package service_test

import (
	"maps"
	"testing"

	"github.com/dissent-channel/dissent/internal/channel"
	"github.com/dissent-channel/dissent/internal/service"
	"github.com/dissent-channel/dissent/internal/service/servicetest"
	"github.com/dissent-channel/dissent/internal/store"
	"github.com/dissent-channel/dissent/internal/store/sqlstore"
	"github.com/dissent-channel/dissent/internal/store/storetest"
)

// TestListTitlesComeFromSealedHeadings checks what a list shows of a memo:
// the current revision's title, from the heading sealed apart from its text;
// nothing when someone with database access moves an older heading onto it;
// and, for a revision without a heading (made before they were kept), the
// title opened from the text.
func TestListTitlesComeFromSealedHeadings(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		d := servicetest.NewDeployment(t, st)
		alice := d.Member("alice")
		m, err := d.Svc.CreateMemo(d.Ctx, alice, service.MemoInput{Title: "First title", Body: "first text", Marking: "UNCLASSIFIED"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.Svc.EditMemo(d.Ctx, alice, m.ID, service.EditInput{Title: "Second title", Body: "second text", Marking: "UNCLASSIFIED", ExpectedRevision: 1}); err != nil {
			t.Fatal(err)
		}
		title := func() string {
			t.Helper()
			page, err := d.Svc.ListMemos(d.Ctx, alice, service.BoxMine, nil, "", 10)
			if err != nil {
				t.Fatal(err)
			}
			if len(page.Items) != 1 {
				t.Fatalf("alice's list has %d memos, want 1", len(page.Items))
			}
			return page.Items[0].Title
		}
		if got := title(); got != "Second title" {
			t.Fatalf("list title = %q, want the current revision's", got)
		}
		raw := st.(*sqlstore.DB).Raw()
		exec := func(q string) {
			t.Helper()
			if _, err := raw.ExecContext(d.Ctx, q); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
		}
		exec(`UPDATE revision_headings SET sealed = (SELECT sealed FROM revision_headings WHERE revision = 1) WHERE revision = 2`)
		if got := title(); got != "" {
			t.Fatalf("a heading moved from revision 1 opened on revision 2 as %q", got)
		}
		exec(`DELETE FROM revision_headings`)
		if got := title(); got != "Second title" {
			t.Fatalf("without a heading the list shows %q, want the title from the text", got)
		}
	})
}

// TestListsAgreeWithOpeningEachMemo checks that a list, which reads the
// ways into a whole page at once, shows each person exactly the memos and
// the relation that opening each memo alone gives them: an office member
// who is also an author, a key rotated by revoking a reader, a draft.
func TestListsAgreeWithOpeningEachMemo(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		d := servicetest.NewDeployment(t, st)
		alice := d.Member("alice")
		olga := d.Create("olga", true, "member", "office")
		if err := d.Svc.GrantOffice(d.Ctx, d.Office, "olga"); err != nil {
			t.Fatal(err)
		}
		rex := d.Principal("rex")
		one := submitted(t, d, alice, "one")
		two := submitted(t, d, olga, "two")
		three, err := d.Svc.CreateMemo(d.Ctx, alice, service.MemoInput{Title: "three", Body: "a draft", Marking: "UNCLASSIFIED"})
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range []*service.Memo{one, two} {
			if _, err := d.Svc.AddReaders(d.Ctx, d.Office, m.ID, service.ReadersInput{Usernames: []string{"rex"}, Reason: "needs to know"}); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := d.Svc.RevokeReader(d.Ctx, d.Office, one.ID, "rex", "no longer"); err != nil { // rotates one's key
			t.Fatal(err)
		}
		titles := map[string]string{one.ID: "one", two.ID: "two", three.ID: "three"}
		cases := []struct {
			who  string
			a    *service.Actor
			box  string
			want map[string]string // memo title → viewer
		}{
			{"alice", alice, service.BoxMine, map[string]string{"one": "drafter", "three": "drafter"}},
			{"olga", olga, service.BoxMine, map[string]string{"two": "drafter"}},
			{"olga", olga, service.BoxOffice, map[string]string{"one": "office", "two": "drafter"}},
			{"office", d.Office, service.BoxOffice, map[string]string{"one": "office", "two": "office"}},
			{"p1", d.Principals[0], service.BoxDistribution, map[string]string{"one": "reader", "two": "reader"}},
			{"rex", rex, service.BoxDistribution, map[string]string{"two": "reader"}},
		}
		for _, c := range cases {
			page, err := d.Svc.ListMemos(d.Ctx, c.a, c.box, nil, "", 50)
			if err != nil {
				t.Fatalf("%s lists %s: %v", c.who, c.box, err)
			}
			got := map[string]string{}
			for _, it := range page.Items {
				if it.Title != titles[it.ID] {
					t.Errorf("%s's %s list shows %s as %q, want %q", c.who, c.box, it.ID, it.Title, titles[it.ID])
				}
				got[it.Title] = it.Viewer
				if _, err := d.Svc.GetMemo(d.Ctx, c.a, it.ID); err != nil {
					t.Errorf("%s's %s list shows %q, which they cannot open: %v", c.who, c.box, it.Title, err)
				}
			}
			if !maps.Equal(got, c.want) {
				t.Errorf("%s's %s list = %v, want %v", c.who, c.box, got, c.want)
			}
		}
	})
}

// TestDirectoryNamed: a form's chosen names are shown as the directory
// names them, in the order given, leaving out names nobody has and names
// that are not usernames; more names than a call may carry are refused.
func TestDirectoryNamed(t *testing.T) {
	d := servicetest.NewDeployment(t, storetest.OpenSQLite(t))
	alice := d.Member("alice")
	d.Member("bob")
	d.Member("carol")
	got, err := d.Svc.DirectoryNamed(d.Ctx, alice, []string{"carol", "nobody", "Not A Name", "bob"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].Username != "carol" || got[1].Username != "bob" || got[0].DisplayName == "" {
		t.Errorf("DirectoryNamed = %+v, want carol then bob, with their display names", got)
	}
	many := make([]string, channel.MaxUsernames+2)
	for i := range many {
		many[i] = "bob"
	}
	if _, err := d.Svc.DirectoryNamed(d.Ctx, alice, many); channel.ErrorCode(err) != channel.EINVALID {
		t.Errorf("%d names: %v", len(many), err)
	}
}
