package service_test

import (
	"strings"
	"testing"
	"time"

	"github.com/dissent-channel/dissent/internal/channel"
	"github.com/dissent-channel/dissent/internal/ledger"
	"github.com/dissent-channel/dissent/internal/service"
	"github.com/dissent-channel/dissent/internal/service/servicetest"
	"github.com/dissent-channel/dissent/internal/store"
	"github.com/dissent-channel/dissent/internal/store/storetest"
)

// TestPublishingAClosedCase: under the NRC profile a closed case is
// published once every drafter agreed and the time to appeal is over; the
// publication names no one, carries the text as submitted with the
// receipt's content hash, is readable by anyone signed in, and its ledger
// entry commits to that hash.
func TestPublishingAClosedCase(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		d := servicetest.NewDeployment(t, st, servicetest.Options{Profile: "nrc-dpo"})
		alice, carol := d.Member("alice"), d.Member("carol")
		d.Member("bob")
		m, err := d.Svc.CreateMemo(d.Ctx, alice, service.MemoInput{Title: "Weld inspections", Body: "The sampling rate is too low.", Marking: "UNCLASSIFIED", Codrafters: []string{"bob"}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.Svc.Sign(d.Ctx, alice, m.ID, 1); err != nil {
			t.Fatal(err)
		}
		rc, err := d.Svc.Submit(d.Ctx, alice, m.ID, 1)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.Svc.Reply(d.Ctx, d.Office, m.ID, "We will double the sampling rate."); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Svc.Close(d.Ctx, d.Office, m.ID); err != nil {
			t.Fatal(err)
		}

		// One drafter's agreement is not enough, nor is the office's
		// wish while the authors may still appeal.
		got, err := d.Svc.AgreeToPublish(d.Ctx, alice, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		if p := got.Publication; p == nil || p.Drafters != 2 || p.Agreed != 1 || !p.YouAgreed || p.PublishedAt != nil {
			t.Errorf("after alice agreed: %+v", got.Publication)
		}
		if _, err := d.Svc.AgreeToPublish(d.Ctx, alice, m.ID); channel.ErrorCode(err) != channel.ECONFLICT {
			t.Errorf("alice agreeing twice: %v", err)
		}
		for _, who := range []*service.Actor{d.Office, d.Principals[0]} {
			if _, err := d.Svc.AgreeToPublish(d.Ctx, who, m.ID); channel.ErrorCode(err) != channel.EFORBIDDEN {
				t.Errorf("%s agreeing: %v, want forbidden", who.Username(), err)
			}
		}
		if _, err := d.Svc.Publish(d.Ctx, d.Office, m.ID); err == nil || !strings.Contains(err.Error(), "may appeal until") {
			t.Errorf("publishing while the authors may appeal: %v", err)
		}
		d.Clock.Advance(22 * 24 * time.Hour)
		if _, err := d.Svc.Publish(d.Ctx, d.Office, m.ID); err == nil || !strings.Contains(err.Error(), "1 of its 2 drafters") {
			t.Errorf("publishing with one drafter of two: %v", err)
		}
		d.Clock.Advance(time.Minute)
		if _, err := d.Svc.AgreeToPublish(d.Ctx, d.SignIn("bob"), m.ID); err != nil {
			t.Fatal(err)
		}
		for _, who := range []*service.Actor{alice, d.Principals[0]} {
			if _, err := d.Svc.Publish(d.Ctx, who, m.ID); channel.ErrorCode(err) != channel.EFORBIDDEN {
				t.Errorf("%s publishing: %v, want forbidden", who.Username(), err)
			}
		}
		p, err := d.Svc.Publish(d.Ctx, d.Office, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.Svc.Publish(d.Ctx, d.Office, m.ID); channel.ErrorCode(err) != channel.ECONFLICT {
			t.Errorf("publishing twice: %v", err)
		}

		// Anyone signed in reads it: the text as submitted, the reply,
		// the number of authors, and no name.
		read, err := d.Svc.GetPublication(d.Ctx, carol, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		if read.Title != "Weld inspections" || read.Body != "The sampling rate is too low." || read.Reply == nil ||
			read.Reply.Body != "We will double the sampling rate." || read.AuthorsCount != 2 || read.ContentHash != rc.ContentHash {
			t.Errorf("the publication as read: %+v (receipt's hash %s)", read, rc.ContentHash)
		}
		for _, name := range []string{"alice", "bob", "office", "Display"} {
			if doc := strings.Join([]string{read.Title, read.Body, read.Reply.Body}, " "); strings.Contains(doc, name) {
				t.Errorf("the publication names %q", name)
			}
		}
		page, err := d.Svc.Publications(d.Ctx, carol, "", 50)
		if err != nil || len(page.Items) != 1 || page.Items[0].MemoID != m.ID {
			t.Errorf("the list of publications: %+v, %v", page, err)
		}
		if _, err := d.Svc.GetPublication(d.Ctx, carol, "aaaaaaaaaaaaaaaaaaaaaaaaaa"); channel.ErrorCode(err) != channel.ENOTFOUND {
			t.Errorf("an unpublished id: %v", err)
		}
		if after, err := d.Svc.GetMemo(d.Ctx, alice, m.ID); err != nil || after.Publication == nil || after.Publication.PublishedAt == nil {
			t.Errorf("the memo after publication: %+v, %v", after.Publication, err)
		}
		// Its drafters' bells say so (worked out, never stored), a
		// colleague's does not.
		if n := countWaiting(bell(t, d, alice), service.KindPublished); n != 1 {
			t.Errorf("the drafter's bell shows %d publications, want 1", n)
		}
		if n := countWaiting(bell(t, d, carol), service.KindPublished); n != 0 {
			t.Errorf("a colleague's bell shows %d publications of a memo not theirs", n)
		}

		// The ledger entry commits to the text's hash.
		seen, err := d.Svc.GetMemo(d.Ctx, d.Office, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		if entry := d.EntryIndex(seen, "memo.publish", "office"); entry != p.LedgerIndex {
			t.Errorf("publication's ledger index %d, the memo.publish entry is %d", p.LedgerIndex, entry)
		}
		proof, err := d.Svc.InclusionProof(d.Ctx, d.Office, p.LedgerIndex, 0)
		if err != nil {
			t.Fatal(err)
		}
		leaf, err := ledger.DecodeLeaf([]byte(proof.Leaf))
		if err != nil {
			t.Fatal(err)
		}
		if leaf.Content != p.ContentHash || leaf.Memo != m.ID || leaf.Action != "memo.publish" {
			t.Errorf("the memo.publish leaf: %+v, want content %s", leaf, p.ContentHash)
		}
	})
}

// TestNoPublicationWithoutAProfileForIt: the State profile publishes
// nothing.
func TestNoPublicationWithoutAProfileForIt(t *testing.T) {
	d := servicetest.NewDeployment(t, storetest.OpenSQLite(t))
	alice := d.Member("alice")
	m, _ := d.Submitted(alice, "Not for publication")
	if _, err := d.Svc.AgreeToPublish(d.Ctx, alice, m.ID); channel.ErrorCode(err) != channel.ECONFLICT || !strings.Contains(err.Error(), "does not publish") {
		t.Errorf("agreeing under the State profile: %v", err)
	}
	if got, err := d.Svc.GetMemo(d.Ctx, alice, m.ID); err != nil || got.Publication != nil {
		t.Errorf("the memo shows a publication state under the State profile: %+v, %v", got, err)
	}
}
