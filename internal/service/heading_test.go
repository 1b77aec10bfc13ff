package service_test

import (
	"testing"

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
