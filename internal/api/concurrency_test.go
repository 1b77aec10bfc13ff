package api_test

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"testing"

	"github.com/dissent-channel/dissent/internal/ledger"
	"github.com/dissent-channel/dissent/internal/service"
	"github.com/dissent-channel/dissent/internal/store"
)

// parallel runs f(i) for i in [0, n) at once, released together, and
// returns the answers in order.
func parallel(n int, f func(i int) reply) []reply {
	out := make([]reply, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			out[i] = f(i)
		})
	}
	close(start)
	wg.Wait()
	return out
}

// statuses counts answers by status.
func statuses(rs []reply) map[int]int {
	m := map[int]int{}
	for _, r := range rs {
		m[r.status]++
	}
	return m
}

// TestConcurrency races edits, signatures, submissions and creations of
// memos through the API (run it with -race), then checks that the ledger
// is whole.
func TestConcurrency(t *testing.T) {
	bothStores(t, func(t *testing.T, st store.Store) {
		e := newEnv(t, st)
		e.user("office", false, "office")
		e.user("p1", false, "principal")
		e.distribute("p1")
		const n = 8
		drafters := make([]string, 4)
		for i := range drafters {
			drafters[i] = fmt.Sprintf("drafter%d", i)
			e.member(drafters[i])
		}
		signers := make([]string, n)
		for i := range signers {
			signers[i] = fmt.Sprintf("signer%d", i)
			e.member(signers[i])
		}
		var receipts []service.Receipt

		t.Run("edits with the same expected revision: one wins", func(t *testing.T) {
			m := e.create(drafters[0], "Race", "Body.", drafters[1:]...)
			rs := parallel(n, func(i int) reply {
				return e.call(drafters[i%len(drafters)], "PUT", memoPath(m.ID), service.EditInput{
					Title: "Race", Body: fmt.Sprintf("Edit %d.", i), Marking: "UNCLASSIFIED", ExpectedRevision: 1})
			})
			if s := statuses(rs); s[200] != 1 || s[409] != n-1 {
				t.Fatalf("statuses %v, want one 200 and %d 409", s, n-1)
			}
			won := decode[service.Memo](t, rs[slices.IndexFunc(rs, func(r reply) bool { return r.status == 200 })])
			if got := e.read(drafters[0], m.ID); got.Revision != 2 || got.Body != won.Body {
				t.Errorf("after the race: revision %d body %q, want 2 and the winner's %q", got.Revision, got.Body, won.Body)
			}
		})

		t.Run("a new co-drafter's first requests at once", func(t *testing.T) {
			// Each request collects the invitation from the mailbox; the
			// ones that find it gone must still find it in the index.
			e.member("newcomer")
			m := e.create(drafters[0], "Welcome", "Body.", "newcomer")
			rs := parallel(n, func(int) reply { return e.call("newcomer", "GET", memoPath(m.ID), nil) })
			for i, r := range rs {
				if r.status != http.StatusOK {
					t.Errorf("request %d: %s", i, r)
				}
			}
		})

		t.Run("signatures: none is lost", func(t *testing.T) {
			m := e.create(drafters[0], "Sign race", "Body.")
			e.must(http.StatusOK, drafters[0], "POST", memoPath(m.ID, "signers"), map[string][]string{"usernames": signers})
			rs := parallel(n, func(i int) reply {
				return e.call(signers[i], "POST", memoPath(m.ID, "signatures"), map[string]int{"revision": 1})
			})
			var signed []string
			for i, r := range rs {
				switch r.status {
				case http.StatusCreated:
					signed = append(signed, signers[i])
				default:
					t.Errorf("%s signing the current revision at the same time as others: %s", signers[i], r)
				}
			}
			got := e.read(drafters[0], m.ID)
			var have []string
			for _, a := range got.Authors {
				if a.SignedRevision != nil && *a.SignedRevision == 1 {
					have = append(have, a.Username)
				}
			}
			if !sameSet(have, signed) {
				t.Errorf("signatures on the memo %v, but these signers were told they signed: %v", have, signed)
			}
		})

		t.Run("signatures and unsigns", func(t *testing.T) {
			m := e.create(drafters[0], "Sign and unsign", "Body.")
			e.must(http.StatusOK, drafters[0], "POST", memoPath(m.ID, "signers"), map[string][]string{"usernames": signers})
			for _, s := range signers[:n/2] {
				e.sign(s, m.ID, 1)
			}
			// The first half take theirs back while the second half sign.
			rs := parallel(n, func(i int) reply {
				if i < n/2 {
					return e.call(signers[i], "DELETE", memoPath(m.ID, "signatures", "me"), nil)
				}
				return e.call(signers[i], "POST", memoPath(m.ID, "signatures"), map[string]int{"revision": 1})
			})
			for i, r := range rs {
				if r.status >= 300 {
					t.Errorf("%s: %s", signers[i], r)
				}
			}
			got := e.read(drafters[0], m.ID)
			for _, a := range got.Authors {
				i := slices.Index(signers, a.Username)
				if i < 0 {
					continue
				}
				if signedNow := a.SignedRevision != nil; signedNow != (i >= n/2) {
					t.Errorf("%s: signed %v after the race", a.Username, signedNow)
				}
			}
		})

		t.Run("submits of one memo: one receipt", func(t *testing.T) {
			m := e.create(drafters[0], "Submit race", "Body.", drafters[1:]...)
			e.sign(drafters[0], m.ID, 1)
			rs := parallel(n, func(i int) reply {
				return e.call(drafters[i%len(drafters)], "POST", memoPath(m.ID, "submit"), map[string]int{"revision": 1})
			})
			if s := statuses(rs); s[201] != 1 || s[409] != n-1 {
				t.Fatalf("statuses %v, want one 201 and %d 409", s, n-1)
			}
			rc := decode[service.Receipt](t, rs[slices.IndexFunc(rs, func(r reply) bool { return r.status == 201 })])
			receipts = append(receipts, rc)
			if got := e.read(drafters[0], m.ID); got.State != "submitted" || got.Receipt == nil || got.Receipt.LedgerIndex != rc.LedgerIndex {
				t.Errorf("after the race: state %s, receipt %+v, want the winner's %+v", got.State, got.Receipt, rc)
			}
		})

		t.Run("an edit races a submit: never both", func(t *testing.T) {
			for range 5 {
				m := e.create(drafters[0], "Edit or submit", "Body.", drafters[1])
				e.sign(drafters[0], m.ID, 1)
				rs := parallel(2, func(i int) reply {
					if i == 0 {
						return e.call(drafters[0], "POST", memoPath(m.ID, "submit"), map[string]int{"revision": 1})
					}
					return e.call(drafters[1], "PUT", memoPath(m.ID), service.EditInput{Title: "Edit or submit", Body: "Changed.", Marking: "UNCLASSIFIED", ExpectedRevision: 1})
				})
				submitted, edited := rs[0].status == 201, rs[1].status == 200
				if submitted == edited {
					t.Fatalf("submit %s, edit %s: exactly one must win", rs[0], rs[1])
				}
				got := e.read(drafters[0], m.ID)
				switch {
				case submitted:
					receipts = append(receipts, decode[service.Receipt](t, rs[0]))
					if got.State != "submitted" || got.Revision != 1 || got.Body != "Body." {
						t.Errorf("the submit won, but the memo is %s at revision %d: %q", got.State, got.Revision, got.Body)
					}
				case edited:
					if got.State != "draft" || got.Revision != 2 || signedBy(got.Authors, 2) != 0 {
						t.Errorf("the edit won, but the memo is %s at revision %d", got.State, got.Revision)
					}
				}
			}
		})

		t.Run("many people create at once", func(t *testing.T) {
			rs := parallel(n, func(i int) reply {
				return e.call(signers[i], "POST", "/api/v1/memos", service.MemoInput{Title: fmt.Sprintf("By %s", signers[i]), Body: "Body.", Marking: "UNCLASSIFIED", Codrafters: []string{}})
			})
			for i, r := range rs {
				if r.status != http.StatusCreated {
					t.Fatalf("%s: %s", signers[i], r)
				}
				id := decode[service.Memo](t, r).ID
				if box := boxIDs(t, e, signers[i], "mine&state=draft"); !slices.Equal(box, []string{id}) {
					t.Errorf("%s's drafts %v, want only %s", signers[i], box, id)
				}
			}
		})

		// The ledger: every stored hash recomputes from the leaves, the root
		// is the latest checkpoint's, and every receipt proves its leaf.
		cp := e.checkpoint()
		ctx := context.Background()
		tx, err := e.h.Store.Begin(ctx, false)
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = tx.Rollback() }()
		if err := ledger.SelfCheck(ctx, tx.LedgerStorage("", ""), &cp); err != nil {
			t.Errorf("ledger self-check: %v", err)
		}
		for _, rc := range receipts {
			if l := proveLeaf(t, e, rc.LedgerIndex, cp); l.Action != "memo.submit" || l.Memo != rc.MemoID {
				t.Errorf("receipt %+v proves leaf %+v", rc, l)
			}
		}
	})
}
