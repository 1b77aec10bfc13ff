package service_test

// The tests here come from a review (helper-31). Each comment says what the
// review found the code did; the test fails if it does it again.

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/dissent-channel/dissent/internal/channel"
	"github.com/dissent-channel/dissent/internal/service"
	"github.com/dissent-channel/dissent/internal/service/servicetest"
	"github.com/dissent-channel/dissent/internal/store"
	"github.com/dissent-channel/dissent/internal/store/storetest"
)

// Review 31: the memo lifecycle and its invariants, attacked through the
// service API.

func r31ptr[T any](v T) *T { return &v }

// TestIneligibleCodrafterIsNotFiled: a co-drafter made ineligible
// (a contractor under the State profile) before submission may no longer
// file; a memo another drafter submits must not go out in their name.
func TestIneligibleCodrafterIsNotFiled(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		d := servicetest.NewDeployment(t, st)
		alice := d.Member("alice")
		d.Member("bob")
		m := draftWith(t, d, alice, "bob")
		// bob becomes a contractor.
		if _, err := d.Svc.UpdateUser(d.Ctx, d.Admin, "bob", service.UserUpdate{Eligible: r31ptr(false)}); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Svc.Sign(d.Ctx, alice, m.ID, 1); err != nil {
			t.Fatal(err)
		}
		rc, err := d.Svc.Submit(d.Ctx, alice, m.ID, 1)
		if err != nil {
			return // refused: fine
		}
		got, err := d.Svc.GetMemo(d.Ctx, d.Office, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range got.Authors {
			if a.Username == "bob" {
				t.Errorf("an ineligible co-drafter goes out as an author of the filed memo: authors %+v, receipt authors_count %d", got.Authors, rc.AuthorsCount)
			}
		}
	})
}

// TestConcurrentSigners: 51 invited signers sign at once; each is
// told it signed, and every signature is on the memo afterwards.
func TestConcurrentSigners(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		d := servicetest.NewDeployment(t, st)
		alice := d.Member("alice")
		const n = 51
		var signers []*service.Actor
		var names []string
		for i := range n {
			s := d.Member(fmt.Sprintf("s%02d", i))
			signers, names = append(signers, s), append(names, s.Username())
		}
		m, err := d.Svc.CreateMemo(d.Ctx, alice, service.MemoInput{Title: "t", Body: "b", Marking: "UNCLASSIFIED"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.Svc.InviteSigners(d.Ctx, alice, m.ID, names); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i, s := range signers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, errs[i] = d.Svc.Sign(d.Ctx, s, m.ID, 1)
			}()
		}
		wg.Wait()
		ok := 0
		for i, err := range errs {
			if err != nil {
				t.Errorf("%s signing at once with others: %v", names[i], err)
			} else {
				ok++
			}
		}
		got, err := d.Svc.GetMemo(d.Ctx, alice, m.ID)
		if err != nil {
			t.Fatal(err)
		}
		signed := 0
		for _, a := range got.Authors {
			if a.SignedRevision != nil && *a.SignedRevision == 1 {
				signed++
			}
		}
		if signed != ok {
			t.Errorf("%d signers were told they signed, %d signatures on the memo", ok, signed)
		}
	})
}

// TestConcurrentSubmitWithdraw: two drafters, one submits while the
// other withdraws, and a third action edits: whatever wins, the memo's
// state, receipt and ledger agree.
func TestConcurrentSubmitWithdraw(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		d := servicetest.NewDeployment(t, st)
		alice := d.Member("alice")
		bob := d.Member("bob")
		for round := range 6 {
			m := draftWith(t, d, alice, "bob")
			if _, err := d.Svc.Sign(d.Ctx, alice, m.ID, 1); err != nil {
				t.Fatal(err)
			}
			// bob collects the invitation
			if _, err := d.Svc.GetMemo(d.Ctx, bob, m.ID); err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			var rc *service.Receipt
			var subErr, wErr, sub2Err error
			wg.Add(3)
			go func() { defer wg.Done(); rc, subErr = d.Svc.Submit(d.Ctx, alice, m.ID, 1) }()
			go func() { defer wg.Done(); _, sub2Err = d.Svc.Submit(d.Ctx, bob, m.ID, 1) }()
			go func() { defer wg.Done(); _, wErr = d.Svc.Withdraw(d.Ctx, bob, m.ID, "changed my mind") }()
			wg.Wait()
			got, err := d.Svc.GetMemo(d.Ctx, alice, m.ID)
			if err != nil {
				t.Fatal(err)
			}
			submits := 0
			for _, ev := range got.Events {
				if ev.Action == "memo.submit" {
					submits++
				}
			}
			if subErr == nil && sub2Err == nil {
				t.Errorf("round %d: both drafters' submissions succeeded", round)
			}
			if submits > 1 {
				t.Errorf("round %d: %d submissions in the ledger", round, submits)
			}
			if subErr == nil && (got.Receipt == nil || got.Receipt.LedgerIndex != rc.LedgerIndex) {
				t.Errorf("round %d: receipt given %+v, memo holds %+v", round, rc, got.Receipt)
			}
			t.Logf("round %d: submit %v / %v, withdraw %v, state %s", round, subErr, sub2Err, wErr, got.State)
		}
	})
}

var _ = channel.ErrNotFound
var _ = time.Second

// TestLifecycleProbes: the lifecycle's edges, each as the product
// describes it.
func TestLifecycleProbes(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		d := servicetest.NewDeployment(t, st)
		alice := d.Member("alice")
		bob := d.Member("bob")
		carol := d.Member("carol")
		p1 := d.Principals[0]
		// carol is asked to sign and does not: dropped at submission.
		m, err := d.Svc.CreateMemo(d.Ctx, alice, service.MemoInput{Title: "t", Body: "b", Marking: "UNCLASSIFIED"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.Svc.InviteSigners(d.Ctx, alice, m.ID, []string{"bob", "carol"}); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Svc.GetMemo(d.Ctx, carol, m.ID); err != nil {
			t.Fatal(err)
		}
		for _, a := range []*service.Actor{alice, bob} {
			if _, err := d.Svc.Sign(d.Ctx, a, m.ID, 1); err != nil {
				t.Fatal(err)
			}
		}
		rc, err := d.Svc.Submit(d.Ctx, alice, m.ID, 1)
		if err != nil {
			t.Fatal(err)
		}
		if rc.AuthorsCount != 2 || rc.Dropped != 1 {
			t.Errorf("receipt authors %d dropped %d, want 2 and 1", rc.AuthorsCount, rc.Dropped)
		}
		if _, err := d.Svc.GetMemo(d.Ctx, carol, m.ID); channel.ErrorCode(err) != channel.ENOTFOUND {
			t.Errorf("a dropped signer reads the submitted memo: %v", err)
		}
		if _, err := d.Svc.Acknowledge(d.Ctx, p1, m.ID); channel.ErrorCode(err) != channel.EFORBIDDEN {
			t.Errorf("a principal acknowledges: %v", err)
		}
		if _, err := d.Svc.Withdraw(d.Ctx, bob, m.ID, "no"); channel.ErrorCode(err) != channel.EFORBIDDEN {
			t.Errorf("a signer withdraws: %v", err)
		}
		if _, err := d.Svc.EditMemo(d.Ctx, alice, m.ID, service.EditInput{Title: "t2", Body: "b2", Marking: "UNCLASSIFIED", ExpectedRevision: 1}); channel.ErrorCode(err) != channel.ECONFLICT {
			t.Errorf("edit after submission: %v", err)
		}
		if _, err := d.Svc.Sign(d.Ctx, carol, m.ID, 1); channel.ErrorCode(err) != channel.ENOTFOUND {
			t.Errorf("a dropped signer signs after submission: %v", err)
		}
		if _, err := d.Svc.Return(d.Ctx, d.Office, m.ID, "out of scope"); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Svc.Withdraw(d.Ctx, alice, m.ID, "no"); channel.ErrorCode(err) != channel.ECONFLICT {
			t.Errorf("withdraw a returned memo: %v", err)
		}
		if _, err := d.Svc.Reply(d.Ctx, d.Office, m.ID, "reply"); channel.ErrorCode(err) != channel.ECONFLICT {
			t.Errorf("reply to a returned memo: %v", err)
		}
		if _, err := d.Svc.AddReaders(d.Ctx, d.Office, m.ID, service.ReadersInput{Usernames: []string{"p2"}, Reason: "x"}); channel.ErrorCode(err) == "" {
			t.Errorf("add readers to a returned memo: %v", err)
		}
		// Withdrawn memo: the office may no longer reply.
		m2, _ := d.Submitted(alice, "second")
		if _, err := d.Svc.Withdraw(d.Ctx, alice, m2.ID, "no"); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Svc.Reply(d.Ctx, d.Office, m2.ID, "reply"); channel.ErrorCode(err) != channel.ECONFLICT {
			t.Errorf("reply to a withdrawn memo: %v", err)
		}
		if _, err := d.Svc.Acknowledge(d.Ctx, d.Office, m2.ID); channel.ErrorCode(err) != channel.ECONFLICT {
			t.Errorf("acknowledge a withdrawn memo: %v", err)
		}
	})
}

// TestMeetingDateOutOfRange: a meeting whose held_at, given with
// an offset as the JSON API takes it, falls past year 9999 in UTC gets a
// clear error, not an internal one.
func TestMeetingDateOutOfRange(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		d := servicetest.NewDeployment(t, st)
		alice := d.Member("alice")
		m, _ := d.Submitted(alice, "meet")
		at, err := time.Parse(time.RFC3339, "9999-12-31T23:00:00-05:00")
		if err != nil {
			t.Fatal(err)
		}
		_, err = d.Svc.RecordMeeting(d.Ctx, d.Office, m.ID, service.MeetingInput{HeldAt: at, Minutes: 30, Principal: "p1", Attendees: []string{"alice"}})
		if code := channel.ErrorCode(err); code != channel.EINVALID {
			t.Errorf("a meeting held at %s: %v (code %s), want a clear invalid-input error", at, err, code)
		}
	})
}

// TestIneligibleDrafterWithdraws: a co-drafter made ineligible may
// no longer edit, invite or submit ("may not carry it on"); withdrawing
// the memo the others filed is carrying it on too.
func TestIneligibleDrafterWithdraws(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		d := servicetest.NewDeployment(t, st)
		alice := d.Member("alice")
		d.Member("bob")
		m := draftWith(t, d, alice, "bob")
		if _, err := d.Svc.Sign(d.Ctx, alice, m.ID, 1); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Svc.Submit(d.Ctx, alice, m.ID, 1); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Svc.UpdateUser(d.Ctx, d.Admin, "bob", service.UserUpdate{Eligible: r31ptr(false)}); err != nil {
			t.Fatal(err)
		}
		bob := d.SignIn("bob")
		_, editErr := d.Svc.InviteSigners(d.Ctx, bob, m.ID, []string{"alice"})
		_, err := d.Svc.Withdraw(d.Ctx, bob, m.ID, "pulled by a contractor")
		if err == nil {
			t.Errorf("an ineligible co-drafter withdraws the memo alice filed (while inviting is refused: %v)", editErr)
		}
	})
}

// TestInviteSignSubmitRace: a drafter invites while a signer signs
// and the other drafter submits; the receipt's counts match the roster the
// office reads, and whoever was invited after the submission is refused.
func TestInviteSignSubmitRace(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, st store.Store) {
		d := servicetest.NewDeployment(t, st)
		alice := d.Member("alice")
		bob := d.Member("bob")
		sig := d.Member("sig")
		for i := range 4 {
			d.Member(fmt.Sprintf("late%d", i))
		}
		for round := range 4 {
			m := draftWith(t, d, alice, "bob")
			if _, err := d.Svc.InviteSigners(d.Ctx, alice, m.ID, []string{"sig"}); err != nil {
				t.Fatal(err)
			}
			if _, err := d.Svc.Sign(d.Ctx, alice, m.ID, 1); err != nil {
				t.Fatal(err)
			}
			if _, err := d.Svc.GetMemo(d.Ctx, bob, m.ID); err != nil {
				t.Fatal(err)
			}
			if _, err := d.Svc.GetMemo(d.Ctx, sig, m.ID); err != nil {
				t.Fatal(err)
			}
			var wg sync.WaitGroup
			var rc *service.Receipt
			var subErr, invErr, signErr error
			wg.Add(3)
			go func() { defer wg.Done(); rc, subErr = d.Svc.Submit(d.Ctx, bob, m.ID, 1) }()
			go func() {
				defer wg.Done()
				_, invErr = d.Svc.InviteSigners(d.Ctx, alice, m.ID, []string{fmt.Sprintf("late%d", round)})
			}()
			go func() { defer wg.Done(); _, signErr = d.Svc.Sign(d.Ctx, sig, m.ID, 1) }()
			wg.Wait()
			if subErr != nil {
				t.Fatalf("round %d: submit: %v", round, subErr)
			}
			got, err := d.Svc.GetMemo(d.Ctx, d.Office, m.ID)
			if err != nil {
				t.Fatal(err)
			}
			if rc.AuthorsCount != len(got.Authors) {
				t.Errorf("round %d: receipt counts %d authors, the office reads %d", round, rc.AuthorsCount, len(got.Authors))
			}
			mine, err := d.Svc.GetMemo(d.Ctx, alice, m.ID)
			if err != nil {
				t.Fatal(err)
			}
			if rc.Dropped != len(mine.Dropped) {
				t.Errorf("round %d: receipt says %d dropped, authors see %d", round, rc.Dropped, len(mine.Dropped))
			}
			t.Logf("round %d: invite %v, sign %v, authors %d dropped %d", round, invErr, signErr, rc.AuthorsCount, rc.Dropped)
		}
	})
}

// draftWith starts a draft by a with codrafters.
func draftWith(t *testing.T, d *servicetest.Deployment, a *service.Actor, codrafters ...string) *service.Memo {
	t.Helper()
	m, err := d.Svc.CreateMemo(d.Ctx, a, service.MemoInput{Title: "t", Body: "b", Marking: "UNCLASSIFIED", Codrafters: codrafters})
	if err != nil {
		t.Fatal(err)
	}
	return m
}
