package service_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/dissent-channel/dissent/internal/service"
	"github.com/dissent-channel/dissent/internal/service/servicetest"
	"github.com/dissent-channel/dissent/internal/store"
	"github.com/dissent-channel/dissent/internal/store/storetest"
	"github.com/dissent-channel/dissent/internal/vault"
)

// TestReview80MailTiedAtABatchEdgeIsCollected: collectMail pages through
// the shared mailbox with MailSince (ORDER BY posted_at, id LIMIT 500) and
// moves on with `since = batch[len(batch)-1].PostedAt + 1`. Every entry
// that shares the last one's posted_at but did not fit in the batch is
// skipped, and the mail cursor is then set past it: it is never read
// again. The mailbox holds everyone's uncollected mail (a confirmation
// alone posts one entry per rotated memo), so a full batch is ordinary;
// entries sharing a microsecond need only two transactions on two nodes,
// or a clock that does not move between calls (as every test here runs
// with). The co-signer invited below never receives the memo's keys: the
// memo is missing from their list, now and a day later.
func TestReview80MailTiedAtABatchEdgeIsCollected(t *testing.T) {
	st := storetest.OpenSQLite(t)
	h := servicetest.New(t, st)
	ann, bob := h.Member("ann"), h.Member("bob")

	// Mail for someone else, posted in the same microsecond as the
	// invitation below, with ids that sort before any newID.
	other, err := vault.NewIdentity()
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := vault.SealTo(other.Public().Box, []byte(`{"m":"x","k":{},"p":""}`))
	if err != nil {
		t.Fatal(err)
	}
	at := h.Clock.Now().UTC().Truncate(time.Microsecond).UnixMicro()
	tx, err := st.Begin(context.Background(), true)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 500 {
		if err := tx.PostMail(context.Background(), &store.Mail{ID: fmt.Sprintf("0%031d", i), PostedAt: at, Sealed: sealed}); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}

	m, err := h.Svc.CreateMemo(h.Ctx, ann, service.MemoInput{Title: "Tied", Body: "body", Marking: "UNCLASSIFIED"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := h.Svc.InviteSigners(h.Ctx, ann, m.ID, []string{"bob"}); err != nil {
		t.Fatal(err)
	}
	for _, wait := range []time.Duration{0, 24 * time.Hour} {
		h.Clock.Advance(wait)
		bob = h.SignIn("bob")
		page, err := h.Svc.ListMemos(h.Ctx, bob, service.BoxMine, nil, "", 50)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(page.Items, func(s service.MemoSummary) bool { return s.ID == m.ID }) {
			t.Errorf("after %v: the memo bob was invited to co-sign is not in his list (%d items): the mail bringing its keys was skipped", wait, len(page.Items))
		}
		if _, err := h.Svc.GetMemo(h.Ctx, bob, m.ID); err != nil {
			t.Errorf("after %v: bob opens the memo he was invited to: %v", wait, err)
		}
	}
}
