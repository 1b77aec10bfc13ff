package service_test

import (
	"slices"
	"testing"

	"github.com/dissent-channel/dissent/internal/channel"
	"github.com/dissent-channel/dissent/internal/service"
	"github.com/dissent-channel/dissent/internal/service/servicetest"
	"github.com/dissent-channel/dissent/internal/store"
	"github.com/dissent-channel/dissent/internal/store/storetest"
)

// TestRevisionHistory: a memo's history page lists when every revision
// was saved and opens the two it compares (by default the latest and the
// one before), with their checked content hashes; the API's list comes a
// page at a time, its cursor walking every revision once. Readers see
// neither.
func TestRevisionHistory(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		d := servicetest.NewDeployment(t, st)
		alice := d.Member("alice")
		m, err := d.Svc.CreateMemo(d.Ctx, alice, service.MemoInput{Title: "T1", Body: "body 1", Marking: "UNCLASSIFIED"})
		if err != nil {
			t.Fatal(err)
		}
		for rev := 1; rev < 4; rev++ {
			in := service.EditInput{Title: "T" + string(rune('1'+rev)), Body: "body " + string(rune('1'+rev)), Marking: "UNCLASSIFIED", ExpectedRevision: rev}
			if _, err := d.Svc.EditMemo(d.Ctx, alice, m.ID, in); err != nil {
				t.Fatal(err)
			}
		}

		for _, c := range []struct {
			from, to         int
			wantFrom, wantTo string
		}{{0, 0, "body 3", "body 4"}, {1, 3, "body 1", "body 3"}, {9, 2, "body 1", "body 2"}, {-1, 99, "body 3", "body 4"}} {
			h, err := d.Svc.History(d.Ctx, alice, m.ID, c.from, c.to)
			if err != nil {
				t.Fatal(err)
			}
			if len(h.Saved) != 4 || h.Saved[0].Revision != 1 || h.Saved[3].Revision != 4 || h.Saved[2].Body != "" {
				t.Errorf("from %d to %d: saved %+v, want revisions 1 to 4 without their texts", c.from, c.to, h.Saved)
			}
			if h.From.Body != c.wantFrom || h.To.Body != c.wantTo || len(h.From.ContentHash) != 64 || h.From.ContentHash == h.To.ContentHash {
				t.Errorf("from %d to %d: compares %q (%s) with %q (%s), want %q with %q", c.from, c.to, h.From.Body, h.From.ContentHash, h.To.Body, h.To.ContentHash, c.wantFrom, c.wantTo)
			}
		}

		var walked []string
		cursor := ""
		for range 10 {
			page, err := d.Svc.Revisions(d.Ctx, alice, m.ID, cursor, 3)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range page.Items {
				walked = append(walked, r.Body)
			}
			if cursor = page.NextCursor; cursor == "" {
				break
			}
		}
		if want := []string{"body 1", "body 2", "body 3", "body 4"}; !slices.Equal(walked, want) {
			t.Errorf("pages of 3 walked %q, want %q", walked, want)
		}
		if _, err := d.Svc.Revisions(d.Ctx, alice, m.ID, "", 0); channel.ErrorCode(err) != channel.EINVALID {
			t.Errorf("a page of no revisions: %v, want invalid", err)
		}

		s := d.Cosigned(alice, d.Member("bob"), "Submitted")
		if _, err := d.Svc.History(d.Ctx, d.Principals[0], s.ID, 0, 0); channel.ErrorCode(err) != channel.EFORBIDDEN {
			t.Errorf("a reader's history: %v, want forbidden", err)
		}
		if _, err := d.Svc.History(d.Ctx, d.Office, s.ID, 0, 0); err != nil {
			t.Errorf("the office's history of a submitted memo: %v", err)
		}
	})
}
