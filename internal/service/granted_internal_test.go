package service

import (
	"testing"

	"github.com/dissent-channel/dissent/internal/store"
)

// TestGrantedByLedger: who a rotation carries over, from the memo's own
// ledger entries.
func TestGrantedByLedger(t *testing.T) {
	p1 := &store.User{ID: "u-p1", Username: "p1"}
	p2 := &store.User{ID: "u-p2", Username: "p2"}
	p3 := &store.User{ID: "u-p3", Username: "p3"}
	to := func(ids ...string) *[]string { return &ids }
	for _, c := range []struct {
		name  string
		steps []readersStep
		want  map[*store.User]bool
	}{
		{"the submission's readers, and no one else", []readersStep{
			{action: "memo.submit", To: to("u-p1")},
		}, map[*store.User]bool{p1: true, p2: false, p3: false}},
		{"one the office added, until it took them off", []readersStep{
			{action: "memo.submit", To: to("u-p1")},
			{action: "memo.distribute", Added: []string{"p2", "p3"}},
			{action: "memo.revoke", Revoked: "p3"},
			{action: "memo.revoke", Revoked: "p1"},
		}, map[*store.User]bool{p1: false, p2: true, p3: false}},
		{"taken off and added again", []readersStep{
			{action: "memo.submit", To: to("u-p1")},
			{action: "memo.revoke", Revoked: "p1"},
			{action: "memo.distribute", Added: []string{"p1"}},
		}, map[*store.User]bool{p1: true}},
		{"a submission that went to no principal", []readersStep{
			{action: "memo.submit", To: to()},
		}, map[*store.User]bool{p1: false}},
		// An earlier release's submission named no readers: its access
		// rows are trusted, as that release did, until a removal.
		{"a submission of an earlier release", []readersStep{
			{action: "memo.submit"},
			{action: "memo.revoke", Revoked: "p2"},
		}, map[*store.User]bool{p1: true, p2: false}},
		// A memo whose submission is not among its entries (hidden).
		{"no submission", []readersStep{
			{action: "memo.distribute", Added: []string{"p1"}},
		}, map[*store.User]bool{p1: false}},
		// A detail someone deleted or changed: no one is carried over.
		{"an entry whose detail does not open", []readersStep{
			{action: "memo.submit", unreadable: true},
		}, map[*store.User]bool{p1: false}},
		{"a later entry whose detail does not open", []readersStep{
			{action: "memo.submit", To: to("u-p1")},
			{action: "memo.distribute", unreadable: true},
		}, map[*store.User]bool{p1: false}},
	} {
		granted := grantedByLedger(c.steps)
		for u, want := range c.want {
			if got := granted(u); got != want {
				t.Errorf("%s: %s granted %v, want %v", c.name, u.Username, got, want)
			}
		}
	}
}
